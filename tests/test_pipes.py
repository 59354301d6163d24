"""
``?pipe=`` (docs/static.rst): the pipe-string parser against wptserve's own,
each pipe on static files and on handler responses over real ports, and
trickle delays that hold only the worker thread.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
import pytest_twisted
import treq
from rawhttp import exchange, portOf
from serving import HandlerRoot, Serve
from twisted.internet import reactor
from twisted.internet.defer import DeferredList, ensureDeferred
from wptserve.pipes import Pipeline as WptservePipeline
from wptserve.pipes import PipeTokenizer as WptserveTokenizer

from twisted_pyhandlers import HandlerDirectory
from twisted_pyhandlers._pipes import (
    PipeError,
    Pipeline,
    PipeTokenizer,
    _trickled,
    parse_qs,
    parseTrickle,
    pipeString,
)

ODD_PIPE_STRINGS = [
    "status(200)",
    "status(200)|header(X-A,1)",
    "status(404)status(405)",
    "|status(204)",
    "status(204)|",
    "status(210",
    "header(X-E,a\\,b)",
    "header(X-E,a\\nb\\tc\\q)",
    "header(X-E,a,b,c)",
    "(200)",
    "trickle(d1:100:r2)",
    "sub",
    "sub()",
    "gzip|sub(none)",
    "slice(null,-3)",
    "",
    "|||",
    "status(20)0)",
    "header(,)",
]


def _tokens(tokenizer: Any, string: str) -> list[Any]:
    try:
        return list(tokenizer.tokenize(string))
    except Exception as error:  # noqa: BLE001 (any failure is the result)
        return [type(error).__name__]


@pytest.mark.parametrize("string", ODD_PIPE_STRINGS)
def test_tokenizerMatchesWptserve(string: str) -> None:
    """
    Our pipe tokenizer splits every string, odd ones included (missing
    ``|``, unclosed ``(``, escapes, stray ``)``), into the same tokens as
    wptserve 4.0.3's.
    """
    assert _tokens(PipeTokenizer(), string) == _tokens(WptserveTokenizer(), string)


@pytest.mark.parametrize("string", ["status(200", "header(a\\", "nosuch", "(1)"])
def test_parseFailuresMatchWptserve(string: str) -> None:
    """
    A pipe string wptserve cannot parse is one we refuse too, and one it
    parses we parse into the same pipe names and arguments.
    """
    try:
        theirNames = {id(f): name for name, f in WptservePipeline.pipes.items()}
        theirs: Any = [
            (theirNames[id(f)], args)
            for f, args in WptservePipeline(string).pipe_functions
        ]
    except Exception:  # noqa: BLE001 (any failure is the result)
        theirs = "error"
    try:
        ours: Any = [(f.__name__, args) for f, args in Pipeline(string).pipe_functions]
    except Exception:  # noqa: BLE001 (any failure is the result)
        ours = "error"
    assert ours == theirs


def test_unknownPipeNamed() -> None:
    """An unknown pipe name is a PipeError that names it."""
    with pytest.raises(PipeError, match="nosuch"):
        Pipeline("status(200)|nosuch")


def test_parseQsLikeWptserve() -> None:
    """
    The query parser splits on ``&`` only, decodes ``+`` and ``%XX``, and
    drops blank values; the last ``pipe`` value is the one used.
    """
    assert parse_qs("a=1;b=2&c=&d&pipe=x+y&pipe=%7Cz") == {
        "a": ["1;b=2"],
        "pipe": ["x y", "|z"],
    }
    assert pipeString("/f.txt", "pipe=status(201)&pipe=status(202)") == "status(202)"


@pytest.mark.parametrize(
    "path, expected",
    [
        ("a.sub.html", "sub(html)|gzip"),
        ("d/a.sub.svg", "sub(html)|gzip"),
        ("a.sub.js", "sub(none)|gzip"),
        ("d.sub.x/a.txt", "sub(none)|gzip"),
        ("/root.sub.dir/a.txt", "gzip"),
    ],
)
def test_subFromPath(path: str, expected: str) -> None:
    """
    ``.sub.`` anywhere below the root adds ``sub`` before the query's
    pipes, HTML-escaping for markup extensions; the document root's own
    location does not count.
    """
    assert pipeString(path, "pipe=gzip", docRoot="/root.sub.dir") == expected


@pytest.mark.parametrize(
    "spec", ["d-1", "dnan", "dinf", "-5", "r3", "d1:r2", "10:d1:0:r2", "x"]
)
def test_trickleRefusesBadSpecs(spec: str) -> None:
    """
    Trickle specs that wptserve would fail on half-way through the body, or
    loop on forever (a repeat that sends no bytes), are refused up front.
    """
    with pytest.raises(ValueError):
        parseTrickle(spec)


def test_trickleOrder() -> None:
    """
    ``d1:2:d2:r2`` sleeps 1, sends 2 bytes, sleeps 2, then repeats the two
    items before ``r2`` ("send 2, sleep 2") until the body is out — so it
    ends with a sleep, as in wptserve; consecutive items of one kind merge.
    """
    events: list[Any] = []

    def sleep(seconds: float) -> None:
        events.append(("sleep", seconds))

    steps = parseTrickle("d0.5:d0.5:2:d2:r2")
    assert steps == [["delay", 1.0], ["bytes", 2], ["delay", 2.0], ["repeat", 2]]
    events.extend(_trickled(b"abcdefg", steps, sleep))
    assert events == [
        ("sleep", 1.0),
        b"ab",
        ("sleep", 2.0),
        b"cd",
        ("sleep", 2.0),
        b"ef",
        ("sleep", 2.0),
        b"g",
        ("sleep", 2.0),
    ]


def _root(handlerRoot: HandlerRoot) -> HandlerRoot:
    handlerRoot.write("plain.txt", "0123456789")
    handlerRoot.write("headed.txt", "headed body")
    handlerRoot.write("headed.txt.headers", "X-From-File: 1\n")
    handlerRoot.write(
        "handler.py",
        """
        def main(request, response):
            return [("Content-Type", "text/plain"), ("X-H", "1")], "handler 0123456789"
        """,
    )
    handlerRoot.write("t.txt", "{{GET[q]}}")
    return handlerRoot


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("target", ["/plain.txt", "/handler.py"])
async def test_statusAndHeaderPipes(
    serve: Serve, handlerRoot: HandlerRoot, target: str
) -> None:
    """
    ``status`` sets the code; ``header`` replaces, or with a true third
    argument appends — on a static file and on a handler's response alike,
    and applied once.
    """
    base = serve(HandlerDirectory(str(_root(handlerRoot).path), reactor=reactor))
    response = await treq.get(
        base
        + target
        + "?pipe=status(203)|header(X-H,2,true)|header(X-New,a)|header(X-New,b)"
    )
    assert response.code == 203
    expectedH = ["1", "2"] if target == "/handler.py" else ["2"]
    assert response.headers.getRawHeaders("x-h") == expectedH
    assert response.headers.getRawHeaders("x-new") == ["b"]
    await response.content()


@pytest_twisted.ensureDeferred
async def test_sliceGzipSub(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """
    ``slice`` keeps a part (Python slice semantics, ``null``), ``gzip``
    compresses with Content-Encoding, ``sub`` templates any file.
    """
    base = serve(HandlerDirectory(str(_root(handlerRoot).path), reactor=reactor))
    response = await treq.get(base + "/plain.txt?pipe=slice(2,5)")
    assert await response.content() == b"234"
    response = await treq.get(base + "/plain.txt?pipe=slice(null,-7)")
    assert await response.content() == b"012"
    response = await treq.get(base + "/handler.py?pipe=slice(-4)")
    assert await response.content() == b"6789"
    response = await treq.get(
        base + "/plain.txt?pipe=gzip", headers={"Accept-Encoding": "identity"}
    )
    # treq undoes the gzip; what matters is that the body round-trips.
    assert await response.content() == b"0123456789"
    response = await treq.get(base + "/t.txt?pipe=sub&q=%3Cx%3E")
    assert await response.content() == b"&lt;x&gt;"
    response = await treq.get(base + "/t.txt?pipe=sub(none)&q=%3Cx%3E")
    assert await response.content() == b"<x>"


@pytest_twisted.ensureDeferred
async def test_gzipOnTheWire(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """``gzip`` sends gzip bytes with Content-Encoding and their length."""
    base = serve(HandlerDirectory(str(_root(handlerRoot).path), reactor=reactor))
    raw = await exchange(
        portOf(base),
        b"GET /headed.txt?pipe=gzip HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"\r\nContent-Encoding: gzip" in head
    assert b"\r\nContent-Length: %d" % (len(body),) in head
    assert b"\r\nX-From-File: 1" in head
    assert gzip.decompress(body) == b"headed body"


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize(
    "pipe",
    [
        "nosuch",
        "status(abc)",
        "header(a)",
        "(200)",
        "trickle(d-1)",
        "header(X,Y,maybe)",
        "sub(bogus)",
    ],
)
async def test_malformedPipe500(
    serve: Serve, handlerRoot: HandlerRoot, pipe: str
) -> None:
    """
    A malformed pipe string is wptserve's JSON 500 naming the URL, on a
    static file; the server keeps serving.
    """
    base = serve(HandlerDirectory(str(_root(handlerRoot).path), reactor=reactor))
    response = await treq.get(base + "/t.txt?pipe=" + pipe)
    assert response.code == 500
    error = json.loads(await response.content())["error"]
    assert error["code"] == 500
    assert "/t.txt?pipe=" in error["message"]
    again = await treq.get(base + "/plain.txt")
    assert await again.content() == b"0123456789"


@pytest_twisted.ensureDeferred
async def test_trickleHoldsOnlyItsThread(
    serve: Serve, handlerRoot: HandlerRoot
) -> None:
    """
    While one response trickles with a long delay, other requests (static
    and handler) are answered: the delay sleeps in a worker thread, never in
    the reactor.  The trickled body still arrives whole, with no-cache
    headers.
    """
    base = serve(HandlerDirectory(str(_root(handlerRoot).path), reactor=reactor))
    order: list[str] = []
    slow = treq.get(base + "/plain.txt?pipe=trickle(1:d1.5)")

    async def slowBody() -> bytes:
        response = await slow
        assert response.headers.getRawHeaders("cache-control") == [
            "no-cache, no-store, must-revalidate"
        ]
        body: bytes = await response.content()
        order.append("slow")
        return body

    async def fastBodies() -> None:
        for target in ("/headed.txt", "/handler.py", "/plain.txt?pipe=slice(1,2)"):
            response = await treq.get(base + target)
            await response.content()
        order.append("fast")

    results = await DeferredList(
        [ensureDeferred(slowBody()), ensureDeferred(fastBodies())],
        fireOnOneErrback=True,
    )
    assert order == ["fast", "slow"]
    assert results[0][1] == b"0123456789"


def test_queryPipeFastPath() -> None:
    """
    ``queryPipe`` skips parsing only queries that cannot name a pipe: the
    name spelled with a percent-escape, or after other keys, is still found,
    the last value wins, and a blank value names none (wptserve's parse_qs).
    """
    from twisted_pyhandlers._pipes import queryPipe

    assert queryPipe("") is None
    assert queryPipe("a=1&b=2") is None
    assert queryPipe("pipe=") is None
    assert queryPipe("%70ipe=status(404)") == "status(404)"
    assert queryPipe("a=1&pipe=status(201)&pipe=header(X,1)") == "header(X,1)"
    assert queryPipe("x=%20&y=2") is None
