"""
The request object handlers receive (docs/request.rst).

Parsing tests feed raw bytes to a real Twisted ``HTTPChannel`` over an
in-memory transport and build our :class:`Request` from the Twisted request
it produces, as the handler leaf does.  Where wptserve's own parsing code
can be called on the same input, the test compares with it directly (the
reference implementation is a test dependency).  End-to-end tests run real
handler files over a real port with treq.
"""

from __future__ import annotations

import base64
import json
from email.message import Message
from http.client import HTTPMessage
from io import BytesIO
from types import SimpleNamespace
from typing import Any, Callable, List, Optional
from urllib.parse import urlsplit

import pytest
import pytest_twisted
import treq
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from serving import HandlerRoot, Serve
from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.filepath import FilePath
from twisted.python.threadpool import ThreadPool
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site
from twisted.web.server import Request as TwistedRequest
from zope.interface import alsoProvides

from twisted_pyhandlers import HandlerDirectory, HandlerSite
from twisted_pyhandlers._context import HandlerContext
from twisted_pyhandlers._errors import HTTPException
from twisted_pyhandlers._multidict import MultiDict
from twisted_pyhandlers._output import ReactorMailbox
from twisted_pyhandlers._request import Request, UploadedFile, hostError
from twisted_pyhandlers._script import CodeCache
from twisted_pyhandlers.config import ServerConfig
from twisted_pyhandlers.stash import MemoryStashStore, Stash

wptrequest = pytest.importorskip("wptserve.request")


# -- building requests from raw bytes -------------------------------------


def makeContext(root: str) -> HandlerContext:
    """A context with its own stash store and default config."""
    reactor = MemoryReactorClock()
    return HandlerContext(
        root=FilePath(root),
        reactor=reactor,  # type: ignore[arg-type]
        threadpool=ThreadPool(),
        stashStore=MemoryStashStore(),
        config=ServerConfig(),
        codeCache=CodeCache(),
        mailbox=ReactorMailbox(reactor),
    )


class Received:
    """What :func:`receive` hands back: our request and Twisted's."""

    def __init__(self, request: Request, twistedRequest: TwistedRequest, context: HandlerContext):
        self.request = request
        self.twistedRequest = twistedRequest
        self.context = context


def receive(
    raw: bytes,
    *,
    urlBase: str = "/",
    secure: bool = False,
    root: str = "/srv/root",
    siteFactory: Callable[..., Site] = HandlerSite,
) -> Received:
    """
    Parse ``raw`` (a whole HTTP/1.x request) with a real Site (by default
    the :class:`HandlerSite` the plugin serves with) and its channel, bound to 127.0.0.1:8000, client 10.1.2.3:5555, and build our
    Request from the Twisted request in ``render``, as the leaf does.  The
    Twisted request is left unfinished (as while a handler runs).
    """
    captured: List[Received] = []
    context = makeContext(root)

    class Capture(Resource):
        isLeaf = True

        def render(self, request: TwistedRequest) -> Any:
            captured.append(Received(Request(request, context, urlBase), request, context))
            return NOT_DONE_YET

    # Form parsing is left to us (Twisted's own POST parsing would refuse
    # some bodies wptserve accepts).
    site = siteFactory(Capture(), parsePOSTFormSubmission=False)
    protocol = site.buildProtocol(IPv4Address("TCP", "10.1.2.3", 5555))
    transport = StringTransport(
        hostAddress=IPv4Address("TCP", "127.0.0.1", 8000),
        peerAddress=IPv4Address("TCP", "10.1.2.3", 5555),
    )
    if secure:
        # ISSLTransport extends ITCPTransport: the channel sets TCP_NODELAY.
        transport.setTcpNoDelay = lambda enabled: None  # type: ignore[attr-defined]
        alsoProvides(transport, ISSLTransport)
    protocol.makeConnection(transport)
    protocol.dataReceived(raw)
    assert captured, transport.value()
    return captured[0]


def get(target: str, *headers: str, version: str = "HTTP/1.1") -> Request:
    """Our Request for a GET of ``target`` with ``headers`` (str lines)."""
    lines = [f"GET {target} {version}", *headers, "", ""]
    return receive("\r\n".join(lines).encode("latin-1")).request


def withBody(
    method: str, body: bytes, contentType: Optional[str], *headers: str, target: str = "/p.py"
) -> Request:
    """Our Request for ``method`` with ``body`` and an optional Content-Type."""
    lines = [f"{method} {target} HTTP/1.1", "Host: h.test", *headers]
    if contentType is not None:
        lines.append(f"Content-Type: {contentType}")
    lines.append(f"Content-Length: {len(body)}")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    return receive(raw).request


