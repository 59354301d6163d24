"""
The file side against wptserve 4.0.3: static files and their types,
``.headers`` companions, ranges, ``.asis``, ``.sub.`` templates, pipes on
files and on handler responses, directory listings — on a document root of
our own (``static_root/``), including the places where wptserve's behaviour
looks odd.

Every difference a case allows is one of the :class:`KnownDifference`
objects below, each listed with its reason in
``docs/differences/static.rst`` (``test_differencesDocumented`` checks).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from .differences import NOT_FOUND_NAMES_PATH
from .harness import JSON_ERROR, Harness, KnownDifference, request

STATIC_ROOT = Path(__file__).parent / "static_root"
DOCS = Path(__file__).parent.parent.parent / "docs" / "differences" / "static.rst"

CONTENT_LENGTH = KnownDifference(
    id="static-content-length",
    fields=("content-length",),
    reason="a whole static file (or range) goes out with its Content-Length "
    "so the connection stays open; wptserve streams files unframed and closes",
)
CONTENT_RANGE_416 = KnownDifference(
    id="static-416-content-range",
    fields=("content-range",),
    reason="a 416 carries Content-Range: bytes */SIZE (docs/static.rst, RFC 9110); "
    "wptserve sets it and then loses it when it writes the error",
)
HANDLER_PIPES_ONCE = KnownDifference(
    id="handler-pipes-once",
    fields=("x-handler",),
    reason="pipes run once on a handler's response; wptserve runs them twice "
    "when main returns a value, so header(...,true) appends twice there",
)

#: Plain files (nothing to process) come from Twisted's File, with
#: wptserve's headers (no Last-Modified, no Accept-Ranges) and a length.
PLAIN = (CONTENT_LENGTH,)
#: Files with a ``.headers`` companion or a ``Range`` come from serveFile.
PROCESSED = (CONTENT_LENGTH,)

#: The server's own 404s name the path (shared with the handler suite).
NOT_FOUND = (NOT_FOUND_NAMES_PATH,)

ALL = [CONTENT_LENGTH, CONTENT_RANGE_416, HANDLER_PIPES_ONCE, NOT_FOUND_NAMES_PATH]

# Extra ids only checked by dedicated tests below (not through compare).
DEDICATED_IDS = ["range-non-ascii-400", "gzip-mtime"]

_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def sameHost(value: bytes) -> bytes:
    """
    wptserve's default config names the bound address (127.0.0.1) as
    ``browser_host``; ours defaults to ``localhost``.  Both are "the main
    host" of the same setup.
    """
    return value.replace(b"127.0.0.1", b"localhost")


def sameBoundary(value: bytes) -> bytes:
    """Multipart boundaries are random UUIDs on both servers."""
    return _UUID.sub(b"BOUNDARY", value)


def sameGzipTime(value: bytes) -> bytes:
    """A gzip header carries the compression time (bytes 4-7)."""
    if value.startswith(b"\x1f\x8b\x08"):
        return value[:4] + b"\0\0\0\0" + value[8:]
    return value


CASES: list[tuple[str, str, dict[str, object]]] = [
    # -- 1. types -------------------------------------------------------------
    *[
        (f"type-{name}", "/" + name, {"knownDifferences": PLAIN})
        for name in [
            "plain.txt",
            "page.html",
            "script.js",
            "module.mjs",
            "data.json",
            "app.wasm",
            "image.svg",
            "page.xht",
            "page.xhtml",
            "style.css",
            "offline.manifest",
            "noext",
            "thing.xyz",
            "archive.gz",
            "empty.txt",
            "listing/orphan.headers",
        ]
    ],
    ("head-plain", "/plain.txt", {"method": "HEAD", "knownDifferences": PLAIN}),
    ("post-static-404", "/plain.txt", {"method": "POST", "body": b"x", "knownDifferences": NOT_FOUND}),
    ("below-a-file-404", "/plain.txt/x", {"knownDifferences": NOT_FOUND}),
    ("file-with-slash-404", "/plain.txt/", {"knownDifferences": NOT_FOUND}),
    ("missing-404", "/nosuch.txt", {"knownDifferences": NOT_FOUND}),
    ("plain-if-modified-since", "/plain.txt", {"headers": [("If-Modified-Since", "Tue, 01 Jan 2999 00:00:00 GMT")], "knownDifferences": PLAIN}),
    ("empty-segment-plain", "/listing//a", {"knownDifferences": PLAIN}),
    ("empty-segments-processed", "/dirheaders///file.txt", {"knownDifferences": PROCESSED}),
    ("empty-segment-listing", "/listing//", {}),
    ("empty-segment-handler", "/deeper//where.py?x=1", {}),
    ("leading-double-slash", "//plain.txt", {"knownDifferences": PLAIN}),
    ("leading-double-slash-missing-404", "//nosuch.txt", {"knownDifferences": NOT_FOUND}),
    # -- 2. .headers ----------------------------------------------------------
    ("headers-grouped", "/headed.txt", {"knownDifferences": PROCESSED}),
    ("headers-head", "/headed.txt", {"method": "HEAD", "knownDifferences": PROCESSED}),
    ("headers-content-type", "/typed.txt", {"knownDifferences": PROCESSED}),
    ("headers-colon-in-value", "/colon.txt", {"knownDifferences": PROCESSED}),
    ("headers-dir-then-file", "/dirheaders/file.txt", {"knownDifferences": PROCESSED}),
    ("headers-dir-only", "/dirheaders/other.txt", {"knownDifferences": PROCESSED}),
    (
        "headers-sub-wins",
        "/subheaders/file.txt?q=a%3Cb&d=dd",
        {"knownDifferences": PROCESSED, "normalise": sameHost},
    ),
    ("headers-malformed-500", "/badheaders.txt", {"bodyMode": JSON_ERROR}),
    # -- 3. ranges ------------------------------------------------------------
    *[
        (f"range-{spec}", "/range.txt", {"headers": [("Range", spec)]})
        for spec in ["bytes=0-4", "bytes=-5", "bytes=20-", "bytes=0-4,5-9", "bytes=0-"]
    ],
    ("range-head", "/range.txt", {"method": "HEAD", "headers": [("Range", "bytes=0-1")]}),
    *[
        (
            f"range-multi-{spec}",
            path,
            {
                "headers": [("Range", spec)],
                "knownDifferences": PROCESSED,
                "normalise": sameBoundary,
            },
        )
        for spec, path in [
            ("bytes=0-1,5-6", "/digits.txt"),
            ("bytes=0-9,2-2,5-5", "/range.txt"),
            ("bytes=-3,0-0", "/range.txt"),
        ]
    ],
    *[
        (
            f"range-416-{spec}",
            "/range.txt",
            {"headers": [("Range", spec)], "knownDifferences": (CONTENT_RANGE_416,)},
        )
        for spec in ["bytes=100-200", "bytes=5-2", "items=0-1", "bytes=abc", "bytes=1-2-3", ""]
    ],
    ("range-with-pipe", "/range.txt?pipe=slice(1,3)", {"headers": [("Range", "bytes=0-9")]}),
    # -- 4. .asis -------------------------------------------------------------
    ("asis", "/status.asis", {}),
    ("asis-no-length", "/nolength.asis", {}),
    ("asis-head", "/status.asis", {"method": "HEAD"}),
    ("asis-pipes-ignored", "/status.asis?pipe=status(500)", {}),
    ("asis-post-404", "/status.asis", {"method": "POST", "body": b"", "knownDifferences": NOT_FOUND}),
    # -- 5. .sub. -------------------------------------------------------------
    (
        "sub-html-everything",
        "/sub/vars.sub.html?q=%3Ca%26b%22",
        {"headers": [("X-Test", "t<1>")], "normalise": sameHost},
    ),
    ("sub-txt-unescaped", "/sub/noescape.sub.txt?q=%3Ca%3E", {}),
    ("sub-xml-escaped", "/sub/escape.sub.xml?q=%3Ca%3E", {}),
    ("sub-svg-escaped", "/sub/escape.sub.svg?q=%3Ca%3E", {}),
    ("sub-js-unescaped", "/sub/escape.sub.js?q=%3Ca%3E", {}),
    ("sub-fs-path", "/sub/fspath.sub.txt", {}),
    ("sub-in-directory-name", "/dir.sub.d/file.txt?q=%3Cx%3E", {}),
    ("sub-pipe-on-plain", "/sub/plainsub.txt?pipe=sub&q=%3Cx%3E", {}),
    ("sub-pipe-none", "/sub/plainsub.txt?pipe=sub(none)&q=%3Cx%3E", {}),
    *[
        (f"sub-error-{name}", f"/sub/{name}.sub.txt", {"bodyMode": JSON_ERROR})
        for name in ["unknown", "missingheader", "badkey", "badalg", "notscalar"]
    ],
    ("sub-bad-escape-type", "/sub/plainsub.txt?pipe=sub(bogus)", {"bodyMode": JSON_ERROR}),
    ("sub-bad-escape-unused", "/plain.txt?pipe=sub(bogus)", {}),
    # -- 6. pipes ---------------------------------------------------------------
    *[
        (f"pipe-{pipe}", "/plain.txt?pipe=" + pipe, {"knownDifferences": PROCESSED})
        for pipe in [
            "status(201)",
            "status(299)",
            "header(Content-Type,text/x-piped)",
            "header(X-A,1)|header(X-A,2,true)",
            "|status(204)",
            "status(404)status(405)",
            "status(210",
            "header(X-E,a\\,b)",
        ]
    ],
    *[
        (f"pipe-{pipe}", "/plain.txt?pipe=" + pipe, {})
        for pipe in ["slice(2,5)", "slice(null,-3)", "slice(-4)", "slice(1,null)"]
    ],
    ("pipe-last-wins", "/plain.txt?pipe=status(201)&pipe=status(202)", {"knownDifferences": PROCESSED}),
    ("pipe-empty", "/plain.txt?pipe=", {"knownDifferences": PLAIN}),
    ("pipe-trickle", "/plain.txt?pipe=trickle(2:d0.01:r2)", {}),
    ("pipe-trickle-delay-only", "/plain.txt?pipe=trickle(d0.01)", {}),
    ("pipe-trickle-keeps-cache-header", "/headed.txt?pipe=trickle(3)|header(Cache-Control,x)", {}),
    ("pipe-gzip", "/headed.txt?pipe=gzip", {"normalise": sameGzipTime}),
    ("pipe-gzip-then-slice", "/plain.txt?pipe=gzip|slice(0,10)", {"normalise": sameGzipTime}),
    *[
        (f"pipe-error-{pipe}", "/plain.txt?pipe=" + pipe, {"bodyMode": JSON_ERROR})
        for pipe in [
            "nosuch",
            "status(abc)",
            "header(a)",
            "(200)",
            "trickle(r1)",
            "header(X,Y,maybe)",
            "slice(a)",
            "status(201)%26pipe=status(202)",
        ]
    ],
    (
        "pipe-on-handler",
        "/handler.py?pipe=status(202)|header(X-Handler,again,true)|header(X-New,v)",
        {"knownDifferences": (HANDLER_PIPES_ONCE,)},
    ),
    ("pipe-on-handler-none", "/handler_none.py?pipe=slice(4,7)", {}),
    ("pipe-on-handler-error", "/handler.py?pipe=nosuch", {"bodyMode": JSON_ERROR}),
    ("sub-handler-file", "/handler.sub.py?q=%3Cz%3E", {"normalise": sameHost}),
    # -- 7. listing -------------------------------------------------------------
    ("listing", "/listing/", {}),
    ("listing-top", "/", {}),
    ("listing-head", "/listing/", {"method": "HEAD"}),
    ("listing-post-404", "/listing/", {"method": "POST", "body": b"", "knownDifferences": NOT_FOUND}),
    ("listing-dir-headers-not-applied", "/dirheaders/", {}),
]


@pytest.fixture(scope="module")
def staticHarness(wptserve_server: Callable[[str], str], our_server: Callable[[str], str]) -> Harness:
    """Both servers on ``static_root/``."""
    return Harness(wptserve_server(str(STATIC_ROOT)), our_server(str(STATIC_ROOT)))


@pytest.mark.parametrize("path, options", [pytest.param(path, options, id=caseId) for caseId, path, options in CASES])
def test_sameAsWptserve(staticHarness: Harness, path: str, options: dict[str, object]) -> None:
    """
    The request gets the same status line, headers (less Date and Server)
    and body from both servers, but for the known differences it names.
    """
    staticHarness.assertSame(path, **options)


def test_emptyAsisSendsNothing(staticHarness: Harness) -> None:
    """
    An empty ``.asis`` file: both servers send no byte at all and close.
    """
    for address in (staticHarness.theirs, staticHarness.ours):
        with socket.create_connection(address, timeout=5) as sock:
            sock.sendall(b"GET /empty.asis HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(1024) == b""


def test_nonAsciiRange(staticHarness: Harness) -> None:
    """
    range-non-ascii-400: a non-ASCII Range header is our 400; wptserve
    means to answer 400 too but drops the exception and fails with a 500
    (an UnboundLocalError).
    """
    header = [("Range", b"bytes=\xe9")]
    theirs = request(staticHarness.theirs, "/range.txt", headers=header)
    ours = request(staticHarness.ours, "/range.txt", headers=header)
    assert theirs.code == 500
    assert b"UnboundLocalError" in theirs.body
    assert ours.code == 400
    assert ours.body == b'{"error": {"code": 400, "message": "(400, \'Non-ASCII range header value\')"}}'


def test_gzipTimestamp(staticHarness: Harness) -> None:
    """
    gzip-mtime: both servers put the compression time in the gzip header;
    everything else of the gzip pipe's output is byte-equal (see the
    ``pipe-gzip`` case, which blanks the time).
    """
    theirs = request(staticHarness.theirs, "/headed.txt?pipe=gzip")
    ours = request(staticHarness.ours, "/headed.txt?pipe=gzip")
    assert sameGzipTime(theirs.body) == sameGzipTime(ours.body)


def test_differencesDocumented() -> None:
    """Every known difference used here is named in docs/differences/static.rst."""
    text = DOCS.read_text()
    for known in [d.id for d in ALL] + DEDICATED_IDS:
        assert known in text, known
