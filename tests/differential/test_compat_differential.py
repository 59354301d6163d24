"""
Differential tests of the compatibility gaps real browsers and real WPT
handlers hit (issue 11): request header names as sent, the ``wptserve.pipes``
functions called from a handler, the stash's errors for keys that are not
UUIDs, and the whole handler-facing surface (every public attribute of every
object a handler is handed, every ``wptserve.*`` name).

The handler files are under ``root/compat/``.  As everywhere in this suite,
our server runs them with our ``wptserve`` compatibility modules (see
``ours_runner.py``), not the real wptserve.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .cases import Case, checkSame, checkWptserve
from .harness import JSON_ERROR, Harness, request

DOCS = Path(__file__).parent.parent.parent / "docs" / "differences" / "surface.rst"

#: Header lines whose names Twisted would canonicalise differently, and two
#: that differ only in case.
ODD_NAMES = (
    ("THIS-is-A-test", "1"),
    ("x-test", "2"),
    ("Status-URI", "3"),
    ("content-TYPE", "text/plain"),
    ("X-Dup", "a"),
    ("x-dup", "b"),
)

RAW_HEADERS = [
    Case(
        "raw-header-names",
        "raw_headers: names as sent (case kept), in order, one entry per "
        "field line even for names that differ only in case; request.headers "
        "iterates lower-case names",
        "/compat/raw_header_names.py",
        200,
        headers=ODD_NAMES,
    ),
    Case(
        "raw-header-names-post",
        "raw_headers of a POST with a body: Content-Length and the rest as sent",
        "/compat/raw_header_names.py",
        200,
        method="POST",
        headers=(("content-length", "4"), ("X-CamelCase-Name", "v")),
        body=b"body",
    ),
    Case(
        "raw-header-names-none",
        "an HTTP/1.1 request with Host only",
        "/compat/raw_header_names.py",
        200,
    ),
]

PIPES = [
    Case(
        "pipes-sub",
        "pipes.sub(request, response) as eventsource.py calls it: content set, "
        "sub, return None; substitutions HTML-escaped",
        "/compat/pipes_call.py?call=sub&x=%3Cb%3E",
        200,
    ),
    Case(
        "pipes-sub-none",
        "pipes.sub(request, response, 'none'): no escaping; its return value "
        "is the response",
        "/compat/pipes_call.py?call=sub-none&x=%3Cb%3E",
        200,
    ),
    Case(
        "pipes-status",
        "pipes.status(request, response, 404) with an int",
        "/compat/pipes_call.py?call=status",
        404,
    ),
    Case(
        "pipes-header",
        "pipes.header set, then append with a positional True",
        "/compat/pipes_call.py?call=header",
        200,
    ),
    Case(
        "pipes-slice",
        "pipes.slice(request, response, 5, 12) and its Content-Length",
        "/compat/pipes_call.py?call=slice",
        200,
    ),
    Case(
        "pipes-slice-open",
        "pipes.slice with one negative argument",
        "/compat/pipes_call.py?call=slice-open",
        200,
    ),
    Case(
        "pipes-trickle",
        "pipes.trickle: the body in pieces, the no-cache headers",
        "/compat/pipes_call.py?call=trickle",
        200,
    ),
    Case(
        "pipes-gzip",
        "pipes.gzip: Content-Encoding, Content-Length, a gzip body that "
        "decompresses to the original",
        "/compat/pipes_call.py?call=gzip",
        200,
    ),
    Case(
        "pipes-chain",
        "sub, slice, then header in one handler",
        "/compat/pipes_call.py?call=chain",
        200,
    ),
    Case(
        "pipes-then-query-pipe",
        "a pipe called by the handler, then the query's ?pipe= on top",
        "/compat/pipes_call.py?call=header&pipe=status(202)|header(X-Q,q)",
        202,
    ),
    Case(
        "pipes-missing-argument",
        "pipes.status(request, response) without its code: TypeError, a 500",
        "/compat/pipes_call.py?call=bad-args",
        500,
        bodyMode=JSON_ERROR,
        mustContain=("TypeError", "missing 1 required positional argument: 'code'"),
    ),
]

#: (key name in stash_bad_key.py, what the error message must contain).
BAD_KEYS = [
    ("none", "TypeError: one of the hex, bytes, bytes_le, fields, or int arguments must be given"),
    ("garbage", 'ValueError: Invalid UUID "not-a-uuid" used as stash key'),
    ("empty", 'ValueError: Invalid UUID "" used as stash key'),
    ("int", "AttributeError: 'int' object has no attribute 'replace'"),
    ("float", "AttributeError: 'float' object has no attribute 'replace'"),
    ("uuid-object", "AttributeError: 'UUID' object has no attribute 'replace'"),
    ("nonascii", "UnicodeDecodeError: 'ascii' codec can't decode byte 0xe9"),
]

STASH = [
    Case(
        f"stash-{op}-{name}",
        f"stash.{op} with a {name} key: wptserve's exception and message",
        f"/compat/stash_bad_key.py?key={name}&op={op}",
        500,
        bodyMode=JSON_ERROR,
        mustContain=(message,),
    )
    for name, message in BAD_KEYS
    for op in ("take", "put")
]

ALL_CASES = RAW_HEADERS + PIPES + STASH


@pytest.mark.parametrize("case", [c.param() for c in ALL_CASES])
def test_compat_file_is_sane_on_wptserve(theirs_only: str, case: Case) -> None:
    """
    Each handler file of this suite does, on wptserve 4.0.3, what its case
    means (the expected status).  Guards the test data, not our code.
    """
    checkWptserve(theirs_only, case)


@pytest.mark.parametrize("case", [c.param() for c in RAW_HEADERS])
def test_raw_header_names(harness: Harness, case: Case) -> None:
    """
    ``request.raw_headers`` (``raw_items``, ``items``, ``keys``, iteration,
    ``get_all``, ``str``) shows every field line as the client sent it, as
    wptserve's does, under the Site the plugin ships.
    """
    checkSame(harness, case)


def test_raw_header_names_really_as_sent(harness: Harness) -> None:
    """
    The names that come back are the bytes sent, not a canonical spelling
    that happens to agree (both servers are asked; ours must echo exactly
    the odd spellings).
    """
    response = request(harness.ours, "/compat/raw_header_names.py", headers=list(ODD_NAMES))
    echoed = json.loads(response.body)
    assert echoed["raw_items"][1:] == [list(pair) for pair in ODD_NAMES]
    assert echoed["get_all"] == ["a", "b"]


@pytest.mark.parametrize("case", [c.param() for c in PIPES])
def test_pipe_functions(harness: Harness, case: Case) -> None:
    """
    ``from wptserve import pipes`` then ``pipes.sub/status/header/slice/
    trickle/gzip(request, response, ...)`` in a handler give wptserve's
    response.
    """
    checkSame(harness, case)


def test_pipe_function_matches_query_pipe(harness: Harness) -> None:
    """
    ``pipes.slice(request, response, 5, 12)`` in the handler has the same
    effect as ``?pipe=slice(5,12)`` on the same content, on our server.
    """
    called = request(harness.ours, "/compat/pipes_call.py?call=slice")
    piped = request(harness.ours, "/compat/pipes_call.py?call=none&pipe=slice(5,12)")
    assert called.body == piped.body == b"x={{GET[x]}} h={{header_or_default(X-H, none)}} <&>"[5:12]
    assert called.headerValues(b"content-length") == piped.headerValues(b"content-length")


@pytest.mark.parametrize("case", [c.param() for c in STASH])
def test_stash_bad_keys(harness: Harness, case: Case) -> None:
    """
    A stash key that is not a UUID raises what wptserve 4.0.3 raises, with
    its message, so the 500 body says the same thing.
    """
    checkSame(harness, case)


#: Every public name wptserve 4.0.3 offers a handler that ours does not,
#: by object: each one is listed, with its reason, in
#: ``docs/differences/surface.rst``.
MISSING_ON_PURPOSE: dict[str, set[str]] = {
    "request.raw_input": {"max_buffer_size"},
    "request.GET": {"from_field_storage"},
    "request.POST": {"from_field_storage"},
    "request.cookies": {"from_field_storage"},
    "request.server.stash": {"data", "manager"},
    "wptserve.pipes": {"FirstWrapper", "ReplacementTokenizer", "SubFunctions"},
    "wptserve.handlers": {
        "AsIsHandler", "BasicAuthHandler", "DirectoryHandler", "ErrorHandler",
        "FileHandler", "PythonScriptHandler", "RangeParser", "StaticHandler",
        "StringHandler", "as_is_handler", "basic_auth_handler", "file_handler",
        "python_script_handler",
    },
    "wptserve.stash": {
        "LockWrapper", "QueueProxy", "StashManager", "StashServer", "impl_fn",
        "method", "start_server",
    },
    "wptserve.request": {"FieldStorage", "H2Request"},
    "wptserve.response": {"H2Response", "H2ResponseWriter"},
}


def test_handler_surface(harness: Harness) -> None:
    """
    Every public attribute of every object a handler is handed, and every
    name of the ``wptserve`` modules handlers import, exists on our server
    too, except the names listed (with reasons) in
    ``docs/differences/surface.rst``; and each listed name is really
    missing, so the list cannot go stale.
    """
    theirs = request(harness.theirs, "/compat/api_surface.py")
    ours = request(harness.ours, "/compat/api_surface.py")
    assert theirs.code == ours.code == 200, (theirs.raw[:2000], ours.raw[:2000])
    theirNames = json.loads(theirs.body)
    ourNames = json.loads(ours.body)
    assert set(theirNames) == set(ourNames)
    missing = {
        obj: set(names) - set(ourNames[obj])
        for obj, names in theirNames.items()
        if set(names) - set(ourNames[obj])
    }
    assert missing == MISSING_ON_PURPOSE


def test_missing_names_documented() -> None:
    """
    Each name ``test_handler_surface`` allows to be missing is named in
    ``docs/differences/surface.rst``.
    """
    text = DOCS.read_text(encoding="utf-8")
    undocumented = sorted(
        name
        for names in MISSING_ON_PURPOSE.values()
        for name in names
        if f"``{name}``" not in text and f".{name}``" not in text
    )
    assert undocumented == []
