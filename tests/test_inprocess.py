"""
The in-process test server (``twisted_pyhandlers._inprocess``) used
directly, as ``testing.serve`` hands it out: its own reactor thread answers
a plain synchronous caller; each server keeps its own handler errors and
log; ``reset`` starts afresh; ``stop`` closes its ports and lets go of its
thread.
"""

from __future__ import annotations

import socket
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from twisted_pyhandlers.testing import serve


def fetch(url: str) -> tuple[int, bytes]:
    """Status and body of a GET, errors included."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def boom(request: object, response: object) -> None:
    raise RuntimeError("only this server's")


def test_errorsAndLogsBelongToTheirServer(tmp_path: Path) -> None:
    """
    Two servers run at once: the handler error of one is in its own
    ``handler_errors`` and ``log`` (with the traceback and the request),
    not in the other's; ``reset`` forgets errors, log, requests and
    expectations, and keeps the functions.
    """
    (tmp_path / "page.txt").write_text("static from the private reactor")
    with serve(handlers={"/boom": boom}) as failing, serve(tmp_path) as quiet:
        assert fetch(failing.url("/boom"))[0] == 500
        assert fetch(quiet.url("/page.txt")) == (200, b"static from the private reactor")
        [error] = failing.handler_errors
        assert error.request.startswith(f"GET {failing.url('/boom')}")
        assert "RuntimeError: only this server's" in error.text and "RuntimeError" in failing.log
        assert quiet.handler_errors == [] and "RuntimeError" not in quiet.log
        assert [problem.splitlines()[0] for problem in failing.problems()] == ["a handler failed on"]
        failing.expect("/never")
        failing.reset()
        assert (failing.handler_errors, failing.log, len(failing.requests), failing.problems()) == ([], "", 0, [])
        assert fetch(failing.url("/boom"))[0] == 500


def test_stopClosesThePortsAndEndsTheThread() -> None:
    """
    After ``stop`` the server's port refuses connections and its reactor
    thread has ended; stopping twice is harmless.
    """
    before = set(threading.enumerate())
    server = serve(handlers={"/": lambda request, response: "up"}, ws=True)
    assert fetch(server.url("/")) == (200, b"up")
    server.stop()
    server.stop()
    for port in server.ports.values():
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
    assert [thread for thread in threading.enumerate() if thread not in before and thread.is_alive()] == []


def clientFrame(opcode: int, payload: bytes) -> bytes:
    """One masked, final WebSocket client frame (a payload under 126 bytes)."""
    mask = b"\x01\x02\x03\x04"
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def test_webSocketFunctionsOverHTTP2() -> None:
    """
    A WebSocket handler function given to a server with ``h2=True`` and no
    handler directory answers an extended CONNECT (RFC 8441) on the h2 port:
    200, then the frames it sends in the stream's DATA.
    """
    from h2client import FrameClient, statusOf
    from hpack import Encoder
    from hyperframe.frame import DataFrame, HeadersFrame

    def shout(request: object) -> None:
        message = request.ws_stream.receive_message()  # type: ignore[attr-defined]
        request.ws_stream.send_message(message.upper(), binary=False)  # type: ignore[attr-defined]

    with serve(websockets={"/shout": shout}, h2=True) as server:
        port = server.ports["h2"]
        client = FrameClient(port)
        headers = [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"), (":path", "/shout"),
                   (":authority", f"localhost:{port}"), ("sec-websocket-version", "13")]
        client.sock.sendall(HeadersFrame(1, data=Encoder().encode(headers), flags=["END_HEADERS"]).serialize())
        answer = client.frame()
        while not (isinstance(answer, HeadersFrame) and answer.stream_id == 1):
            answer = client.frame()
        assert statusOf(client.headersOf(answer)) == 200
        client.sock.sendall(DataFrame(1, data=clientFrame(1, b"hi")).serialize())
        received = b""
        while received != b"\x81\x02HI":
            got = client.frame()
            if isinstance(got, DataFrame) and got.stream_id == 1:
                received += got.data
        client.close()
        assert server.handler_errors == []


def test_badHostIsAClientErrorNotAHandlerError() -> None:
    """
    A Host header that cannot make a URL is answered 400 on a function's
    path and on a path nothing serves (no root), as the tree answers it
    for files; it is no handler error.
    """
    with serve(handlers={"/f": lambda request, response: "f"}) as server:
        for host in (b"[::1", b"localhost"):
            for path in (b"/f", b"/other"):
                with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
                    connection.sendall(b"GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, host))
                    status = connection.recv(65536).split(b"\r\n")[0]
                expected = b"400" if host == b"[::1" else (b"200" if path == b"/f" else b"404")
                assert status.split(b" ")[1] == expected, (host, path, status)
        assert server.handler_errors == []
