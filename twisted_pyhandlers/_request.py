"""
The request object handlers receive: ``main(request, response)``'s first
argument.

Its API is wptserve 4.0.3's ``wptserve.request.Request`` — the same attribute
and method names and the same value types, because real handler files use
them — built over a :class:`twisted.web.server.Request`.

Two threads see it.  It is made on the reactor thread, in the leaf's
``render``, and there it copies the few things it needs from the Twisted
request (method, URI, headers, addresses, the body file); after that it is
used only from the handler's worker thread and never touches the transport
or the Twisted request again.

Everything else is computed on first access and kept: the query string,
the form body, the cookies, the authorization header, the body bytes and
even the URL are parsed only if the handler asks for them, since most
handlers read one or two of them and many read none.

Beyond wptserve, every key lookup (``headers``, ``GET``, ``POST``,
``cookies``) takes str or bytes; values stay bytes.
"""

from __future__ import annotations

import base64
import functools
import re
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from http.client import HTTPMessage
from http.cookies import BaseCookie, Morsel
from io import BytesIO
from typing import (
    IO,
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Generic,
    Iterator,
    List,
    Literal,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
    overload,
)
from urllib.parse import SplitResult, parse_qsl, urlsplit

from multipart import (  # type: ignore[import-untyped]
    MultipartError,
    MultipartParser,
    ParserLimitReached,
    parse_options_header,
)

from twisted_pyhandlers._addresses import clientHostAndPort, hostAndPort
from twisted_pyhandlers._encoding import isomorphic_decode, isomorphic_encode
from twisted_pyhandlers._errors import HTTPException
from twisted_pyhandlers._multidict import MultiDict, missing, normaliseKey

if TYPE_CHECKING:
    from twisted.web.server import Request as TwistedRequest

    from twisted_pyhandlers._context import HandlerContext
    from twisted_pyhandlers.stash import Stash

__all__ = [
    "Authentication",
    "CookieValue",
    "Cookies",
    "InputFile",
    "MultiDict",
    "Request",
    "RequestHeaders",
    "Server",
    "UploadedFile",
]

T = TypeVar("T")


class _lazy(Generic[T]):
    """
    A computed-once attribute, like :func:`functools.cached_property` but
    without its lock: on Python < 3.12 that lock is shared by every instance
    of the class, so one handler parsing a large upload would stall every
    other handler's first ``request.GET``.  A request object belongs to one
    handler thread, so no lock is needed.  Assigning the attribute replaces
    the computed value (wptserve's router assigns ``route_match``).
    """

    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: Optional[type] = None) -> _lazy[T]: ...

    @overload
    def __get__(self, instance: object, owner: Optional[type] = None) -> T: ...

    def __get__(self, instance: Optional[object], owner: Optional[type] = None) -> Any:
        if instance is None:
            return self
        value = self.func(instance)
        instance.__dict__[self.name] = value
        return value


