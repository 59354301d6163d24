"""
The in-memory client (``twisted_pyhandlers.testing.memoryClient``, the
``pyhandlers_stubtreq`` fixture): ``StubTreq`` over a root whose answers are
there when the call returns, plain static files included, and that never
hangs: what needs the reactor works in a pytest-twisted test and is a clear
error in a synchronous one.
"""

from __future__ import annotations

import pytest
import pytest_twisted
from serving import HandlerRoot

from twisted_pyhandlers.testing import NotAnsweredInMemory, memoryClient


def test_answersAreThereWhenTheCallReturns(handlerRoot: HandlerRoot) -> None:
    """
    In a synchronous test, a handler, a streamed body, a writer-driven
    response, a plain static file (Twisted's pull producer) and a 404 all
    answer within the call, with status, headers and body.
    """
    handlerRoot.write("echo.py", """
        def main(request, response):
            return (201, "Made"), [("X-Echo", request.GET.first("v"))], request.GET.first("v")
    """)
    handlerRoot.write("stream.py", """
        def main(request, response):
            return iter([b"a", b"b", b"c"])
    """)
    handlerRoot.write("raw.py", """
        def main(request, response):
            response.writer.write(b"HTTP/1.1 202 Raw\\r\\nContent-Length: 3\\r\\n\\r\\nraw")
    """)
    handlerRoot.write("big.txt", "x" * 300_000)
    client = memoryClient(handlerRoot.path)

    response = client.result(client.get("http://example.test/echo.py?v=42"))
    assert (response.code, response.phrase) == (201, b"Made")
    assert response.headers.getRawHeaders(b"X-Echo") == [b"42"]
    assert client.result(response.content()) == b"42"
    assert client.result(client.content(client.result(client.get("http://example.test/stream.py")))) == b"abc"
    raw = client.result(client.get("http://example.test/raw.py"))
    assert (raw.code, client.result(raw.content())) == (202, b"raw")
    big = client.result(client.get("http://example.test/big.txt"))
    assert big.headers.getRawHeaders(b"Content-Type") == [b"text/plain"]
    assert client.result(big.content()) == b"x" * 300_000
    assert client.result(client.get("http://example.test/missing.txt")).code == 404


def test_reactorAnswersAreAClearErrorInASynchronousTest(handlerRoot: HandlerRoot) -> None:
    """
    ``async def main`` needs the reactor, which does not turn during a
    synchronous test: ``result`` says so instead of hanging.
    """
    handlerRoot.write("later.py", """
        async def main(request, response):
            return "later"
    """)
    client = memoryClient(handlerRoot.path)
    with pytest.raises(NotAnsweredInMemory, match="needs the reactor"):
        client.result(client.get("http://example.test/later.py"))


@pytest_twisted.ensureDeferred
async def test_reactorAnswersArriveInATwistedTest(handlerRoot: HandlerRoot) -> None:
    """
    In a pytest-twisted test, an ``async def main`` that waits on the
    reactor and a trickle pipe (timed calls) answer in memory: the client
    keeps flushing while the reactor turns.
    """
    handlerRoot.write("later.py", """
        from twisted.internet import reactor
        from twisted.internet.task import deferLater

        async def main(request, response):
            await deferLater(reactor, 0.05, lambda: None)
            return "later"
    """)
    handlerRoot.write("slow.txt", "abcdef")
    client = memoryClient(handlerRoot.path)
    response = await client.get("http://example.test/later.py")
    assert await response.text() == "later"
    trickled = await client.get("http://example.test/slow.txt?pipe=trickle(2:d0.05)")
    assert await client.content(trickled) == b"abcdef"


def test_eachClientHasItsOwnStash(handlerRoot: HandlerRoot) -> None:
    """Two in-memory clients do not share a stash (tests stay independent)."""
    handlerRoot.write("put.py", """
        def main(request, response):
            request.server.stash.put("0ef4b3a2-1b3e-4c52-9a4e-2b1c0b4d7a11", "v", path="/")
            return "ok"
    """)
    for _ in range(2):
        client = memoryClient(handlerRoot.path)
        assert client.result(client.get("http://example.test/put.py")).code == 200


def test_handlerFunctionsInMemory(handlerRoot: HandlerRoot) -> None:
    """
    The in-memory client serves handler functions written in the test, with
    no root (anything else a 404, ``/`` included) or beside a root's files: a closure sees
    the test's objects, the writer and the stash work, the query's pipes
    apply.
    """
    handlerRoot.write("file.py", """
        def main(request, response):
            return "from a file"
    """)
    calls = []

    def closure(request: object, response: object) -> str:
        calls.append(request)
        return "closure"

    def writer(request: object, response: object) -> None:
        response.writer.write_status(203)  # type: ignore[attr-defined]
        response.writer.end_headers()  # type: ignore[attr-defined]
        response.writer.write(b"written")  # type: ignore[attr-defined]

    def stash(request: object, response: object) -> object:
        store = request.server.stash  # type: ignore[attr-defined]
        store.put("0ef4b3a2-1b3e-4c52-9a4e-2b1c0b4d7a11", "kept")
        return store.take("0ef4b3a2-1b3e-4c52-9a4e-2b1c0b4d7a11")

    alone = memoryClient(handlers={"/c": closure})
    assert alone.result(alone.result(alone.get("http://example.test/c")).text()) == "closure"
    assert len(calls) == 1
    assert alone.result(alone.get("http://example.test/file.py")).code == 404
    assert alone.result(alone.get("http://example.test/")).code == 404

    client = memoryClient(handlerRoot.path, handlers={"/w": writer, "/s": stash, "/c": closure})
    written = client.result(client.get("http://example.test/w"))
    assert (written.code, client.result(written.content())) == (203, b"written")
    assert client.result(client.content(client.result(client.get("http://example.test/s")))) == b"kept"
    assert client.result(client.get("http://example.test/c?pipe=status(299)")).code == 299
    assert client.result(client.content(client.result(client.get("http://example.test/file.py")))) == b"from a file"