def multipartBody(boundary: bytes, *parts: bytes) -> bytes:
    """A multipart body of the given raw parts (headers, blank line, data)."""
    out = b""
    for part in parts:
        out += b"--" + boundary + b"\r\n" + part + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


def wptserveGET(url: str) -> dict:
    """wptserve 4.0.3's own ``request.GET`` for ``url``."""
    fake = SimpleNamespace(_GET=None, url_parts=urlsplit(url))
    return dict(wptrequest.Request.GET.fget(fake))


def wptservePOST(method: str, contentType: Optional[str], body: bytes) -> dict:
    """wptserve 4.0.3's own ``request.POST`` (plain values) for a body."""
    rawHeaders = HTTPMessage()
    if contentType is not None:
        rawHeaders["Content-Type"] = contentType
    rawHeaders["Content-Length"] = str(len(body))
    fake = SimpleNamespace(
        _POST=None,
        method=method,
        raw_headers=rawHeaders,
        raw_input=wptrequest.InputFile(BytesIO(body), len(body)),
    )
    return dict(wptrequest.Request.POST.fget(fake))


# -- request line, URL, addresses -----------------------------------------------


def test_requestLineAndPath() -> None:
    """
    method, request_path (path and query as sent), request_line (bytes with
    CRLF, as wptserve's raw request line) and protocol_version.
    """
    request = get("/a/b.py?x=1&y", "Host: h.test")
    assert request.method == "GET"
    assert request.request_path == "/a/b.py?x=1&y"
    assert request.request_line == b"GET /a/b.py?x=1&y HTTP/1.1\r\n"
    assert request.protocol_version == "HTTP/1.1"
    old = get("/p.py", version="HTTP/1.0")
    assert old.protocol_version == "HTTP/1.0"
    assert old.request_line == b"GET /p.py HTTP/1.0\r\n"


def test_urlFromHostHeader() -> None:
    """
    url is scheme://Host header + request_path; url_parts is its urlsplit.
    A Host with a port is used as it is.
    """
    request = get("/d/p.py?q=1#frag", "Host: example.test:9000")
    assert request.url == "http://example.test:9000/d/p.py?q=1#frag"
    parts = request.url_parts
    assert (parts.scheme, parts.netloc, parts.path, parts.query) == (
        "http",
        "example.test:9000",
        "/d/p.py",
        "q=1",
    )
    assert parts.port == 9000


def test_urlHostWithoutPortGetsBoundPort() -> None:
    """A Host header without a port gets the bound port, as in wptserve."""
    assert get("/p.py", "Host: example.test").url == "http://example.test:8000/p.py"


def test_urlWithoutHostUsesBoundAddress() -> None:
    """An HTTP/1.0 request with no Host header: the bound address and port."""
    assert get("/p.py", version="HTTP/1.0").url == "http://127.0.0.1:8000/p.py"


def test_urlHttpsWhenSecure() -> None:
    """The scheme is https over TLS."""
    received = receive(b"GET /p.py HTTP/1.1\r\nHost: s.test:8443\r\n\r\n", secure=True)
    assert received.request.url == "https://s.test:8443/p.py"


def test_urlAbsoluteForm() -> None:
    """An absolute-form request target is the URL itself."""
    request = get("http://other.test:81/p.py?a=1", "Host: h.test")
    assert request.url == "http://other.test:81/p.py?a=1"
    assert request.url_parts.path == "/p.py"


def test_urlBaseDocRootClientAddressRouteMatch() -> None:
    """
    url_base is the mount prefix given, doc_root the root's path,
    client_address (host, port) of the peer, and route_match wptserve's
    ``{"*": path below url_base}``.
    """
    received = receive(
        b"GET /wpt/d/p.py HTTP/1.1\r\nHost: h.test\r\n\r\n", urlBase="/wpt/", root="/srv/x"
    )
    request = received.request
    assert request.url_base == "/wpt/"
    assert request.doc_root == "/srv/x"
    assert request.client_address == ("10.1.2.3", 5555)
    assert request.route_match == {"*": "d/p.py"}
    request.route_match = {"*": "set"}
    assert request.route_match == {"*": "set"}


# -- headers ---------------------------------------------------------------------


