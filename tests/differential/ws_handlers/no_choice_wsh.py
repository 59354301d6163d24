# Picks no subprotocol although the client asks for some: pywebsocket
# refuses the handshake (400).
def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    pass
