import ssl
from pathlib import Path

import httpx
from websockets.sync.client import connect

ROOT = Path(__file__).parent / "handlers"


def version(request, response):
    return request.protocol_version


def test_http2(pyhandlers):
    server = pyhandlers(handlers={"/version": version}, h2=True)
    with httpx.Client(http2=True, verify=server.ca) as client:
        assert client.get(server.url("/version", scheme="h2")).text == "HTTP/2.0"


def test_websockets(pyhandlers):
    server = pyhandlers(ROOT, ws=True, tls=True)  # ROOT/websockets/handlers/echo_wsh.py
    with connect(server.url("/echo", scheme="ws")) as websocket:
        websocket.send("hello")
        assert websocket.recv() == "hello"
    tls = ssl.create_default_context(cafile=server.ca)
    with connect(server.url("/echo", scheme="wss"), ssl=tls) as websocket:
        websocket.send(b"\x01")
        assert websocket.recv() == b"\x01"


def test_websocket_function(pyhandlers):
    def shout(request):  # pywebsocket's web_socket_transfer_data
        message = request.ws_stream.receive_message()
        request.ws_stream.send_message(message.upper(), binary=False)

    server = pyhandlers(websockets={"/shout": shout})
    with connect(server.url("/shout", scheme="ws")) as websocket:
        websocket.send("hello")
        assert websocket.recv() == "HELLO"
