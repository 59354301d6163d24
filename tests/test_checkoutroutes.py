"""
wpt serve's routes for a checkout (:class:`CheckoutRoutes`), over real
sockets: the forbidden paths, the WebIDLParser.js rewrite, the config's
aliases (directories and single files, handlers included, never leaving
the alias's directory) and the ``/.well-known/`` handlers, at the root of a
Site and mounted under ``putChild``; and the twistd plugin turning them on.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import pytest_twisted
from rawhttp import get
from serving import HandlerRoot, Serve, TwistdProcess
from twisted.web.resource import Resource

from twisted_pyhandlers import HandlerDirectory
from twisted_pyhandlers.resource import CheckoutRoutes

#: What the real wpt serve answers for /tools/serve/serve.py, /tools/,
#: /_certs/ and /results/ (recorded from wpt serve of 2021-07-21, Date and
#: Server left out): the body byte for byte.
WPT_SERVE_404 = b'{"error": {"code": 404, "message": ""}}'

ECHO = """
def main(request, response):
    return [("Content-Type", "text/plain")], f"{request.url_base} {request.url_parts.path} {__file__}"
"""


def _checkout(handlerRoot: HandlerRoot) -> None:
    """Files a checkout has where wpt serve's routes apply."""
    handlerRoot.write("tools/serve/serve.py", "def main(request, response):\n    return 'ran'\n")
    handlerRoot.write("tools/runner/index.html", "<p>runner</p>")
    handlerRoot.write("css/tools/x.py", "def main(request, response):\n    return 'ran'\n")
    handlerRoot.write("_certs/key.pem", "secret")
    handlerRoot.write("results/index.html", "results")
    handlerRoot.write("results/a.txt", "a result")
    handlerRoot.write("resources/webidl2/lib/webidl2.js", "var WebIDL2 = {};\n")
    handlerRoot.write("resources/webidl2/lib/webidl2.js.headers", "Content-Type: text/javascript; charset=utf-8\n")
    handlerRoot.write("tools.txt", "not the tools directory")


@pytest.mark.parametrize("mount", ["", "/wpt"])
@pytest_twisted.ensureDeferred
async def test_forbiddenPaths(serve: Serve, handlerRoot: HandlerRoot, mount: str) -> None:
    """
    /tools/*, /{any}/tools/*, /_certs/* and /results/ answer wpt serve's
    404 to every method, byte for byte its body, even where a file or
    handler is there; /results/a.txt and /tools.txt are served (wpt serve's
    patterns do not cover them); the same holds under a putChild prefix.
    """
    _checkout(handlerRoot)
    tree = HandlerDirectory(handlerRoot.path, routes=CheckoutRoutes())
    if mount:
        top = Resource()
        top.putChild(b"wpt", tree)
        base = serve(top)
    else:
        base = serve(tree)
    for target, method in [
        ("/tools/serve/serve.py", "GET"), ("/tools/", "GET"), ("/tools/runner/index.html", "GET"),
        ("/tools/serve/serve.py", "POST"), ("/css/tools/x.py", "GET"), ("/_certs/key.pem", "GET"),
        ("/_certs/", "GET"), ("/results/", "GET"), ("/%74ools/serve/serve.py", "GET"),
    ]:
        status, headers, body = await get(base, mount + target, method)
        assert status == b"HTTP/1.1 404 Not Found", target
        assert headers[b"content-type"] == [b"application/json"], target
        assert body == WPT_SERVE_404, target
    status, _, body = await get(base, mount + "/results/a.txt")
    assert (status, body) == (b"HTTP/1.1 200 OK", b"a result")
    status, _, body = await get(base, mount + "/tools.txt")
    assert (status, body) == (b"HTTP/1.1 200 OK", b"not the tools directory")