class RequestHeaders(Dict[bytes, List[bytes]]):
    """
    Read-only, case-insensitive view of the request headers (wptserve's
    ``RequestHeaders``): a dict from lower-case bytes names to the list of
    values received for that name.

    ``headers[name]`` and ``get(name, default)`` give all values of a name
    joined with ``", "`` (HTTP's rule for combining fields);
    ``get_list(name)`` gives them as a list.  Names may be str or bytes.
    Iteration, ``keys()`` and ``items()`` are the dict's, as in wptserve:
    lower-case bytes names, and ``items()`` pairs each name with its list.
    """

    def __init__(self, rawHeaders: Sequence[Tuple[bytes, Sequence[bytes]]]) -> None:
        super().__init__()
        for name, values in rawHeaders:
            key = name.lower()
            existing = dict.get(self, key)
            if existing is None:
                dict.__setitem__(self, key, list(values))
            else:
                existing.extend(values)

    @staticmethod
    def _key(key: Union[str, bytes]) -> Any:
        normal = normaliseKey(key)
        return normal.lower() if isinstance(normal, (bytes, str)) else normal

    def __getitem__(self, key: Union[str, bytes]) -> bytes:  # type: ignore[override]
        """All values of the header ``key``, joined with ``", "``."""
        values = dict.__getitem__(self, self._key(key))
        if len(values) == 1:
            return values[0]
        return b", ".join(values)

    def get(self, key: Union[str, bytes], default: Any = None) -> Any:  # type: ignore[override]
        """All values of ``key`` joined with ``", "``, or ``default``."""
        try:
            return self[key]
        except KeyError:
            return default

    def get_list(self, key: Union[str, bytes], default: Any = missing) -> Any:
        """
        Every value received for ``key``, as a list of bytes.

        :param default: returned when there is no such header; without it a
            missing header raises KeyError (as in wptserve).
        """
        try:
            return dict.__getitem__(self, self._key(key))
        except KeyError:
            if default is not missing:
                return default
            raise

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, (str, bytes)):
            return False
        return dict.__contains__(self, self._key(key))

    def iteritems(self) -> Iterator[Tuple[bytes, bytes]]:
        """(name, joined value) pairs."""
        for item in self:
            yield item, self[item]

    def itervalues(self) -> Iterator[bytes]:
        """Joined values, one per name."""
        for item in self:
            yield self[item]

    def _readOnly(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("request headers are read-only")

    __setitem__ = _readOnly  # type: ignore[assignment]
    __delitem__ = _readOnly  # type: ignore[assignment]
    update = _readOnly  # type: ignore[assignment]
    pop = _readOnly  # type: ignore[assignment]
    popitem = _readOnly  # type: ignore[assignment]
    setdefault = _readOnly  # type: ignore[assignment]
    clear = _readOnly  # type: ignore[assignment]


_MORSEL_ATTRIBUTES = (
    "expires", "path", "comment", "domain", "max-age", "secure", "version", "httponly",
)


class CookieValue:
    """
    One cookie the client sent (wptserve's ``CookieValue``).

    :ivar key: the cookie's name (str).
    :ivar value: its value as sent, bytes (quotes included, if it was quoted).
    :ivar expires: ... and the other attributes of :class:`http.cookies.Morsel`
        (``path``, ``comment``, ``domain``, ``max_age``, ``secure``,
        ``version``, ``httponly``), empty for request cookies.

    ``str(cookie)`` is the ``name=value`` form.  A cookie compares equal to
    another cookie with the same value and to its value itself.
    """

    expires: Any
    path: Any
    comment: Any
    domain: Any
    max_age: Any
    secure: Any
    version: Any
    httponly: Any

    def __init__(self, morsel: Morsel[Any]) -> None:
        self.key = morsel.key
        self.value = morsel.value
        for attr in _MORSEL_ATTRIBUTES:
            setattr(self, attr.replace("-", "_"), morsel[attr])
        self._str = morsel.OutputString()

    def __str__(self) -> str:
        return self._str

    def __repr__(self) -> str:
        return self._str

    def __eq__(self, other: object) -> bool:
        if hasattr(other, "value"):
            return bool(self.value == other.value)
        return bool(self.value == other)

    __hash__ = None  # type: ignore[assignment]


class Cookies(MultiDict[bytes, CookieValue]):
    """
    The cookies of the request: bytes names to :class:`CookieValue`.
    ``cookies[name]`` is the last cookie of that name (wptserve's rule);
    ``first``, ``last``, ``get`` and ``get_list`` work as in any MultiDict,
    with str or bytes names.
    """

    def __getitem__(self, key: Any) -> CookieValue:  # type: ignore[override]
        return self.last(key)  # type: ignore[no-any-return]


class _BinaryCookieParser(BaseCookie):  # type: ignore[type-arg]
    """
    :class:`http.cookies.BaseCookie` with bytes values, exactly as wptserve
    parses the Cookie header, so odd cookie strings give the same result.
    """

    def value_decode(self, val: str) -> Tuple[bytes, str]:
        return isomorphic_encode(val), val

    def value_encode(self, val: Any) -> Tuple[Any, str]:
        raise NotImplementedError("_BinaryCookieParser is not for setting cookies")

    def load(self, rawdata: Any) -> None:
        super().load(isomorphic_decode(rawdata))


class Authentication:
    """
    The credentials of an ``Authorization: Basic`` header (wptserve's
    ``Authentication``).

    :ivar username: bytes, or None when the request has no Authorization.
    :ivar password: bytes, or None.

    As in wptserve, another scheme is an :class:`HTTPException` 400, and a
    header that does not decode raises (a 500 for the handler that asked).
    """

    def __init__(self, headers: RequestHeaders) -> None:
        self.username: Optional[bytes] = None
        self.password: Optional[bytes] = None
        if "authorization" in headers:
            header = headers[b"authorization"]
            authType, data = header.split(b" ", 1)
            if authType == b"Basic":
                self.username, self.password = self.decode_basic(data)
            else:
                # The bytes repr in the message is wptserve's wording.
                raise HTTPException(400, f"Unsupported authentication scheme {authType!r}")

    def decode_basic(self, data: bytes) -> List[bytes]:
        """Split base64 ``user:password`` into its two halves."""
        return base64.b64decode(data).split(b":", 1)


class InputFile:
    """
    ``request.raw_input``: a seekable, read-only file over the request body
    (wptserve's ``InputFile``), ``length`` bytes long.

    It keeps its own position, so reading it does not disturb
    ``request.body`` or ``request.POST`` (which read the same stored body).
    Used from the handler's thread only.
    """

    def __init__(self, body: IO[bytes], length: int) -> None:
        self._file = body
        self.length = length
        self._position = 0
        self.closed = False

    def _remaining(self) -> int:
        return self.length - self._position

    def read(self, bytes: int = -1) -> bytes:
        """Up to ``bytes`` bytes (all that is left if negative)."""
        remaining = self._remaining()
        if bytes is None or bytes < 0 or bytes > remaining:
            bytes = remaining
        if bytes == 0:
            return b""
        self._file.seek(self._position)
        data = self._file.read(bytes)
        self._position += len(data)
        return data

    def readline(self, max_bytes: Optional[int] = None) -> bytes:
        """One line, newline included, of at most ``max_bytes`` bytes."""
        remaining = self._remaining()
        if max_bytes is None or max_bytes < 0:
            max_bytes = remaining
        limit = min(max_bytes, remaining)
        if limit == 0:
            return b""
        self._file.seek(self._position)
        data = self._file.readline(limit)
        self._position += len(data)
        return data

    def readlines(self) -> List[bytes]:
        """Every remaining line."""
        return list(self)

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = 0) -> int:
        """
        Move to ``offset`` (from the start; ``whence`` 1 and 2 as in
        :mod:`io`).  Outside ``0..length`` is a ValueError, as in wptserve.
        """
        if whence == 1:
            offset += self._position
        elif whence == 2:
            offset += self.length
        if offset > self.length or offset < 0:
            raise ValueError(f"seek position {offset} outside 0..{self.length}")
        self._position = offset
        return offset

    def close(self) -> None:
        """Mark closed; the stored body belongs to Twisted and stays open."""
        self.closed = True

    def __enter__(self) -> InputFile:
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        self.close()
        return False

    def __iter__(self) -> InputFile:
        return self

    def __next__(self) -> bytes:
        data = self.readline()
        if data:
            return data
        raise StopIteration

    next = __next__


