"""
URL to file (docs/handlers.rst): what each URL reaches, and that none reaches
outside the root or shows a handler's source.  Traversal attempts go over
raw sockets, because HTTP clients normalise ``..`` away before sending.
"""

from __future__ import annotations

import json
import os

import pytest
import pytest_twisted
import treq
from rawhttp import exchange, portOf
from serving import HandlerRoot, Serve
from twisted.internet.defer import Deferred, gatherResults
from twisted.web.resource import Resource
from twisted.web.static import Data

from twisted_pyhandlers import HandlerDirectory

SECRET = "TOP-SECRET-CONTENT"


@pytest.fixture
def guardedRoot(handlerRoot: HandlerRoot, tmp_path: object) -> HandlerRoot:
    """
    A root beside a secret file and a secret handler, with a symlink
    pointing out of the root.
    """
    outside = handlerRoot.path.parent
    (outside / "secret.txt").write_text(SECRET)
    (outside / "evil.py").write_text(f"def main(request, response):\n    return {SECRET!r}\n")
    handlerRoot.write("sub/ok.txt", "fine")
    handlerRoot.write("hello.py", """
        # SOURCE-MARKER
        def main(request, response):
            return "hello from handler"
    """)
    os.symlink(outside, handlerRoot.path / "escape")
    os.symlink(outside / "secret.txt", handlerRoot.path / "secret-link.txt")
    return handlerRoot


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize(
    "target",
    [
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/sub/%2E%2E/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/sub%2f..%2f..%2fsecret.txt",
        "/..%5csecret.txt",
        "/sub/%5c..%5c..%5csecret.txt",
        "/secret.txt%00.py",
        "/%00",
        "//etc/passwd",
        "//secret.txt",
        "/sub//..//..//secret.txt",
        "/sub//%2e%2e//%2e%2e//secret.txt",
        "/escape//secret.txt",
        "/sub//%2f..%2fsecret.txt",
        "/./hello.py",
        "/escape/secret.txt",
        "/escape/evil.py",
        "/secret-link.txt",
        "/%2fetc%2fpasswd",
    ],
)
async def test_traversalIsNotFound(guardedRoot: HandlerRoot, serve: Serve, target: str) -> None:
    """
    Every attempt to leave the root (dot segments, encoded or not, encoded
    separators, NUL, absolute paths, doubled slashes mixed with any of
    those, symlinks leaving the root) is a 404 that shows
    nothing from outside.
    """
    base = serve(HandlerDirectory(guardedRoot.path))
    raw = await exchange(portOf(base), f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert raw.startswith(b"HTTP/1.1 404 "), raw[:200]
    assert SECRET.encode() not in raw
    assert b"root:" not in raw


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize(
    "target, body",
    [
        ("/sub//ok.txt", b"fine"),
        ("/sub///ok.txt", b"fine"),
        ("/sub//", None),
        ("/deep//er/h.py", b"handler below"),
        ("/deep//er//h.py?x=1", b"handler below"),
        ("//sub/ok.txt", b"fine"),
        ("///deep/er/h.py", b"handler below"),
    ],
)
async def test_emptySegmentsAreSkipped(guardedRoot: HandlerRoot, serve: Serve, target: str, body: bytes) -> None:
    """
    An empty segment before others ("/a//b", "//a") is skipped, as
    wptserve serves it: the file or handler it names answers (a directory's listing
    for "/sub//").
    """
    guardedRoot.write("deep/er/h.py", "def main(request, response):\n    return 'handler below'\n")
    base = serve(HandlerDirectory(guardedRoot.path))
    raw = await exchange(portOf(base), f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert raw.startswith(b"HTTP/1.1 200 "), raw[:200]
    if body is None:
        assert b"ok.txt" in raw
    else:
        assert raw.endswith(body)


@pytest_twisted.ensureDeferred
async def test_handlerSourceNeverServed(guardedRoot: HandlerRoot, serve: Serve) -> None:
    """A ``.py`` URL runs the handler; no URL form returns its source."""
    base = serve(HandlerDirectory(guardedRoot.path))
    port = portOf(base)
    for target in ["/hello.py", "/hello.py?raw=1", "/hello.py/", "/hello.py/x", "/HELLO.PY", "/hello.py%20"]:
        raw = await exchange(port, f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        assert b"SOURCE-MARKER" not in raw, target
        assert b"def main" not in raw, target
    raw = await exchange(port, b"GET /hello.py HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
    assert raw.endswith(b"hello from handler")


@pytest_twisted.ensureDeferred
async def test_missingIsNotFound(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """
    A missing file or handler is a 404 with wptserve's JSON error body,
    whose message names the path (wptserve's says "404").
    """
    base = serve(HandlerDirectory(handlerRoot.path))
    for path in ["/nothing.py", "/nothing.txt", "/no/such/dir/"]:
        response = await treq.get(base + path, persistent=False)
        assert response.code == 404
        assert json.loads(await response.content()) == {"error": {"code": 404, "message": f"Not found: {path}"}}


@pytest_twisted.ensureDeferred
async def test_changesOnDiskSeenAtOnce(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """
    The tree remembers what it built for a name, but asks the disk what the
    name is on every request: a handler deleted is a 404 at once, a name that
    becomes a directory (or a file again) is served as what it is now, and a
    static file rewritten is served with its new length.
    """
    handlerRoot.write("thing.py", "def main(request, response):\n    return 'handler'\n")
    handlerRoot.write("page.txt", "short")
    base = serve(HandlerDirectory(handlerRoot.path))

    async def fetch(path: str) -> tuple:
        response = await treq.get(base + path, allow_redirects=False, persistent=False)
        return response.code, await response.content()

    assert await fetch("/thing.py") == (200, b"handler")
    assert await fetch("/page.txt") == (200, b"short")
    os.remove(handlerRoot.path / "thing.py")
    assert (await fetch("/thing.py"))[0] == 404
    handlerRoot.write("thing.py/inner.txt", "inside")
    assert await fetch("/thing.py/inner.txt") == (200, b"inside")
    assert (await fetch("/thing.py"))[0] == 301
    (handlerRoot.path / "thing.py" / "inner.txt").unlink()
    (handlerRoot.path / "thing.py").rmdir()
    handlerRoot.write("thing.py", "def main(request, response):\n    return 'handler again'\n")
    assert await fetch("/thing.py") == (200, b"handler again")
    handlerRoot.write("page.txt", "a much longer page than before")
    assert await fetch("/page.txt") == (200, b"a much longer page than before")


@pytest_twisted.ensureDeferred
async def test_directoryRedirectDefaultAndListing(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """
    A directory without its slash redirects (301) to the slash form; with
    the slash it runs the first ``default*.py`` by name, or lists the
    directory when there is none.
    """
    handlerRoot.write("withdefault/default_z.py", "def main(request, response):\n    return 'z'\n")
    handlerRoot.write("withdefault/default.py", "def main(request, response):\n    return 'plain default'\n")
    handlerRoot.write("plain/file.txt", "x")
    base = serve(HandlerDirectory(handlerRoot.path))
    response = await treq.get(base + "/withdefault", allow_redirects=False, persistent=False)
    assert response.code == 301
    assert response.headers.getRawHeaders("Location") == [base + "/withdefault/"]
    response = await treq.get(base + "/withdefault/", persistent=False)
    assert await response.content() == b"plain default"
    response = await treq.get(base + "/plain/", persistent=False)
    assert response.code == 200
    body = await response.content()
    assert b"file.txt" in body


@pytest_twisted.ensureDeferred
async def test_composition(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """
    Mounted under ``b"wpt"`` of an existing Site beside another child, both
    answer, and handlers see ``request.url_base == "/wpt/"``.
    """
    handlerRoot.write("sub/base.py", """
        def main(request, response):
            return "%s %s" % (request.url_base, request.url_parts.path)
    """)
    root = Resource()
    root.putChild(b"other", Data(b"other child", "text/plain"))
    root.putChild(b"wpt", HandlerDirectory(handlerRoot.path))
    base = serve(root)
    response = await treq.get(base + "/other", persistent=False)
    assert await response.content() == b"other child"
    response = await treq.get(base + "/wpt/sub/base.py", persistent=False)
    assert await response.content() == b"/wpt/ /wpt/sub/base.py"
    response = await treq.get(base + "/wpt", allow_redirects=False, persistent=False)
    assert response.code == 301
    assert response.headers.getRawHeaders("Location") == [base + "/wpt/"]


@pytest_twisted.ensureDeferred
async def test_urlBaseAtRoot(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """At the root of a Site, ``request.url_base`` is "/"."""
    handlerRoot.write("base.py", "def main(request, response):\n    return request.url_base\n")
    base = serve(HandlerDirectory(handlerRoot.path))
    response = await treq.get(base + "/base.py", persistent=False)
    assert await response.content() == b"/"


def test_rootMustBeADirectory(tmp_path: object) -> None:
    """A root that is not a directory is refused at once, with its path named."""
    with pytest.raises(ValueError, match="not a directory"):
        HandlerDirectory(os.path.join(str(tmp_path), "missing"))


@pytest_twisted.ensureDeferred
async def test_sameServerHeaderEverywhere(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """
    Every answer under the root carries the same ``Server`` header: a
    handler's, a missing path's 404, the slash redirect, a listing, a plain
    static file (served by Twisted's ``static.File``), a processed one, and
    a method not routed on a static file.
    """
    handlerRoot.write("hello.py", "def main(request, response):\n    return 'hi'\n")
    handlerRoot.write("dir/file.txt", "plain")
    handlerRoot.write("dir/page.sub.txt", "{{host}}")
    base = serve(HandlerDirectory(handlerRoot.path))
    answers = [
        ("GET", "/hello.py", 200),
        ("GET", "/missing.txt", 404),
        ("GET", "/dir", 301),
        ("GET", "/dir/", 200),
        ("GET", "/dir/file.txt", 200),
        ("GET", "/dir/page.sub.txt", 200),
        ("POST", "/dir/file.txt", 404),
        ("DELETE", "/dir/", 404),
    ]
    for method, path, code in answers:
        response = await treq.request(method, base + path, allow_redirects=False, persistent=False)
        await response.content()
        assert response.code == code, (method, path)
        assert response.headers.getRawHeaders("Server") == ["twisted_pyhandlers"], (method, path)


class _RecordingPool:
    """A thread pool that never runs anything: it only records what it was asked to run."""

    def __init__(self) -> None:
        self.calls: list[object] = []

    def callInThread(self, func: object, *args: object, **kwargs: object) -> None:
        self.calls.append(func)

    def callInThreadWithCallback(self, onResult: object, func: object, *args: object, **kwargs: object) -> None:
        self.calls.append(func)


@pytest_twisted.ensureDeferred
async def test_serverAnswersNeedNoThread(handlerRoot: HandlerRoot) -> None:
    """
    A 404, the slash redirect, a listing and a method not routed are
    answered on the reactor: with a thread pool that never runs anything,
    they are all answered, and nothing is handed to the pool; a handler
    file, which must run in the pool, is.
    """
    from treq.testing import StubTreq

    handlerRoot.write("dir/file.txt", "plain")
    handlerRoot.write("hello.py", "def main(request, response):\n    return 'hi'\n")
    pool = _RecordingPool()
    client = StubTreq(HandlerDirectory(handlerRoot.path, threadpool=pool))
    for method, path, code in [
        ("GET", "/missing.py", 404),
        ("GET", "/dir", 301),
        ("GET", "/dir/", 200),
        ("POST", "/dir/file.txt", 404),
        ("GET", "/dir/file.txt/below", 404),
    ]:
        pending = client.request(method, "http://localhost" + path, allow_redirects=False)
        client.flush()
        # Answered at once: nothing waits for a thread.
        assert pending.called, (method, path)
        response = await pending
        assert response.code == code, (method, path)
    assert pool.calls == []
    client.request("GET", "http://localhost/hello.py")
    client.flush()
    assert len(pool.calls) == 1


#: Building blocks of the generated hostile-path corpus.
_CLIMBS = ["..", "%2e%2e", "%2E%2e", ".%2e", "%2e.", "%252e%252e", "%c0%ae%c0%ae", "..;", "...", ".. ", "..%00"]
_SEPARATORS = ["/", "%2f", "%2F", "%5c", "\\", "//", "/./"]
_STARTS = ["/", "/sub/", "/inlink/", "/escape/", "/sub/deeper/", "//"]
_TARGETS = ["secret.txt", "evil.py", "root/../secret.txt", "etc/passwd"]
_ENDS = ["", "%00", "%00.py", "?raw=1", "/", ".", "%20", ";x"]


def hostilePaths() -> list:
    """
    Every combination of a start, one to three climbs (dot segments, each
    encoded, double-encoded, overlong or padded) joined by a separator
    (plain, encoded, backslash, doubled), a target outside the root and an
    ending: ~3,000 request targets, none of which may reach outside.
    """
    paths = set()
    for start in _STARTS:
        for climb in _CLIMBS:
            for separator in _SEPARATORS:
                for count in (1, 3):
                    for target in _TARGETS[:2]:
                        for end in _ENDS[:4] if count == 1 else _ENDS[:1]:
                            paths.add(start + separator.join([climb] * count) + separator + target + end)
    for start in _STARTS:
        for target in _TARGETS:
            for end in _ENDS:
                paths.add(start + target + end)
    return sorted(paths)


@pytest_twisted.ensureDeferred
async def test_generatedHostileCorpus(guardedRoot: HandlerRoot, serve: Serve) -> None:
    """
    A generated corpus of hostile paths against a root with a secret file
    and a secret handler beside it, a symlink out of it and symlinks inside
    it: no answer shows the secret, runs the handler outside or the
    passwd file, and none is a 5xx; the symlinks that stay inside still
    serve their files.
    """
    os.symlink(guardedRoot.path / "sub", guardedRoot.path / "inlink")
    os.symlink(guardedRoot.path / "sub" / "ok.txt", guardedRoot.path / "ok-link.txt")
    guardedRoot.write("sub/deeper/x.txt", "x")
    base = serve(HandlerDirectory(guardedRoot.path))
    port = portOf(base)
    corpus = hostilePaths()
    assert len(corpus) > 2500
    for start in range(0, len(corpus), 50):
        chunk = corpus[start:start + 50]
        answers = await gatherResults(
            [
                Deferred.fromCoroutine(
                    exchange(port, b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target.encode("latin-1"))
                )
                for target in chunk
            ]
        )
        for target, raw in zip(chunk, answers, strict=True):
            assert SECRET.encode() not in raw, target
            assert b"root:" not in raw, target
            assert raw == b"" or not raw.startswith(b"HTTP/1.1 5"), (target, raw[:300])
    for target, body in [("/inlink/ok.txt", b"fine"), ("/ok-link.txt", b"fine"), ("/sub/deeper/x.txt", b"x")]:
        raw = await exchange(port, b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target.encode())
        assert raw.startswith(b"HTTP/1.1 200 ") and raw.endswith(body), target


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("target", ["![", "x.py", "http://elsewhere/x.py", "[::1"])
async def test_targetThatIsNotAPathIs400(handlerRoot: HandlerRoot, serve: Serve, target: str) -> None:
    """
    A request target that is not a path (no leading "/") is the client's
    error: a 400 naming the problem, never a 500 from building its URL.
    """
    handlerRoot.write("x.py", "def main(request, response):\n    return 'ran'\n")
    base = serve(HandlerDirectory(handlerRoot.path))
    raw = await exchange(portOf(base), f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert raw.startswith(b"HTTP/1.1 400 "), raw[:200]
    assert b"Bad request target" in raw
