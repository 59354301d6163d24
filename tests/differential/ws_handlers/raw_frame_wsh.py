# After a normal handshake, writes a frame with a reserved opcode (0x3) and
# an unmasked text frame split oddly, as raw bytes, then leaves without a
# closing handshake.
from mod_pywebsocket.handshake import AbortedByUserException


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    request.connection.write(b"\x83\x03bad")
    request.connection.write(b"\x81")
    request.connection.write(b"\x02hi")
    raise AbortedByUserException("no closing handshake")
