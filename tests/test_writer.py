"""
Direct socket control (``response.writer``, docs/writer.rst) and streamed
bodies, checked on the wire with raw sockets: exact bytes, when they
arrive, what happens when the client leaves, back-pressure, keep-alive and
pipelining.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest_twisted
from rawhttp import connect, exchange, portOf
from serving import HandlerRoot, Serve
from twisted.internet import reactor
from twisted.internet.task import deferLater

from twisted_pyhandlers import HandlerDirectory


def get(path: str, close: bool = True) -> bytes:
    """A minimal HTTP/1.1 GET request."""
    connection = b"Connection: close\r\n" if close else b""
    return b"GET %s HTTP/1.1\r\nHost: test\r\n%s\r\n" % (path.encode(), connection)


async def waitUntil(predicate, timeout: float = 10.0) -> None:
    """Poll ``predicate`` on the reactor until it holds (or fail)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await deferLater(reactor, 0.02, lambda: None)


@pytest_twisted.ensureDeferred
async def test_exactBytes(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """
    A custom status line and reason, duplicate headers in a chosen order
    and case: the client receives exactly what the handler wrote, and the
    return value of main is ignored.
    """
    handlerRoot.write("exact.py", """
        def main(request, response):
            response.add_required_headers = False
            w = response.writer
            w.write_status(299, "Odd Reason Here")
            w.write_header("x-lower", "a")
            w.write_header("X-UPPER", "b")
            w.write_header("x-lower", "c")
            w.write_header("Content-Length", 4)
            w.end_headers()
            w.write_content(b"body")
            return 500, [("X-Ignored", "1")], "ignored"
    """)
    base = serve(HandlerDirectory(handlerRoot.path))
    raw = await exchange(portOf(base), get("/exact.py"))
    assert raw == (
        b"HTTP/1.1 299 Odd Reason Here\r\n"
        b"x-lower: a\r\nX-UPPER: b\r\nx-lower: c\r\nContent-Length: 4\r\n\r\nbody"
    )


@pytest_twisted.ensureDeferred
async def test_endHeadersAddsRequiredHeaders(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """
    ``end_headers`` adds Server and Date (and nothing else) unless
    ``add_required_headers`` is False; without a Content-Length the
    connection closes after the body.
    """
    handlerRoot.write("required.py", """
        def main(request, response):
            response.writer.write_status(200)
            response.writer.end_headers()
            response.writer.write(b"tail")
    """)
    base = serve(HandlerDirectory(handlerRoot.path))
    raw = await exchange(portOf(base), get("/required.py", close=False))
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 200 OK"
    assert [line.split(b":")[0] for line in lines[1:]] == [b"Server", b"Date"]
    assert body == b"tail"


@pytest_twisted.ensureDeferred
async def test_partsArriveAsWritten(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """
    A body written in three parts with sleeps between them reaches the
    client in three steps: the first part arrives while the handler is
    still sleeping.
    """
    handlerRoot.write("parts.py", """
        import time
        def main(request, response):
            response.writer.write_status(200)
            response.writer.end_headers()
            response.writer.write_content(b"one;")
            time.sleep(0.6)
            response.writer.write_content(b"two;")
            response.writer.flush()
            time.sleep(0.6)
            response.writer.write_content(b"three;")
    """)
    base = serve(HandlerDirectory(handlerRoot.path))
    client = await connect(portOf(base), get("/parts.py"))
    await client.closed
    arrival = {}
    for when, data in client.chunks:
        for part in (b"one;", b"two;", b"three;"):
            if part in data:
                arrival[part] = when
    assert client.received.endswith(b"\r\n\r\none;two;three;")
    assert arrival[b"two;"] - arrival[b"one;"] > 0.4
    assert arrival[b"three;"] - arrival[b"two;"] > 0.4


@pytest_twisted.ensureDeferred
async def test_streamingPattern(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """
    ``response.write_status_headers()`` then ``writer.write_content`` in a
    loop — the usual streaming pattern — streams: the headers and first
    piece arrive before the handler is done.
    """
    handlerRoot.write("stream.py", """
        import time
        def main(request, response):
            response.headers.set("Content-Type", "text/plain")
            response.write_status_headers()
            for i in range(3):
                response.writer.write_content("piece%d;" % i)
                time.sleep(0.4)
    """)
    base = serve(HandlerDirectory(handlerRoot.path))
    start = time.monotonic()
    client = await connect(portOf(base), get("/stream.py"))
    await client.waitFor(b"piece0;")
    firstPiece = time.monotonic() - start
    raw = await client.closed
    total = time.monotonic() - start
    assert b"Content-Type: text/plain\r\n" in raw
    assert raw.endswith(b"piece0;piece1;piece2;")
    assert firstPiece < total - 0.5


@pytest_twisted.ensureDeferred
async def test_garbageAndHalfResponses(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """
    ``write`` of bytes that are not HTTP at all, and a handler that writes
    half a response and returns: the client gets exactly those bytes, and
    the server goes on serving.
    """
    handlerRoot.write("garbage.py", """
        def main(request, response):
            response.writer.write(b"NOT HTTP\\x00\\xff AT ALL")
    """)
    handlerRoot.write("half.py", """
        def main(request, response):
            response.writer.write(b"HTTP/1.1 200 OK\\r\\nContent-Length: 100\\r\\n\\r\\nshort")
    """)
    handlerRoot.write("ok.py", "def main(request, response):\n    return 'ok'\n")
    base = serve(HandlerDirectory(handlerRoot.path))
    port = portOf(base)
    assert await exchange(port, get("/garbage.py", close=False)) == b"NOT HTTP\x00\xff AT ALL"
    assert await exchange(port, get("/half.py", close=False)) == (
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"
    )
    assert (await exchange(port, get("/ok.py"))).endswith(b"\r\n\r\nok")


@pytest_twisted.ensureDeferred
async def test_clientGoneReleasesHandler(handlerRoot: HandlerRoot, serve: Serve, tmp_path: Path) -> None:
    """
    A client that goes away mid-response: the writer's calls return False
    instead of raising, the handler's loop ends (its thread is released),
    and other requests go on.
    """
    marker = tmp_path / "stopped"
    handlerRoot.write("endless.py", f"""
        def main(request, response):
            response.write_status_headers()
            chunk = b"x" * 65536
            written = 0
            while response.writer.write_content(chunk):
                written += 1
                if written > 100000:
                    break
            with open({str(marker)!r}, "w") as f:
                f.write(str(written))
    """)
    handlerRoot.write("ok.py", "def main(request, response):\n    return 'ok'\n")
    base = serve(HandlerDirectory(handlerRoot.path))
    client = await connect(portOf(base), get("/endless.py"))
    await client.waitFor(b"xxxx")
    client.transport.abortConnection()
    await waitUntil(marker.exists)
    await waitUntil(lambda: marker.read_text() != "")
    assert int(marker.read_text()) < 100000
    assert (await exchange(portOf(base), get("/ok.py"))).endswith(b"\r\n\r\nok")


@pytest_twisted.ensureDeferred
async def test_generatorBodyIsBackPressured(handlerRoot: HandlerRoot, serve: Serve, tmp_path: Path) -> None:
    """
    A generator body streams with back-pressure: while the client does not
    read, the handler is held after a bounded amount (socket buffers plus
    a small queue), not run to the end into memory; once the client reads,
    the whole body arrives.
    """
    counter = tmp_path / "count"
    pieces = 2048  # 128 MiB in 64 KiB pieces
    handlerRoot.write("big.py", f"""
        def main(request, response):
            def body():
                for i in range({pieces}):
                    with open({str(counter)!r}, "w") as f:
                        f.write(str(i))
                    yield b"y" * 65536
            return body()
    """)
    base = serve(HandlerDirectory(handlerRoot.path))
    client = await connect(portOf(base), None)
    client.transport.pauseProducing()
    client.transport.write(get("/big.py"))
    await waitUntil(counter.exists)
    # Let the producer run until it is held by back-pressure.
    previous = -1
    while True:
        await deferLater(reactor, 0.3, lambda: None)
        current = int(counter.read_text() or 0)
        if current == previous:
            break
        previous = current
    assert previous < pieces // 4, f"produced {previous} pieces with nobody reading"
    client.transport.resumeProducing()
    raw = await client.closed
    assert raw.partition(b"\r\n\r\n")[2] == b"y" * (pieces * 65536)


@pytest_twisted.ensureDeferred
async def test_keepAliveAndPipelining(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """
    Responses with a known length keep the connection for the next request;
    pipelined requests are answered in order; a response without a length,
    a raw one, or one with ``close_connection = True`` closes it.
    """
    handlerRoot.write("n.py", "def main(request, response):\n    return request.GET.first(b'n')\n")
    handlerRoot.write("stream.py", "def main(request, response):\n    return iter([b'no', b'length'])\n")
    handlerRoot.write("close.py", """
        def main(request, response):
            response.close_connection = True
            return "closing"
    """)
    base = serve(HandlerDirectory(handlerRoot.path))
    port = portOf(base)
    client = await connect(port, get("/n.py?n=first", close=False))
    await client.waitFor(b"first")
    client.transport.write(get("/n.py?n=second", close=False))
    await client.waitFor(b"second")
    assert client.received.count(b"HTTP/1.1 200 OK") == 2
    client.transport.write(
        get("/n.py?n=A", close=False) + get("/n.py?n=B", close=False) + get("/n.py?n=C", close=False)
    )
    await client.waitFor(b"\r\n\r\nC")
    tail = client.received.split(b"second", 1)[1]
    assert [part[-1:] for part in tail.split(b"HTTP/1.1 200 OK")[1:]] == [b"A", b"B", b"C"]
    client.transport.write(get("/stream.py", close=False))
    raw = await client.closed  # no length: the server closes
    assert raw.endswith(b"nolength")
    raw = await exchange(port, get("/close.py", close=False))
    assert raw.endswith(b"closing")


@pytest_twisted.ensureDeferred
async def test_wholeResponseInOnePieceIsTheSameBytes(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """
    A response whose body is known in full goes out in one piece built at
    once (``ResponseWriter.write_whole``); its bytes are exactly those the
    writer's step-by-step calls give (status line, each header, the
    required headers, the body), for every shape of status, headers and
    body, HEAD and ``add_required_headers = False`` included.
    """
    shapes = {
        "plain": "return 'text'",
        "reason": "return (299, 'Odd Reason'), [('x-a', 'one'), (b'X-B', b'two'), ('X-N', 7)], b'bytes'",
        "unicode": "response.encoding = 'utf-8'\n    return 200, [('Content-Type', 'text/plain; charset=utf-8')], '\u00e9t\u00e9 \u2603'",
        "empty": "return b''",
        "own-length": "return 200, [('Content-Length', '3'), ('Server', 'mine'), ('Date', 'then')], b'abc'",
        "bare": "response.add_required_headers = False\n    return 204, [('X-Only', 'this')], b''",
        "repeated": "response.headers.append('Set-Cookie', 'a=1')\n    response.headers.append('Set-Cookie', 'b=2')\n    return 'cookies'",
    }
    for name, body in shapes.items():
        handlerRoot.write(f"whole-{name}.py", f"def main(request, response):\n    {body}\n")
        # The same response, written by the step-by-step calls.
        handlerRoot.write(
            f"steps-{name}.py",
            "from twisted_pyhandlers._response import applyReturnValue\n"
            f"def main(request, response):\n    def inner():\n        {body.replace(chr(10), chr(10) + '    ')}\n"
            "    applyReturnValue(response, inner())\n"
            "    response.write_status_headers()\n"
            "    response.write_content()\n",
        )
    base = serve(HandlerDirectory(handlerRoot.path))

    def undated(raw: bytes) -> bytes:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = [line for line in head.split(b"\r\n") if not line.startswith(b"Date: ") or line == b"Date: then"]
        return b"\r\n".join(lines) + b"\r\n\r\n" + rest

    for name in shapes:
        for method in ("GET", "HEAD"):
            request = b"%s /%%s.py HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n" % method.encode()
            whole = await exchange(portOf(base), request % f"whole-{name}".encode())
            steps = await exchange(portOf(base), request % f"steps-{name}".encode())
            assert whole.startswith(b"HTTP/1.1 "), whole
            assert undated(whole) == undated(steps), (name, method)
            if method == "GET" and name != "bare":
                assert b"\r\nDate: " in whole