def test_headers() -> None:
    """
    headers: case-insensitive with str or bytes names, bytes values,
    several fields of one name joined with ", " (get_list keeps them
    apart), ``in``, lower-case bytes keys, ``items()`` pairing each name
    with its list (wptserve's dict layout), defaults, read-only.
    """
    request = get("/p.py", "Host: h.test", "X-A: 1", "x-a: 2", "Accept: text/html")
    headers = request.headers
    assert headers["x-a"] == b"1, 2"
    assert headers[b"X-A"] == b"1, 2"
    assert headers.get("X-a") == b"1, 2"
    assert headers.get_list("x-A") == [b"1", b"2"]
    assert headers["accept"] == b"text/html"
    assert "ACCEPT" in headers and b"accept" in headers
    assert "x-missing" not in headers and 5 not in headers
    assert headers.get("x-missing") is None
    assert headers.get("x-missing", b"d") == b"d"
    assert headers.get_list("x-missing", []) == []
    with pytest.raises(KeyError):
        headers.get_list("x-missing")
    with pytest.raises(KeyError):
        headers["x-missing"]
    assert set(headers.keys()) == {b"host", b"x-a", b"accept"}
    assert dict(headers.items())[b"x-a"] == [b"1", b"2"]
    assert dict(headers.iteritems())[b"x-a"] == b"1, 2"
    with pytest.raises(TypeError):
        headers["x-b"] = b"no"  # type: ignore[index]
    with pytest.raises(TypeError):
        headers.update({})


def test_rawHeaders() -> None:
    """
    raw_headers is an HTTPMessage with str names and values, one field per
    field received (as wptserve's), so ``get_all`` and ``str()`` work.
    """
    request = get("/p.py", "Host: h.test", "X-A: 1", "X-A: 2")
    raw = request.raw_headers
    assert isinstance(raw, HTTPMessage)
    assert raw.get_all("x-a") == ["1", "2"]
    assert raw["Host"] == "h.test"
    assert "X-A: 1\n" in str(raw)


def test_rawHeadersAsSent() -> None:
    """
    Under a HandlerSite, raw_headers has one field per field line, with the
    name exactly as sent (case kept, even for names that differ only in
    case), in the order sent, values stripped of surrounding blanks; folded
    lines arrive joined as Twisted joins them.  request.headers still finds
    them case-insensitively.
    """
    raw = (
        b"GET /p.py HTTP/1.1\r\nhost: h.test\r\nTHIS-is-A-test: 1\r\n"
        b"x-dup: a\r\nStatus-URI:  2 \r\nX-Dup: b\r\nX-Fold: one\r\n two\r\n\r\n"
    )
    request = receive(raw).request
    assert list(request.raw_headers.raw_items()) == [
        ("host", "h.test"),
        ("THIS-is-A-test", "1"),
        ("x-dup", "a"),
        ("Status-URI", "2"),
        ("X-Dup", "b"),
        ("X-Fold", "one two"),
    ]
    assert request.headers[b"x-dup"] == b"a, b"
    assert request.headers.get_list("STATUS-uri") == [b"2"]


def test_rawHeadersPipelined() -> None:
    """
    Two requests pipelined on one connection each get their own field lines
    (the record is per request, not per connection).
    """
    captured: List[Request] = []
    context = makeContext("/srv/root")

    class Capture(Resource):
        isLeaf = True

        def render(self, request: TwistedRequest) -> bytes:
            captured.append(Request(request, context, "/"))
            return b"ok"

    site = HandlerSite(Capture())
    protocol = site.buildProtocol(IPv4Address("TCP", "10.1.2.3", 5555))
    protocol.makeConnection(StringTransport())
    protocol.dataReceived(
        b"GET /a HTTP/1.1\r\nhost: h\r\nx-One: 1\r\n\r\n"
        b"GET /b HTTP/1.1\r\nHOST: h\r\nX-two: 2\r\n\r\n"
    )
    assert [list(r.raw_headers.raw_items()) for r in captured] == [
        [("host", "h"), ("x-One", "1")],
        [("HOST", "h"), ("X-two", "2")],
    ]


def test_rawHeadersUnderPlainSite() -> None:
    """
    Under a Site of the user's own (a plain twisted.web Site), raw_headers
    falls back to what Twisted keeps: canonical names, fields of one name
    grouped in the order each name first arrived.
    """
    raw = b"GET /p.py HTTP/1.1\r\nhost: h.test\r\nx-dup: a\r\nTHIS-is-A-test: 1\r\nX-Dup: b\r\n\r\n"
    request = receive(raw, siteFactory=Site).request
    assert list(request.raw_headers.raw_items()) == [
        ("Host", "h.test"),
        ("X-Dup", "a"),
        ("X-Dup", "b"),
        ("This-Is-A-Test", "1"),
    ]


