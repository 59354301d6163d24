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
from typing import Any, Callable
from urllib.parse import quote, urljoin

from twisted.python.filepath import FilePath

from twisted_pyhandlers._errors import HTTPException

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


def listing(directory: FilePath[str]) -> Callable[[Any, Any], None]:
    """
    The server's answer for ``directory``'s URL (which ends with a slash)
    when it has no ``default*.py``: its listing, for GET and HEAD (HTML,
    with a Content-Length); like wptserve, which routes static content for
    GET only, any other method is its 404.  The answer runs on the reactor
    thread; it lists one directory, no more.
    """
    directoryBytes: FilePath[bytes] = directory.asBytesMode()

    def answer(request: Any, response: Any) -> None:
        if request.method not in ("GET", "HEAD"):
            response.set_error(404, f"No handler for {request.method} {request.url_parts.path}")
            return
        urlPath = request.request_path.partition("?")[0]
        try:
            body = listingPage(urlPath, directoryBytes)
        except OSError as error:
            # Unreadable, or gone since getChild: wptserve's 500 shape.
            raise HTTPException(500, f"Cannot list {urlPath}: {error}")
        response.headers.set("Content-Type", "text/html")
        response.content = body

    return answer
