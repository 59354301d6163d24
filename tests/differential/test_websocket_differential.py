"""
WebSocket handlers on our ws port against pywebsocket3's own server (what
wptserve runs for its ws ports), on the same handler directory
(``ws_handlers/``), byte for byte.

Each case is one raw connection: a handshake request, maybe some masked
client frames, then the sending side shut down; everything the server sent
until it closed is compared, with the ``Date`` header's value set aside.
pywebsocket keeps a connection open after a WebSocket until the client
closes it, ours closes it first (see docs/differences/websocket.rst): the
shut-down sending side makes both end the same way.
"""

from __future__ import annotations

import os
import re
import socket
import struct
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import HERE, ServerProcess

HANDLERS = HERE / "ws_handlers"
KEY = "dGhlIHNhbXBsZSBub25jZQ=="

_DATE = re.compile(rb"^Date: [^\r\n]*\r\n", re.MULTILINE)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """(pywebsocket's port, ours), both serving ``ws_handlers/``; an empty working directory for each."""
    logs = tmp_path_factory.mktemp("ws-differential")
    theirs = ServerProcess([sys.executable, str(HERE / "pywebsocket_runner.py"), str(HANDLERS)], logs / "pywebsocket.log")
    root = logs / "root"
    root.mkdir()
    ours = ServerProcess(
        [sys.executable, str(HERE / "ours_runner.py"), str(root), "--ws", str(HANDLERS)], logs / "ours.log"
    )
    try:
        yield theirs.port, ours.port
    finally:
        theirs.stop()
        ours.stop()


def handshake(path: str, *extra: str, version: str = "13", key: str = KEY) -> bytes:
    """A client's opening handshake for ``path`` with ``extra`` header lines."""
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", f"Sec-WebSocket-Version: {version}", "Origin: http://example.test", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def frame(opcode: int, payload: bytes) -> bytes:
    """One masked, final client frame (payloads under 126 bytes)."""
    mask = b"\x01\x02\x03\x04"
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


def closeFrame(code: int, reason: bytes = b"") -> bytes:
    return frame(8, struct.pack("!H", code) + reason)


def exchange(port: int, data: bytes) -> bytes:
    """Send ``data``, shut down the sending side, read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server answered and closed before reading it all
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return _DATE.sub(b"Date: (set aside)\r\n", b"".join(chunks))


CASES = {
    "echo text, binary, client close with code and reason": handshake("/echo")
    + frame(1, b"hello") + frame(2, b"\x00\xff\x10") + closeFrame(4000, b"bye"),
    "echo subprotocol chosen": handshake("/echo", "Sec-WebSocket-Protocol: chat, echo") + closeFrame(1000),
    "echo close without code": handshake("/echo") + frame(8, b""),
    "echo goodbye: the server closes": handshake("/echo") + frame(1, b"Goodbye"),
    "echo fragmented message": handshake("/echo") + bytes([0x01, 0x83]) + b"\0\0\0\0abc"
    + bytes([0x80, 0x82]) + b"\0\0\0\0de" + closeFrame(1000),
    "echo unmasked client frame": handshake("/echo") + b"\x81\x02hi",
    "echo invalid UTF-8 text": handshake("/echo") + frame(1, b"\xff\xfe"),
    "echo with a query string": handshake("/echo?a=b") + closeFrame(1000),
    "extra handshake rejects (403)": handshake("/reject"),
    "extra handshake aborts": handshake("/abort"),
    "raw handshake bytes": handshake("/raw_handshake") + closeFrame(1000),
    "raw frame bytes": handshake("/raw_frame"),
    "str written to the connection": handshake("/str_write"),
    "server closes with code and reason, extra header": handshake("/close") + closeFrame(4001, b"done here"),
    "no subprotocol chosen (400)": handshake("/no_choice", "Sec-WebSocket-Protocol: chat"),
    "request attributes": handshake("/sub/request", "X-Custom: a", "X-Custom: b") + closeFrame(1000),
    "handler that did not load (404)": handshake("/broken"),
    "no handler (404)": handshake("/nothing"),
    "unsupported version (400)": handshake("/echo", version="8"),
    "bad key (400)": handshake("/echo", key="short"),
    "not an upgrade": b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "not GET": handshake("/echo").replace(b"GET ", b"POST ", 1),
    "fragment in the URI (400)": handshake("/echo#frag"),
    "HTTP/1.0": handshake("/echo").replace(b"HTTP/1.1", b"HTTP/1.0", 1),
    "garbage request line": b"\x16\x03\x01\x00\x05hello\r\n\r\n",
}


@pytest.mark.parametrize("name", list(CASES))
def test_sameBytes(servers: tuple[int, int], name: str) -> None:
    """
    Our ws port sends exactly what pywebsocket3's server sends for the same
    client bytes: handshake answers (101 with the accept key, subprotocol,
    extra headers; 400/403/404 error pages), the frames of echoed and
    closing messages, close codes and reasons, and raw bytes handlers write
    to ``request.connection``.
    """
    theirs, ours = servers
    data = CASES[name]
    expected = exchange(theirs, data)
    assert expected or name == "extra handshake aborts", "pywebsocket sent nothing: the case tests nothing"
    assert exchange(ours, data) == expected


def test_handlerDirectoryIsServed(servers: tuple[int, int]) -> None:
    """Sanity: the reference answers /echo with 101 (so the cases above compare working handlers)."""
    theirs, _ = servers
    assert exchange(theirs, handshake("/echo") + closeFrame(1000)).startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert os.path.isfile(Path(HANDLERS) / "echo_wsh.py")