def test_badHeaderLineStillRefused() -> None:
    """
    HandlerChannel leaves validation to Twisted: a header line without a
    colon is still a 400, and nothing reaches the resource.
    """
    site = HandlerSite(Resource())
    protocol = site.buildProtocol(IPv4Address("TCP", "10.1.2.3", 5555))
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(b"GET / HTTP/1.1\r\nHost: h\r\nno colon here\r\n\r\n")
    assert transport.value().startswith(b"HTTP/1.1 400 ")


# -- GET -----------------------------------------------------------------------

QUERIES = [
    "a=&b&c=1+2&d=%2B&e=1;f=2&a=3&%E9=%FF",
    "",
    "=",
    "&&&",
    "=x&y=",
    "a=1&a=2&a=",
    "%zz=%&%=%%",
    "k=v=w",
    "sp%20ace=%20&plus=+",
    "a=%00b",
]


@pytest.mark.parametrize("query", QUERIES)
def test_GETMatchesWptserve(query: str) -> None:
    """
    GET parses the query exactly as wptserve 4.0.3 does: bytes keys and
    values, blank values kept, ``+`` a space, ``%2B`` a plus, ``;`` not a
    separator, bad escapes left as they are, raw bytes kept.
    """
    target = "/p.py?" + query
    request = get(target, "Host: h.test")
    assert dict(request.GET) == wptserveGET("http://h.test:8000" + target)


@settings(max_examples=300, deadline=None)
@given(
    target=st.text(alphabet="/?#&=+%ab\t:;@[]", max_size=14).map(lambda text: "/" + text),
    host=st.one_of(st.none(), st.text(alphabet="h.:?#/@[]1", min_size=1, max_size=8)),
)
def test_GETReadsTheQueryAsTheURLDoes(target: str, host: Optional[str]) -> None:
    """
    GET reads the query straight from the request target where it can; for
    any target and Host header that make a request, that is exactly the
    query ``url_parts`` gives (a ``#`` in the target, or a ``?`` or ``#`` in
    the Host header, change what the URL's split calls the query).
    """
    assume(host is None or hostError(host.encode("latin-1")) is None)  # else answered 400 before any handler
    headers = [] if host is None else [f"Host: {host}"]
    try:
        request = get(target, *headers)
    except AssertionError:
        return  # Twisted refused the request line itself (a tab in the target)
    assert request._query == request.url_parts.query
    assert list(request.GET.items()) == list(wptserveGETItems(request.url))


def wptserveGETItems(url: str) -> list:
    """wptserve 4.0.3's ``request.GET`` for ``url``, as (key, value) pairs in order."""
    fake = SimpleNamespace(_GET=None, url_parts=urlsplit(url))
    return list(wptrequest.Request.GET.fget(fake).items())


def test_GETAccessors() -> None:
    """
    first/last/get/get_list/``in``/``[]`` take str or bytes keys; values
    are bytes; repeated keys keep their order; missing keys follow
    wptserve's rules (KeyError, default, None, []).
    """
    GET = get("/p.py?a=1&b=&a=2&content-type=text/x", "Host: h.test").GET
    assert isinstance(GET, MultiDict)
    assert GET.first("a") == GET.first(b"a") == b"1"
    assert GET.last("a") == b"2"
    assert GET["a"] == b"1"
    assert GET.get("b") == b""
    assert GET.get_list("a") == [b"1", b"2"]
    assert GET.first("content-type") == b"text/x"
    assert "a" in GET and b"b" in GET and "zz" not in GET
    assert list(GET.keys()) == [b"a", b"b", b"content-type"]
    assert dict(GET.items())[b"a"] == [b"1", b"2"]
    assert GET.get("zz") is None
    assert GET.first("zz", b"d") == b"d"
    assert GET.get_list("zz") == []
    assert GET.get("\u20ac") is None
    with pytest.raises(KeyError):
        GET.first("zz")
    with pytest.raises(KeyError):
        GET.last(b"zz")


# -- POST ------------------------------------------------------------------------

