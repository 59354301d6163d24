# Sends one message, then closes with its own code and reason.
def web_socket_do_extra_handshake(request):
    request.extra_headers.append(("X-Extra", "yes"))


def web_socket_transfer_data(request):
    request.ws_stream.send_message("closing soon", binary=False)
    request.ws_stream.close_connection(4001, "done here")
