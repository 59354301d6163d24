"""
The test pages ``wpt serve`` generates from script tests (``x.any.html``,
``x.any.worker.html``, ``x.any.worker.js``, ... from ``x.any.js``), served by
our tree over a real socket and compared byte for byte with what the real
``wpt serve`` answered for the same files (``tests/wptpages/``: recorded from
``wpt serve`` of a 2021 web-platform-tests snapshot, with the sources), and
each META rule pinned by a case of our own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
import pytest_twisted
from rawhttp import exchange, portOf
from serving import HandlerRoot, Serve
from twisted.internet import reactor

from twisted_pyhandlers import HandlerDirectory

DATA = Path(__file__).resolve().parent / "wptpages"
RECORDED: List[Dict[str, Any]] = json.loads((DATA / "index.json").read_text())["pages"]

#: Headers every answer carries whose values differ by server and moment.
_VARYING = {b"date", b"server"}


class Answer:
    """One HTTP/1.1 response as it came off the wire."""

    def __init__(self, raw: bytes) -> None:
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        self.statusLine = lines[0]
        self.allHeaders: List[Tuple[bytes, bytes]] = [
            (name, value.strip()) for name, _, value in (line.partition(b":") for line in lines[1:])
        ]

    @property
    def headers(self) -> List[Tuple[bytes, bytes]]:
        """The headers in order, less Date and Server."""
        return [(name, value) for name, value in self.allHeaders if name.lower() not in _VARYING]

    def header(self, name: bytes) -> Optional[bytes]:
        for key, value in self.allHeaders:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def code(self) -> int:
        return int(self.statusLine.split(b" ")[1])

    def json(self) -> Any:
        return json.loads(self.body)


async def get(base: str, target: str, method: str = "GET") -> Answer:
    """``method target`` over HTTP/1.1 with ``Connection: close``, as the recording was made."""
    request = (
        f"{method} {target} HTTP/1.1\r\nHost: web-platform.test:{portOf(base)}\r\nConnection: close\r\n\r\n"
    ).encode("latin-1")
    return Answer(await exchange(portOf(base), request))


@pytest.fixture
def recordedRoot(serve: Serve) -> str:
    """The recorded sources, served with the 2021 edition of the pages (the recording's)."""
    return serve(HandlerDirectory(str(DATA / "root"), reactor=reactor, testPages="2021"))


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("case", RECORDED, ids=[case["url"] for case in RECORDED])
async def test_recordedAnswer(recordedRoot: str, case: Dict[str, Any]) -> None:
    """
    For each URL of the recording, our status line, headers (in order, less
    Date and Server) and body are those the real ``wpt serve`` sent.
    """
    answer = await get(recordedRoot, case["url"])
    assert answer.statusLine.decode("latin-1") == case["status"]
    assert answer.headers == [(name.encode(), value.encode()) for name, value in case["headers"]]
    assert answer.body == (DATA / case["file"]).read_bytes()


def _page(kind: str, meta: str, script: str, path: str, query: str = "", current: bool = True) -> bytes:
    """
    The page wpt serve's templates give (spelled out here, apart from the
    code under test): ``kind`` is ``any`` (an ``.any.html``) or ``classic``
    (an ``.any.worker.js``).
    """
    shadow = "  isShadowRealm: function() { return false; },\n" if current else ""
    if kind == "any":
        text = (
            f"<!doctype html>\n<meta charset=utf-8>\n{meta}\n<script>\nself.GLOBAL = {{\n"
            "  isWindow: function() { return true; },\n  isWorker: function() { return false; },\n"
            f"{shadow}}};\n</script>\n<script src=\"/resources/testharness.js\"></script>\n"
            f"<script src=\"/resources/testharnessreport.js\"></script>\n{script}\n<div id=log></div>\n"
            f"<script src=\"{path}\"></script>\n"
        )
    else:
        text = (
            f"{meta}\nself.GLOBAL = {{\n  isWindow: function() {{ return false; }},\n"
            f"  isWorker: function() {{ return true; }},\n{shadow}}};\n"
            f"importScripts(\"/resources/testharness.js\");\n{script}\nimportScripts(\"{path}\");\ndone();\n"
        )
    return text.encode("utf-8")


@pytest.fixture
def ownRoot(serve: Serve, handlerRoot: HandlerRoot) -> Tuple[str, HandlerRoot]:
    """A fresh root served with today's pages (the default)."""
    return serve(HandlerDirectory(str(handlerRoot.path), reactor=reactor)), handlerRoot


@pytest_twisted.ensureDeferred
async def test_titleAndScriptEscaped(ownRoot: Tuple[str, HandlerRoot]) -> None:
    """
    ``title=`` becomes ``<title>`` with ``&`` and ``<`` escaped in a page and
    ``self.META_TITLE`` with ``\\`` and ``"`` escaped in a worker script;
    ``script=`` becomes ``<script src>`` with ``&`` and ``"`` escaped, and
    ``importScripts(...)`` with ``\\`` and ``"`` escaped; both in their order.
    """
    base, root = ownRoot
    root.write(
        "t/a.any.js",
        """\
        // META: title=A & <b> "q" \\x
        // META: script=/one.js?a=1&b="2"
        //META:script=two\\.js
        test(() => {});
        """,
    )
    page = await get(base, "/t/a.any.html")
    assert page.code == 200
    assert page.body == _page(
        "any",
        '<title>A &amp; &lt;b> "q" \\x</title>',
        '<script src="/one.js?a=1&amp;b=&quot;2&quot;"></script>\n<script src="two\\.js"></script>',
        "/t/a.any.js",
    )
    worker = await get(base, "/t/a.any.worker.js")
    assert worker.header(b"content-type") == b"text/javascript"
    assert worker.body == _page(
        "classic",
        "",
        'self.META_TITLE = "A & <b> \\"q\\" \\\\x";\n'
        'importScripts("/one.js?a=1&b=\\"2\\"")\nimportScripts("two\\\\.js")',
        "/t/a.any.js",
    )


@pytest_twisted.ensureDeferred
async def test_timeoutLongOnly(ownRoot: Tuple[str, HandlerRoot]) -> None:
    """
    ``timeout=long`` gives ``<meta name="timeout" content="long">`` on an
    HTML page and nothing in a worker script; any other timeout value gives
    nothing.
    """
    base, root = ownRoot
    root.write("long.any.js", "// META: timeout=long\n")
    root.write("short.any.js", "// META: timeout=short\n")
    assert (await get(base, "/long.any.worker.html")).body.startswith(
        b'<!doctype html>\n<meta charset=utf-8>\n<meta name="timeout" content="long">\n<script src='
    )
    assert (await get(base, "/short.any.worker.html")).body.startswith(
        b"<!doctype html>\n<meta charset=utf-8>\n\n<script src="
    )
    assert (await get(base, "/long.any.worker.js")).body == _page("classic", "", "", "/long.any.js")


@pytest_twisted.ensureDeferred
async def test_metadataEndsAtTheFirstOtherLine(ownRoot: Tuple[str, HandlerRoot]) -> None:
    """
    Only the run of META lines at the top counts: one after another line
    (even a blank one) is not read, so its ``global=`` does not apply.
    """
    base, root = ownRoot
    root.write("late.any.js", "// META: script=a.js\n\n// META: global=sharedworker\n// META: script=b.js\n")
    page = await get(base, "/late.any.html")
    assert page.code == 200
    assert page.body == _page("any", "", '<script src="a.js"></script>', "/late.any.js")
    assert (await get(base, "/late.any.sharedworker.html")).code == 404


@pytest.mark.parametrize(
    "value, served",
    [
        (None, {"any.html", "any.worker.html"}),
        ("", {"any.html", "any.worker.html"}),
        ("window", {"any.html"}),
        ("worker", {"any.worker.html", "any.sharedworker.html", "any.serviceworker.html"}),
        (" window , sharedworker ", {"any.html", "any.sharedworker.html"}),
        ("!window", set()),
        ("dedicatedworker,nonsense", {"any.worker.html"}),
        ("dedicatedworker-module", {"any.worker-module.html"}),
        ("sharedworker-module,serviceworker-module", {"any.sharedworker-module.html", "any.serviceworker-module.html"}),
        ("window-module", {"any.window-module.html"}),
        ("shadowrealm", {"any.shadowrealm.html"}),
        ("worker-module", set()),
    ],
)
@pytest_twisted.ensureDeferred
async def test_globalVariants(ownRoot: Tuple[str, HandlerRoot], value: Optional[str], served: set) -> None:
    """
    wpt's ``global=`` rules: no line or an empty value is window and
    dedicatedworker; otherwise the union of what each word (trimmed) stands
    for, ``worker`` being the three classic worker scopes and an unknown
    word (``!window``, ``worker-module`` in wpt's table) nothing.  Each page
    outside those answers 404 naming its scope; the worker scripts are
    served whatever the scopes.
    """
    base, root = ownRoot
    root.write("g.any.js", ("" if value is None else f"// META: global={value}\n") + "test(() => {});\n")
    scopes = {
        "any.html": "window",
        "any.worker.html": "dedicatedworker",
        "any.sharedworker.html": "sharedworker",
        "any.serviceworker.html": "serviceworker",
        "any.worker-module.html": "dedicatedworker-module",
        "any.sharedworker-module.html": "sharedworker-module",
        "any.serviceworker-module.html": "serviceworker-module",
        "any.window-module.html": "window-module",
        "any.shadowrealm.html": "shadowrealm",
    }
    for suffix, scope in scopes.items():
        answer = await get(base, f"/g.{suffix}")
        if suffix in served:
            assert (answer.code, answer.header(b"content-type")) == (200, b"text/html"), suffix
        else:
            assert answer.code == 404, suffix
            assert answer.json() == {
                "error": {"code": 404, "message": f"(404, 'This test cannot be loaded in {scope} mode')"}
            }
    for script in ("any.worker.js", "any.worker-module.js"):
        assert (await get(base, f"/g.{script}")).code == 200


@pytest_twisted.ensureDeferred
async def test_firstGlobalLineWins(ownRoot: Tuple[str, HandlerRoot]) -> None:
    """Of two ``global=`` lines, the first decides (wpt stops at it)."""
    base, root = ownRoot
    root.write("two.any.js", "// META: global=sharedworker\n// META: global=window\n")
    assert (await get(base, "/two.any.sharedworker.html")).code == 200
    assert (await get(base, "/two.any.html")).code == 404


@pytest_twisted.ensureDeferred
async def test_queryGoesToTheWorker(ownRoot: Tuple[str, HandlerRoot]) -> None:
    """
    The query (as sent) is appended to the worker script a worker page
    loads; an ``.any.html`` page loads its script without it (wpt's
    template has no query there; the page's own ``location.search`` has it).
    """
    base, root = ownRoot
    root.write("q.any.js", "// META: global=window,worker\n")
    worker = await get(base, "/q.any.worker.html?1-10&x=%20y")
    assert b'fetch_tests_from_worker(new Worker("/q.any.worker.js?1-10&x=%20y"));' in worker.body
    shared = await get(base, "/q.any.sharedworker.html?v")
    assert b'new SharedWorker("/q.any.worker.js?v")' in shared.body
    service = await get(base, "/q.any.serviceworker.html?v")
    assert b'navigator.serviceWorker.register("/q.any.worker.js?v", {scope});' in service.body
    assert b'<script src="/q.any.js"></script>' in (await get(base, "/q.any.html?v")).body
    assert b'new Worker("/q.any.worker.js"));' in (await get(base, "/q.any.worker.html?")).body


@pytest_twisted.ensureDeferred
async def test_windowAndWorkerTests(ownRoot: Tuple[str, HandlerRoot]) -> None:
    """
    ``x.window.html`` is made from ``x.window.js`` (scripts and title, no
    scope check), ``x.worker.html`` runs ``x.worker.js`` (a real file) in a
    dedicated worker, and ``x.worker-module.html`` is a 404 as in wpt serve
    (its route names no source for a name without ``.any.``).
    """
    base, root = ownRoot
    root.write("w.window.js", "// META: global=worker\n// META: title=W\n// META: script=s.js\n")
    root.write("d.worker.js", "importScripts('/resources/testharness.js');\n")
    window = await get(base, "/w.window.html")
    assert window.body == (
        b"<!doctype html>\n<meta charset=utf-8>\n<title>W</title>\n"
        b'<script src="/resources/testharness.js"></script>\n'
        b'<script src="/resources/testharnessreport.js"></script>\n'
        b'<script src="s.js"></script>\n<div id=log></div>\n<script src="/w.window.js"></script>\n'
    )
    worker = await get(base, "/d.worker.html?q")
    assert worker.code == 200
    assert b'fetch_tests_from_worker(new Worker("/d.worker.js?q"));' in worker.body
    assert (await get(base, "/d.worker.js")).body == b"importScripts('/resources/testharness.js');\n"
    assert (await get(base, "/d.worker-module.html")).json()["error"]["message"] == "404"


@pytest_twisted.ensureDeferred
async def test_moduleAndRealmPages(ownRoot: Tuple[str, HandlerRoot]) -> None:
    """
    The module pages load the ``.any.worker-module.js`` script as a module
    worker, which imports the META scripts; today's ``.any.window-module.html``
    loads the test as a module script and ``.any.shadowrealm.html`` imports
    it in a ShadowRealm.
    """
    base, root = ownRoot
    root.write(
        "m.any.js",
        "// META: global=dedicatedworker-module,sharedworker-module,serviceworker-module,window-module,shadowrealm\n"
        "// META: script=h.js\n",
    )
    assert b'new Worker("/m.any.worker-module.js?z", { type: "module" })' in (
        await get(base, "/m.any.worker-module.html?z")
    ).body
    assert b'new SharedWorker("/m.any.worker-module.js", { type: "module" })' in (
        await get(base, "/m.any.sharedworker-module.html")
    ).body
    assert b"register(\n    \"/m.any.worker-module.js\",\n    { scope, type: 'module' },\n  );" in (
        await get(base, "/m.any.serviceworker-module.html")
    ).body
    module = await get(base, "/m.any.worker-module.js")
    assert module.body.endswith(b'import "/resources/testharness.js";\nimport "h.js";\nimport "/m.any.js";\ndone();\n')
    window = await get(base, "/m.any.window-module.html")
    assert window.body.endswith(b'<script src="h.js"></script>\n<div id=log></div>\n<script type=module src="/m.any.js"></script>\n')
    realm = await get(base, "/m.any.shadowrealm.html")
    assert b'        await import("/resources/testharness.js");\n        await import("h.js");\n        await import("/m.any.js");\n' in realm.body


@pytest_twisted.ensureDeferred
async def test_sourceHeadersAndPipes(ownRoot: Tuple[str, HandlerRoot]) -> None:
    """
    A page gets its source's ``__dir__.headers`` and ``.headers`` after its
    Content-Type (a Content-Type there replaces the page's, in place),
    ``?pipe=`` as a file does, and ``sub`` (no escaping) when ``.sub.`` is
    in the URL path of the script it loads.
    """
    base, root = ownRoot
    root.write("h/__dir__.headers", "X-Dir: d\n")
    root.write("h/x.sub.any.js", "// META: title={{host}}&{{GET[a]}}\n")
    root.write("h/x.sub.any.js.headers", "X-Own: o\nContent-Type: text/plain\n")
    answer = await get(base, "/h/x.sub.any.html?a=<b>&pipe=header(X-P,1)|status(202)")
    assert answer.code == 202
    assert answer.headers == [
        (b"Content-Type", b"text/plain"), (b"X-Dir", b"d"), (b"X-Own", b"o"), (b"X-P", b"1"),
        (b"Content-Length", str(len(answer.body)).encode()),
    ]
    # {{host}} is the config's host; sub(none) leaves the query value unescaped.
    assert b"<title>localhost&amp;<b></title>" in answer.body


@pytest_twisted.ensureDeferred
async def test_missingOrUnreadableSource(ownRoot: Tuple[str, HandlerRoot], tmp_path: Path) -> None:
    """
    A page whose source is missing, a directory, or a symlink leading out
    of the root is wpt's bare 404; a real file with a page's name is never
    served (wpt serve's page routes come before its file route): without a
    source it is a 404 too, with one the generated page answers.
    """
    base, root = ownRoot
    (root.path / "dir.any.js").mkdir()
    outside = tmp_path / "outside.any.js"
    outside.write_text("// META: title=secret\n")
    (root.path / "out.any.js").symlink_to(outside)
    root.write("real.any.html", "<p>on disk</p>\n")
    root.write("both.any.html", "<p>on disk</p>\n")
    root.write("both.any.js", "")
    for target in ("/none.any.html", "/dir.any.html", "/out.any.html", "/out.any.worker.js", "/real.any.html"):
        answer = await get(base, target)
        assert (answer.code, answer.json()) == (404, {"error": {"code": 404, "message": "404"}}), target
    both = await get(base, "/both.any.html")
    assert both.body == _page("any", "", "", "/both.any.js")


@pytest_twisted.ensureDeferred
async def test_methodsAndHead(ownRoot: Tuple[str, HandlerRoot]) -> None:
    """
    Pages are GET routes: HEAD gets the page's headers (its Content-Length
    included) without a body; POST gets the 404 of a method no route takes.
    """
    base, root = ownRoot
    root.write("m.any.js", "")
    whole = await get(base, "/m.any.html")
    head = await get(base, "/m.any.html", "HEAD")
    assert (head.code, head.headers, head.body) == (200, whole.headers, b"")
    post = await get(base, "/m.any.html", "POST")
    assert post.code == 404


@pytest_twisted.ensureDeferred
async def test_mountedUnderAPrefix(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """
    Under ``putChild``, the page names its script by the whole URL path,
    the mount prefix included (wpt uses the request's path).
    """
    from twisted.web.resource import Resource

    handlerRoot.write("sub/p.any.js", "")
    top = Resource()
    top.putChild(b"wpt", HandlerDirectory(str(handlerRoot.path), reactor=reactor))
    base = serve(top)
    page = await get(base, "/wpt/sub/p.any.worker.html")
    assert b'new Worker("/wpt/sub/p.any.worker.js")' in page.body
    assert (await get(base, "/wpt/sub/p.any.worker.js")).body.endswith(b'importScripts("/wpt/sub/p.any.js");\ndone();\n')


@pytest_twisted.ensureDeferred
async def test_pagesOff(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """With ``testPages=None`` a page's name is a file like any other."""
    handlerRoot.write("x.any.js", "")
    handlerRoot.write("y.any.html", "<p>y</p>\n")
    base = serve(HandlerDirectory(str(handlerRoot.path), reactor=reactor, testPages=None))
    assert (await get(base, "/x.any.html")).code == 404
    assert (await get(base, "/y.any.html")).body == b"<p>y</p>\n"


def test_unknownEdition(handlerRoot: HandlerRoot) -> None:
    """An unknown edition of the pages is refused when the tree is made, naming the known ones."""
    with pytest.raises(ValueError, match="current, 2021"):
        HandlerDirectory(str(handlerRoot.path), reactor=reactor, testPages="2030")


@pytest_twisted.ensureDeferred
async def test_brokenMetadata(ownRoot: Tuple[str, HandlerRoot]) -> None:
    """
    A META line that is not UTF-8 is a 500 naming the error (wpt fails
    there too), and the server goes on serving; a CRLF file's values keep
    their ``\\r``, as wpt reads them.
    """
    base, root = ownRoot
    (root.path / "bad.any.js").write_bytes(b"// META: title=\xff\n")
    (root.path / "crlf.any.js").write_bytes(b"// META: title=T\r\n")
    bad = await get(base, "/bad.any.html")
    assert bad.code == 500
    assert "UnicodeDecodeError" in bad.json()["error"]["message"]
    assert b"<title>T\r</title>" in (await get(base, "/crlf.any.html")).body


@pytest.mark.parametrize("edition, pageCode, fileBody", [("current", 200, None), ("2021", 200, None), ("off", 404, b"y\n")])
@pytest_twisted.ensureDeferred
async def test_twistdOption(tmp_path: Path, edition: str, pageCode: int, fileBody: Optional[bytes]) -> None:
    """
    The twistd plugin serves the pages of ``--test-pages`` (today's by
    default, or 2021's), and none with ``off``, where a page's name is an
    ordinary file; ``isShadowRealm`` tells the editions apart.
    """
    from twisted_pyhandlers.tap import ListeningService, Options, makeService

    (tmp_path / "x.any.js").write_text("")
    (tmp_path / "y.any.html").write_text("y\n")
    options = Options()
    options.parseOptions(
        ["--root", str(tmp_path), "--keep-malloc-defaults", "--listen", "tcp:0:interface=127.0.0.1"]
        + ([] if edition == "current" else ["--test-pages", edition])
    )
    service = makeService(options)
    service.startService()
    try:
        port = [child.port for child in service if isinstance(child, ListeningService)][0]  # type: ignore[attr-defined]
        base = f"http://127.0.0.1:{port.getHost().port}"
        page = await get(base, "/x.any.html")
        assert page.code == pageCode
        if pageCode == 200:
            assert (b"isShadowRealm" in page.body) == (edition == "current")
        other = await get(base, "/y.any.html")
        assert other.body == (fileBody if fileBody is not None else b'{"error": {"code": 404, "message": "404"}}')
    finally:
        await service.stopService()


def test_twistdOptionRefusesUnknownEdition(tmp_path: Path) -> None:
    """``--test-pages`` other than an edition or ``off`` is a usage error naming the choices."""
    from twisted_pyhandlers.tap import OptionError, Options

    with pytest.raises(OptionError, match="--test-pages must be one of current, 2021 or off"):
        Options().parseOptions(["--root", str(tmp_path), "--test-pages", "2030"])


def test_pagesOverHTTP2(tmp_path: Path) -> None:
    """
    On an h2 port (curl, HTTP/2 by ALPN), a generated page and worker script
    are the same bytes as over HTTP/1.1, with the source's ``.headers``.
    """
    import subprocess

    from test_tls import Server

    root = DATA / "root"
    server = Server(tmp_path, "--root", str(root), "--listen", "h2=tcp:0:interface=127.0.0.1", "--tls-dir", "tls")
    server.start(origins=1)
    try:
        for target, recorded in (
            ("/measure-memory/shared-worker.https.any.sharedworker.html", "answers/16.body"),
            ("/WebCryptoAPI/generateKey/successes_RSA-OAEP.https.any.worker.html?11-20", "answers/14.body"),
        ):
            result = subprocess.run(
                ["curl", "--http2", "-sS", "-i", "--cacert", str(tmp_path / "tls" / "ca.pem"),
                 f"https://localhost:{server.ports('h2')[0]}{target}"],
                capture_output=True, timeout=60,
            )
            assert result.returncode == 0, result.stderr
            head, _, body = result.stdout.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/2 200"), head
            assert b"content-type: text/html" in head
            if "measure-memory" in target:
                assert b"cross-origin-embedder-policy: require-corp" in head
            # Today's edition (the default) adds nothing to these two pages.
            assert body == (DATA / recorded).read_bytes()
    finally:
        server.stop()


def test_pagesInMemory() -> None:
    """
    The in-memory client (``testing.memoryClient``, no socket) gets the same
    generated pages as the wire: the recorded worker page, with its query.
    """
    from twisted_pyhandlers.testing import memoryClient

    client = memoryClient(DATA / "root")
    response = client.result(
        client.get("http://web-platform.test/WebCryptoAPI/generateKey/successes_RSA-OAEP.https.any.worker.html?11-20")
    )
    assert response.code == 200
    assert client.result(response.content()) == (DATA / "answers" / "14.body").read_bytes()
    assert client.result(client.get("http://web-platform.test/webcodecs/audio-data.any.worker.html")).code == 404