class UploadedFile:
    """
    A file field of a ``multipart/form-data`` body, as ``request.POST``
    holds it: the attributes of the ``cgi.FieldStorage`` wptserve hands
    handlers.

    :ivar name: the field name (str).
    :ivar filename: the client's file name (str).
    :ivar file: a binary file positioned at the start of the content.
    :ivar type: the part's content type ("text/plain" when it gave none, as
        in ``cgi``), and ``type_options`` its parameters.
    :ivar disposition: "form-data", and ``disposition_options`` its
        parameters (``name``, ``filename``).
    :ivar headers: the part's headers, an :class:`email.message.Message`.
    """

    def __init__(
        self,
        name: str,
        filename: str,
        file: IO[bytes],
        headerList: Sequence[Tuple[str, str]],
    ) -> None:
        self.name = name
        self.filename = filename
        self.file = file
        self.headers = Message()
        for headerName, headerValue in headerList:
            self.headers[headerName] = headerValue
        self.type, self.type_options = parse_options_header(
            self.headers.get("content-type", "text/plain")
        )
        self.disposition, self.disposition_options = parse_options_header(
            self.headers.get("content-disposition", "")
        )

    @property
    def value(self) -> bytes:
        """The whole content, read afresh each time (as ``cgi`` does)."""
        self.file.seek(0)
        data = self.file.read()
        self.file.seek(0)
        return data

    def __repr__(self) -> str:
        return f"UploadedFile({self.name!r}, {self.filename!r}, {self.value!r})"


