"""
The response object handlers receive, with wptserve's API, and what every
writer of it shares.

A handler sets ``status``, ``headers`` and ``content`` (or returns them from
``main``); the server then writes the response through ``response.writer``
exactly as wptserve does, so status lines, header order and header case are
what the handler gave.  A handler that wants the wire itself uses the
writer directly and the server writes nothing more.

The writer of each wire format (:mod:`twisted_pyhandlers._h11writer` frames
the response as HTTP/1.1 bytes, :mod:`twisted_pyhandlers._h2writer` as
HTTP/2 frames) is built on :class:`WriterBase`, here: what it reads of the
response (:class:`WrittenResponse`), the headers the server adds
(``Server``, ``Date`` and, for a body known in full, ``Content-Length``:
:func:`requiredHeaders`, the one rule for both), the state the run reads
back once ``main`` returns, and the grouping of writes into one hand-over
(:class:`Batch`).  :class:`ResponseWriterType` is what this module and the
run ask of either writer: they never know which wire format they write.
"""

from __future__ import annotations

import logging
import time
import uuid
import weakref
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from http.cookies import BaseCookie, Morsel
from typing import (
    IO,
    TYPE_CHECKING,
    Any,
    Callable,
    Iterable,
    Iterator,
    List,
    Optional,
    Protocol,
    Set,
    Sized,
    Tuple,
    Union,
)

from twisted.logger import Logger
from twisted.web.http import datetimeToString

from twisted_pyhandlers._encoding import headerBytes, isomorphic_decode
from twisted_pyhandlers._errors import HTTPException, ReturnValueError, errorBody, formatServerError
from twisted_pyhandlers._filebody import FileBody
from twisted_pyhandlers._output import ResponseOutput

if TYPE_CHECKING:
    from twisted_pyhandlers._request import Request

HeaderPart = Union[str, bytes, int]
ContentPart = Union[bytes, str, Callable[[], Union[bytes, str]]]
Content = Union[bytes, str, IO[bytes], Iterable[ContentPart]]

_missing: Any = object()
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]


#: The ``Server`` header's value on every answer.
SERVER_VERSION = b"twisted_pyhandlers"

#: Bodies up to this size go out in the same hand-over as their headers;
#: larger ones are written on their own, so they are not copied to be joined.
BATCH_BODY_LIMIT = 64 * 1024

Writable = Union[str, bytes]

_dateCache: Tuple[int, bytes] = (0, b"")


def httpDate() -> bytes:
    """
    The Date header's value for now.  Formatted once per second, not per
    request (any thread; a race only formats the same second twice).
    """
    global _dateCache
    now = int(time.time())
    second, formatted = _dateCache
    if second != now:
        formatted = datetimeToString(now)
        _dateCache = (now, formatted)
    return formatted


class WrittenResponse(Protocol):
    """
    What the writer reads of the response it writes (it never changes it):
    the handler may change any of these until the headers go out.
    """

    request: Any
    content: Any
    encoding: str
    add_required_headers: bool
    logger: Any


def knownLength(content: Any, encoding: str) -> Optional[int]:
    """
    The length of a body known in full before it is written (text, bytes,
    or a static file no pipe replaced), else None.  The one place that
    decides which bodies get a Content-Length from the server.
    """
    if isinstance(content, bytes):
        return len(content)
    if isinstance(content, str):
        return len(content.encode(encoding))
    if isinstance(content, FileBody):
        return content.remaining
    return None


def requiredHeaders(seen: Set[bytes], content: Any, encoding: str) -> List[Tuple[bytes, bytes, bytes]]:
    """
    The headers the server adds to a response whose header names written so
    far are ``seen`` (lower case): ``Server``, ``Date`` and, for a body known
    in full (:func:`knownLength`), ``Content-Length``, each unless written,
    in that order, as ``(lower-case name, name, value)``.  Every response
    asks (any thread), so the values come ready as bytes.
    """
    missing: List[Tuple[bytes, bytes, bytes]] = []
    if b"server" not in seen:
        missing.append((b"server", b"Server", SERVER_VERSION))
    if b"date" not in seen:
        missing.append((b"date", b"Date", httpDate()))
    if b"content-length" not in seen:
        length = knownLength(content, encoding)
        if length is not None:
            missing.append((b"content-length", b"Content-Length", b"%d" % length))
    return missing


