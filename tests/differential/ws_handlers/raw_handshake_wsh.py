# As wpt's simple_handshake_wsh.py: writes its own (odd) handshake answer
# and a close frame as raw bytes, then aborts so pywebsocket sends nothing.
from mod_pywebsocket import common, stream
from mod_pywebsocket.handshake import AbortedByUserException, hybi


def web_socket_do_extra_handshake(request):
    key = request.headers_in.get(common.SEC_WEBSOCKET_KEY_HEADER).encode("ascii")
    request.connection.write(
        b"HTTP/1.1 101 Switching Protocols:\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\n"
        b"Set-Cookie: ws_test=test\r\nSec-WebSocket-Accept: " + hybi.compute_accept(key) + b"\r\n\r\n"
    )
    request.connection.write(stream.create_close_frame(stream.create_closing_handshake_body(1000, "")))
    request.connection.read(8)
    raise AbortedByUserException("Abort the connection")


def web_socket_transfer_data(request):
    pass