class Server:
    """
    ``request.server``: what the handler knows of the server.

    :ivar config: the server config (``browser_host``, ``ports``,
        ``domains`` ...), shared by every request.
    :ivar stash: the stash, scoped by default to this request's URL path;
        made on first access.
    """

    def __init__(self, request: Request) -> None:
        self._request = request
        self.config = request._context.config

    @_lazy
    def stash(self) -> Stash:
        """The shared stash, with this request's URL path as default path."""
        # Imported here: the stash module pulls in the store machinery,
        # which handlers that never touch the stash do not need.
        from twisted_pyhandlers.stash import Stash

        return Stash(self._request._context.stashStore, self._request.url_parts.path)


_VALID_BOUNDARY = re.compile(rb"^[ -~]{0,200}[!-~]$")


def _formBody(request: Request) -> MultiDict[bytes, Any]:
    """
    Parse the body of ``request`` as a form, the way wptserve's
    ``cgi.FieldStorage`` call does: urlencoded bodies, and ``multipart/*``
    bodies with file parts as :class:`UploadedFile`; GET and HEAD have no
    form body; a POST without Content-Type is urlencoded.  Other content
    types give an empty MultiDict.

    Runs in the handler's thread, on the first access to ``request.POST``.

    :raises ValueError: for a multipart body with a missing or invalid
        boundary, or one that does not parse.
    """
    result: MultiDict[bytes, Any] = MultiDict()
    method = request.method.upper()
    if method in ("GET", "HEAD"):
        return result
    contentTypes = request.headers.get_list(b"content-type", None)
    if not contentTypes:
        if method != "POST":
            return result
        contentType, options = "application/x-www-form-urlencoded", {}
    else:
        contentType, options = parse_options_header(isomorphic_decode(contentTypes[0]))

    if contentType == "application/x-www-form-urlencoded":
        query = isomorphic_decode(request.body)
        for name, value in parse_qsl(query, keep_blank_values=True, encoding="iso-8859-1"):
            result.add(isomorphic_encode(name), isomorphic_encode(value))
    elif contentType.startswith("multipart/"):
        boundary = isomorphic_encode(options.get("boundary", ""))
        if not _VALID_BOUNDARY.match(boundary):
            raise ValueError(f"Invalid boundary in multipart form: {boundary!r}")
        try:
            fields = _strictMultipart(request, boundary)
        except ParserLimitReached:
            raise
        except MultipartError:
            fields = _lenientMultipart(request, boundary)
        for key, value in fields:
            result.add(key, value)
    return result


def _strictMultipart(request: Request, boundary: bytes) -> List[Tuple[bytes, Any]]:
    """
    The fields of a well-formed multipart body, parsed by the ``multipart``
    library as a stream (large file parts spool to disk).

    :raises MultipartError: if the body is not well-formed.
    """
    parser = MultipartParser(
        request._bodyView(),
        isomorphic_decode(boundary),
        content_length=request._bodyLength,
        # Header bytes map one to one onto str and back.
        charset="latin1",
        # The body is already held in full by Twisted; these only bound
        # how much more a crafted body can make us hold.
        part_limit=10_000,
        memory_limit=64 * 1024 * 1024,
    )
    fields: List[Tuple[bytes, Any]] = []
    for part in parser:
        if part.name is None:
            part.close()
        elif part.filename:
            upload = UploadedFile(part.name, part.filename, part.file, part.headerlist)
            fields.append((isomorphic_encode(part.name), upload))
        else:
            fields.append((isomorphic_encode(part.name), part.raw))
            part.close()
    return fields


