"""
The test pages ``wpt serve`` generates per request from script tests.

A web-platform-tests checkout holds ``*.any.js``, ``*.window.js`` and
``*.worker.js`` tests; the HTML pages that run them (``x.any.html``,
``x.any.worker.html``, ...) and the worker scripts that wrap them
(``x.any.worker.js``) exist on no disk: ``wpt serve`` (``tools/serve/serve.py``
of web-platform-tests: its ``WrapperHandler`` family and ``RoutesBuilder``)
makes them from the script's ``// META:`` lines.  This module makes the
same pages, byte for byte.

Each :class:`~twisted_pyhandlers._pagekinds.PageKind` is one of wpt
serve's routes; a :class:`~twisted_pyhandlers._pagekinds.PageSet` is the
ordered routes of one edition of serve.py (the first that matches a name
wins, as in wpt serve's router, and a real file of that name is never
served: wpt serve's page routes come before its file route).
:class:`GeneratedPage` is the resource of one page; it answers through a
:class:`~twisted_pyhandlers._run.HandlerRun` like every other leaf, so the
source's ``.headers``, ``?pipe=`` and ``.sub.`` apply as they do to a
file.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, Optional

from twisted.python.filepath import FilePath
from twisted.web.server import Request as TwistedRequest

from twisted_pyhandlers._context import HandlerContext
from twisted_pyhandlers._errors import HTTPException
from twisted_pyhandlers._pagekinds import PageKind
from twisted_pyhandlers._pipes import pipeString
from twisted_pyhandlers._run import queryOf
from twisted_pyhandlers._scriptmeta import globalsOf, metadataLines
from twisted_pyhandlers._static import _ROUTED, HeaderSource, _FileLeaf, headerSources, loadHeaders

__all__ = ["GeneratedPage", "servePage"]


def _readMetadata(source: FilePath[str]) -> list[tuple[str, str]]:
    """
    The META lines of ``source``; 404 (wpt's bare ``404``) when it cannot be
    read.  Worker thread.
    """
    try:
        with source.open("r") as f:
            return list(metadataLines(f))
    except OSError:
        raise HTTPException(404) from None


def servePage(
    kind: PageKind, source: Optional[FilePath[str]], sources: Sequence[HeaderSource], request: Any, response: Any
) -> None:
    """
    Make the page ``kind`` from ``source`` (None: no such file), as wpt
    serve's ``WrapperHandler.handle_request``: the Content-Type then the
    source's ``.headers`` (``sources``), each replacing an earlier one of
    its name; a 404 naming the scope when the source's ``global=`` leaves
    it out; the page itself.  The pipes run after this, in the
    :class:`~twisted_pyhandlers._run.HandlerRun`.  Worker thread.
    """
    for name, value in [(b"Content-Type", kind.contentType.encode("ascii")), *loadHeaders(request, sources)]:
        response.headers.set(name, value)
    if source is None:
        raise HTTPException(404)
    metadata = _readMetadata(source)
    if kind.scope is not None and kind.scope not in globalsOf(metadata):
        raise HTTPException(404, "This test cannot be loaded in %s mode" % kind.scope)
    response.content = kind.render(metadata, request.url_parts.path, request.url_parts.query)


class GeneratedPage(_FileLeaf):
    """
    One generated page: the page ``kind`` of the source file ``path``
    (reached through the URL path ``segments``), for GET and HEAD; other
    methods get wptserve's 404, as on every static route.

    :ivar present: whether ``path`` was a regular file inside the root when
        the tree looked (a page without its source is a 404).
    """

    def __init__(
        self, path: FilePath[str], present: bool, kind: PageKind, context: HandlerContext, segments: Sequence[bytes]
    ) -> None:
        super().__init__(path, context, segments)
        self.kind = kind
        self.present = present

    def render(self, request: TwistedRequest) -> Any:
        """
        Decide the pipes (``.sub.`` in the URL path of the script the page
        loads, then the query's ``pipe``, as wpt serve's ``wrap_pipeline``)
        and the source's ``.headers``, and run :func:`servePage`.  Reactor
        thread.
        """
        if request.method not in _ROUTED:
            return self._notRouted(request)
        loaded = self.kind.loadedPath(request.path.decode("iso-8859-1"))
        pipes = pipeString(loaded, queryOf(request))
        source = self.path if self.present else None
        sources = headerSources(self.path) if self.present else ()
        return self._run(request, partial(servePage, self.kind, source, sources), pipes)
