"""
Running handler files: return forms, header and content types, errors,
imports from the root, the code cache and concurrency (docs/handlers.rst),
over real connections.
"""

from __future__ import annotations

import json
import time

import pytest_twisted
import treq
from rawhttp import connect, exchange, portOf
from serving import HandlerRoot, Serve
from twisted.internet import defer, reactor
from twisted.logger import globalLogPublisher

from twisted_pyhandlers import HandlerDirectory


async def get(url: str, **kwargs: object) -> tuple:
    """GET ``url``: (response, body bytes)."""
    response = await treq.get(url, persistent=False, **kwargs)
    body = await response.content()
    return response, body


@pytest_twisted.ensureDeferred
async def test_returnForms(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """
    Each return form of main sets what it names: ((code, reason), headers,
    content), (code, headers, content), (headers, content), bare content and
    None (the response object as the handler left it).
    """
    handlerRoot.write("full.py", """
        def main(request, response):
            return (202, "Custom Reason"), [("X-A", "1")], "full"
    """)
    handlerRoot.write("code.py", """
        def main(request, response):
            return 201, [("X-B", "2")], b"code"
    """)
    handlerRoot.write("pair.py", """
        def main(request, response):
            response.headers.set("X-Before", "kept")
            return [("X-C", "3")], "pair"
    """)
    handlerRoot.write("bare.py", """
        def main(request, response):
            return "bare"
    """)
    handlerRoot.write("none.py", """
        def main(request, response):
            response.status = (203, "Set By Hand")
            response.headers.set("X-D", "4")
            response.content = "none"
    """)
    base = serve(HandlerDirectory(handlerRoot.path))
    response, body = await get(base + "/full.py")
    assert (response.code, response.phrase, body) == (202, b"Custom Reason", b"full")
    assert response.headers.getRawHeaders("X-A") == ["1"]
    response, body = await get(base + "/code.py")
    assert (response.code, response.phrase, body) == (201, b"Created", b"code")
    assert response.headers.getRawHeaders("X-B") == ["2"]
    response, body = await get(base + "/pair.py")
    assert (response.code, body) == (200, b"pair")
    assert response.headers.getRawHeaders("X-Before") == ["kept"]
    assert response.headers.getRawHeaders("X-C") == ["3"]
    response, body = await get(base + "/bare.py")
    assert (response.code, body) == (200, b"bare")
    assert response.headers.getRawHeaders("Content-Type") is None
    assert response.length == 4  # the client moves Content-Length here
    response, body = await get(base + "/none.py")
    assert (response.code, response.phrase, body) == (203, b"Set By Hand", b"none")


@pytest_twisted.ensureDeferred
async def test_headerAndContentTypes(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """
    Header names and values may be str, bytes or int; content may be bytes,
    str (in response.encoding), a file-like object, or an iterable of bytes,
    str and callables.
    """
    handlerRoot.write("headers.py", """
        def main(request, response):
            return [(b"X-Bytes", b"b"), ("X-Str", "s"), ("X-Int", 42)], ""
    """)
    handlerRoot.write("encoded.py", """
        def main(request, response):
            response.encoding = "utf-16-le"
            return "hé"
    """)
    handlerRoot.write("filelike.py", """
        import io
        def main(request, response):
            return io.BytesIO(b"from a file")
    """)
    handlerRoot.write("iterable.py", """
        def main(request, response):
            return [b"a", "b", lambda: b"c", lambda: "d"]
    """)
    handlerRoot.write("generator.py", """
        def main(request, response):
            def parts():
                for i in range(3):
                    yield "%d," % i
            return parts()
    """)
    base = serve(HandlerDirectory(handlerRoot.path))
    response, _ = await get(base + "/headers.py")
    assert response.headers.getRawHeaders("X-Bytes") == ["b"]
    assert response.headers.getRawHeaders("X-Str") == ["s"]
    assert response.headers.getRawHeaders("X-Int") == ["42"]
    _, body = await get(base + "/encoded.py")
    assert body == "hé".encode("utf-16-le")
    _, body = await get(base + "/filelike.py")
    assert body == b"from a file"
    _, body = await get(base + "/iterable.py")
    assert body == b"abcd"
    _, body = await get(base + "/generator.py")
    assert body == b"0,1,2,"


@pytest_twisted.ensureDeferred
async def test_seedExampleVerbatim(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """
    The seed's "Dynamic HTTP headers" handler works as written, str key
    included: 200, reason "my status text", the Content-Type asked for.
    (wptserve 4.0.3 answers the same file with a 500.)
    """
    handlerRoot.write("resources/example.py", """
        def main(request, response):
            content_type = request.GET.first('content-type')
            headers = [('Content-Type', content_type)]

            return (200, 'my status text'), headers, 'my response content'
    """)
    base = serve(HandlerDirectory(handlerRoot.path))
    response, body = await get(base + "/resources/example.py?content-type=text/foobar")
    assert response.code == 200
    assert response.phrase == b"my status text"
    assert response.headers.getRawHeaders("Content-Type") == ["text/foobar"]
    assert body == b"my response content"


@pytest_twisted.ensureDeferred
async def test_fileAndImports(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """
    Handlers see ``__file__`` (absolute), can import helpers from the root
    with absolute imports, and can import paths with hyphens through
    importlib.
    """
    handlerRoot.write("cookies/resources/helpers.py", "VALUE = 'helper'\n")
    handlerRoot.write("a-b/resources/helper.py", "VALUE = 'hyphen'\n")
    handlerRoot.write("cookies/use.py", """
        import importlib
        from cookies.resources import helpers
        def main(request, response):
            hyphen = importlib.import_module("a-b.resources.helper")
            return "%s|%s|%s" % (__file__, helpers.VALUE, hyphen.VALUE)
    """)
    base = serve(HandlerDirectory(handlerRoot.path))
    response, body = await get(base + "/cookies/use.py")
    assert response.code == 200, body
    path, helper, hyphen = body.decode().split("|")
    assert path == str((handlerRoot.path / "cookies" / "use.py").resolve())
    assert (helper, hyphen) == ("helper", "hyphen")


@pytest_twisted.ensureDeferred
async def test_errors(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """
    HTTPException gives its status and wptserve's JSON body; any other
    exception, a file without main and a syntax error give a 500 whose
    message names the URL and carries the traceback, which is also logged;
    the server keeps serving.
    """
    handlerRoot.write("forbidden.py", """
        from wptserve.utils import HTTPException
        def main(request, response):
            raise HTTPException(403, "not you")
    """)
    handlerRoot.write("broken.py", """
        def main(request, response):
            return helper_that_does_not_exist()
    """)
    handlerRoot.write("nomain.py", "x = 1\n")
    handlerRoot.write("syntax.py", "def main(:\n")
    handlerRoot.write("fine.py", """
        def main(request, response):
            return "still serving"
    """)
    logged: list = []
    globalLogPublisher.addObserver(logged.append)
    try:
        base = serve(HandlerDirectory(handlerRoot.path))
        response, body = await get(base + "/forbidden.py")
        assert response.code == 403
        assert response.headers.getRawHeaders("Content-Type") == ["application/json"]
        assert json.loads(body) == {"error": {"code": 403, "message": "(403, 'not you')"}}
        for name, expected in [
            ("broken.py", "NameError: name 'helper_that_does_not_exist' is not defined"),
            ("nomain.py", "No main function in script"),
            ("syntax.py", "SyntaxError"),
        ]:
            response, body = await get(base + "/" + name)
            assert response.code == 500, name
            error = json.loads(body)["error"]
            assert error["code"] == 500
            assert error["message"].startswith(f"Internal server error loading {base}/{name}")
            assert "Traceback (most recent call last)" in error["message"]
            assert expected in error["message"]
            assert any(expected in str(event.get("message", "")) for event in logged), name
        response, body = await get(base + "/fine.py")
        assert (response.code, body) == (200, b"still serving")
    finally:
        globalLogPublisher.removeObserver(logged.append)


@pytest_twisted.ensureDeferred
async def test_codeCache(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """
    An unchanged handler file is compiled once however often it is
    requested (its module body still runs per request); an edited file takes
    effect on the next request.
    """
    path = handlerRoot.write("counter.py", """
        runs = []
        runs.append(1)
        def main(request, response):
            return "v1 runs=%d" % len(runs)
    """)
    directory = HandlerDirectory(handlerRoot.path)
    base = serve(directory)
    for _ in range(3):
        _, body = await get(base + "/counter.py")
        assert body == b"v1 runs=1"
    assert directory.context.codeCache.compilations == 1
    path.write_text("def main(request, response):\n    return 'version two'\n")
    _, body = await get(base + "/counter.py")
    assert body == b"version two"
    assert directory.context.codeCache.compilations == 2


@pytest_twisted.ensureDeferred
async def test_head(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """HEAD gets the headers (with the GET's Content-Length) and no body."""
    handlerRoot.write("h.py", """
        def main(request, response):
            return [("X-Method", request.method)], "twelve bytes"
    """)
    base = serve(HandlerDirectory(handlerRoot.path))
    raw = await exchange(portOf(base), b"HEAD /h.py HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nX-Method: HEAD" in head
    assert b"\r\nContent-Length: 12" in head
    assert body == b""


@pytest_twisted.ensureDeferred
async def test_sleepingHandlerDoesNotDelayOthers(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """
    A handler that sleeps for a second runs in its own thread: a concurrent
    request to a fast handler is answered long before it finishes.
    """
    handlerRoot.write("slow.py", """
        import time
        def main(request, response):
            time.sleep(1)
            return "slow"
    """)
    handlerRoot.write("fast.py", """
        def main(request, response):
            return "fast"
    """)
    base = serve(HandlerDirectory(handlerRoot.path))
    finished: dict = {}
    start = time.monotonic()

    async def timed(name: str) -> None:
        _, body = await get(f"{base}/{name}.py")
        finished[name] = (time.monotonic() - start, body)

    slow = defer.ensureDeferred(timed("slow"))
    # Give the slow request a head start so it is surely sleeping.
    await deferLater(0.1)
    await timed("fast")
    await slow
    assert finished["fast"][1] == b"fast" and finished["slow"][1] == b"slow"
    assert finished["fast"][0] < finished["slow"][0]
    assert finished["fast"][0] < 0.9


def deferLater(seconds: float) -> defer.Deferred:
    """A Deferred that fires after ``seconds`` on the test reactor."""
    from twisted.internet.task import deferLater as later

    return later(reactor, seconds, lambda: None)


@pytest_twisted.ensureDeferred
async def test_asyncMain(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """
    Beyond wptserve: ``async def main`` runs on the reactor and may await
    Deferreds; its return value is used as for any handler.
    """
    handlerRoot.write("async.py", """
        from twisted.internet import reactor
        from twisted.internet.task import deferLater
        async def main(request, response):
            value = await deferLater(reactor, 0.01, lambda: "awaited")
            return [("X-Async", "yes")], value
    """)
    base = serve(HandlerDirectory(handlerRoot.path))
    response, body = await get(base + "/async.py")
    assert (response.code, body) == (200, b"awaited")
    assert response.headers.getRawHeaders("X-Async") == ["yes"]


@pytest_twisted.ensureDeferred
async def test_asyncMainCancelledWhenClientLeaves(handlerRoot: HandlerRoot, serve: Serve, tmp_path) -> None:
    """
    An ``async def main`` still waiting when its client disconnects is
    cancelled (nobody is waiting for its answer any more).
    """
    marker = tmp_path / "cancelled"
    handlerRoot.write("waits.py", f"""
        from twisted.internet import reactor
        from twisted.internet.defer import CancelledError
        from twisted.internet.task import deferLater
        async def main(request, response):
            try:
                await deferLater(reactor, 30, lambda: None)
            except CancelledError:
                open({str(marker)!r}, "w").close()
                raise
            return "too late"
    """)
    base = serve(HandlerDirectory(handlerRoot.path))
    client = await connect(portOf(base), b"GET /waits.py HTTP/1.1\r\nHost: x\r\n\r\n")
    await deferLater(0.2)
    client.transport.abortConnection()
    for _ in range(100):
        if marker.exists():
            break
        await deferLater(0.05)
    assert marker.exists()
