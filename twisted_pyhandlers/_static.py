"""
Every file under the document root that is not a ``*.py`` handler.

:func:`fileResource` picks one of two ways to serve a file:

- **plain**: no ``.headers`` companion, no ``.sub.`` in its path, no
  ``?pipe=`` and no ``Range`` header.  This is the common case (scripts,
  images, test pages), and it is served by Twisted's own
  :class:`twisted.web.static.File` from the reactor thread: streamed with a
  pull producer, with Content-Length and otherwise wptserve's headers.
- **processed**: anything that needs wptserve's Python-side work — headers
  from ``NAME.headers`` / ``__dir__.headers`` (and their templated
  ``.sub.headers`` forms), byte ranges with wptserve's rules, ``.sub.``
  templates, pipes.  Which of these apply is decided once, on the reactor
  (:class:`StaticFile`), and handed to a
  :class:`~twisted_pyhandlers._run.HandlerRun` running :func:`serveFile`
  in the thread pool, with exactly the error handling, pipes and response
  writing of a ``.py`` handler, so header names keep the case the
  ``.headers`` file gives them.

``*.asis`` files are written to the connection byte for byte through
``response.writer``: they hold their own status line and headers.

As in wptserve, static content is routed for GET (and HEAD) only: any
other method gets wptserve's 404, answered on the reactor.  Every answer
here carries the server's own ``Server`` header, Twisted's included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from twisted.python.filepath import FilePath
from twisted.web import static
from twisted.web.resource import IResource, Resource
from twisted.web.server import NOT_DONE_YET
from twisted.web.server import Request as TwistedRequest

from twisted_pyhandlers._contenttypes import guessContentType
from twisted_pyhandlers._context import HandlerContext
from twisted_pyhandlers._errors import NotFound
from twisted_pyhandlers._filebody import FileBody
from twisted_pyhandlers._pipes import pipeString
from twisted_pyhandlers._ranges import ByteRange, RangeError, parseRange
from twisted_pyhandlers._response import SERVER_VERSION, MultipartContent
from twisted_pyhandlers._run import HandlerFunction, HandlerRun, ServerAnswer, notFound, notRouted, queryOf, urlBaseOf
from twisted_pyhandlers._templates import template

HeaderPair = tuple[bytes, bytes]

_ASIS_CHUNK = 32 * 1024

#: The methods static content is routed for, as in wptserve.
_ROUTED = (b"GET", b"HEAD")


class HeadersFileError(ValueError):
    """A line of a ``.headers`` file that is not ``Name: value``."""


#: A ``.headers`` companion that exists, and whether it is templated
#: (``.sub.headers``).
HeaderSource = tuple[FilePath[str], bool]


def headerSources(path: FilePath[str]) -> tuple[HeaderSource, ...]:
    """
    The companions that add headers to ``path``, in wptserve's order:
    ``__dir__``'s, then the file's own; for each, ``BASE.sub.headers``
    (templated) if it exists, else ``BASE.headers``.  Reactor thread (up to
    four ``stat`` calls).
    """
    sources: list[HeaderSource] = []
    for base in (path.parent().child("__dir__"), path):
        templated = base.siblingExtension(".sub.headers")
        if templated.isfile():
            sources.append((templated, True))
        else:
            plain = base.siblingExtension(".headers")
            if plain.isfile():
                sources.append((plain, False))
    return tuple(sources)


def parseHeaders(data: bytes, source: str) -> list[HeaderPair]:
    """
    The headers of a ``.headers`` file: one ``Name: value`` per line, both
    sides stripped, blank lines skipped (wptserve's format).

    :raises HeadersFileError: for a line without a colon (wptserve fails
        there too, with a less helpful message).
    """
    pairs: list[HeaderPair] = []
    for line in data.splitlines():
        if not line:
            continue
        parts = line.split(b":", 1)
        if len(parts) != 2:
            raise HeadersFileError(f"Line without a colon in {source}: {line!r}")
        pairs.append((parts[0].strip(), parts[1].strip()))
    return pairs


def loadHeaders(request: Any, sources: Sequence[HeaderSource]) -> list[HeaderPair]:
    """
    The headers ``sources`` add, templated (no escaping) where they are
    ``.sub.headers``.  A companion removed since the reactor saw it adds
    nothing.  Worker thread.
    """
    pairs: list[HeaderPair] = []
    for source, useTemplate in sources:
        try:
            data = source.getContent()
        except OSError:
            continue
        if useTemplate:
            data = template(request, data, escape_type="none")
        pairs.extend(parseHeaders(data, source.basename()))
    return pairs


def fileHeaders(request: Any, path: FilePath[str], sources: Sequence[HeaderSource]) -> list[HeaderPair]:
    """
    :func:`loadHeaders` with the guessed Content-Type first, unless a
    companion gives one.  Worker thread.
    """
    pairs = loadHeaders(request, sources)
    if not any(name.lower() == b"content-type" for name, _ in pairs):
        pairs.insert(0, (b"Content-Type", guessContentType(path.basename()).encode("ascii")))
    return pairs


def _rangeError(response: Any, error: RangeError, size: int) -> None:
    """
    Write wptserve's JSON error for a ``Range`` header we cannot answer;
    for a 416, with the ``Content-Range: bytes */SIZE`` that wptserve sets
    and then loses.  Worker thread.
    """
    response.set_error(error.code, error.errorText)
    if error.code == 416:
        response.headers.set("Content-Range", f"bytes */{size}")
    response.write()


def _readRange(path: FilePath[str], byteRange: ByteRange) -> bytes:
    with path.open("r") as f:
        f.seek(byteRange.lower)
        return f.read(byteRange.length)


def serveFile(path: FilePath[str], sources: Sequence[HeaderSource], request: Any, response: Any) -> None:
    """
    wptserve's ``FileHandler`` for one file: the headers of its companions
    ``sources``, then the body — whole, one range (206 + Content-Range) or
    several (206 multipart/byteranges).  The pipes (``.sub.`` and
    ``?pipe=``) run after this, in the
    :class:`~twisted_pyhandlers._run.HandlerRun`.

    Worker thread.
    """
    try:
        size = path.getsize()
    except OSError:
        raise NotFound(request.url_parts.path)
    response.headers.update(fileHeaders(request, path, sources))
    if "Range" not in request.headers:
        response.content = FileBody(path.open("r"), 0, size)
        return
    try:
        ranges = parseRange(request.headers["Range"], size)
    except RangeError as error:
        _rangeError(response, error, size)
        return
    response.status = 206
    if len(ranges) == 1:
        only = ranges[0]
        response.headers.set("Content-Range", only.headerValue())
        response.content = FileBody(path.open("r"), only.lower, only.length)
        return
    partType = response.headers.get("Content-Type")
    multipart = MultipartContent()
    response.headers.set("Content-Type", f"multipart/byteranges; boundary={multipart.boundary}")
    for byteRange in ranges:
        multipart.append_part(
            _readRange(path, byteRange),
            partType[-1] if partType else None,
            [(b"Content-Range", byteRange.headerValue().encode("ascii"))],
        )
    # Built now, so that it goes out with a Content-Length.
    response.content = multipart()


def serveAsIs(path: FilePath[str], request: Any, response: Any) -> None:
    """
    Copy an ``.asis`` file to the connection as it is, then close the
    connection (its framing is whatever the file says).  Worker thread.
    """
    try:
        f = path.open("r")
    except OSError:
        raise NotFound(request.url_parts.path)
    with f:
        # One write even for an empty file, so nothing else is sent.
        chunk = f.read(_ASIS_CHUNK)
        response.writer.write(chunk)
        while chunk:
            chunk = f.read(_ASIS_CHUNK)
            if chunk and not response.writer.write(chunk):
                break
    response.close_connection = True


class _PlainFile(static.File):
    """
    :class:`twisted.web.static.File` for a plain file, with the headers
    wptserve gives one: the type decided by :func:`guessContentType`, no
    guessed Content-Encoding (a ``.gz`` fixture is served as its bytes),
    and neither Last-Modified nor Accept-Ranges.  Without Last-Modified a
    page's ``document.lastModified`` is the time of the response, as real
    tests expect, and no request is answered 304 (wptserve never does).

    :param missing: renders the answer for a file gone since ``getChild``.
    """

    def __init__(self, path: str, contentType: str, missing: Callable[[TwistedRequest], Any]) -> None:
        super().__init__(path)
        self.type = contentType
        self.encoding = None
        self._missing = missing

    def render_GET(self, request: TwistedRequest) -> Any:
        """
        Stream the whole file (the caller sends ``Range`` requests to
        :func:`serveFile`).  Reactor thread.
        """
        try:
            fileForReading = self.openForReading()
        except OSError:
            return self._missing(request)
        if request.method == b"HEAD":
            self._setContentHeaders(request)
            fileForReading.close()
            return b""
        self.makeProducer(request, fileForReading).start()
        return NOT_DONE_YET

    render_HEAD = render_GET


class _FileLeaf(Resource):
    """
    A file under the root, reached through the URL path ``segments``: GET
    and HEAD serve it, any other method gets wptserve's 404.

    :ivar path: the file.
    :ivar segments: the URL path segments from the tree's root to the file.
    """

    isLeaf = True

    def __init__(self, path: FilePath[str], context: HandlerContext, segments: Sequence[bytes]) -> None:
        super().__init__()
        self.path = path
        self.segments = tuple(segments)
        self._context = context

    def _notRouted(self, request: TwistedRequest) -> Any:
        """wptserve's 404 for a method other than GET or HEAD.  Reactor thread."""
        return ServerAnswer(self._context, notRouted, self.segments).render(request)

    def _run(self, request: TwistedRequest, serve: HandlerFunction, pipes: str = "") -> Any:
        """Run ``serve`` in the thread pool as this request's handler.  Reactor thread."""
        HandlerRun(self._context, request, serve, urlBaseOf(request, len(self.segments)), pipes).start()
        return NOT_DONE_YET


class StaticFile(_FileLeaf):
    """
    A file under the root, served per request by Twisted's
    :class:`~twisted.web.static.File` or by :func:`serveFile` in the thread
    pool, as decided here (see the module docstring).
    """

    def render(self, request: TwistedRequest) -> Any:
        """
        Decide once what this request needs: a Range header, ``.sub.`` in
        the path below the root or a ``pipe`` in the query (its pipe
        string), ``.headers`` companions (which exist).  Reactor thread.
        """
        if request.method not in _ROUTED:
            return self._notRouted(request)
        path = self.path
        pipes = pipeString(path.path, queryOf(request), self._context.root.path)
        sources = headerSources(path)
        if pipes or sources or request.getHeader(b"range") is not None:
            return self._run(request, partial(serveFile, path, sources), pipes)
        request.setHeader(b"Server", SERVER_VERSION)
        return _PlainFile(path.path, guessContentType(path.basename()), self._missing).render(request)

    def _missing(self, request: TwistedRequest) -> Any:
        """The 404 for a file removed since ``getChild`` saw it.  Reactor thread."""
        return ServerAnswer(self._context, notFound, self.segments).render(request)


class AsIsFile(_FileLeaf):
    """An ``*.asis`` file: GET and HEAD write it raw; other methods 404."""

    def render(self, request: TwistedRequest) -> Any:
        """Reactor thread."""
        if request.method not in _ROUTED:
            return self._notRouted(request)
        return self._run(request, partial(serveAsIs, self.path))


def fileResource(path: FilePath[str], context: HandlerContext, segments: Sequence[bytes]) -> IResource:
    """
    The resource for a non-``.py`` file under the root, reached through the
    URL path ``segments`` (which name it, one directory at a time, from the
    root).  The caller has already checked that ``path`` is inside the root
    and is a file.  Reactor thread.
    """
    if path.basename().endswith(".asis"):
        return AsIsFile(path, context, segments)
    return StaticFile(path, context, segments)
