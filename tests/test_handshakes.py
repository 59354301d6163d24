"""
Handshakes a browser makes that are not the port's protocol, answered as
``wpt serve`` answers them, over real sockets: a TLS ClientHello sent to a
plain http port is refused at once (not held until the header deadline),
and a TLS client offering ALPN protocols a port does not speak (Chromium's
WebSocket offers ``http/1.1`` to a wss port) completes its handshake.
"""

from __future__ import annotations

import socket
import ssl
import textwrap
from pathlib import Path
from typing import List, Optional

import pytest_twisted
from rawhttp import exchange, portOf
from serving import HandlerRoot, Serve, TopologyProcess
from websockets.sync.client import connect

from twisted_pyhandlers import HandlerDirectory

ECHO_WSH = """
def web_socket_do_extra_handshake(request):
    request.ws_extension_processors = []

def web_socket_transfer_data(request):
    message = request.ws_stream.receive_message()
    if message is not None:
        request.ws_stream.send_message(message, binary=False)
"""


def clientHello(alpn: Optional[List[str]] = None) -> bytes:
    """The first flight of a real TLS client (Python's ssl): its ClientHello record."""
    context = ssl.create_default_context()
    if alpn:
        context.set_alpn_protocols(alpn)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="web-platform.test")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


@pytest_twisted.ensureDeferred
async def test_clientHelloOnPlainPort(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """
    A TLS ClientHello (first byte 0x16) on a plain http port is answered
    400 and the connection closed at once, with or without a line end in
    its bytes (the header deadline is 30 s; the old answer was its 408);
    other bytes no request line starts with get the same; a request after
    the empty lines RFC 9112 lets a server skip is still served.
    """
    handlerRoot.write("a.txt", "plain")
    base = serve(HandlerDirectory(handlerRoot.path))
    hello = clientHello(["h2", "http/1.1"])
    assert hello[:1] == b"\x16"
    for data in (hello, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40, b"\x00\x01binary"):
        answer = await exchange(portOf(base), data)
        assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n"), answer
        assert answer.endswith(b"not an HTTP request: this port speaks plain HTTP (is this TLS?)\n")
    answer = await exchange(portOf(base), b"\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"\r\n\r\nplain")


def _handshake(port: int, alpn: List[str], cafile: Path) -> Optional[str]:
    """A TLS handshake offering ``alpn``; the protocol the server selected."""
    context = ssl.create_default_context(cafile=str(cafile))
    context.set_alpn_protocols(alpn)
    with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.selected_alpn_protocol()


def test_alpnWithoutOverlap(tmp_path: Path) -> None:
    """
    A wss port completes a TLS handshake whose ALPN offers http/1.1 (as
    Chromium's WebSocket does) and the WebSocket then works; the https
    port completes one offering only h2 and the h2 port one offering only
    http/1.1, with no protocol selected (wpt serve's Python ssl servers do
    the same); where the offers overlap the port's protocol is chosen.
    """
    root = tmp_path / "root"
    (root / "websockets" / "handlers").mkdir(parents=True)
    (root / "websockets" / "handlers" / "echo_wsh.py").write_text(textwrap.dedent(ECHO_WSH))
    server = TopologyProcess(
        tmp_path, "--root", str(root), "--tls-dir", "tls",
        "--listen", "wss=tcp:0:interface=127.0.0.1", "--listen", "https=tcp:0:interface=127.0.0.1",
        "--listen", "h2=tcp:0:interface=127.0.0.1",
    )
    server.start(origins=3)
    try:
        ca = tmp_path / "tls" / "ca.pem"
        wss, https, h2 = server.ports("wss")[0], server.ports("https")[0], server.ports("h2")[0]
        assert _handshake(wss, ["http/1.1"], ca) is None
        context = ssl.create_default_context(cafile=str(ca))
        context.set_alpn_protocols(["http/1.1"])
        with connect(f"wss://localhost:{wss}/echo", ssl=context, open_timeout=20) as ws:
            ws.send("over wss")
            assert ws.recv(timeout=20) == "over wss"
        assert _handshake(https, ["h2"], ca) is None
        assert _handshake(https, ["h2", "http/1.1"], ca) == "http/1.1"
        assert _handshake(h2, ["http/1.1"], ca) is None
        assert _handshake(h2, ["http/1.1", "h2"], ca) == "h2"
    finally:
        server.stop()