class ResponseWriterType(Protocol):
    """
    What the run (:mod:`twisted_pyhandlers._run`) and the response
    (:mod:`twisted_pyhandlers._response`) ask of ``response.writer``,
    whichever wire format it writes: wptserve's structured calls, the state
    read back once ``main`` returns, and the answer for a handler given up
    on.  :class:`~twisted_pyhandlers._h11writer.ResponseWriter` and
    :class:`~twisted_pyhandlers._h2writer.H2ResponseWriter` provide it.
    """

    content_written: bool

    @property
    def status_written(self) -> bool: ...

    @property
    def status_code(self) -> Optional[int]: ...

    @property
    def headers_complete(self) -> bool: ...

    def saw_header(self, name: bytes) -> bool: ...

    def batch(self) -> "Batch": ...

    def write_status(self, code: int, message: Optional[Writable] = None) -> bool: ...

    def write_header(self, name: Writable, value: Union[Writable, int]) -> bool: ...

    def end_headers(self) -> bool: ...

    def write_content(self, data: Any) -> bool: ...

    def write_whole(
        self, status: Tuple[int, Optional[Writable]], headers: Iterable[Tuple[Any, Any]], content: Writable, withBody: bool
    ) -> Optional[bool]: ...

    def answerInstead(self, body: Optional[bytes], code: int, runTime: float) -> None: ...


class WriterBase:
    """
    The part of a response writer that does not depend on the wire format:
    which headers were written, whether the head is complete, text to bytes,
    and waiting for the connection.  Its methods run in the handler's
    thread (the reactor thread for ``async`` handlers).
    """

    def __init__(self, output: ResponseOutput, response: WrittenResponse) -> None:
        self._output = output
        # A weak reference: the response holds its writer, and a strong
        # reference back would make every response a reference cycle, left
        # for the cyclic garbage collector (with its request and all they
        # hold) instead of being freed as soon as it is written.  The
        # response outlives every use of it here: the handler or the server
        # holds it while writing.
        self._response: WrittenResponse = weakref.proxy(response)
        self.request = response.request
        self._headers_seen: Set[bytes] = set()
        self._headers_complete = False
        # What the open batch holds (see batch()), None when none is open.
        self._pending: Optional[List[Any]] = None
        #: True once anything was written; the server then leaves the
        #: response object and ``main``'s return value alone.
        self.content_written = False

    @property
    def headers_complete(self) -> bool:
        """Whether the header block was ended (on HTTP/2: the HEADERS frame sent)."""
        return self._headers_complete

    def saw_header(self, name: bytes) -> bool:
        """Whether a header named ``name`` (lower-case bytes) was written."""
        return name in self._headers_seen

    def flush(self) -> bool:
        """Return once everything written so far has been handed to the connection."""
        return self._output.flush()

    def batch(self) -> "Batch":
        """
        Hold the writes made inside the ``with`` block and hand them over as
        one, at its end.  Nesting is allowed; the outermost block hands
        over.  Used for a status line with its headers (and a small body),
        which a client cannot tell apart from separate writes, to save
        reactor hand-overs.
        """
        return Batch(self)

    def _handOverBatch(self, pending: List[Any]) -> None:
        """Hand what a batch held (what the writer queued in ``_pending``) to the output as one."""
        raise NotImplementedError

    def encode(self, data: Writable) -> bytes:
        """Convert text to bytes with ``response.encoding``."""
        if isinstance(data, bytes):
            return data
        if isinstance(data, str):
            return data.encode(self._response.encoding)
        raise ValueError(f"data {data!r} should be text or binary, but is {type(data)}")


class Batch:
    """
    The context manager of :meth:`WriterBase.batch`, for both wire formats
    (a plain class: this runs per response).  The writer's own calls queue
    what they write in ``writer._pending`` while a batch is open.
    """

    __slots__ = ("_writer", "_outer")

    def __init__(self, writer: WriterBase) -> None:
        self._writer = writer
        self._outer = False

    def __enter__(self) -> None:
        writer = self._writer
        if writer._pending is None:
            writer._pending = []
            self._outer = True

    def __exit__(self, *exc: object) -> None:
        if self._outer:
            writer = self._writer
            pending, writer._pending = writer._pending, None
            if pending:
                writer._handOverBatch(pending)


