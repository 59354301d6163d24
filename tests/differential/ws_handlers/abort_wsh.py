# The extra handshake drops the connection without an answer.
from mod_pywebsocket.handshake import AbortedByUserException


def web_socket_do_extra_handshake(request):
    raise AbortedByUserException("go away")


def web_socket_transfer_data(request):
    pass
