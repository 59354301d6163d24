"""
Differential tests of handler behaviour (docs/handlers.rst, request.rst, response.rst): each handler
file under ``root/`` is requested from wptserve 4.0.3 and from our server,
and status line, headers (Date and Server aside) and body must match, unless
the case names a documented difference.

Each case is also sent to wptserve alone first
(``test_handler_file_is_sane_on_wptserve``), so a broken handler file shows
up as such rather than as a difference.
"""

from __future__ import annotations

import base64
import json
import re
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from . import differences
from .cases import Case, checkSame, checkWptserve, regexNormaliser
from .harness import JSON_ERROR, Harness, KnownDifference, diff, request

DOCS = Path(__file__).parent.parent.parent / "docs" / "differences" / "handlers.rst"

RETURN_FORMS = [
    Case(
        "code-reason",
        "((code, reason), headers, content) sets code, reason, headers, body",
        "/ret_code_reason.py",
        202,
    ),
    Case(
        "code",
        "(code, headers, content) uses the default reason phrase",
        "/ret_code.py",
        201,
    ),
    Case("headers", "(headers, content) keeps status 200 OK", "/ret_headers.py", 200),
    Case("bare", "bare content", "/ret_bare.py", 200),
    Case(
        "none", "None: the response object as the handler left it", "/ret_none.py", 203
    ),
    Case(
        "headers-added",
        "returned headers are appended to headers already set",
        "/ret_headers_added.py",
        200,
    ),
    Case(
        "bad-tuple",
        "a 4-tuple is a 500 error",
        "/ret_bad_tuple.py",
        500,
        bodyMode=JSON_ERROR,
    ),
]

HEADERS = [
    Case(
        "non-latin1-value",
        "a str header value outside latin-1: 500 naming UnicodeEncodeError",
        "/header_nonlatin1.py",
        500,
        bodyMode=JSON_ERROR,
        mustContain=("UnicodeEncodeError",),
    ),
    Case(
        "types",
        "header names and values as str, bytes, int; latin-1 value; odd case",
        "/header_types.py",
        200,
    ),
    Case(
        "api",
        "response.headers set/append/update/del/in/get/items",
        "/headers_api.py",
        200,
    ),
    Case(
        "content-length-set",
        "a handler-set Content-Length is not duplicated",
        "/content_length_set.py",
        200,
    ),
]

CONTENT = [
    Case(
        "multipart-content",
        "wptserve.response.MultipartContent as content",
        "/multipart_content.py",
        200,
    ),
    Case(
        "str-utf8",
        "str content encoded as utf-8 by default",
        "/content_str_utf8.py",
        200,
    ),
    Case(
        "encoding",
        "response.encoding changes how str content is encoded",
        "/content_encoding.py",
        200,
    ),
    Case("bytes", "bytes content as is", "/content_bytes.py", 200),
    Case("file", "a file object as content", "/content_file.py", 200),
    Case("bytesio", "a BytesIO as content", "/content_bytesio.py", 200),
    Case(
        "list",
        "a list of bytes, str and callables; falsy items skipped",
        "/content_list.py",
        200,
    ),
    Case("generator", "a generator of bytes and str", "/content_generator.py", 200),
    Case("empty-str", "empty str content: Content-Length 0", "/content_empty.py", 200),
    Case(
        "empty-list", "empty iterable content: no body", "/content_empty_list.py", 200
    ),
]

STATUS = [
    Case(
        "readback",
        "response.status reads back as (code, reason-or-None)",
        "/status_readback.py",
        200,
    ),
    *[
        Case(
            f"code-{code}",
            f"status {code} set as an int gets the usual reason phrase",
            f"/status_code.py?code={code}",
            code,
        )
        for code in (200, 201, 202, 302, 400, 404, 410, 418, 425, 429, 451, 500, 503)
    ],
    Case(
        "odd-299",
        "code 299 with a reason",
        "/status_odd.py?code=299&reason=Odd+Success",
        299,
    ),
    Case(
        "odd-599-no-reason",
        "code 599 without a reason: empty reason phrase",
        "/status_odd.py?code=599",
        599,
    ),
    Case(
        "odd-999",
        "code 999 with a reason",
        "/status_odd.py?code=999&reason=Nine+Nine+Nine",
        999,
    ),
    Case(
        "odd-100-range",
        "code 199 with a reason",
        "/status_odd.py?code=199&reason=Odd",
        199,
    ),
    Case(
        "reason-bytes",
        "a bytes reason phrase with a latin-1 byte",
        "/status_reason_bytes.py",
        200,
    ),
    Case("reason-empty", "an empty reason phrase", "/status_reason_empty.py", 200),
]

