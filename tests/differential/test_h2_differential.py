"""
Differential tests over HTTP/2: each case is sent to wptserve 4.0.3's own
h2 server (``Http2WebTestRequestHandler`` over TLS, as ``wpt serve`` starts
it for the h2 port) and to our h2 Site (``twistd pyhandlers --listen
h2=...``), and status, headers (Date and Server aside) and body must match,
unless the case names a documented difference (``differences.H2``, in
docs/differences/topology.rst).

The cases cover an ordinary handler, wptserve's HTTP/2 writer
(``write_headers``/``write_data``), the HTTP/2 handler API
(``handle_headers``/``handle_data`` seeing the DATA frames one by one), a
static file, HEAD, and errors.  The handler files are the differential
root's, with the HTTP/2 ones under ``root/h2/``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from . import differences
from .conftest import ROOT
from .h2harness import H2Case, H2Harness, h2Request
from .harness import JSON_ERROR

DOCS = Path(__file__).parent.parent.parent / "docs" / "differences" / "topology.rst"

REQUIRED = differences.H2_REQUIRED_HEADERS

CASES = [
    H2Case(
        "ordinary",
        "((code, reason), headers, content): the code and headers as HEADERS, the body as DATA",
        "/ret_code_reason.py",
        202,
        known=(REQUIRED,),
    ),
    H2Case(
        "request",
        "protocol_version is HTTP/2.0; method, query and request headers reach the handler",
        "/h2/protocol.py?q=%C3%A9t%C3%A9",
        200,
        headers=(("x-custom", "sent by the client"),),
        known=(REQUIRED,),
    ),
    H2Case(
        "head",
        "HEAD: the handler's headers, no body",
        "/h2/protocol.py?q=head",
        200,
        method="HEAD",
        known=(REQUIRED,),
    ),
    H2Case(
        "generator",
        "a generator body (length not known in advance): no Content-Length on either",
        "/content_generator.py",
        200,
    ),
    H2Case(
        "status",
        "a status from the handler with no reason phrase to send",
        "/status_code.py?code=599",
        599,
        known=(REQUIRED,),
    ),
    H2Case(
        "writer",
        "writer.write_headers then write_data twice, the last ending the stream: nothing added",
        "/h2/writer_frames.py",
        201,
    ),
    H2Case(
        "frames",
        "handle_headers on the HEADERS frame, handle_data once per DATA frame (END_STREAM on the last), then main",
        "/h2/echo_frames.py",
        200,
        method="POST",
        bodyFrames=(b"one,", b"two,", b"three"),
        known=(REQUIRED, differences.H2_REQUEST_BODY),
    ),
    H2Case(
        "static",
        "a static file: Content-Type from the extension, the file's bytes",
        "/h2/static.txt",
        200,
        known=(REQUIRED,),
    ),
    H2Case(
        "url",
        "request.url of an HTTP/2 request",
        "/h2/url.py",
        200,
        known=(REQUIRED, differences.H2_REQUEST_URL),
    ),
    H2Case(
        "http-exception",
        "HTTPException(403, message): the JSON error body, with its Content-Length on both",
        "/http_exception.py",
        403,
    ),
    H2Case(
        "not-found",
        "a missing file: 404 with the JSON error body",
        "/h2/nothere.py",
        404,
        known=(differences.NOT_FOUND_NAMES_PATH,),
    ),
    H2Case(
        "raw-write",
        "wpt's image.py over HTTP/2 (write_status, write_header, end_headers, then writer.write(body)): "
        "500 with the traceback on both (wptserve's HTTP/2 writer has no write_status; ours holds the "
        "HEADERS frame, so its refusal of the raw write is still answered 500)",
        "/h2/raw_image.py",
        500,
        bodyMode=JSON_ERROR,
    ),
    H2Case(
        "exception",
        "an exception in main: 500 with the traceback in the JSON error body",
        "/raise_exception.py",
        500,
        bodyMode=JSON_ERROR,
        mustContain=("ValueError: boom from the handler",),
    ),
]


def _address(baseURL: str) -> tuple[str, int]:
    parts = urlsplit(baseURL)
    assert parts.hostname is not None and parts.port is not None, baseURL
    return (parts.hostname, parts.port)


@pytest.fixture(scope="session")
def h2harness(wptserve_server: Callable[..., str], our_server: Callable[..., str]) -> H2Harness:
    """wptserve's h2 server and ours, both on the differential root."""
    return H2Harness(_address(wptserve_server(ROOT, h2=True)), _address(our_server(ROOT, h2=True)))


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_h2_file_is_sane_on_wptserve(h2harness: H2Harness, case: H2Case) -> None:
    """
    Each case's handler file answers, on wptserve 4.0.3's h2 server, with
    the status the case means.  Guards the test data, not our code.
    """
    response = h2harness.send(h2harness.theirs, case)
    assert response.code == case.expectCode, f"{case.id}: {case.doc}\n{response.raw.decode()[:2000]}"


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_h2_same_as_wptserve(h2harness: H2Harness, case: H2Case) -> None:
    """
    Over HTTP/2, our answer is wptserve's h2 server's: same status, header
    fields and body, but for the documented differences the case names.
    """
    comparison = h2harness.compare(case)
    if comparison.problems:
        raise AssertionError(f"{case.id}: {case.doc}\n" + comparison.report())


def test_h2_frames_arrive_one_by_one(h2harness: H2Harness) -> None:
    """
    The ``frames`` case really tells the frames apart: on both servers
    ``handle_data`` ran once per DATA frame, in order, before ``main``, and
    only the last one ended the stream (so the byte-equal parts of the
    comparison are not an accident of both servers seeing nothing).
    """
    case = next(c for c in CASES if c.id == "frames")
    for address in (h2harness.theirs, h2harness.ours):
        seen = json.loads(h2Request(address, case.path, case.method, (), case.bodyFrames).body)
        assert seen[:4] == [
            ["headers", "POST", "/h2/echo_frames.py"],
            ["data", "one,", False],
            ["data", "two,", False],
            ["data", "three", True],
        ], seen
        assert seen[4][:2] == ["main", "POST"], seen


def test_h2_required_headers(h2harness: H2Harness) -> None:
    """
    The ``h2-required-headers`` difference, on the headers the comparison
    leaves out: wptserve's h2 server sends neither Server nor Date, ours
    sends both (and Content-Length), as on HTTP/1.1.
    """
    theirs = h2Request(h2harness.theirs, "/ret_code_reason.py")
    ours = h2Request(h2harness.ours, "/ret_code_reason.py")
    assert theirs.headerValues(b"server") == [] and theirs.headerValues(b"date") == [], theirs.headers
    assert ours.headerValues(b"server") == [b"twisted_pyhandlers"], ours.headers
    assert len(ours.headerValues(b"date")) == 1, ours.headers
    assert ours.headerValues(b"content-length") == [b"%d" % len(ours.body)], ours.headers


def test_h2_known_differences_are_documented() -> None:
    """
    Every HTTP/2 difference the suite allows is named in
    ``docs/differences/topology.rst``, and the cases use only registered
    ones.
    """
    text = DOCS.read_text(encoding="utf-8")
    missing = [d for d in differences.H2 if f"``{d}``" not in text]
    assert not missing, f"undocumented known differences: {missing}"
    registered = set(differences.H2.values()) | set(differences.ALL.values())
    stray = [(c.id, k.id) for c in CASES for k in c.known if k not in registered]
    assert not stray, stray