class ResponseHeaders:
    """
    The response's headers: ordered by first appearance of each name,
    case-insensitive for lookups, keeping the case the handler gave for
    output.  Names and values are stored as bytes.
    """

    def __init__(self) -> None:
        self.data: "OrderedDict[bytes, Tuple[bytes, List[bytes]]]" = OrderedDict()

    def set(self, key: HeaderPart, value: HeaderPart) -> None:
        """Set ``key`` to ``value``, replacing any values it had."""
        name = headerBytes(key)
        self.data[name.lower()] = (name, [headerBytes(value)])

    def append(self, key: HeaderPart, value: HeaderPart) -> None:
        """Add a value for ``key``, keeping those it had."""
        name = headerBytes(key)
        lower = name.lower()
        if lower in self.data:
            self.data[lower][1].append(headerBytes(value))
        else:
            self.data[lower] = (name, [headerBytes(value)])

    def get(self, key: HeaderPart, default: Any = _missing) -> Any:
        """The list of values for ``key``; ``[]`` (or ``default``) if none."""
        try:
            return self[key]
        except KeyError:
            return [] if default is _missing else default

    def __getitem__(self, key: HeaderPart) -> List[bytes]:
        return self.data[headerBytes(key).lower()][1]

    def __delitem__(self, key: HeaderPart) -> None:
        del self.data[headerBytes(key).lower()]

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, (str, bytes, int)):
            return False
        return headerBytes(key).lower() in self.data

    def __setitem__(self, key: HeaderPart, value: HeaderPart) -> None:
        self.set(key, value)

    def __iter__(self) -> Iterator[Tuple[bytes, bytes]]:
        for name, values in self.data.values():
            for value in values:
                yield name, value

    def items(self) -> List[Tuple[bytes, bytes]]:
        """Every (name, value) pair, in output order."""
        return list(self)

    def update(self, items: Iterable[Tuple[HeaderPart, HeaderPart]]) -> None:
        """Append each (name, value) pair."""
        for name, value in items:
            self.append(name, value)

    def __repr__(self) -> str:
        return repr(self.items())


def applyReturnValue(response: Response, value: Any) -> None:
    """
    Fold what ``main`` returned into ``response``, as wptserve does:
    ``(status, headers, content)``, ``(headers, content)``, or bare content.
    Headers are appended to those the handler already set.

    :raises ReturnValueError: for content that is none of text, bytes, a
        file-like object or an iterable (``return 12345``): wptserve writes
        the headers of a 200 and then fails, leaving an empty 200.
    """
    if isinstance(value, tuple):
        if len(value) == 3:
            status, headers, content = value
            response.status = status
        elif len(value) == 2:
            headers, content = value
        else:
            raise HTTPException(500, f"main returned a tuple of {len(value)} items")
        response.headers.update(headers)
    else:
        content = value
    _checkContent(content, value)
    response.content = content


#: What a body may be, for the message of a bad one.
_BODY_FORMS = "str, bytes, a file-like object or an iterable of str, bytes or callables"


def _checkContent(content: Any, returned: Any) -> None:
    """Refuse ``content`` (from the return value ``returned``) if it cannot be a body."""
    if isinstance(content, (bytes, str)) or hasattr(content, "read"):
        return
    bad: Any = content
    if isinstance(content, Iterable):
        if not isinstance(content, list):
            return
        for item in content:
            if not (isinstance(item, (bytes, str)) or callable(item)):
                bad = item
                break
        else:
            return
    if returned is content:
        raise ReturnValueError(
            f"main returned {returned!r}, which is no response: main returns content ({_BODY_FORMS}), "
            f"(headers, content) or (status, headers, content)"
        )
    where = "holds" if bad is not content else "is"
    raise ReturnValueError(
        f"main returned {returned!r}: its content {where} {bad!r} ({type(bad).__name__}), "
        f"but content is {_BODY_FORMS}"
    )


