# Does not load (no web_socket_transfer_data): pywebsocket skips it with a
# warning and /broken has no handler.
def web_socket_do_extra_handshake(request):
    pass
