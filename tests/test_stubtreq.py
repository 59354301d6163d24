"""
In-memory use with ``treq.testing.StubTreq`` and a synchronous thread pool
(docs/quickstart.rst: tests "in memory through StubTreq where the raw writer is
not needed"): no sockets, no threads, the same answers.
"""

from __future__ import annotations

import json

import pytest_twisted
from serving import HandlerRoot
from treq.testing import StubTreq
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater

from twisted_pyhandlers import HandlerDirectory
from twisted_pyhandlers.testing import SynchronousThreadPool


@pytest_twisted.ensureDeferred
async def test_stubTreqServesHandlers(handlerRoot: HandlerRoot) -> None:
    """
    A handler answers through StubTreq with its status, reason, headers and
    body; a streamed body, an error body and a piped static file work the
    same as on a socket.
    """
    handlerRoot.write("echo.py", """
        def main(request, response):
            return (201, "Made"), [("X-Echo", request.GET.first("v"))], "value=" + request.GET.first("v").decode()
    """)
    handlerRoot.write("stream.py", """
        def main(request, response):
            return iter([b"a", b"b", b"c"])
    """)
    handlerRoot.write("boom.py", """
        def main(request, response):
            raise ValueError("boom")
    """)
    handlerRoot.write("static.txt", "plain file\n")
    client = StubTreq(HandlerDirectory(handlerRoot.path, threadpool=SynchronousThreadPool()))

    async def settle(pending: Deferred) -> object:
        # The resource answers asynchronously (NOT_DONE_YET), and static
        # files stream from a cooperator on the reactor: alternate moving
        # the bytes to the in-memory client and letting the reactor turn.
        for _ in range(200):
            client.flush()
            if pending.called:
                break
            await deferLater(reactor, 0, lambda: None)
        return await pending

    async def get(url: str) -> tuple:
        response = await settle(client.get(url))
        return response, await settle(response.content())

    response, body = await get("http://example.test/echo.py?v=42")
    assert (response.code, response.phrase) == (201, b"Made")
    assert response.headers.getRawHeaders(b"X-Echo") == [b"42"]
    assert body == b"value=42"
    response, body = await get("http://example.test/stream.py")
    assert body == b"abc"
    response, body = await get("http://example.test/boom.py")
    assert response.code == 500
    assert "ValueError: boom" in json.loads(body)["error"]["message"]
    # A static file with a pipe is served by the handler machinery too.
    # (A plain static file is Twisted's own static.File, whose pull producer
    # StubTreq's in-memory transport does not drive: test those on a port.)
    response, body = await get("http://example.test/static.txt?pipe=header(X-Piped,1)")
    assert response.headers.getRawHeaders(b"X-Piped") == [b"1"]
    assert body == b"plain file\n"