class Response:
    """
    What the handler answers, as wptserve's ``Response``.

    Created in the reactor thread; used and written in the handler's thread.

    :ivar status: ``(code, reason or None)``; may be set to an int or a
        ``(code, reason)`` pair.
    :ivar headers: a :class:`ResponseHeaders`.
    :ivar content: bytes, str, a file-like object, or an iterable of bytes,
        str or zero-argument callables returning those.
    :ivar encoding: used to encode str content (utf-8 by default).
    :ivar add_required_headers: False: no Server, Date or Content-Length.
    :ivar send_body_for_head_request: True: send the body for HEAD too.
    :ivar close_connection: True: close the connection after this response.
    :ivar writer: the writer of the connection's wire format
        (``writerClass``, chosen by :func:`twisted_pyhandlers._run.writerClassFor`):
        :class:`~twisted_pyhandlers._h11writer.ResponseWriter`, or on an
        HTTP/2 stream :class:`~twisted_pyhandlers._h2writer.H2ResponseWriter`;
        this module asks only what
        :class:`ResponseWriterType` names.
    :ivar logger: the standard library's root logger, as wptserve's
        ``response.logger`` (records go where :mod:`logging` sends them).
    """

    _log = Logger()
    logger: logging.Logger = logging.getLogger()

    def __init__(
        self, request: Request, output: ResponseOutput, writerClass: Callable[[ResponseOutput, Any], Any]
    ) -> None:
        self.request = request
        self.encoding = "utf8"
        self.add_required_headers = True
        self.send_body_for_head_request = False
        self.close_connection = False
        self._status: Tuple[int, Optional[Union[str, bytes]]] = (200, None)
        self.headers: Any = ResponseHeaders()
        self.content: Any = []
        self.writer: Any = writerClass(output, self)

    @property
    def status(self) -> Tuple[int, Optional[Union[str, bytes]]]:
        """``(code, reason)``; the reason is None until a handler gives one."""
        return self._status

    @status.setter
    def status(self, value: Union[int, Tuple[int, Any]]) -> None:
        if isinstance(value, Sized):
            if len(value) != 2:
                raise ValueError("status must be a code or a (code, reason) pair")
            code, message = value  # type: ignore[misc]
            if not isinstance(message, (bytes, str)):
                message = str(message)
            self._status = (int(code), message)
        else:
            self._status = (int(value), None)  # type: ignore[arg-type]

    # -- cookies -------------------------------------------------------------

    def set_cookie(
        self,
        name: Union[str, bytes],
        value: Optional[Union[str, bytes]],
        path: str = "/",
        domain: Optional[str] = None,
        max_age: Optional[Union[int, timedelta]] = None,
        expires: Optional[Union[datetime, timedelta]] = None,
        samesite: Optional[str] = None,
        secure: bool = False,
        httponly: bool = False,
        comment: Optional[str] = None,
    ) -> None:
        """Add a Set-Cookie header, formatted exactly as wptserve formats it."""
        if value is None:
            value = b""
            max_age = 0
            expires = timedelta(days=-1)
        cookieName = isomorphic_decode(name)
        cookieValue = isomorphic_decode(value)
        if isinstance(expires, timedelta):
            expires = datetime.now(timezone.utc) + expires
        expiresText: Optional[str] = None
        if expires is not None:
            expiresText = expires.strftime("%d %%s %Y %H:%M:%S GMT") % _MONTHS[expires.month - 1]
        maxAgeText: Optional[str] = None
        if max_age is not None:
            seconds = int(max_age.total_seconds()) if isinstance(max_age, timedelta) else max_age
            maxAgeText = "%.0d" % seconds
        morsel: Morsel[str] = Morsel()
        morsel.set(cookieName, cookieValue, cookieValue)
        for key, attribute in [
            ("path", path),
            ("domain", domain),
            ("comment", comment),
            ("expires", expiresText),
            ("max-age", maxAgeText),
            ("secure", secure),
            ("httponly", httponly),
            ("samesite", samesite),
        ]:
            if attribute is not None and attribute is not False:
                morsel[key] = attribute
        self.headers.append("Set-Cookie", morsel.OutputString())

    def unset_cookie(self, name: Union[str, bytes]) -> None:
        """Drop a cookie this response was going to set."""
        cookieName = isomorphic_decode(name)
        parser: BaseCookie[str] = BaseCookie()
        for cookie in self.headers.get("Set-Cookie"):
            parser.load(isomorphic_decode(cookie))
        if cookieName in parser.keys():
            del self.headers["Set-Cookie"]
            for morsel in parser.values():
                if morsel.key != cookieName:
                    self.headers.append("Set-Cookie", morsel.OutputString())

    def delete_cookie(self, name: Union[str, bytes], path: str = "/", domain: Optional[str] = None) -> None:
        """Tell the client to drop a cookie: empty value, expiry in the past."""
        self.set_cookie(name, None, path=path, domain=domain, max_age=0, expires=timedelta(days=-1))

    # -- body ----------------------------------------------------------------

    def iter_content(self, read_file: bool = False) -> Iterator[bytes]:
        """
        The body as a sequence of byte strings: callables are called, text is
        encoded, a file-like object is read in chunks (then closed).  Runs
        in the handler's thread, so generators may block or sleep.
        """
        content = self.content
        if isinstance(content, bytes):
            yield content
        elif isinstance(content, str):
            yield content.encode(self.encoding)
        elif hasattr(content, "read"):
            while True:
                chunk = content.read(32 * 1024)
                if len(chunk) == 0:
                    break
                yield chunk
            content.close()
        else:
            for item in content:
                value = item() if callable(item) else item
                if value:
                    yield value.encode(self.encoding) if isinstance(value, str) else value

    def write_status_headers(self) -> None:
        """Write the status line and headers (one write on the wire)."""
        with self.writer.batch():
            self.writer.write_status(*self.status)
            for name, value in self.headers:
                self.writer.write_header(name, value)
            self.writer.end_headers()

    def write_content(self) -> None:
        """
        Write the body, unless this is a HEAD request.  Stops early if the
        client has gone away, so an endless generator does not run for
        nobody.
        """
        if self.request.method == "HEAD" and not self.send_body_for_head_request:
            return
        for item in self.iter_content():
            if not self.writer.write_content(item):
                break

    def write(self) -> None:
        """
        Write the whole response.  A small body known in full goes out in
        the same write as the headers.
        """
        content = self.content
        if isinstance(content, (bytes, str)) and len(content) <= BATCH_BODY_LIMIT:
            writer = self.writer
            if not writer.content_written:
                withBody = self.request.method != "HEAD" or self.send_body_for_head_request
                if writer.write_whole(self.status, self.headers, content, withBody) is not None:
                    return
            with self.writer.batch():
                self.write_status_headers()
                self.write_content()
        else:
            self.write_status_headers()
            self.write_content()

    # -- errors --------------------------------------------------------------

    def set_error(self, code: int, err: Optional[Union[str, BaseException]] = None) -> None:
        """
        Turn this response into wptserve's JSON error:
        ``{"error": {"code": code, "message": message}}``.  For a 5xx the
        message names the URL and carries the traceback, and it is logged.
        """
        if 500 <= code < 600:
            if isinstance(err, str):
                message = f"Internal server error loading {self.request.url}:\n  {err}"
            else:
                message = formatServerError(self.request.url, err)
            self._log.error("{message}", message=message)
        else:
            message = "" if err is None else str(err)
        data = errorBody(code, message).decode("utf-8")
        self.status = code
        self.headers = ResponseHeaders()
        self.headers.set("Content-Type", "application/json")
        self.headers.set("Content-Length", len(data))
        self.content = data