FORM_CASES = [
    ("POST", "application/x-www-form-urlencoded", b"a=1&b=&c+d=%2B&a=2"),
    ("POST", None, b"a=1&b=2"),
    ("PUT", "application/x-www-form-urlencoded", b"a=1"),
    ("POST", "application/x-www-form-urlencoded; charset=utf-8", b"%E9=%C3%A9&x"),
    ("POST", "application/x-www-form-urlencoded", b""),
    ("DELETE", None, b""),
]


@pytest.mark.parametrize("method,contentType,body", FORM_CASES)
def test_POSTUrlencodedMatchesWptserve(
    method: str, contentType: Optional[str], body: bytes
) -> None:
    """
    urlencoded bodies (and a POST without Content-Type) parse exactly as
    wptserve 4.0.3 parses them.
    """
    request = withBody(method, body, contentType)
    assert dict(request.POST) == wptservePOST(method, contentType, body)


def test_POSTEmptyWhereThereIsNoForm() -> None:
    """
    GET and HEAD have no form body; PUT without Content-Type and bodies of
    other types (JSON, text) give an empty POST, not an error.
    """
    assert dict(withBody("GET", b"a=1", "application/x-www-form-urlencoded").POST) == {}
    assert dict(withBody("HEAD", b"", None).POST) == {}
    assert dict(withBody("PUT", b"a=1", None).POST) == {}
    assert dict(withBody("POST", b'{"a": 1}', "application/json").POST) == {}
    assert dict(withBody("POST", b"a=1", "text/plain").POST) == {}


def test_POSTContentTypeCaseInsensitive() -> None:
    """The form content type is matched case-insensitively."""
    request = withBody("POST", b"a=1", "Application/X-WWW-Form-Urlencoded")
    assert request.POST.first("a") == b"1"


def test_POSTMultipartWithUpload() -> None:
    """
    multipart/form-data: plain fields are bytes (repeated names kept in
    order, str keys work); a file part is an UploadedFile with filename,
    file, value and type; a part with an empty filename is a plain value;
    binary content and CRLFs inside a file survive exactly.
    """
    content = bytes(range(256)) + b"\r\nline\r\n"
    body = multipartBody(
        b"BOUND",
        b'Content-Disposition: form-data; name="a"\r\n\r\n1',
        b'Content-Disposition: form-data; name="f"; filename="up.bin"\r\n'
        b"Content-Type: application/x-test\r\n\r\n" + content,
        b'Content-Disposition: form-data; name="e"; filename=""\r\n\r\nempty-name',
        b'Content-Disposition: form-data; name="a"\r\n\r\n\xe9',
    )
    POST = withBody("POST", body, "multipart/form-data; boundary=BOUND").POST
    assert POST.get_list("a") == [b"1", b"\xe9"]
    assert POST.first("e") == b"empty-name"
    upload = POST.first("f")
    assert isinstance(upload, UploadedFile)
    assert upload.filename == "up.bin"
    assert upload.name == "f"
    assert upload.type == "application/x-test"
    assert upload.value == content
    assert upload.file.read() == content
    assert isinstance(upload.headers, Message)
    assert upload.headers["content-type"] == "application/x-test"


def test_POSTMultipartMatchesWptserveOnPlainFields() -> None:
    """For plain fields, multipart parsing gives what wptserve gives."""
    body = multipartBody(
        b"xyz",
        b'Content-Disposition: form-data; name="a"\r\n\r\none\r\ntwo',
        b'Content-Disposition: form-data; name="\xe9"\r\n\r\n',
        b'Content-Disposition: form-data; name="a"\r\n\r\n3',
    )
    contentType = "multipart/form-data; boundary=xyz"
    assert dict(withBody("POST", body, contentType).POST) == wptservePOST(
        "POST", contentType, body
    )


@pytest.mark.parametrize(
    "body",
    [
        b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--xy',
        b'--xyz\nContent-Disposition: form-data; name="a"\n\n1\n--xyz--\n',
        b"junk",
    ],
    ids=["truncated", "bare-LF", "no-delimiter"],
)
def test_POSTMalformedMultipartLikeWptserve(body: bytes) -> None:
    """
    Multipart bodies that are not well-formed are read as leniently as
    wptserve reads them: what parses is kept.
    """
    contentType = "multipart/form-data; boundary=xyz"
    assert dict(withBody("POST", body, contentType).POST) == wptservePOST(
        "POST", contentType, body
    )