ERRORS = [
    Case(
        "http-exception",
        "HTTPException(403, message): JSON error body",
        "/http_exception.py",
        403,
    ),
    Case(
        "http-exception-no-message",
        "HTTPException(410): JSON error body",
        "/http_exception_nomsg.py",
        410,
    ),
    Case(
        "http-exception-500",
        "HTTPException(500, message): traceback in the message",
        "/http_exception_500.py",
        500,
        bodyMode=JSON_ERROR,
        mustContain=("server side trouble",),
    ),
    Case(
        "http-exception-chained",
        "HTTPException(502) from a KeyError names the cause",
        "/http_exception_chained.py",
        502,
        bodyMode=JSON_ERROR,
        mustContain=("KeyError", "no-such-key"),
    ),
    Case(
        "exception",
        "any exception: 500, traceback, headers set before are dropped",
        "/raise_exception.py",
        500,
        bodyMode=JSON_ERROR,
        mustContain=("ValueError: boom from the handler",),
    ),
    Case(
        "no-main",
        "a file without main: 500",
        "/no_main.py",
        500,
        bodyMode=JSON_ERROR,
        mustContain=("No main function",),
    ),
    Case(
        "syntax-error",
        "a file that does not compile: 500",
        "/syntax_error.py",
        500,
        bodyMode=JSON_ERROR,
        mustContain=("SyntaxError",),
    ),
    Case(
        "helper-executed",
        "a helper .py is executed (no main: 500), never served as text",
        "/resources/helpers.py",
        500,
        bodyMode=JSON_ERROR,
        mustContain=("No main function",),
    ),
    Case(
        "set-error-4xx",
        "set_error(418, message) replaces headers and body",
        "/set_error_4xx.py",
        418,
    ),
    Case(
        "set-error-5xx",
        "set_error(503) without an error says <no traceback>",
        "/set_error_5xx.py",
        503,
    ),
    Case(
        "missing-py",
        "a missing .py file is 404, whose message names the path",
        "/missing.py",
        404,
        known=(differences.NOT_FOUND_NAMES_PATH,),
    ),
    Case(
        "missing-in-missing-dir",
        "a .py under a missing directory is 404, whose message names the path",
        "/no_such_dir/handler.py",
        404,
        known=(differences.NOT_FOUND_NAMES_PATH,),
    ),
]

#: The expiry date of a deleted cookie is "now minus a day", to the second;
#: the two servers answer at different instants, so the date is replaced by
#: its shape (the format itself is still compared).
COOKIE_DATES = regexNormaliser(
    (
        rb"expires=\d\d [a-z]{3} \d{4} \d\d:\d\d:\d\d GMT",
        b"expires=DD mon YYYY HH:MM:SS GMT",
    ),
)

COOKIES = [
    Case(
        "set-cookie",
        "set_cookie with every option and with the defaults",
        "/cookie_set.py",
        200,
    ),
    Case(
        "delete-cookie",
        "delete_cookie and set_cookie(name, None) (expiry date shape only)",
        "/cookie_delete.py",
        200,
        normalise=COOKIE_DATES,
    ),
    Case(
        "unset-cookie",
        "unset_cookie of the only cookie; unknown name is a no-op",
        "/cookie_unset.py",
        200,
    ),
]

RESPONSE_FLAGS = [
    Case(
        "no-required-headers",
        "add_required_headers = False: nothing added",
        "/no_required_headers.py",
        200,
    ),
    Case(
        "head",
        "HEAD: headers of the GET response, no body",
        "/head_plain.py",
        200,
        method="HEAD",
    ),
    Case(
        "head-bare",
        "HEAD of a bare-content handler",
        "/ret_bare.py",
        200,
        method="HEAD",
    ),
    Case(
        "head-send-body",
        "send_body_for_head_request: the body goes out for HEAD",
        "/head_with_body.py",
        200,
        method="HEAD",
        readToClose=True,
    ),
    Case(
        "head-no-body-to-close",
        "HEAD read to the close: really no body bytes",
        "/head_plain.py",
        200,
        method="HEAD",
        readToClose=True,
    ),
    Case(
        "close-connection",
        "close_connection = True",
        "/close_connection.py",
        200,
        readToClose=True,
    ),
]

