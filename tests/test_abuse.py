"""
Reliability under abuse, over real sockets: runaway handlers are given up
on (504, their threads replaced, a fast 503 past the ceiling), slow and idle
clients are timed out (408 for a header block not complete in time), odd
requests get a status line (400 for an unusable Host, 414/431 over the
line and header limits, 413 over the body limit), and none of it slows a
normal client.
"""

from __future__ import annotations

import importlib
import socket
import sys
import threading
import time
from typing import Any, Iterator, List, Optional

import pytest
import pytest_twisted
import treq
from rawhttp import connect, exchange, portOf
from serving import HandlerRoot
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater
from twisted.logger import globalLogPublisher

from twisted_pyhandlers import HandlerDirectory, HandlerSite
from twisted_pyhandlers._threads import HandlerThreadPool, tiedToReactor

#: How long a test waits for anything that should be quick.
WAIT = 10.0

_gates = iter(range(10**6))


class Gate:
    """
    A module in the document root that handlers wait on, so that a test
    makes handlers stuck and lets them go at the end.

    :ivar name: the module's name (unique per gate: modules are cached).
    """

    def __init__(self, root: HandlerRoot) -> None:
        self.name = f"abuse_gate_{next(_gates)}"
        root.write(f"{self.name}.py", "import threading\nevent = threading.Event()\n")
        self._root = root

    def open(self) -> None:
        """Let every handler waiting on the gate go on."""
        if str(self._root.path) not in sys.path:
            sys.path.insert(0, str(self._root.path))
        importlib.import_module(self.name).event.set()


@pytest.fixture
def logged() -> Iterator[List[Any]]:
    """Every log event emitted during the test."""
    events: List[Any] = []
    globalLogPublisher.addObserver(events.append)
    yield events
    globalLogPublisher.removeObserver(events.append)


def logText(events: List[Any]) -> str:
    """The log events, formatted, one after the other."""
    from twisted.logger import formatEvent

    return "\n".join(formatEvent(event) for event in events)


class Served:
    """
    A HandlerDirectory with its own small pool on a real port: ``timeout``
    is the handler timeout, ``idleTimeout`` the site's idle timeout (Twisted's
    default when None), ``tied`` ties the pool to the reactor as twistd does.
    """

    def __init__(
        self,
        root: HandlerRoot,
        threads: int,
        timeout: Optional[float],
        maxAbandoned: Optional[int] = None,
        idleTimeout: Optional[float] = None,
        tied: bool = False,
        **site: Any,
    ) -> None:
        self.pool = HandlerThreadPool(threads, name="abuse", maxAbandoned=maxAbandoned)
        if tied:
            tiedToReactor(self.pool, reactor)  # type: ignore[arg-type]
        else:
            self.pool.start()
        if idleTimeout is not None:
            site["timeout"] = idleTimeout
        resource = HandlerDirectory(root.path, reactor=reactor, threadpool=self.pool, handlerTimeout=timeout)  # type: ignore[arg-type]
        self.port = reactor.listenTCP(0, HandlerSite(resource, **site), backlog=1024, interface="127.0.0.1")  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.port.getHost().port}"

    async def close(self) -> None:
        await self.port.stopListening()
        self.pool.stop(grace=0)


async def get(url: str) -> tuple:
    """Status and body of a GET, with a bound on the wait."""
    answer = await treq.get(url, timeout=WAIT)
    return answer.code, await treq.content(answer)


# -- runaway handlers ---------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_runawayHandlersAnswered504AndReplaced(handlerRoot: HandlerRoot, logged: List[Any]) -> None:
    """
    Handlers still running after the handler timeout get their clients a
    504 naming the handler; the log names the handler and shows its stack
    at that moment; their threads are replaced, so with every thread of the
    pool stuck a normal handler is still answered.
    """
    gate = Gate(handlerRoot)
    handlerRoot.write("stuck.py", f"import {gate.name}\ndef main(request, response):\n    {gate.name}.event.wait(60)\n    return 'late'\n")
    handlerRoot.write("ok.py", "def main(request, response):\n    return 'ok'\n")
    served = Served(handlerRoot, threads=2, timeout=0.5)
    try:
        begun = time.monotonic()
        answers = [await answer for answer in [Deferred.fromCoroutine(get(f"{served.url}/stuck.py")) for _ in range(3)]]
        assert time.monotonic() - begun < 5
        for code, body in answers:
            assert code == 504
            assert b"stuck.py did not finish within 0.5 s" in body
        assert await get(f"{served.url}/ok.py") == (200, b"ok")
        text = logText(logged)
        assert "stuck.py still running after 0.5 s (--handler-timeout): answered 504" in text
        assert f"{gate.name}.event.wait(60)" in text or "in main" in text
        assert served.pool.abandonedCount >= 2
    finally:
        gate.open()
        await served.close()