def test_POSTInvalidBoundaryRaises() -> None:
    """
    A multipart body without a usable boundary raises ValueError when POST
    is read (a 500 for that handler), as in wptserve; constructing the
    request does not.
    """
    for contentType in ("multipart/form-data", 'multipart/form-data; boundary=""'):
        request = withBody("POST", b"--x\r\n", contentType)
        with pytest.raises(ValueError, match="Invalid boundary"):
            _ = request.POST


def test_POSTLargeUploadFromDiskBody() -> None:
    """
    A body large enough for Twisted to keep it in a temporary file (over
    100 kB) parses too, and big file parts come back whole.
    """
    content = b"0123456789abcdef" * 20000
    body = multipartBody(
        b"B",
        b'Content-Disposition: form-data; name="big"; filename="big.txt"\r\n\r\n' + content,
    )
    request = withBody("POST", body, "multipart/form-data; boundary=B")
    assert request.raw_input.length == len(body)
    assert request.POST.first(b"big").value == content
    assert request.body == body


# -- cookies, auth ---------------------------------------------------------------------

COOKIE_HEADERS = [
    'x=1; y="q w"; x=2',
    "a=b; c",
    "sp ace=1; ok=2",
    "a=\xe9",
    "",
    "$Version=1; a=1",
]


@pytest.mark.parametrize("header", COOKIE_HEADERS)
def test_cookiesMatchWptserve(header: str) -> None:
    """
    cookies parse exactly as wptserve's: the same names (bytes), values
    (bytes, as sent), str() forms, and the last of a repeated name wins.
    """
    ours = get("/p.py", "Host: h.test", f"Cookie: {header}").cookies
    fake = SimpleNamespace(_cookies=None, headers={"cookie": header.encode("latin-1")})
    theirs = wptrequest.Request.cookies.fget(fake)
    assert list(ours.keys()) == list(theirs.keys())
    for name in theirs:
        assert ours[name].value == theirs[name].value
        assert str(ours[name]) == str(theirs[name])


def test_cookiesAccessors() -> None:
    """
    cookies: str or bytes names; ``.value`` bytes; ``str()`` is name=value;
    a cookie equals its value; several Cookie fields are one cookie list.
    """
    cookies = get("/p.py", "Host: h.test", "Cookie: a=1", "Cookie: b=two").cookies
    assert cookies["a"].value == b"1"
    assert cookies[b"b"].value == b"two"
    assert str(cookies.first("b")) == "b=two"
    assert cookies["a"] == b"1"
    assert "b" in cookies and "c" not in cookies
    assert cookies.get("c") is None


def basic(user: bytes, password: bytes) -> str:
    """An Authorization header line for Basic credentials."""
    return "Authorization: Basic " + base64.b64encode(user + b":" + password).decode()


def test_auth() -> None:
    """
    auth: username and password (bytes) from Basic; the password may hold
    colons; None and None without the header.
    """
    auth = get("/p.py", "Host: h.test", basic(b"us", b"pa:ss")).auth
    assert (auth.username, auth.password) == (b"us", b"pa:ss")
    none = get("/p.py", "Host: h.test").auth
    assert (none.username, none.password) == (None, None)


def test_authErrorsLikeWptserve() -> None:
    """
    Another scheme is an HTTPException 400 with wptserve's message; a
    header that does not decode raises; both only when ``auth`` is read.
    """
    request = get("/p.py", "Host: h.test", "Authorization: Bearer abc")
    with pytest.raises(HTTPException) as caught:
        _ = request.auth
    assert caught.value.code == 400
    assert caught.value.message == "Unsupported authentication scheme b'Bearer'"
    for bad in ("Authorization: Basic", "Authorization: Basic !!!", "Authorization: Basic YWJj"):
        with pytest.raises(ValueError):
            _ = get("/p.py", "Host: h.test", bad).auth


# -- body, raw_input ---------------------------------------------------------------------


def test_bodyAndRawInput() -> None:
    """
    body is the whole body; raw_input is a seekable file over it with
    ``length``, read/readline/iteration/seek/tell as wptserve's InputFile,
    and reading it disturbs neither body nor POST.
    """
    payload = b"a=1&b=2\nsecond line\nthird"
    request = withBody("POST", payload, "application/x-www-form-urlencoded")
    raw = request.raw_input
    assert raw.length == len(payload)
    assert raw.read(3) == b"a=1"
    assert raw.tell() == 3
    assert raw.readline() == b"&b=2\n"
    assert raw.readline(3) == b"sec"
    assert list(raw) == [b"ond line\n", b"third"]
    assert raw.read() == b""
    raw.seek(0)
    assert raw.read() == payload
    raw.seek(2)
    assert request.body == payload
    assert request.POST.first("b") == b"2\nsecond line\nthird"
    assert raw.tell() == 2
    with pytest.raises(ValueError):
        raw.seek(len(payload) + 1)
    with pytest.raises(ValueError):
        raw.seek(-1)