@pytest_twisted.ensureDeferred
async def test_webIDLParserRewrite(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """
    GET /resources/WebIDLParser.js is /resources/webidl2/lib/webidl2.js with
    that file's .headers (wpt serve's answer: text/javascript;
    charset=utf-8); other methods are not rewritten (404, no such file).
    """
    _checkout(handlerRoot)
    base = serve(HandlerDirectory(handlerRoot.path, routes=CheckoutRoutes()))
    status, headers, body = await get(base, "/resources/WebIDLParser.js")
    assert status == b"HTTP/1.1 200 OK"
    assert headers[b"content-type"] == [b"text/javascript; charset=utf-8"]
    assert body == b"var WebIDL2 = {};\n"
    status, _, _ = await get(base, "/resources/WebIDLParser.js", "POST")
    assert status == b"HTTP/1.1 404 Not Found"


@pytest_twisted.ensureDeferred
async def test_withoutRoutes(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """A tree without the routes serves the same files as any handler root."""
    _checkout(handlerRoot)
    base = serve(HandlerDirectory(handlerRoot.path))
    status, _, body = await get(base, "/tools/serve/serve.py")
    assert (status, body) == (b"HTTP/1.1 200 OK", b"ran")


@pytest_twisted.ensureDeferred
async def test_directoryAlias(serve: Serve, handlerRoot: HandlerRoot, tmp_path: Path) -> None:
    """
    A directory alias serves static files, .headers, .sub. templates and
    handlers from its directory, with url_base the alias's URL (as wpt
    serve's mount point), a later alias winning over an earlier one of the
    same prefix; nothing outside its directory is reached (.., encoded
    separators, a symlink leaving it); a path beside the alias still comes
    from the root.
    """
    other = tmp_path / "other"
    (other / "sub").mkdir(parents=True)
    (other / "page.html").write_text("<p>from the alias</p>")
    (other / "page.html.headers").write_text("X-Alias: yes\n")
    (other / "sub" / "echo.py").write_text(ECHO)
    (other / "host.sub.txt").write_text("{{host}}")
    (tmp_path / "secret.txt").write_text("outside")
    os.symlink(tmp_path / "secret.txt", other / "leak.txt")
    later = tmp_path / "later"
    later.mkdir()
    (later / "only-later.txt").write_text("later")
    handlerRoot.write("mine/page.html", "root's")
    handlerRoot.write("mine2.txt", "beside")
    routes = CheckoutRoutes(
        [{"url-path": "/mine/", "local-dir": str(other)}, {"url-path": "/deep/er/", "local-dir": str(other)}]
    )
    base = serve(HandlerDirectory(handlerRoot.path, routes=routes))
    status, headers, body = await get(base, "/mine/page.html")
    assert (status, body) == (b"HTTP/1.1 200 OK", b"<p>from the alias</p>")
    assert headers[b"x-alias"] == [b"yes"]
    status, _, body = await get(base, "/mine/sub/echo.py?x=1")
    assert status == b"HTTP/1.1 200 OK"
    assert body.decode() == f"/mine/ /mine/sub/echo.py {other / 'sub' / 'echo.py'}"
    status, _, body = await get(base, "/deep/er/sub/echo.py")
    assert body.decode() == f"/deep/er/ /deep/er/sub/echo.py {other / 'sub' / 'echo.py'}"
    status, _, body = await get(base, "/mine/host.sub.txt")
    assert (status, body) == (b"HTTP/1.1 200 OK", b"localhost")
    for escape in ("/mine/leak.txt", "/mine/../secret.txt", "/mine/%2e%2e/secret.txt", "/mine/sub%2f..%2f..%2fsecret.txt"):
        status, _, body = await get(base, escape)
        assert status == b"HTTP/1.1 404 Not Found", escape
        assert b"outside" not in body
    status, _, body = await get(base, "/mine2.txt")
    assert (status, body) == (b"HTTP/1.1 200 OK", b"beside")
    overlapping = CheckoutRoutes([{"url-path": "/mine/", "local-dir": str(other)}, {"url-path": "/mine/", "local-dir": str(later)}])
    base = serve(HandlerDirectory(handlerRoot.path, routes=overlapping))
    status, _, body = await get(base, "/mine/only-later.txt")
    assert (status, body) == (b"HTTP/1.1 200 OK", b"later")


@pytest_twisted.ensureDeferred
async def test_fileAlias(serve: Serve, handlerRoot: HandlerRoot, tmp_path: Path) -> None:
    """
    A file alias (url-path without a trailing slash) serves, for GET and
    HEAD, the file of that name in its local-dir, as wpt serve's
    add_file_mount_point reads it, or local-dir itself when it is a file;
    other paths of the directory are not reached through it.
    """
    directory = tmp_path / "reports"
    directory.mkdir()
    (directory / "testharnessreport.js").write_text("// ours\n")
    (directory / "other.js").write_text("// not aliased\n")
    single = tmp_path / "single.js"
    single.write_text("// single\n")
    handlerRoot.write("resources/testharnessreport.js", "// the checkout's\n")
    routes = CheckoutRoutes(
        [
            {"url-path": "/resources/testharnessreport.js", "local-dir": str(directory)},
            {"url-path": "/single.js", "local-dir": str(single)},
        ]
    )
    base = serve(HandlerDirectory(handlerRoot.path, routes=routes))
    status, headers, body = await get(base, "/resources/testharnessreport.js")
    assert (status, body) == (b"HTTP/1.1 200 OK", b"// ours\n")
    assert headers[b"content-type"] == [b"text/javascript"]
    status, _, body = await get(base, "/resources/other.js")
    assert status == b"HTTP/1.1 404 Not Found"
    status, _, body = await get(base, "/single.js")
    assert (status, body) == (b"HTTP/1.1 200 OK", b"// single\n")


def test_badAliases(tmp_path: Path) -> None:
    """Entries wpt serve skips (no leading /, no local-dir) are skipped with a warning; a missing directory is named."""
    routes = CheckoutRoutes(
        [{"url-path": "x/", "local-dir": "d"}, {"url-path": "/y/", "local-dir": ""}, {"url-path": "/z/", "local-dir": "nowhere"}],
        base=str(tmp_path),
    )
    assert len(routes.warnings) == 3
    assert "does not exist" in routes.warnings[2]
    assert [alias.prefix for alias in routes.aliases] == [(b"z",)]


@pytest_twisted.ensureDeferred
async def test_wellKnownHandlers(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """
    The fixed /.well-known/ paths wpt serve runs as Python handlers run
    their file (no .py) when it exists, any path below
    /.well-known/private-aggregation/ too, the permissions directory's
    default*.py for GET; a missing one is wpt serve's bare 404; other
    /.well-known/ files stay static.
    """
    handlerRoot.write(".well-known/web-identity", ECHO)
    handlerRoot.write(".well-known/private-aggregation/debug/report-shared-storage", ECHO)
    handlerRoot.write(".well-known/interest-group/permissions/default.py", ECHO)
    handlerRoot.write(".well-known/other", "static text")
    root = handlerRoot.path
    base = serve(HandlerDirectory(root, routes=CheckoutRoutes()))
    status, _, body = await get(base, "/.well-known/web-identity", "POST")
    assert (status, body.decode()) == (b"HTTP/1.1 200 OK", f"/ /.well-known/web-identity {root / '.well-known/web-identity'}")
    status, _, body = await get(base, "/.well-known/private-aggregation/debug/report-shared-storage")
    assert status == b"HTTP/1.1 200 OK"
    assert body.decode().endswith("report-shared-storage")
    status, _, body = await get(base, "/.well-known/interest-group/permissions/?origin=x")
    assert status == b"HTTP/1.1 200 OK"
    assert body.decode().endswith("permissions/default.py")
    status, _, body = await get(base, "/.well-known/interest-group/real-time-report")
    assert (status, body) == (b"HTTP/1.1 404 Not Found", WPT_SERVE_404)
    status, _, body = await get(base, "/.well-known/other")
    assert (status, body) == (b"HTTP/1.1 200 OK", b"static text")


def test_pluginTurnsThemOn(tmp_path: Path, handlerRoot: HandlerRoot) -> None:
    """
    ``twistd pyhandlers --wpt-routes`` serves wpt serve's routes and the
    --config file's aliases; without it the checkout's tools are served
    like any file.
    """
    _checkout(handlerRoot)
    aliased = tmp_path / "aliased"
    aliased.mkdir()
    (aliased / "a.txt").write_text("aliased")
    (tmp_path / "config.json").write_text(json.dumps({"aliases": [{"url-path": "/al/", "local-dir": str(aliased)}]}))
    server = TwistdProcess(tmp_path, "--root", str(handlerRoot.path), "--wpt-routes", "--config", "config.json")
    try:
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(server.url("/tools/serve/serve.py"), timeout=20)
        assert error.value.code == 404
        with urllib.request.urlopen(server.url("/al/a.txt"), timeout=20) as answer:
            assert answer.read() == b"aliased"
    finally:
        server.stop()
    plain = TwistdProcess(tmp_path, "--root", str(handlerRoot.path))
    try:
        with urllib.request.urlopen(plain.url("/tools/serve/serve.py"), timeout=20) as answer:
            assert answer.read() == b"ran"
    finally:
        plain.stop()
