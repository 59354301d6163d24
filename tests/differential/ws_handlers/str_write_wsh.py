# Writes a str to the connection: a socket refuses it (TypeError), so the
# extra handshake fails and pywebsocket answers 403.
def web_socket_do_extra_handshake(request):
    request.connection.write("HTTP/1.1 101 Switching Protocols\r\n\r\n")


def web_socket_transfer_data(request):
    pass
