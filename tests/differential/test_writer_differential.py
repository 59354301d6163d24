"""
Differential tests of ``response.writer`` (docs/writer.rst): what an
HTTP client sees when a handler writes the response itself must be what
wptserve 4.0.3 sends, less Date and Server.

Most cases read to the server's close (``readToClose``): the request says
``Connection: close`` and every byte up to the close is the body, so
anything a server added after the handler's own bytes would show.  A few
cases read by HTTP framing instead, to check that the handler's
Content-Length is what frames the response.
"""

from __future__ import annotations

import pytest

from .cases import Case, checkSame, checkWptserve
from .harness import Harness

WRITER = [
    Case(
        "status-headers",
        "write_status with a reason, duplicate headers in chosen case, int value",
        "/writer/status_headers.py",
        200,
        readToClose=True,
    ),
    Case(
        "status-headers-framed",
        "the handler's Content-Length frames the written response",
        "/writer/status_headers.py",
        200,
    ),
    Case(
        "no-length",
        "no Content-Length: several write_content calls, end by close",
        "/writer/no_length.py",
        201,
        readToClose=True,
    ),
    Case(
        "no-length-framed",
        "no Content-Length: a client framing by HTTP reads to the close",
        "/writer/no_length.py",
        201,
    ),
    Case(
        "status-headers-loop",
        "response.write_status_headers() then writer.write_content in a loop",
        "/writer/status_headers_loop.py",
        200,
        readToClose=True,
    ),
    Case(
        "raw",
        "writer.write: a whole response written by hand, nothing added",
        "/writer/raw.py",
        299,
        readToClose=True,
    ),
    Case(
        "raw-framed",
        "writer.write: the hand-written Content-Length frames the response",
        "/writer/raw.py",
        299,
    ),
    Case(
        "return-ignored",
        "after writer use, main's return value and the response object are ignored",
        "/writer/return_ignored.py",
        200,
        readToClose=True,
    ),
    Case(
        "content-only",
        "write_content with no status: 200 OK, required headers, Content-Length",
        "/writer/content_only.py",
        200,
        readToClose=True,
    ),
    Case(
        "header-only",
        "write_header with no status: a 200 OK status line first",
        "/writer/header_only.py",
        200,
        readToClose=True,
    ),
    Case(
        "code-no-reason",
        "write_status(599): empty reason phrase",
        "/writer/code_no_reason.py",
        599,
        readToClose=True,
    ),
    Case(
        "no-required-headers",
        "add_required_headers = False: end_headers adds nothing",
        "/writer/no_required_headers.py",
        200,
        readToClose=True,
    ),
    Case(
        "raw-content-file",
        "write_raw_content with a file-like object",
        "/writer/raw_content_file.py",
        200,
        readToClose=True,
    ),
    Case(
        "raise-after-write",
        "an exception after writing: no error response is appended",
        "/writer/raise_after_write.py",
        200,
        readToClose=True,
    ),
    Case(
        "half-response",
        "half a response (Content-Length 100, 10 bytes) then return: the close ends it",
        "/writer/half_response.py",
        200,
        readToClose=True,
    ),
    Case(
        "not-http",
        "writer.write of bytes that are not HTTP: they go out as they are",
        "/writer/not_http.py",
        # The client reads "this is not HTTP" as a status line with no code.
        None,
        readToClose=True,
    ),
    Case(
        "head",
        "HEAD to a writer handler: what the handler writes goes out",
        "/writer/status_headers.py",
        200,
        method="HEAD",
        readToClose=True,
    ),
]


@pytest.mark.parametrize("case", [c.param() for c in WRITER])
def test_writer_file_is_sane_on_wptserve(theirs_only: str, case: Case) -> None:
    """
    Each writer handler file does, on wptserve 4.0.3, what its case means
    (the expected status code).  Guards the test data, not our code.
    """
    checkWptserve(theirs_only, case)


@pytest.mark.parametrize("case", [c.param() for c in WRITER])
def test_writer_same_as_wptserve(harness: Harness, case: Case) -> None:
    """
    A response written through ``response.writer`` reaches the client as it
    does from wptserve: same status line, headers and body bytes.
    """
    checkSame(harness, case)
