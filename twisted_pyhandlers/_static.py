"""
Every file under the document root that is not a ``*.py`` handler.

:func:`fileResource` picks one of two ways to serve a file:

- **plain**: no ``.headers`` companion, no ``.sub.`` in its path, no
  ``?pipe=`` and no ``Range`` header.  This is the common case (scripts,
  images, test pages), and it is served by Twisted's own
  :class:`twisted.web.static.File` from the reactor thread: streamed with a
  pull producer, with Content-Length, Last-Modified and conditional GET.
- **processed**: anything that needs wptserve's Python-side work — headers
  from ``NAME.headers`` / ``__dir__.headers`` (and their templated
  ``.sub.headers`` forms), byte ranges with wptserve's rules, ``.sub.``
  templates, pipes.  It is served by
  :class:`~twisted_pyhandlers._handler.FunctionResource` running
  :func:`serveFile` in the thread pool, with exactly the error handling,
  pipes and response writing of a ``.py`` handler, so header names keep the
  case the ``.headers`` file gives them.

``*.asis`` files are written to the connection byte for byte through
``response.writer``: they hold their own status line and headers.

As in wptserve, static content is routed for GET (and HEAD) only: any
other method gets wptserve's 404.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twisted.python.filepath import FilePath
from twisted.web import static
from twisted.web.resource import IResource, Resource
from twisted.web.server import Request as TwistedRequest

from twisted_pyhandlers._contenttypes import guessContentType
from twisted_pyhandlers._context import HandlerContext
from twisted_pyhandlers._errors import HTTPException, jsonError, methodNotRouted
from twisted_pyhandlers._filebody import FileBody
from twisted_pyhandlers._handler import FunctionResource
from twisted_pyhandlers._pipes import queryPipe
from twisted_pyhandlers._ranges import ByteRange, RangeError, parseRange
from twisted_pyhandlers._templates import template

HeaderPair = tuple[bytes, bytes]

_ASIS_CHUNK = 32 * 1024


class HeadersFileError(ValueError):
    """A line of a ``.headers`` file that is not ``Name: value``."""


def _headerFiles(path: FilePath[str]) -> list[FilePath[str]]:
    """
    The four companions that could add headers to ``path``:
    ``__dir__.sub.headers``, ``__dir__.headers``, ``NAME.sub.headers``,
    ``NAME.headers``.
    """
    directory = path.parent()
    return [
        directory.child("__dir__.sub.headers"),
        directory.child("__dir__.headers"),
        path.siblingExtension(".sub.headers"),
        path.siblingExtension(".headers"),
    ]


def hasHeaderFiles(path: FilePath[str]) -> bool:
    """Whether any ``.headers`` companion of ``path`` exists.  Any thread."""
    return any(candidate.isfile() for candidate in _headerFiles(path))


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


def _loadOne(request: Any, base: FilePath[str]) -> list[HeaderPair]:
    """
    ``BASE.sub.headers`` (templated, no escaping) if it exists, else
    ``BASE.headers``, else nothing.  Worker thread.
    """
    templated = base.siblingExtension(".sub.headers")
    if templated.isfile():
        source, useTemplate = templated, True
    else:
        source, useTemplate = base.siblingExtension(".headers"), False
    try:
        data = source.getContent()
    except OSError:
        return []
    if useTemplate:
        data = template(request, data, escape_type="none")
    return parseHeaders(data, source.basename())


def loadHeaders(request: Any, path: FilePath[str]) -> list[HeaderPair]:
    """
    The headers the companions of ``path`` add: ``__dir__``'s first, then
    the file's own, as wptserve concatenates them.  Worker thread.
    """
    return _loadOne(request, path.parent().child("__dir__")) + _loadOne(request, path)


def fileHeaders(request: Any, path: FilePath[str]) -> list[HeaderPair]:
    """
    :func:`loadHeaders` with the guessed Content-Type first, unless a
    companion gives one.
    """
    pairs = loadHeaders(request, path)
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


def serveFile(path: FilePath[str], request: Any, response: Any) -> None:
    """
    wptserve's ``FileHandler`` for one file: companion headers, then the
    body — whole, one range (206 + Content-Range) or several
    (206 multipart/byteranges).  The pipes (``.sub.`` and ``?pipe=``) run
    after this, in :class:`~twisted_pyhandlers._handler.FunctionResource`.

    Worker thread.
    """
    try:
        size = path.getsize()
    except OSError:
        raise HTTPException(404)
    response.headers.update(fileHeaders(request, path))
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
    from twisted_pyhandlers._response import MultipartContent

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
        raise HTTPException(404)
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
    :class:`twisted.web.static.File` with the type decided by
    :func:`guessContentType` and no guessed Content-Encoding (a ``.gz``
    fixture is served as its bytes, as in wptserve).
    """

    def __init__(self, path: str, contentType: str) -> None:
        super().__init__(path)
        self.type = contentType
        self.encoding = None


class _FileLeaf(Resource):
    """
    A file under the root, reached through the URL path ``segments``.

    :ivar path: the file.
    :ivar segments: the URL path segments from the tree's root to the file.
    """

    isLeaf = True

    def __init__(self, path: FilePath[str], context: HandlerContext, segments: Sequence[bytes]) -> None:
        super().__init__()
        self.path = path
        self.segments = tuple(segments)
        self._context = context


class StaticFile(_FileLeaf):
    """
    A file under the root, chosen per request between Twisted's
    :class:`~twisted.web.static.File` and :func:`serveFile` in the thread
    pool (see the module docstring).
    """

    def __init__(self, path: FilePath[str], context: HandlerContext, segments: Sequence[bytes]) -> None:
        super().__init__(path, context, segments)
        self._relative = "/".join(segment.decode("utf-8", "surrogateescape") for segment in self.segments)

    def needsProcessing(self, request: TwistedRequest) -> bool:
        """
        Whether this request needs the Python side: a Range header,
        ``.sub.`` in the path below the root, a ``pipe`` in the query, or a
        ``.headers`` companion.  Reactor thread (a few ``stat`` calls).
        """
        if request.getHeader(b"range") is not None:
            return True
        if ".sub." in self._relative:
            return True
        query = request.uri.partition(b"?")[2]
        if queryPipe(query.decode("iso-8859-1")) is not None:
            return True
        return hasHeaderFiles(self.path)

    def render(self, request: TwistedRequest) -> Any:
        """
        Serve the file.  Reactor thread.
        """
        if request.method not in (b"GET", b"HEAD"):
            return methodNotRouted(request)
        if request.postpath:
            # "file.txt/more": no file of ours (wptserve's stat fails too).
            return jsonError(request, 404)
        if self.needsProcessing(request):
            path = self.path
            leaf = FunctionResource(
                self._context,
                lambda req, resp: serveFile(path, req, resp),
                self.segments,
                filePath=self._relative,
            )
            return leaf.render(request)
        plain = _PlainFile(self.path.path, guessContentType(self.path.basename()))
        return plain.render(request)


class AsIsFile(_FileLeaf):
    """An ``*.asis`` file: GET and HEAD write it raw; other methods 404."""

    def render(self, request: TwistedRequest) -> Any:
        """Reactor thread."""
        if request.method not in (b"GET", b"HEAD"):
            return methodNotRouted(request)
        path = self.path
        leaf = FunctionResource(self._context, lambda req, resp: serveAsIs(path, req, resp), self.segments)
        return leaf.render(request)


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
