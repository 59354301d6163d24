"""
``--inject-script``: the script goes into every ``text/html`` response
known in full, at the place ``wpt serve --inject-script`` puts it, and
nothing else changes.  The placement cases are wpt's own tests of its
``inject_script`` (tools/serve/test_serve.py) and cases of ours for the
rules it follows; the responses are checked over real sockets.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
import pytest_twisted
from rawhttp import exchange, get, portOf
from serving import HandlerRoot, Serve, TwistdProcess

from twisted_pyhandlers import HandlerDirectory
from twisted_pyhandlers._injectscript import injected, insertionPoint, scriptElement
from twisted_pyhandlers.resource import ScriptInjection

MARKER = b"<!-- inject here -->"

SCRIPT = b"window.injected = 'yes';"
ELEMENT = (
    b"<script>\nwindow.injected = 'yes';\n// Remove the injected script tag from the DOM.\n"
    b"document.currentScript.remove();\n</script>\n"
)


@pytest.mark.parametrize(
    "page",
    [
        # wpt's own cases.
        b"<!DOCTYPE html>\n    <html>\n        <head>\n        <!-- inject here --><script src=\"test.js\"></script>\n"
        b"        </head>\n        <body>\n        </body>\n    </html>",
        b"<!DOCTYPE html>\n    <!-- inject here --><div></div>",
        b"<!-- inject here --><div></div>",
        # Ours: after comments and white space, before text or the first other tag.
        b"<!doctype html><!-- c --> \n<!-- inject here -->text<p>",
        b"<!doctype html><html lang=en><head><!-- inject here --><meta charset=utf-8><title>t</title>",
        b"<!-- inject here --></p>",
        b"<!doctype html><!-- inject here --><br/>",
        # Offsets count characters; CRLF is one character to html5lib, so
        # the script lands one byte early (between CR and LF), as there.
        b"<!doctype html>\r<!-- inject here -->\n<p>",
    ],
)
def test_placement(page: bytes) -> None:
    """The script goes where the marker is, as wpt serve's inject_script puts it."""
    assert MARKER in page
    assert injected(page.replace(MARKER, b""), MARKER) == page


@pytest.mark.parametrize(
    "page",
    [
        b"<!--<div></div>",  # wpt's: a parse error first
        b"<!doctype html><html><head>",  # no content at all
        b"<!doctype html>text",  # text only at the end: the tokenizer's last tokens are never seen
        b"\x00<p>",  # an error from the input stream
        b"<!--" + b"x" * 20000 + b"-->\n<p>",  # past html5lib's first chunk
    ],
)
def test_leftUnchanged(page: bytes) -> None:
    """A page with a parse error before its content, or none, or a long head, is left as it is."""
    assert insertionPoint(page) is None
    assert injected(page, MARKER) == page


def test_element() -> None:
    """What goes in: the file's bytes in a script element that removes itself."""
    assert scriptElement(SCRIPT) == ELEMENT


PAGE = b"<!doctype html>\n<p>page</p>\n"
INJECTED_PAGE = b"<!doctype html>\n" + ELEMENT + b"<p>page</p>\n"


@pytest_twisted.ensureDeferred
async def test_responses(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """
    Over a real socket, with a Content-Length that counts the script: a
    static .html file, a .sub.html template, a handler's text/html body
    (text, bytes or a file object, an explicit Content-Length corrected),
    a HEAD; left alone: text/html with parameters, other types, a
    generator body, a handler writing through response.writer, a range,
    error bodies.
    """
    root = handlerRoot
    (root.path / "static.html").write_bytes(PAGE)
    (root.path / "template.sub.html").write_bytes(b"<!doctype html>\n<p>{{host}}</p>\n")
    (root.path / "charset.html").write_bytes(PAGE)
    (root.path / "charset.html.headers").write_bytes(b"Content-Type: text/html; charset=utf-8\n")
    (root.path / "plain.txt").write_bytes(PAGE)
    root.write("text.py", """
        def main(request, response):
            return [("Content-Type", "text/html"), ("Content-Length", "28")], "<!doctype html>\\n<p>page</p>\\n"
    """)
    root.write("file.py", """
        import io
        def main(request, response):
            response.headers.set("Content-Type", "text/html")
            return io.BytesIO(b"<!doctype html>\\n<p>page</p>\\n")
    """)
    root.write("generator.py", """
        def main(request, response):
            response.headers.set("Content-Type", "text/html")
            return (part for part in [b"<!doctype html>\\n", b"<p>page</p>\\n"])
    """)
    root.write("writer.py", """
        def main(request, response):
            response.writer.write_status(200)
            response.writer.write_header("Content-Type", "text/html")
            response.writer.write_header("Content-Length", "28")
            response.writer.end_headers()
            response.writer.write(b"<!doctype html>\\n<p>page</p>\\n")
    """)
    base = serve(HandlerDirectory(root.path, responseFilter=ScriptInjection(SCRIPT)))
    for target in ("/static.html", "/text.py", "/file.py", "/static.html?pipe=status(201)"):
        status, headers, body = await get(base, target)
        assert body == INJECTED_PAGE, target
        assert headers[b"content-length"] == [str(len(INJECTED_PAGE)).encode()], target
    status, headers, body = await get(base, "/template.sub.html")
    assert body == b"<!doctype html>\n" + ELEMENT + b"<p>localhost</p>\n"
    status, headers, body = await get(base, "/static.html", "HEAD")
    assert (status, body) == (b"HTTP/1.1 200 OK", b"")
    assert headers[b"content-length"] == [str(len(INJECTED_PAGE)).encode()]
    for target in ("/charset.html", "/plain.txt", "/generator.py", "/writer.py"):
        status, _, body = await get(base, target)
        assert status == b"HTTP/1.1 200 OK", target
        assert body.replace(b"\r\n", b"").endswith(b"<p>page</p>\n") and b"injected" not in body, (target, body)
    raw = await exchange(portOf(base), b"GET /static.html HTTP/1.1\r\nHost: x\r\nRange: bytes=0-4\r\nConnection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 206 ") and raw.endswith(b"\r\n\r\n<!doc")
    status, _, body = await get(base, "/missing.html")
    assert status == b"HTTP/1.1 404 Not Found" and b"injected" not in body


def test_twistdOption(tmp_path: Path, handlerRoot: HandlerRoot) -> None:
    """``twistd pyhandlers --inject-script FILE`` injects the file; a file that cannot be read is a one-line error."""
    (handlerRoot.path / "page.html").write_bytes(PAGE)
    (tmp_path / "inject.js").write_bytes(SCRIPT)
    server = TwistdProcess(tmp_path, "--root", str(handlerRoot.path), "--inject-script", str(tmp_path / "inject.js"))
    try:
        with urllib.request.urlopen(server.url("/page.html"), timeout=20) as answer:
            assert answer.read() == INJECTED_PAGE
    finally:
        server.stop()
    from twisted_pyhandlers.tap import OptionError, Options

    with pytest.raises(OptionError, match="--inject-script .*nowhere.js: No such file"):
        Options().parseOptions(["--root", str(handlerRoot.path), "--inject-script", str(tmp_path / "nowhere.js")])