def _lenientMultipart(request: Request, boundary: bytes) -> List[Tuple[bytes, Any]]:
    """
    The fields of a multipart body that the strict parser refused (bare LF
    line ends, a missing close delimiter, no delimiter at all), read as
    leniently as wptserve's ``cgi`` parser reads them, with the standard
    library's :mod:`email` parser: what parses is kept, the rest ignored.
    """
    head = b"Content-Type: multipart/form-data; boundary=\"%s\"\r\n\r\n" % (boundary,)
    message = BytesParser(policy=compat32).parsebytes(head + request.body)
    fields: List[Tuple[bytes, Any]] = []
    parts = message.get_payload() if message.is_multipart() else []
    for part in parts:
        if not isinstance(part, Message):
            continue
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename:
            upload = UploadedFile(name, filename, BytesIO(content), list(part.items()))
            fields.append((isomorphic_encode(name), upload))
        else:
            fields.append((isomorphic_encode(name), content))
    return fields


#: What, in a request target, could make ``urlsplit`` of the URL give
#: another query than the text after the target's first ``?``; and in a
#: Host header.
_TARGET_QUERY_CHANGERS = re.compile(rb"[#\t\r\n]")
_HOST_QUERY_CHANGERS = re.compile(rb"[?#\t\r\n]")


def _boundAddress(twistedRequest: TwistedRequest) -> object:
    """
    The local address the request's connection is bound to: the one
    Twisted's request took when it was made (a
    :class:`~twisted_pyhandlers._h11protocol.HandlerChannel` asks the socket once
    per connection, not per request).  Reactor thread.
    """
    return twistedRequest.getHost()