def test_chunkedBody() -> None:
    """A chunked request body is seen whole, with its real length."""
    raw = (
        b"POST /p.py HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
        b"3\r\na=1\r\n4\r\n&b=2\r\n0\r\n\r\n"
    )
    request = receive(raw).request
    assert request.body == b"a=1&b=2"
    assert request.raw_input.length == 7
    assert request.POST.first("b") == b"2"


def test_emptyBody() -> None:
    """No body: body is b"" and raw_input has length 0."""
    request = get("/p.py", "Host: h.test")
    assert request.body == b""
    assert request.raw_input.length == 0
    assert request.raw_input.read() == b""


# -- laziness, isolation, server ------------------------------------------------------------


def test_parsingIsLazy() -> None:
    """
    Nothing is parsed until asked for: a request with a bad Authorization
    and an unusable multipart body constructs fine, and the parsed views
    appear only on first access.
    """
    request = withBody("POST", b"x", "multipart/form-data", "Authorization: Nope")
    lazy = ("GET", "POST", "cookies", "auth", "body", "headers", "url", "server")
    assert not any(name in vars(request) for name in lazy)
    assert request.GET == {}
    assert "GET" in vars(request) and "POST" not in vars(request)


def test_copiesWhatItNeedsAtConstruction() -> None:
    """
    After construction the request never reads the Twisted request again:
    changing the Twisted request's headers, URI and method afterwards shows
    nothing.
    """
    received = receive(b"GET /p.py?a=1 HTTP/1.1\r\nHost: h.test\r\nX-A: 1\r\n\r\n")
    twistedRequest = received.twistedRequest
    twistedRequest.requestHeaders.setRawHeaders(b"x-a", [b"changed"])
    twistedRequest.uri = b"/changed"
    twistedRequest.method = b"PUT"
    request = received.request
    assert request.headers["x-a"] == b"1"
    assert request.GET.first("a") == b"1"
    assert request.method == "GET"


def test_serverConfigAndStash() -> None:
    """
    server.config is the context's config; server.stash is a Stash on the
    context's store whose default path is the request's URL path, so a
    value put there is taken back from the store under that path.
    """
    received = receive(b"GET /d/p.py?a=1 HTTP/1.1\r\nHost: h.test\r\n\r\n")
    server = received.request.server
    assert server.config is received.context.config
    stash = server.stash
    assert isinstance(stash, Stash)
    assert stash.default_path == "/d/p.py"
    key = "a0b1c2d3-0000-4000-8000-000000000001"
    stash.put(key, "value")
    again = Stash(received.context.stashStore, "/d/p.py")
    assert again.take(key) == "value"
    assert received.request.server.stash is stash


# -- end to end: real handler files over a real port --------------------------------------------

ECHO = """
    import json

    def show(value):
        if isinstance(value, bytes):
            return value.decode("latin-1")
        if hasattr(value, "filename"):
            return {"filename": value.filename, "value": value.value.decode("latin-1")}
        return value

    def main(request, response):
        out = {
            "method": request.method,
            "url": request.url,
            "url_base": request.url_base,
            "request_path": request.request_path,
            "path": request.url_parts.path,
            "GET": {show(k): [show(v) for v in request.GET.get_list(k)] for k in request.GET},
            "POST": {show(k): [show(v) for v in request.POST.get_list(k)] for k in request.POST},
            "first_str_key": show(request.GET.first("content-type", b"none")),
            "cookies": {show(k): show(request.cookies[k].value) for k in request.cookies},
            "x_a": show(request.headers.get("x-a", b"")),
            "auth": [show(request.auth.username), show(request.auth.password)],
            "body": show(request.body),
            "raw_input": [request.raw_input.length, show(request.raw_input.read(4))],
        }
        return [("Content-Type", "application/json")], json.dumps(out)
"""


async def echo(url: str, method: str = "GET", **kwargs: Any) -> dict:
    """Request ``url`` and decode the echo handler's JSON."""
    response = await treq.request(method, url, persistent=False, **kwargs)
    body = await response.content()
    assert response.code == 200, body
    return json.loads(body)