BASIC = "Basic " + base64.b64encode(b"user:pa:ss").decode("ascii")
BOUNDARY = "differential-boundary-1234"
MULTIPART = (
    f"--{BOUNDARY}\r\n"
    'Content-Disposition: form-data; name="field"\r\n\r\n'
    "field value\r\n"
    f"--{BOUNDARY}\r\n"
    'Content-Disposition: form-data; name="field"\r\n\r\n'
    "second\r\n"
    f"--{BOUNDARY}\r\n"
    'Content-Disposition: form-data; name="upload"; filename="hello.txt"\r\n'
    "Content-Type: text/plain\r\n\r\n"
    "file contents\nline 2\r\n"
    f"--{BOUNDARY}\r\n"
    'Content-Disposition: form-data; name="blank"\r\n\r\n'
    "\r\n"
    f"--{BOUNDARY}--\r\n"
).encode("ascii")

#: Without a Host header each server builds request.url from its own bound
#: address, so the port (and only the port) legitimately differs.
OWN_PORT = regexNormaliser(
    (rb"127\.0\.0\.1:\d+", b"127.0.0.1:PORT"),
    (rb'"port": \d+', b'"port": "PORT"'),
)

REQUEST_ECHO = [
    Case(
        "get",
        "request.GET: repeated keys, blank values, +, percent-escapes",
        "/echo_get.py?a=1&a=2&b=&c&sp=x+y&pct=%C3%A9%26&a=3&latin=%FF",
        200,
    ),
    Case(
        "post-urlencoded",
        "request.POST from an urlencoded body",
        "/echo_post.py",
        200,
        method="POST",
        headers=(("Content-Type", "application/x-www-form-urlencoded"),),
        body=b"a=1&a=2&blank=&sp=x+y&pct=%C3%A9",
    ),
    Case(
        "post-multipart",
        "request.POST from multipart, with a file upload",
        "/echo_post.py",
        200,
        method="POST",
        headers=(("Content-Type", f"multipart/form-data; boundary={BOUNDARY}"),),
        body=MULTIPART,
    ),
    Case(
        "cookies",
        "request.cookies: repeated names, quoted value",
        "/echo_cookies.py",
        200,
        headers=(("Cookie", 'a=1; dup=x; dup=y; q="quoted"'),),
    ),
    Case(
        "headers",
        "request.headers: case-insensitive lookups, bytes or str names",
        "/echo_headers.py",
        200,
        headers=(("X-Rep", "one"), ("X-Single", "s")),
    ),
    Case(
        "headers-repeated",
        "request.headers: a field sent twice is joined with ', '",
        "/echo_headers.py",
        200,
        headers=(("X-Rep", "one"), ("x-rep", "two"), ("X-Single", "s")),
        known=(differences.REQUEST_HEADERS_JOINED,),
    ),
    Case(
        "auth",
        "request.auth from Basic credentials",
        "/echo_auth.py",
        200,
        headers=(("Authorization", BASIC),),
    ),
    Case(
        "auth-unsupported",
        "request.auth with a non-Basic scheme: HTTPException(400)",
        "/echo_auth.py",
        400,
        headers=(("Authorization", "Bearer abc"),),
    ),
    Case("no-auth", "request.auth without credentials", "/echo_auth.py", 200),
    Case(
        "request-get",
        "method, path, url, url_parts, protocol, request_line",
        "/echo_request.py?x=1&y=%20z",
        200,
    ),
    Case(
        "request-post-body",
        "request.body and raw_input for a POST",
        "/echo_request.py",
        200,
        method="POST",
        headers=(("Content-Type", "application/octet-stream"),),
        body=b"\x00binary body\xff",
    ),
    Case(
        "request-put",
        "another method with a body",
        "/echo_request.py?put",
        200,
        method="PUT",
        body=b"put body",
    ),
    Case(
        "request-no-host",
        "without Host, url names the bound address (port normalised)",
        "/echo_request.py",
        200,
        host=None,
        normalise=OWN_PORT,
    ),
]