class Request:
    """
    The request as a handler sees it: wptserve's ``Request`` API over a
    Twisted request.

    :param twistedRequest: the Twisted request, whose body has been fully
        received.  Read only here, on the reactor thread.
    :param context: the dependencies of the handler tree this request is
        under (config, stash store, document root).
    :param urlBase: the URL prefix the tree is mounted under ("/" at the
        root of a site).

    :ivar method: the method as sent, str ("GET").
    :ivar protocol_version: "HTTP/1.1", "HTTP/1.0" or "HTTP/2.0".
    :ivar url_base: ``urlBase``.
    :ivar doc_root: the document root, a str path.
    :ivar client_address: ``(host, port)`` of the client.
    """

    def __init__(
        self, twistedRequest: TwistedRequest, context: HandlerContext, urlBase: str
    ) -> None:
        self._context = context
        method = twistedRequest.method
        self.method: str = _METHOD_NAMES.get(method) or isomorphic_decode(method)
        self._uri: bytes = twistedRequest.uri
        self._clientproto: bytes = twistedRequest.clientproto
        self.protocol_version: str = _PROTOCOL_VERSIONS.get(self._clientproto) or _protocolVersion(self._clientproto)
        # getAllRawHeaders yields (name, list) pairs from Twisted's dict;
        # copy the lists so nothing Twisted does later shows through.
        self._rawHeaders: List[Tuple[bytes, List[bytes]]] = [
            (name, list(values))
            for name, values in twistedRequest.requestHeaders.getAllRawHeaders()
        ]
        # The field lines as sent, when a HandlerSite's channel recorded
        # them (Twisted adds to that list no more once render is called):
        # on a request of any class, a user's requestFactory's included.
        self._receivedHeaders: Optional[List[Tuple[bytes, bytes]]] = getattr(
            twistedRequest, "receivedHeaders", None
        )
        self._secure: bool = twistedRequest.isSecure()
        # The local address object, kept whole: host and port are read
        # from it only if the URL needs them (no Host header).
        self._boundAddress = _boundAddress(twistedRequest)
        # The client's address object, kept whole: read into client_address
        # only if the handler asks.
        self._clientAddress = twistedRequest.getClientAddress()
        content = twistedRequest.content
        self._content: IO[bytes] = content if content is not None else BytesIO()
        self.url_base: str = urlBase
        self.doc_root: str = context.root.path

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.url}>"

    @_lazy
    def client_address(self) -> Tuple[str, int]:
        """``(host, port)`` of the client."""
        return clientHostAndPort(self._clientAddress)

    def close(self) -> None:
        """Close ``raw_input`` (wptserve's API; the body itself is Twisted's)."""
        if "raw_input" in self.__dict__:
            self.raw_input.close()

    def __enter__(self) -> Request:
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        self.close()
        return False

    # -- the request line and the URL ------------------------------------

    @_lazy
    def request_path(self) -> str:
        """The request target as sent: path and query (str)."""
        return isomorphic_decode(self._uri)

    @_lazy
    def request_line(self) -> bytes:
        """
        The request line, bytes with its CRLF, as wptserve gives it
        (``b"GET /x?y HTTP/1.1\\r\\n"``).  Rebuilt from its parts: Twisted
        does not keep the line itself.
        """
        method = isomorphic_encode(self.method)
        return b"%s %s %s\r\n" % (method, self._uri, self._clientproto)

    @_lazy
    def url(self) -> str:
        """
        The absolute URL: scheme, the Host header (or the address the
        server is bound to), the port when the Host header has none, and
        ``request_path`` — built as wptserve builds it.
        """
        scheme = "https" if self._secure else "http"
        path = self.request_path
        if path.startswith(scheme + "://"):
            return path
        hosts = self.headers.get_list(b"host", None)
        if hosts is None:
            host = self._boundHost
            if ":" in host:
                host = f"[{host}]"
            return f"{scheme}://{host}:{self._boundPort}{path}"
        host = isomorphic_decode(hosts[0])
        if ":" in host:
            return f"{scheme}://{host}{path}"
        return f"{scheme}://{host}:{self._boundPort}{path}"

    @_lazy
    def url_parts(self) -> SplitResult:
        """:func:`urllib.parse.urlsplit` of ``url``."""
        return urlsplit(self.url)

    @_lazy
    def route_match(self) -> Dict[str, str]:
        """
        What wptserve's router matched: for its ``*.py`` route, the URL path
        below ``url_base``, as ``{"*": "dir/file.py"}``.
        """
        path = self.url_parts.path
        if path.startswith(self.url_base):
            path = path[len(self.url_base):]
        return {"*": path.lstrip("/")}

    # -- headers ------------------------------------------------------------

    @_lazy
    def _boundHost(self) -> str:
        """The host of the local address the connection is bound to ("localhost" if it has none)."""
        return hostAndPort(self._boundAddress)[0] or "localhost"

    @_lazy
    def _boundPort(self) -> int:
        """The port of the local address the connection is bound to (the scheme's default if it has none)."""
        return hostAndPort(self._boundAddress)[1] or (443 if self._secure else 80)

    @_lazy
    def headers(self) -> RequestHeaders:
        """The headers: read-only, case-insensitive, bytes values."""
        return RequestHeaders(self._rawHeaders)

    @_lazy
    def raw_headers(self) -> HTTPMessage:
        """
        The headers as an :class:`http.client.HTTPMessage` with str names
        and values, one field per received field line, as wptserve gives
        them: under a :class:`~twisted_pyhandlers.site.HandlerSite`, in the
        order and with the names (case and all) the client sent.  Under
        another Site, Twisted's canonical names, grouped by name.
        """
        message = HTTPMessage()
        if self._receivedHeaders is not None:
            for name, value in self._receivedHeaders:
                message[isomorphic_decode(name)] = isomorphic_decode(value)
            return message
        for name, values in self._rawHeaders:
            decodedName = isomorphic_decode(name)
            for value in values:
                message[decodedName] = isomorphic_decode(value)
        return message

    # -- body -----------------------------------------------------------------

    @_lazy
    def _bodyLength(self) -> int:
        self._content.seek(0, 2)
        return self._content.tell()

    def _bodyView(self) -> InputFile:
        """A fresh reader over the stored body, at its start."""
        return InputFile(self._content, self._bodyLength)

    @_lazy
    def raw_input(self) -> InputFile:
        """The body as a seekable file-like object with ``length``."""
        return self._bodyView()

    @_lazy
    def body(self) -> bytes:
        """The whole body, bytes."""
        if isinstance(self._content, BytesIO):
            return self._content.getvalue()
        return self._bodyView().read()

    # -- parsed views -----------------------------------------------------------

    @_lazy
    def GET(self) -> MultiDict[bytes, bytes]:
        """
        The query string: bytes keys and values, blank values kept, ``+``
        as space, ``&`` the only separator — ``urllib.parse.parse_qsl``
        over ISO-8859-1, exactly as wptserve.
        """
        result: MultiDict[bytes, bytes] = MultiDict()
        query = self._query
        if "%" not in query and "+" not in query:
            # Nothing to unescape: parse_qsl's split, done on the bytes
            # (empty fields skipped, a field without "=" a blank value).
            for field in isomorphic_encode(query).split(b"&"):
                if field:
                    key, _, value = field.partition(b"=")
                    result.add(key, value)
            return result
        for name, text in parse_qsl(query, keep_blank_values=True, encoding="iso-8859-1"):
            result.add(isomorphic_encode(name), isomorphic_encode(text))
        return result

    @_lazy
    def _query(self) -> str:
        """
        ``url_parts.query``, read straight from the request target when
        building and splitting the URL could not change it (a path target
        without ``#``, tab or line ends, a Host without ``?`` or ``#``):
        ``urlsplit`` of the whole URL costs more than the rest of a small
        handler's query.
        """
        target = self._uri
        if target.startswith(b"/") and _TARGET_QUERY_CHANGERS.search(target) is None:
            hosts = self.headers.get_list(b"host", None)
            if hosts is None or _HOST_QUERY_CHANGERS.search(hosts[0]) is None:
                return isomorphic_decode(target.partition(b"?")[2])
        return self.url_parts.query

    @_lazy
    def POST(self) -> MultiDict[bytes, Any]:
        """
        The form fields of an urlencoded or multipart body: bytes keys;
        bytes values, or :class:`UploadedFile` for file uploads.
        """
        return _formBody(self)

    @_lazy
    def cookies(self) -> Cookies:
        """The cookies sent, bytes names to :class:`CookieValue`."""
        parser = _BinaryCookieParser()
        # Several Cookie fields (HTTP/2 splits them) are one cookie string.
        parser.load(b"; ".join(self.headers.get_list(b"cookie", [])))
        cookies = Cookies()
        for key, morsel in parser.items():
            cookies[isomorphic_encode(key)] = CookieValue(morsel)
        return cookies

    @_lazy
    def auth(self) -> Authentication:
        """Basic-auth credentials (``username``, ``password``, bytes or None)."""
        return Authentication(self.headers)

    @_lazy
    def server(self) -> Server:
        """The server's config and stash."""
        return Server(self)


