"""
The directory listing (docs/static.rst): wptserve's markup, files
linked with their ``.headers`` companions, names escaped.
"""

from __future__ import annotations

import json

import pytest_twisted
import treq
from serving import HandlerRoot, Serve
from twisted.internet import reactor
from twisted.python.filepath import FilePath
from twisted.web.resource import Resource

from twisted_pyhandlers import HandlerDirectory
from twisted_pyhandlers._listing import listingPage


def test_listingMarkup(tmp_path: object) -> None:
    """
    The page is wptserve's, line for line: ``..`` first below the top,
    ``x.headers`` folded into the line of ``x`` (sorted right after it,
    before ``x-y``), an orphan ``.headers`` listed alone, directories with
    a slash, names escaped in text and percent-encoded in links.
    """
    root = FilePath(str(tmp_path))
    for name in ["x", "x.headers", "x-y", "lone.headers", "a&<b>.txt"]:
        root.child(name).setContent(b"")
    root.child("dir").makedirs()
    page = listingPage("/some/where/", root.asBytesMode()).decode("utf-8")
    assert page == (
        "<!doctype html>\n"
        '<meta name="viewport" content="width=device-width">\n'
        "<title>Directory listing for /some/where/</title>\n"
        "<h1>Directory listing for /some/where/</h1>\n"
        "<ul>\n"
        '<li class="dir"><a href="/some/">..</a></li>\n'
        '<li class="file"><a href="a%26%3Cb%3E.txt">a&amp;&lt;b&gt;.txt</a></li>\n'
        '<li class="dir"><a href="dir/">dir</a></li>\n'
        '<li class="file"><a href="lone.headers">lone.headers</a></li>\n'
        '<li class="file"><a href="x">x</a> (<a href="x.headers">.headers</a>)</li>\n'
        '<li class="file"><a href="x-y">x-y</a></li>\n'
        "</ul>\n"
    )


def test_topLevelHasNoParentLink(tmp_path: object) -> None:
    """At ``/`` there is no ``..`` entry."""
    root = FilePath(str(tmp_path))
    root.child("f").setContent(b"")
    page = listingPage("/", root.asBytesMode()).decode("utf-8")
    assert "..</a>" not in page
    assert '<li class="file"><a href="f">f</a></li>' in page


def test_undecodableName(tmp_path: object) -> None:
    """
    A file name that is not UTF-8 is linked by its bytes and shown with a
    replacement character, instead of failing the page.
    """
    root = FilePath(str(tmp_path)).asBytesMode()
    root.child(b"caf\xe9.txt").setContent(b"")
    page = listingPage("/", root).decode("utf-8")
    assert '<a href="caf%E9.txt">caf\ufffd.txt</a>' in page


@pytest_twisted.ensureDeferred
async def test_listingServed(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """
    A directory URL with a slash and no ``default*.py`` shows the listing
    as ``text/html``; HEAD gives no body; other methods are wptserve's 404.
    """
    handlerRoot.write("d/a.txt", "a")
    handlerRoot.write("d/a.txt.headers", "X-A: 1\n")
    handlerRoot.write("d/h.py", "def main(request, response):\n    return 'x'\n")
    base = serve(HandlerDirectory(str(handlerRoot.path), reactor=reactor))
    response = await treq.get(base + "/d/")
    assert response.code == 200
    assert response.headers.getRawHeaders("content-type") == ["text/html"]
    body = (await response.content()).decode("utf-8")
    assert '<li class="file"><a href="a.txt">a.txt</a> (<a href="a.txt.headers">.headers</a>)</li>' in body
    assert '<li class="file"><a href="h.py">h.py</a></li>' in body
    head = await treq.head(base + "/d/")
    assert head.code == 200
    assert await head.content() == b""
    post = await treq.post(base + "/d/", data=b"")
    assert post.code == 404
    assert json.loads(await post.content()) == {"error": {"code": 404, "message": "No handler for POST /d/"}}


@pytest_twisted.ensureDeferred
async def test_listingUnderMount(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """Mounted under ``/wpt/``, the page names the full URL path."""
    handlerRoot.write("d/a.txt", "a")
    site = Resource()
    site.putChild(b"wpt", HandlerDirectory(str(handlerRoot.path), reactor=reactor))
    base = serve(site)
    body = (await (await treq.get(base + "/wpt/d/")).content()).decode("utf-8")
    assert "<title>Directory listing for /wpt/d/</title>" in body
    assert '<li class="dir"><a href="/wpt/">..</a></li>' in body