IMPORTS = [
    Case(
        "helper",
        "from resources.helpers import ... (root importable)",
        "/import_helper.py",
        200,
    ),
    Case("hyphen", "importlib.import_module('a-b.helper')", "/import_hyphen.py", 200),
    Case(
        "wptserve-utils",
        "from wptserve.utils import isomorphic_*, HTTPException",
        "/wptserve_utils.py",
        200,
    ),
    Case(
        "wptserve-utils-exception",
        "HTTPException imported from wptserve.utils",
        "/wptserve_utils.py?fail=1",
        409,
    ),
    Case(
        "json-handler",
        "wptserve.handlers.json_handler with a dict",
        "/json_handler_dict.py",
        200,
    ),
    Case(
        "json-handler-tuple",
        "json_handler with ((code, reason), headers, value)",
        "/json_handler_tuple.py",
        201,
    ),
    Case(
        "handler-decorator",
        "wptserve.handlers.handler as a decorator on main",
        "/handler_decorator.py",
        200,
    ),
    Case("stash", "request.server.stash put/take", "/stash_roundtrip.py", 200),
]

ROUTING = [
    Case(
        "default-py",
        "a directory URL with slash runs its default.py",
        "/dir_default/",
        200,
    ),
    Case(
        "default-sorted",
        "the first default*.py by name wins",
        "/dir_defaults_sorted/",
        200,
    ),
    Case(
        "dir-redirect",
        "a directory URL without slash redirects to the slash form",
        "/dir_default",
        301,
    ),
    Case(
        "dir-redirect-plain",
        "slash redirect for a directory without default*.py",
        "/dir_plain",
        301,
    ),
    Case(
        "dir-listing",
        "a directory without default*.py lists its files",
        "/dir_plain/",
        200,
    ),
]


def _params(cases: list[Case]) -> list[object]:
    return [case.param() for case in cases]


ALL_CASES = (
    RETURN_FORMS
    + HEADERS
    + CONTENT
    + STATUS
    + ERRORS
    + COOKIES
    + RESPONSE_FLAGS
    + REQUEST_ECHO
    + IMPORTS
    + ROUTING
)


@pytest.mark.parametrize("case", _params(ALL_CASES))
def test_handler_file_is_sane_on_wptserve(theirs_only: str, case: Case) -> None:
    """
    Each handler file does, on wptserve 4.0.3, what its case means: the
    status code is the expected one.  (Guards the test data, not our code.)
    """
    checkWptserve(theirs_only, case)


@pytest.mark.parametrize("case", _params(RETURN_FORMS))
def test_return_forms(harness: Harness, case: Case) -> None:
    """
    The return forms of ``main`` (docs/handlers.rst) produce the same response as on
    wptserve.
    """
    checkSame(harness, case)


@pytest.mark.parametrize("case", _params(HEADERS))
def test_response_headers(harness: Harness, case: Case) -> None:
    """
    Header names and values of every type, and the ``response.headers``
    API (docs/response.rst), produce the same header lines as on wptserve.
    """
    checkSame(harness, case)


@pytest.mark.parametrize("case", _params(CONTENT))
def test_content_forms(harness: Harness, case: Case) -> None:
    """
    Every content form (docs/handlers.rst) gives the same body and framing headers as
    on wptserve.
    """
    checkSame(harness, case)


@pytest.mark.parametrize("case", _params(STATUS))
def test_status_lines(harness: Harness, case: Case) -> None:
    """
    Status codes (usual, odd, out of the table) and reason phrases (given,
    bytes, empty, defaulted) go out as wptserve sends them.
    """
    checkSame(harness, case)


@pytest.mark.parametrize("case", _params(ERRORS))
def test_errors(harness: Harness, case: Case) -> None:
    """
    HTTPException, other exceptions, no ``main``, syntax errors, set_error
    and missing files (docs/handlers.rst) give wptserve's status and JSON error body.
    """
    checkSame(harness, case)


@pytest.mark.parametrize("case", _params(COOKIES))
def test_cookies(harness: Harness, case: Case) -> None:
    """
    set_cookie (each option), delete_cookie and unset_cookie (docs/response.rst) give
    the same Set-Cookie lines as wptserve.
    """
    checkSame(harness, case)