@functools.lru_cache(maxsize=256)
def hostError(host: bytes) -> Optional[str]:
    """
    Why a Host header value cannot make ``request.url`` and
    ``request.url_parts`` (and its ``port`` and ``hostname``) the way
    :attr:`Request.url` builds them, or None if it can: ``]27.0.0.1``,
    ``[::1``, ``[zz]`` and ``h:abc`` cannot.  The server answers such a
    request 400 before any handler sees it.

    Every request asks, and a suite sends the same few Host values again
    and again: the answers are remembered rather than parsed with
    ``urlsplit`` per request.  Reactor thread.
    """
    text = isomorphic_decode(host)
    url = f"http://{text}/" if ":" in text else f"http://{text}:80/"
    try:
        parts = urlsplit(url)
        # Reading them is the check: each raises ValueError if unusable.
        _ = (parts.port, parts.hostname)
    except ValueError as error:
        return str(error)
    return None


#: The methods and protocol versions nearly every request has, decoded once.
_METHOD_NAMES = {name.encode("ascii"): name for name in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")}
_PROTOCOL_VERSIONS = {b"HTTP/1.1": "HTTP/1.1", b"HTTP/1.0": "HTTP/1.0", b"HTTP/2": "HTTP/2.0"}


def _protocolVersion(clientproto: bytes) -> str:
    """The protocol version as wptserve spells it ("HTTP/2.0" for h2)."""
    version = isomorphic_decode(clientproto)
    if version == "HTTP/2":
        return "HTTP/2.0"
    return version