@pytest_twisted.ensureDeferred
async def test_endToEndGetHeadersCookiesAuth(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """
    Over a real connection: GET with repeated and blank keys, a str-key
    lookup, repeated headers joined with ", ", cookies, Basic auth, url and
    url_base at the root.
    """
    handlerRoot.write("echo.py", ECHO)
    base = serve(HandlerDirectory(handlerRoot.path))
    port = urlsplit(base).port
    result = await echo(
        base + "/echo.py?a=1&b=&a=2&content-type=text/x&s=%2B+",
        headers={
            "X-A": ["1", "2"],
            "Cookie": ["k=v; n=1"],
            "Authorization": ["Basic " + base64.b64encode(b"me:p:w").decode()],
        },
    )
    assert result["GET"] == {
        "a": ["1", "2"],
        "b": [""],
        "content-type": ["text/x"],
        "s": ["+ "],
    }
    assert result["first_str_key"] == "text/x"
    assert result["x_a"] == "1, 2"
    assert result["cookies"] == {"k": "v", "n": "1"}
    assert result["auth"] == ["me", "p:w"]
    assert result["url"] == f"http://127.0.0.1:{port}/echo.py?a=1&b=&a=2&content-type=text/x&s=%2B+"
    assert result["url_base"] == "/"
    assert result["method"] == "GET"


@pytest_twisted.ensureDeferred
async def test_endToEndPostForms(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """
    Over a real connection: an urlencoded POST, and a multipart POST with a
    file upload; body and raw_input carry the raw bytes.
    """
    handlerRoot.write("echo.py", ECHO)
    base = serve(HandlerDirectory(handlerRoot.path))
    result = await echo(base + "/echo.py", "POST", data={"a": "1", "b": ""})
    assert result["POST"] == {"a": ["1"], "b": [""]}
    assert result["body"] == "a=1&b="
    assert result["raw_input"] == [6, "a=1&"]
    result = await echo(
        base + "/echo.py",
        "POST",
        data={"field": "v"},
        files={"up": ("hello.txt", "text/plain", BytesIO(b"file\r\ncontent"))},
    )
    assert result["POST"]["field"] == ["v"]
    assert result["POST"]["up"] == [{"filename": "hello.txt", "value": "file\r\ncontent"}]
    assert result["body"].startswith("--")


@pytest_twisted.ensureDeferred
async def test_endToEndMountedUrlBase(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """Mounted under /wpt/, url_base is "/wpt/" and url names the full path."""
    handlerRoot.write("d/echo.py", ECHO)
    root = Resource()
    root.putChild(b"wpt", HandlerDirectory(handlerRoot.path))
    base = serve(root)
    result = await echo(base + "/wpt/d/echo.py?x=1")
    assert result["url_base"] == "/wpt/"
    assert result["path"] == "/wpt/d/echo.py"
    assert result["request_path"] == "/wpt/d/echo.py?x=1"


@pytest_twisted.ensureDeferred
async def test_endToEndBadInputIsTheHandlersError(
    handlerRoot: HandlerRoot, serve: Serve
) -> None:
    """
    A bad Authorization scheme gives the handler that reads ``auth`` a 400,
    an unusable multipart body gives the one that reads ``POST`` a 500, and
    a handler that reads neither answers 200; the server keeps serving.
    """
    handlerRoot.write("auth.py", "def main(request, response):\n    return repr(request.auth)\n")
    handlerRoot.write("post.py", "def main(request, response):\n    return repr(request.POST)\n")
    handlerRoot.write("plain.py", "def main(request, response):\n    return 'ok'\n")
    base = serve(HandlerDirectory(handlerRoot.path))
    bearer = {"Authorization": ["Bearer t"]}
    response = await treq.get(base + "/auth.py", headers=bearer, persistent=False)
    body = json.loads(await response.content())
    assert response.code == 400
    assert "Unsupported authentication scheme b'Bearer'" in body["error"]["message"]
    badForm = {"Content-Type": ["multipart/form-data"]}
    # PUT: for POST, a default twisted.web Site parses multipart bodies
    # itself and answers 400 to this one before any resource runs.
    response = await treq.put(base + "/post.py", b"x", headers=badForm, persistent=False)
    assert response.code == 500
    assert "Invalid boundary" in json.loads(await response.content())["error"]["message"]
    response = await treq.put(
        base + "/plain.py", b"x", headers={**bearer, **badForm}, persistent=False
    )
    assert (response.code, await response.content()) == (200, b"ok")
