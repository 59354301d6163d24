# The extra handshake refuses every client (pywebsocket answers 403).
def web_socket_do_extra_handshake(request):
    raise ValueError("not you")


def web_socket_transfer_data(request):
    pass