@pytest.mark.parametrize("case", _params(RESPONSE_FLAGS))
def test_response_flags(harness: Harness, case: Case) -> None:
    """
    add_required_headers, HEAD (with and without
    send_body_for_head_request) and close_connection behave as on wptserve.
    """
    checkSame(harness, case)


@pytest.mark.parametrize("case", _params(REQUEST_ECHO))
def test_request_object(harness: Harness, case: Case) -> None:
    """
    The request object (docs/request.rst), echoed as JSON by a handler, holds the same
    values as wptserve's.
    """
    checkSame(harness, case)


@pytest.mark.parametrize("case", _params(IMPORTS))
def test_imports(harness: Harness, case: Case) -> None:
    """
    Handlers importing helpers from the root and ``wptserve.*`` names run
    as they do on wptserve.
    """
    checkSame(harness, case)


@pytest.mark.parametrize("case", _params(ROUTING))
def test_routing(harness: Harness, case: Case) -> None:
    """
    ``default*.py``, the slash redirect and the listing (docs/handlers.rst) answer as
    wptserve does.
    """
    checkSame(harness, case)


def _address(baseURL: str) -> tuple[str, int]:
    host, port = baseURL.rsplit("//", 1)[1].split(":")
    return (host, int(port))


def test_seed_example_str_key(
    wptserve_server: Callable[[Path], str], our_server: Callable[[Path], str]
) -> None:
    """
    The seed's "Dynamic HTTP headers" example, verbatim (str key): wptserve
    4.0.3 answers 500 (KeyError), ours answers 200 "my status text" with the
    asked-for Content-Type -- the documented ``seed-str-key`` difference.
    """
    root = Path(__file__).parent / "root"
    path = "/seed_dynamic_headers.py?content-type=text/foobar"
    theirs = request(_address(wptserve_server(root)), path)
    assert theirs.code == 500
    assert "KeyError" in json.loads(theirs.body)["error"]["message"]

    ours = request(_address(our_server(root)), path)
    assert ours.statusLine == b"HTTP/1.1 200 my status text", ours.raw[:1000]
    assert ours.headerValues(b"content-type") == [b"text/foobar"]
    assert ours.headerValues(b"content-length") == [b"19"]
    assert ours.body == b"my response content"


