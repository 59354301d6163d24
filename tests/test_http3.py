"""
Ordinary HTTP/3 requests on an ``h3`` port (``--listen
h3=udp:PORT:interface=127.0.0.1``) of a real ``twistd pyhandlers``
process: the same resource tree as every other port answers them
(``main(request, response)``, static files, pipes, the server's own
answers), through aioquic's own HTTP/3 client over a real UDP socket; the
same port opens WebTransport sessions too.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator, List, Tuple, TypeVar

import pytest
from test_tls import Server
from wtclient import WebTransportClientProtocol, webTransportClient

HERE = Path(__file__).resolve().parent
T = TypeVar("T")

HELLO = """\
def main(request, response):
    body = request.body.decode() or request.GET.first(b"name", b"").decode()
    return [("Content-Type", "text/plain"), ("X-Protocol", request.protocol_version)], "hello " + body + " " + request.url
"""

SLEEP = """\
import time


def main(request, response):
    time.sleep(30)
"""

BROKEN = """\
def main(request, response):
    raise KeyError("no such thing")
"""

#: A static file larger than one reactor turn's read.
BIG = bytes(range(256)) * 4096


class H3Server:
    """The running server: its h3 port and its log."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.port = server.ports("h3")[0]
        self.caFile = str(server.tmp / "tls" / "ca.pem")
        self.authority = f"localhost:{self.port}"

    def run(self, scenario: Callable[[WebTransportClientProtocol], Awaitable[T]]) -> T:
        async def connected() -> T:
            async with webTransportClient(self.port, self.caFile) as client:
                return await scenario(client)

        return asyncio.run(connected())

    def get(self, path: str, method: bytes = b"GET", body: bytes = b"") -> Tuple[dict, bytes]:
        """One request on a new connection: (headers as a dict, body)."""

        async def scenario(client: WebTransportClientProtocol) -> Tuple[dict, bytes]:
            return await request(client, self.authority, path, method, body)

        return self.run(scenario)


async def request(
    client: WebTransportClientProtocol, authority: str, path: str, method: bytes = b"GET", body: bytes = b""
) -> Tuple[dict, bytes]:
    headers: List[Tuple[bytes, bytes]] = [
        (b":method", method), (b":scheme", b"https"), (b":authority", authority.encode()), (b":path", path.encode()),
    ]
    streamId = client.request(headers, end=not body)
    if body:
        client.http.send_data(streamId, body, end_stream=True)
        client.transmit()
    response = await client.response(streamId)
    return dict(response), await client.endOf(streamId)


@pytest.fixture(scope="module")
def h3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[H3Server]:
    """One server with an h3 port over a root with handlers and static files."""
    tmp = tmp_path_factory.mktemp("http3")
    root = tmp / "root"
    shutil.copytree(HERE / "wt_root", root)
    (root / "hello.py").write_text(HELLO)
    (root / "sleep.py").write_text(SLEEP)
    (root / "broken.py").write_text(BROKEN)
    (root / "static.txt").write_text("static file\n")
    (root / "big.bin").write_bytes(BIG)
    server = Server(
        tmp, "--root", str(root), "--tls-dir", "tls", "--handler-timeout", "1",
        "--listen", "h3=udp:0:interface=127.0.0.1",
    )
    server.start(origins=1)
    yield H3Server(server)
    server.stop()


def test_handlerOverHTTP3(h3: H3Server) -> None:
    """A ``main(request, response)`` handler answers over HTTP/3: its headers, the Server, Date and Content-Length the server adds, request.protocol_version HTTP/3 and request.url with https and the authority."""
    headers, body = h3.get("/hello.py?name=quic")
    assert headers[b":status"] == b"200"
    assert headers[b"x-protocol"] == b"HTTP/3"
    assert headers[b"server"] == b"twisted_pyhandlers" and b"date" in headers
    expected = f"hello quic https://{h3.authority}/hello.py?name=quic".encode()
    assert body == expected and headers[b"content-length"] == b"%d" % len(expected)


def test_requestBodyOverHTTP3(h3: H3Server) -> None:
    """A POST's body, sent in DATA frames, is ``request.body``."""
    headers, body = h3.get("/hello.py", b"POST", b"from the body")
    assert headers[b":status"] == b"200"
    assert body.startswith(b"hello from the body ")


def test_staticFilesPipesAndServerAnswers(h3: H3Server) -> None:
    """
    A static file (small, and one of 1 MiB sent through Twisted's pull
    producer), a ``?pipe=`` on one, a missing file (wptserve's JSON 404) and
    a directory listing come over HTTP/3 as over HTTP/1.1.
    """

    async def scenario(client: WebTransportClientProtocol) -> None:
        headers, body = await request(client, h3.authority, "/static.txt")
        assert (headers[b":status"], headers[b"content-type"], body) == (b"200", b"text/plain", b"static file\n")
        headers, body = await request(client, h3.authority, "/big.bin")
        assert headers[b":status"] == b"200" and body == BIG
        headers, body = await request(client, h3.authority, "/static.txt?pipe=status(202)|header(X-Pipe,yes)")
        assert (headers[b":status"], headers[b"x-pipe"], body) == (b"202", b"yes", b"static file\n")
        headers, body = await request(client, h3.authority, "/missing.txt")
        assert headers[b":status"] == b"404" and b'"code": 404' in body
        headers, body = await request(client, h3.authority, "/webtransport/")
        assert headers[b":status"] == b"200" and b"Directory listing for /webtransport/" in body

    h3.run(scenario)


def test_brokenAndRunawayHandlersOverHTTP3(h3: H3Server) -> None:
    """
    A handler that raises is a 500 with its traceback in the body; one that
    runs past ``--handler-timeout`` is answered 504 on its stream; the
    connection serves the next request.
    """

    async def scenario(client: WebTransportClientProtocol) -> None:
        headers, body = await request(client, h3.authority, "/broken.py")
        assert headers[b":status"] == b"500" and b"KeyError" in body
        headers, body = await request(client, h3.authority, "/sleep.py")
        assert headers[b":status"] == b"504" and b"--handler-timeout" in body
        headers, body = await request(client, h3.authority, "/static.txt")
        assert body == b"static file\n"

    h3.run(scenario)


def test_webTransportOnTheH3Port(h3: H3Server) -> None:
    """The h3 port opens WebTransport sessions too: the echo handler echoes a stream."""

    async def scenario(client: WebTransportClientProtocol) -> Any:
        sessionId, headers = await client.openSession(h3.authority, "/webtransport/handlers/echo.py")
        assert dict(headers)[b":status"] == b"200"
        stream = client.openStream(sessionId)
        client.send(stream, b"both", end=True)
        assert await client.endOf(stream) == b"both"

    h3.run(scenario)