class MultipartContent:
    """A multipart body (e.g. multipart/byteranges), as wptserve builds it."""

    def __init__(self, boundary: Optional[str] = None, default_content_type: Optional[str] = None) -> None:
        self.items: List[MultipartPart] = []
        self.boundary = boundary if boundary is not None else str(uuid.uuid4())
        self.default_content_type = default_content_type

    def __call__(self) -> bytes:
        boundary = b"--" + self.boundary.encode("ascii")
        parts = [b"", boundary]
        for item in self.items:
            parts.append(item.to_bytes())
            parts.append(boundary)
        parts[-1] += b"--"
        return b"\r\n".join(parts)

    def append_part(
        self,
        data: bytes,
        content_type: Optional[str] = None,
        headers: Optional[Iterable[Tuple[HeaderPart, HeaderPart]]] = None,
    ) -> None:
        """Add a part with its own Content-Type and headers."""
        if content_type is None:
            content_type = self.default_content_type
        self.items.append(MultipartPart(data, content_type, headers))

    def __iter__(self) -> Iterator["MultipartContent"]:
        # The body is one callable: the whole multipart document.
        yield self


class MultipartPart:
    """One part of a :class:`MultipartContent`."""

    def __init__(
        self,
        data: bytes,
        content_type: Optional[Union[str, bytes]] = None,
        headers: Optional[Iterable[Tuple[HeaderPart, HeaderPart]]] = None,
    ) -> None:
        self.headers = ResponseHeaders()
        if content_type is not None:
            self.headers.set("Content-Type", content_type)
        for name, value in headers or []:
            if headerBytes(name).lower() == b"content-type":
                self.headers.set(name, value)
            else:
                self.headers.append(name, value)
        self.data = data

    def to_bytes(self) -> bytes:
        """The part's header block and data."""
        lines = [b"%s: %s" % (key, value) for key, value in self.headers]
        lines.append(b"")
        lines.append(self.data)
        return b"\r\n".join(lines)

