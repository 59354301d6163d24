"""
The HTML page a directory URL shows when the directory has no
``default*.py``.

The markup is wptserve's ``DirectoryHandler``'s, byte for byte, because
people (and a few tests) read it: one ``<li>`` per entry, sorted by name,
``..`` first below the top, directories marked with a trailing slash, and a
``NAME.headers`` file folded into the line of the ``NAME`` it belongs to.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from html import escape
from urllib.parse import quote, urljoin

from twisted.python.filepath import FilePath
from twisted.web.iweb import IRequest
from twisted.web.resource import Resource

from twisted_pyhandlers._context import HandlerContext
from twisted_pyhandlers._encoding import isomorphic_decode
from twisted_pyhandlers._errors import jsonError, methodNotRouted

_HEADERS_SUFFIX = b".headers"

_PAGE = """<!doctype html>
<meta name="viewport" content="width=device-width">
<title>Directory listing for %(path)s</title>
<h1>Directory listing for %(path)s</h1>
<ul>
%(items)s
</ul>
"""


def _sortKey(name: bytes) -> tuple[bytes, bytes]:
    """
    wptserve's order: ``x.headers`` sorts right after ``x`` (and before
    ``x-y``), everything else by name.
    """
    if name.endswith(_HEADERS_SUFFIX):
        return (name[: -len(_HEADERS_SUFFIX)], name)
    return (name, name)


def _displayName(name: bytes) -> str:
    """
    A file name as the page shows it: UTF-8 where it decodes, with
    replacement characters where it does not (wptserve fails there).
    """
    return name.decode("utf-8", errors="replace")


def listingItems(urlPath: str, directory: FilePath[bytes]) -> Iterator[str]:
    """
    The ``<li>`` lines for ``directory`` shown at ``urlPath`` (which ends with
    a slash).  Runs in the reactor thread; it lists one directory, no more.
    """
    if urlPath != "/":
        yield f'<li class="dir"><a href="{urljoin(urlPath, "..")}">..</a></li>'
    items: list[list[bytes | None]] = []
    previous: bytes | None = None
    for name in sorted(os.listdir(directory.path), key=_sortKey):
        if previous is not None and previous + _HEADERS_SUFFIX == name:
            items[-1][1] = name
            previous = None
            continue
        items.append([name, None])
        previous = name
    for entry, dotHeaders in items:
        assert entry is not None
        link = escape(quote(entry))
        headersMarkup = ""
        if dotHeaders is not None:
            headersMarkup = f' (<a href="{escape(quote(dotHeaders))}">.headers</a>)'
        if directory.child(entry).isdir():
            link += "/"
            class_ = "dir"
        else:
            class_ = "file"
        shown = escape(_displayName(entry))
        yield f'<li class="{class_}"><a href="{link}">{shown}</a>{headersMarkup}</li>'


def listingPage(urlPath: str, directory: FilePath[bytes]) -> bytes:
    """The whole listing page for ``directory`` at ``urlPath``, UTF-8."""
    page = _PAGE % {
        "path": escape(urlPath),
        "items": "\n".join(listingItems(urlPath, directory)),
    }
    return page.encode("utf-8")


class DirectoryListing(Resource):
    """
    The listing of one directory, for a directory URL that ends with a
    slash and has no ``default*.py``.

    GET and HEAD show the page (``text/html``, with a Content-Length);
    like wptserve, which routes static content for GET only, any other
    method is a 404 with wptserve's JSON error body.
    """

    isLeaf = True

    def __init__(self, path: FilePath[str], context: HandlerContext) -> None:
        super().__init__()
        self._directory: FilePath[bytes] = path.asBytesMode()
        self._context = context

    def render(self, request: IRequest) -> bytes:
        """
        Runs in the reactor thread.
        """
        if request.method not in (b"GET", b"HEAD"):
            return methodNotRouted(request)
        urlPath = isomorphic_decode(request.path)
        try:
            body = listingPage(urlPath, self._directory)
        except OSError as error:
            # Unreadable, or gone since getChild: wptserve's 500 shape.
            return jsonError(request, 500, f"Cannot list {urlPath}: {error}")
        request.setResponseCode(200)
        request.setHeader(b"Content-Type", b"text/html")
        return body