@pytest_twisted.ensureDeferred
async def test_runawayAfterWritingClosesTheConnection(handlerRoot: HandlerRoot) -> None:
    """
    A handler that wrote its status line and then got stuck cannot be
    answered 504: its client sees the bytes written, then a closed
    connection; what it writes later is dropped.
    """
    gate = Gate(handlerRoot)
    handlerRoot.write(
        "half.py",
        f"import {gate.name}\n"
        "def main(request, response):\n"
        "    response.writer.write_status(200)\n"
        "    response.writer.write_header('Content-Length', '10')\n"
        "    response.writer.end_headers()\n"
        "    response.writer.write(b'abc')\n"
        f"    {gate.name}.event.wait(60)\n"
        "    response.writer.write(b'LATE')\n",
    )
    served = Served(handlerRoot, threads=2, timeout=0.5)
    try:
        answer = await exchange(portOf(served.url), b"GET /half.py HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert answer.endswith(b"\r\n\r\nabc")
        gate.open()
        await deferLater(reactor, 0.2, lambda: None)
    finally:
        gate.open()
        await served.close()


@pytest_twisted.ensureDeferred
async def test_exhaustedPoolAnswers503Fast(handlerRoot: HandlerRoot) -> None:
    """
    Past the ceiling of abandoned threads every thread is stuck: a new
    handler request gets a fast 503 naming the cause, never a hang, while
    static files are still served; once the stuck handlers return, their
    threads serve again.
    """
    gate = Gate(handlerRoot)
    handlerRoot.write("stuck.py", f"import {gate.name}\ndef main(request, response):\n    {gate.name}.event.wait(60)\n")
    handlerRoot.write("ok.py", "def main(request, response):\n    return 'ok'\n")
    handlerRoot.write("file.txt", "static")
    served = Served(handlerRoot, threads=1, timeout=0.3, maxAbandoned=1)
    try:
        for _ in range(2):
            assert (await get(f"{served.url}/stuck.py"))[0] == 504
        begun = time.monotonic()
        code, body = await get(f"{served.url}/ok.py")
        assert time.monotonic() - begun < 1
        assert code == 503
        assert b"stuck in handlers that timed out" in body
        assert await get(f"{served.url}/file.txt") == (200, b"static")
        gate.open()
        deadline = time.monotonic() + WAIT
        while served.pool.abandonedCount and time.monotonic() < deadline:
            await deferLater(reactor, 0.05, lambda: None)
        assert await get(f"{served.url}/ok.py") == (200, b"ok")
    finally:
        gate.open()
        await served.close()


@pytest_twisted.ensureDeferred
async def test_asyncRunawayCancelled(handlerRoot: HandlerRoot) -> None:
    """
    An ``async def main`` still awaiting after the timeout is answered 504
    and cancelled; it holds no thread.
    """
    handlerRoot.write(
        "sleepy.py",
        "import asyncio\nfrom twisted.internet import reactor\nfrom twisted.internet.task import deferLater\n"
        "async def main(request, response):\n    await deferLater(reactor, 60, lambda: None)\n",
    )
    served = Served(handlerRoot, threads=1, timeout=0.3)
    try:
        code, body = await get(f"{served.url}/sleepy.py")
        assert code == 504 and b"sleepy.py did not finish" in body
        assert served.pool.abandonedCount == 0
    finally:
        await served.close()


@pytest_twisted.ensureDeferred
async def test_quickHandlersUntouchedByTheTimeout(handlerRoot: HandlerRoot) -> None:
    """
    A handler that finishes in time is answered as usual and keeps its
    connection; its timer is gone once it is answered (no 504 later on the
    same connection).
    """
    handlerRoot.write("ok.py", "def main(request, response):\n    return 'ok'\n")
    served = Served(handlerRoot, threads=2, timeout=0.3)
    try:
        client = await connect(portOf(served.url), b"GET /ok.py HTTP/1.1\r\nHost: x\r\n\r\n")
        await client.waitFor(b"ok")
        await deferLater(reactor, 0.6, lambda: None)
        assert b"504" not in client.received
        client.transport.write(b"GET /ok.py HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")  # type: ignore[union-attr]
        answer = await client.closed
        assert answer.count(b"HTTP/1.1 200 ") == 2
    finally:
        await served.close()


@pytest_twisted.ensureDeferred
async def test_timeoutAimedAgainForEachRequest(handlerRoot: HandlerRoot) -> None:
    """
    The requests of one keep-alive connection share its timer, aimed again
    for each: a request started late in the first one's time is measured
    from its own start (not answered 504 at the first one's deadline), and a
    runaway after them is still answered 504.
    """
    handlerRoot.write("ok.py", "def main(request, response):\n    return 'ok'\n")
    handlerRoot.write("nap.py", "import time\ndef main(request, response):\n    time.sleep(0.3)\n    return 'rested'\n")
    handlerRoot.write("stuck.py", "import time\ndef main(request, response):\n    time.sleep(3)\n    return 'late'\n")
    served = Served(handlerRoot, threads=2, timeout=0.5)
    try:
        client = await connect(portOf(served.url), b"GET /ok.py HTTP/1.1\r\nHost: x\r\n\r\n")
        await client.waitFor(b"ok")
        await deferLater(reactor, 0.35, lambda: None)
        client.transport.write(b"GET /nap.py HTTP/1.1\r\nHost: x\r\n\r\n")  # type: ignore[union-attr]
        await client.waitFor(b"rested")
        assert b"504" not in client.received
        begun = time.monotonic()
        client.transport.write(b"GET /stuck.py HTTP/1.1\r\nHost: x\r\n\r\n")  # type: ignore[union-attr]
        answer = await client.closed
        assert 0.4 < time.monotonic() - begun < 2.5
        assert answer.count(b"HTTP/1.1 200 ") == 2 and b"HTTP/1.1 504 " in answer
    finally:
        await served.close()


@pytest_twisted.ensureDeferred
async def test_blockedHandlerDoesNotHoldUpOthers(handlerRoot: HandlerRoot) -> None:
    """
    With the pool tied to the reactor (as ``twistd pyhandlers`` ties it),
    requests that arrive while a handler has just begun may wait for its
    thread; when that handler blocks, they are still answered at once, on
    threads of their own.
    """
    gate = Gate(handlerRoot)
    handlerRoot.write("stuck.py", f"import {gate.name}\ndef main(request, response):\n    {gate.name}.event.wait(60)\n    return 'late'\n")
    handlerRoot.write("ok.py", "def main(request, response):\n    return 'ok'\n")
    served = Served(handlerRoot, threads=8, timeout=None, tied=True)
    url = served.url
    try:
        stuck = Deferred.fromCoroutine(get(f"{url}/stuck.py"))
        begun = time.monotonic()
        answers = [await answer for answer in [Deferred.fromCoroutine(get(f"{url}/ok.py")) for _ in range(5)]]
        assert answers == [(200, b"ok")] * 5
        assert time.monotonic() - begun < 1.5
        assert not stuck.called
    finally:
        gate.open()
        await stuck
        await served.close()


# -- slow and idle clients -----------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_slowlorisAnswered408(handlerRoot: HandlerRoot) -> None:
    """
    A client that trickles its header block a byte at a time (each byte
    resetting the idle timer) is answered 408 and closed at the header
    deadline.
    """
    served = Served(handlerRoot, threads=1, timeout=None, headerTimeout=1.0)
    try:
        client = await connect(portOf(served.url), b"G")
        begun = time.monotonic()
        for byte in b"ET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaa":
            if client.closed.called:
                break
            client.transport.write(bytes([byte]))  # type: ignore[union-attr]
            await deferLater(reactor, 0.1, lambda: None)
        answer = await client.closed
        assert 0.9 < time.monotonic() - begun < 4
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    finally:
        await served.close()


@pytest_twisted.ensureDeferred
async def test_idleKeepAliveTimesOut(handlerRoot: HandlerRoot) -> None:
    """An idle keep-alive connection is closed after the idle timeout."""
    handlerRoot.write("ok.py", "def main(request, response):\n    return 'ok'\n")
    served = Served(handlerRoot, threads=1, timeout=None, idleTimeout=0.5)
    try:
        client = await connect(portOf(served.url), b"GET /ok.py HTTP/1.1\r\nHost: x\r\n\r\n")
        await client.waitFor(b"ok")
        begun = time.monotonic()
        await client.closed
        assert 0.3 < time.monotonic() - begun < 3
    finally:
        await served.close()


@pytest_twisted.ensureDeferred
async def test_idleTimeoutOffWhileAnswering(handlerRoot: HandlerRoot) -> None:
    """
    The idle timeout does not cut a request whose handler takes longer than
    it (it is off while the request is answered), and counts again from the
    answer: the idle connection is closed after it.
    """
    handlerRoot.write("nap.py", "import time\ndef main(request, response):\n    time.sleep(0.8)\n    return 'rested'\n")
    served = Served(handlerRoot, threads=1, timeout=None, idleTimeout=0.3)
    try:
        client = await connect(portOf(served.url), b"GET /nap.py HTTP/1.1\r\nHost: x\r\n\r\n")
        await client.waitFor(b"rested")
        answered = time.monotonic()
        assert not client.closed.called
        await client.closed
        assert 0.15 < time.monotonic() - answered < 3
        assert client.received.startswith(b"HTTP/1.1 200 OK\r\n")
    finally:
        await served.close()


@pytest_twisted.ensureDeferred
async def test_headInPiecesWithinTheDeadline(handlerRoot: HandlerRoot) -> None:
    """
    A head that arrives in pieces, but whole within the header deadline, is
    answered as usual; so is the next request of the connection, sent whole,
    after a pause longer than the deadline, and a handler slower than it.
    """
    handlerRoot.write("nap.py", "import time\ndef main(request, response):\n    time.sleep(0.8)\n    return 'rested'\n")
    served = Served(handlerRoot, threads=1, timeout=None, headerTimeout=0.5)
    try:
        client = await connect(portOf(served.url), b"GET /nap.py HTT")
        await deferLater(reactor, 0.2, lambda: None)
        client.transport.write(b"P/1.1\r\nHost: x\r\n")  # type: ignore[union-attr]
        await deferLater(reactor, 0.2, lambda: None)
        client.transport.write(b"\r\n")  # type: ignore[union-attr]
        await client.waitFor(b"rested")
        await deferLater(reactor, 0.7, lambda: None)
        client.transport.write(b"GET /nap.py HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")  # type: ignore[union-attr]
        answer = await client.closed
        assert answer.count(b"HTTP/1.1 200 OK\r\n") == 2 and b"408" not in answer
    finally:
        await served.close()


@pytest_twisted.ensureDeferred
async def test_idleAndSlowClientsDoNotSlowANormalOne(handlerRoot: HandlerRoot) -> None:
    """
    500 idle connections and 50 slowloris clients open at once do not slow
    a normal client: its requests are answered well within a second each.
    """
    handlerRoot.write("ok.py", "def main(request, response):\n    return 'ok'\n")
    served = Served(handlerRoot, threads=4, timeout=None, headerTimeout=30.0)
    sockets: List[socket.socket] = []
    stop = threading.Event()

    def trickle(sock: socket.socket) -> None:
        try:
            sock.sendall(b"GET / HTTP/1.1\r\n")
            while not stop.wait(0.2):
                sock.sendall(b"X")
        except OSError:
            pass

    try:
        address = ("127.0.0.1", portOf(served.url))
        for _ in range(550):
            sock = socket.create_connection(address)
            sockets.append(sock)
        slow = [threading.Thread(target=trickle, args=(sock,), daemon=True) for sock in sockets[500:]]
        for thread in slow:
            thread.start()
        await deferLater(reactor, 0.5, lambda: None)
        worst = 0.0
        for _ in range(20):
            begun = time.monotonic()
            assert await get(f"{served.url}/ok.py") == (200, b"ok")
            worst = max(worst, time.monotonic() - begun)
        assert worst < 0.5
    finally:
        stop.set()
        for sock in sockets:
            sock.close()
        await served.close()


# -- odd but survivable requests ------------------------------------------------


@pytest.mark.parametrize("host", [b"]27.0.0.1", b"[::1", b"[zz]", b"h:abc", b"h:99999"])
@pytest.mark.parametrize("path", [b"/url.py", b"/file.txt"])
@pytest_twisted.ensureDeferred
async def test_malformedHostAnswered400(handlerRoot: HandlerRoot, host: bytes, path: bytes) -> None:
    """
    A Host header that cannot make a URL is answered 400 before any handler
    (or file) sees it: no 500 traceback from ``request.url_parts``.
    """
    handlerRoot.write("url.py", "def main(request, response):\n    return repr(request.url_parts.port)\n")
    handlerRoot.write("file.txt", "static")
    served = Served(handlerRoot, threads=1, timeout=None)
    try:
        answer = await exchange(portOf(served.url), b"GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, host))
        assert answer.startswith(b"HTTP/1.1 400 ")
        assert b"Bad Host header" in answer
    finally:
        await served.close()


@pytest_twisted.ensureDeferred
async def test_headerLimits(handlerRoot: HandlerRoot) -> None:
    """
    A 64 KiB header line and 40 x 1 KiB headers are served (as wptserve
    serves them; Twisted refuses both); a longer line gets 431 (414 for the
    request line) and too many lines 431, each with a status line.
    """
    handlerRoot.write("n.py", "def main(request, response):\n    return str(len(request.headers))\n")
    served = Served(handlerRoot, threads=1, timeout=None)
    port = portOf(served.url)
    try:
        line = b"X-Long: " + b"a" * (64 * 1024 - 8)
        answer = await exchange(port, b"GET /n.py HTTP/1.1\r\nHost: x\r\n%s\r\nConnection: close\r\n\r\n" % line)
        assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"\r\n\r\n3")
        many = b"".join(b"X-H%d: %s\r\n" % (n, b"b" * 1024) for n in range(40))
        answer = await exchange(port, b"GET /n.py HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n" % many)
        assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"\r\n\r\n42")
        answer = await exchange(port, b"GET /n.py HTTP/1.1\r\nHost: x\r\nX-Long: %s\r\n\r\n" % (b"a" * 70000))
        assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
        answer = await exchange(port, b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n" % (b"a" * 70000))
        assert answer.startswith(b"HTTP/1.1 414 URI Too Long\r\n")
        tooMany = b"".join(b"X-H%d: 1\r\n" % n for n in range(520))
        answer = await exchange(port, b"GET /n.py HTTP/1.1\r\nHost: x\r\n%s\r\n" % tooMany)
        assert answer.startswith(b"HTTP/1.1 431 ")
    finally:
        await served.close()


@pytest_twisted.ensureDeferred
async def test_bodyLimit(handlerRoot: HandlerRoot) -> None:
    """
    A body over the limit gets 413: at once from its Content-Length (the
    body is never sent), or as soon as its chunks pass it; a body within
    the limit reaches the handler whole.
    """
    handlerRoot.write("len.py", "def main(request, response):\n    return str(len(request.body))\n")
    served = Served(handlerRoot, threads=1, timeout=None, maxBody=100_000)
    port = portOf(served.url)
    try:
        client = await connect(port, b"POST /len.py HTTP/1.1\r\nHost: x\r\nContent-Length: 100001\r\n\r\n")
        answer = await client.closed
        assert answer.startswith(b"HTTP/1.1 413 Content Too Large\r\n")
        client = await connect(port, b"POST /len.py HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(30):
            if client.closed.called:
                break
            client.transport.write(b"2000\r\n" + b"c" * 0x2000 + b"\r\n")  # type: ignore[union-attr]
            await deferLater(reactor, 0.01, lambda: None)
        answer = await client.closed
        assert answer.startswith(b"HTTP/1.1 413 Content Too Large\r\n")
        answer = await exchange(
            port, b"POST /len.py HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n" + b"d" * 100000
        )
        assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"\r\n\r\n100000")
    finally:
        await served.close()