def test_return_value_refused(
    wptserve_server: Callable[[Path], str], our_server: Callable[[Path], str]
) -> None:
    """
    ``return 12345``: wptserve 4.0.3 sends the head of a 200 and then
    nothing, leaving the connection open with no body and no framing; ours
    answers 500 whose message names the value -- the documented
    ``return-value-refused`` difference.
    """
    root = Path(__file__).parent / "root"
    with socket.create_connection(_address(wptserve_server(root)), timeout=10) as connection:
        connection.sendall(b"GET /ret_int.py HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        connection.settimeout(1.5)
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except TimeoutError:
            pass
    assert received.startswith(b"HTTP/1.1 200 OK\r\n") and received.endswith(b"\r\n\r\n"), received

    ours = request(_address(our_server(root)), "/ret_int.py")
    assert ours.code == 500, ours.raw[:500]
    assert ours.headerValues(b"content-type") == [b"application/json"]
    message = json.loads(ours.body)["error"]["message"]
    assert "main returned 12345, which is no response" in message
    assert "Traceback" not in message


def test_handler_traceback(
    wptserve_server: Callable[[Path], str], our_server: Callable[[Path], str]
) -> None:
    """
    A handler's exception: both 500 messages carry a traceback; wptserve's
    starts in its own server code, ours at the handler's ``main`` (the
    documented ``handler-traceback`` difference).
    """
    root = Path(__file__).parent / "root"
    theirs = json.loads(request(_address(wptserve_server(root)), "/raise_exception.py").body)["error"]["message"]
    ours = json.loads(request(_address(our_server(root)), "/raise_exception.py").body)["error"]["message"]
    frames = lambda message: re.findall(r'File "([^"]+)", line \d+, in (\S+)', message)  # noqa: E731
    assert frames(theirs)[0][0].endswith("wptserve/handlers.py"), theirs
    assert [(Path(f).name, name) for f, name in frames(ours)] == [("raise_exception.py", "main")], ours
    assert theirs.endswith("ValueError: boom from the handler\n") and ours.endswith("ValueError: boom from the handler\n")


def test_unset_cookie_with_other_cookies(
    wptserve_server: Callable[[Path], str], our_server: Callable[[Path], str]
) -> None:
    """
    ``unset_cookie`` while other cookies are set: wptserve 4.0.3 raises
    TypeError (500); ours drops just the named cookie and keeps the others
    in order -- the documented ``unset-cookie-others`` difference.
    """
    root = Path(__file__).parent / "root"
    path = "/cookie_unset_others.py"
    theirs = request(_address(wptserve_server(root)), path)
    assert theirs.code == 500
    assert "TypeError" in json.loads(theirs.body)["error"]["message"]

    ours = request(_address(our_server(root)), path)
    assert ours.statusLine == b"HTTP/1.1 200 OK", ours.raw[:1000]
    assert ours.headerValues(b"set-cookie") == [b"keep=1; Path=/", b"keep2=3; Path=/p"]
    assert ours.body == b"unset"


def test_raw_non_ascii_request_target(
    wptserve_server: Callable[[Path], str], our_server: Callable[[Path], str]
) -> None:
    """
    A request target holding a raw byte outside printable ASCII (0xE9,
    unescaped): wptserve hands it to the handler; Twisted's request-line
    parser refuses it with a bare 400 before any resource runs -- the
    documented ``raw-non-ascii-target`` difference.
    """
    root = Path(__file__).parent / "root"
    path = b"/echo_request.py?r=\xe9"
    theirs = request(_address(wptserve_server(root)), path)
    assert theirs.code == 200
    assert json.loads(theirs.body)["request_path"] == "/echo_request.py?r=\xe9"

    ours = request(_address(our_server(root)), path)
    assert ours.statusLine == b"HTTP/1.1 400 Bad Request", ours.raw[:1000]


def test_known_differences_are_documented() -> None:
    """
    Every known difference the suite allows is named in
    ``docs/differences/handlers.rst``.
    """
    text = DOCS.read_text(encoding="utf-8")
    missing = [d for d in differences.ALL if f"``{d}``" not in text]
    assert not missing, f"undocumented known differences: {missing}"


def test_cases_use_registered_differences() -> None:
    """
    Cases refer only to known differences from the documented registry, so
    nothing is allowed without a reason on the docs page.
    """
    registered = set(differences.ALL.values())
    unregistered = [
        (case.id, known.id)
        for case in ALL_CASES
        for known in case.known
        if known not in registered
    ]
    assert not unregistered


def test_harness_sees_differences(theirs_only: str) -> None:
    """
    The comparison is not blind: two different responses differ in status
    line, header and body; known differences cover exactly what they name;
    a known difference that does not occur is reported as stale.
    """
    h = Harness(theirs_only, theirs_only)
    assert h.compare("/ret_code_reason.py").problems == []
    a = request(_address(theirs_only), "/ret_code_reason.py")
    b = request(_address(theirs_only), "/ret_code.py")
    problems = "\n".join(diff("/x", a, b).problems)
    assert "status line" in problems
    assert "header x-form" in problems
    assert "body differs" in problems
    allowed = diff(
        "/x",
        a,
        b,
        knownDifferences=[
            KnownDifference("t1", ("status-line",), "test"),
            KnownDifference("t2", ("x-form", "content-length"), "test"),
            KnownDifference("t4", ("body",), "test"),
        ],
    )
    assert allowed.problems == []
    stale = h.compare("/ret_bare.py", knownDifferences=[differences.SEED_STR_KEY])
    assert any("did not occur" in p for p in stale.problems)


def test_json_error_comparison_checks_shape(theirs_only: str) -> None:
    """
    The JSON error comparison accepts two 500 bodies with different
    tracebacks but rejects one without the expected text.
    """
    h = Harness(theirs_only, theirs_only)
    ok = h.compare(
        "/raise_exception.py",
        bodyMode=JSON_ERROR,
        mustContain=("ValueError: boom from the handler",),
    )
    assert ok.problems == []
    bad = h.compare(
        "/raise_exception.py", bodyMode=JSON_ERROR, mustContain=("not in the message",)
    )
    assert bad.problems and all("lacks" in p for p in bad.problems)
    assert re.search(r"lacks 'not in the message'", "\n".join(bad.problems))
