"""
The response object handlers receive, with wptserve's API.

A handler sets ``status``, ``headers`` and ``content`` (or returns them from
``main``); the server then writes the response through ``response.writer``
exactly as wptserve does, so status lines, header order and header case are
what the handler gave.  A handler that wants the wire itself uses the
writer directly and the server writes nothing more.
"""

from __future__ import annotations

import logging
import uuid
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
    Sized,
    Tuple,
    Union,
)

from twisted.logger import Logger

from twisted_pyhandlers._encoding import headerBytes, isomorphic_decode
from twisted_pyhandlers._errors import HTTPException, ReturnValueError, errorBody, formatServerError
from twisted_pyhandlers._output import ResponseOutput
from twisted_pyhandlers._writer import BATCH_BODY_LIMIT

if TYPE_CHECKING:
    from twisted_pyhandlers._request import Request

HeaderPart = Union[str, bytes, int]
ContentPart = Union[bytes, str, Callable[[], Union[bytes, str]]]
Content = Union[bytes, str, IO[bytes], Iterable[ContentPart]]

_missing: Any = object()
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]


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
        :class:`~twisted_pyhandlers._writer.ResponseWriterType` names.
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

