"""
Static files under a handler root (docs/static.rst), end to end over real
ports: content types, ``.headers`` companions, ranges, ``.asis`` files,
methods, and which requests Twisted's own File serves.
"""

from __future__ import annotations

import json
import random

import pytest
import pytest_twisted
import treq
from rawhttp import exchange, portOf
from serving import HandlerRoot, Serve
from twisted.internet import reactor
from twisted.python.filepath import FilePath
from wptserve.ranges import RangeParser
from wptserve.utils import HTTPException as WptserveHTTPException

from twisted_pyhandlers import HandlerDirectory
from twisted_pyhandlers._contenttypes import guessContentType
from twisted_pyhandlers._filebody import FileBody
from twisted_pyhandlers._ranges import RangeError, parseRange


def _serveRoot(serve: Serve, root: HandlerRoot) -> str:
    return serve(HandlerDirectory(str(root.path), reactor=reactor))


def _writeBytes(root: HandlerRoot, relative: str, data: bytes) -> None:
    target = root.path / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


async def _rawGet(
    base: str, target: str, method: str = "GET", extra: bytes = b""
) -> tuple[bytes, dict[bytes, list[bytes]], bytes]:
    """
    One request over a raw socket (treq hides Content-Length and
    Content-Encoding): status line, headers by lower-case name, body.
    """
    request = f"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".encode()
    raw = await exchange(portOf(base), request + extra + b"\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers: dict[bytes, list[bytes]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers.setdefault(name.lower(), []).append(value.strip())
    return lines[0], headers, body


# -- content types ------------------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [
        ("a.js", "text/javascript"),
        ("a.mjs", "text/javascript"),
        ("a.json", "application/json"),
        ("a.wasm", "application/wasm"),
        ("a.svg", "image/svg+xml"),
        ("a.xht", "application/xhtml+xml"),
        ("a.xhtml", "application/xhtml+xml"),
        ("a.webmanifest", "application/manifest+json"),
        ("a.woff2", "font/woff2"),
        ("a.sub.html", "text/html"),
        ("a.html.headers", "application/octet-stream"),
        ("a.gz", "application/octet-stream"),
        ("a.HTML", "text/html"),
        ("a.pdf", "application/pdf"),
        ("noext", "application/octet-stream"),
        (".htaccess", "application/octet-stream"),
        ("a.unknownext", "application/octet-stream"),
    ],
)
def test_guessContentType(name: str, expected: str) -> None:
    """
    The MIME table: wptserve's types first, web types it lacks, Python's
    built-in table, else octet-stream; the last extension decides and no
    encoding is guessed from ``.gz``.
    """
    assert guessContentType(name) == expected


@pytest_twisted.ensureDeferred
async def test_plainFileServedByTwistedFile(
    serve: Serve, handlerRoot: HandlerRoot
) -> None:
    """
    A file with nothing to process comes from twisted.web.static.File
    with wptserve's headers: guessed type and Content-Length, but no
    Last-Modified and no Accept-Ranges (wptserve sends neither), and our
    Server header.
    """
    handlerRoot.write("dir/script.js", "console.log(1);\n")
    base = _serveRoot(serve, handlerRoot)
    status, headers, body = await _rawGet(base, "/dir/script.js")
    assert status == b"HTTP/1.1 200 OK"
    assert headers[b"content-type"] == [b"text/javascript"]
    assert headers[b"content-length"] == [b"16"]
    assert b"last-modified" not in headers
    assert b"accept-ranges" not in headers
    assert headers[b"server"] == [b"twisted_pyhandlers"]
    assert body == b"console.log(1);\n"


@pytest_twisted.ensureDeferred
async def test_noConditionalGet(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """
    A plain file is never answered 304, whatever If-Modified-Since says
    (wptserve has no conditional GET), so a page always gets its body and
    a fresh ``document.lastModified``.
    """
    handlerRoot.write("a.txt", "x")
    base = _serveRoot(serve, handlerRoot)
    answer = await treq.get(base + "/a.txt", headers={"If-Modified-Since": "Tue, 01 Jan 2999 00:00:00 GMT"})
    assert answer.code == 200
    assert await answer.content() == b"x"
    assert answer.headers.getRawHeaders("last-modified") is None


@pytest_twisted.ensureDeferred
async def test_gzFileIsOpaque(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """
    A ``.gz`` file is served as its bytes, without Content-Encoding (as
    wptserve does), although Twisted's File would add one.
    """
    _writeBytes(handlerRoot, "a.gz", b"\x1f\x8bnot really")
    base = _serveRoot(serve, handlerRoot)
    _, headers, body = await _rawGet(base, "/a.gz")
    assert b"content-encoding" not in headers
    assert headers[b"content-type"] == [b"application/octet-stream"]
    assert body == b"\x1f\x8bnot really"


@pytest_twisted.ensureDeferred
async def test_largeFileStreamed(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """
    A file larger than any buffer arrives whole and exact, on both the plain
    path and the processed path (a ``.headers`` companion).
    """
    data = random.Random(5).randbytes(3 * 1024 * 1024 + 17)
    _writeBytes(handlerRoot, "big.bin", data)
    _writeBytes(handlerRoot, "headed.bin", data)
    handlerRoot.write("headed.bin.headers", "X-Big: yes\n")
    base = _serveRoot(serve, handlerRoot)
    for name in ("big.bin", "headed.bin"):
        _, headers, _ = await _rawGet(base, "/" + name, method="HEAD")
        assert headers[b"content-length"] == [str(len(data)).encode()]
        response = await treq.get(base + "/" + name)
        assert await response.content() == data


def test_fileBodyReadsOnlyItsRange(tmp_path: object) -> None:
    """
    FileBody gives exactly ``length`` bytes from ``offset``, in pieces, and
    reports what remains.
    """
    path = FilePath(str(tmp_path)).child("f")
    path.setContent(b"0123456789")
    body = FileBody(path.open("r"), 2, 5)
    assert body.remaining == 5
    assert body.read(2) == b"23"
    assert body.remaining == 3
    assert body.read() == b"456"
    assert body.read(10) == b""
    body.close()


# -- methods and odd paths ----------------------------------------------------


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("name", ["a.txt", "headed.txt", "r.asis"])
async def test_otherMethods404(
    serve: Serve, handlerRoot: HandlerRoot, name: str
) -> None:
    """
    Static content answers GET and HEAD only; like wptserve, whose static
    routes are GET-only, any other method is its JSON 404 (ours names the
    method and the path; wptserve's message is empty).
    """
    handlerRoot.write("a.txt", "a")
    handlerRoot.write("headed.txt", "h")
    handlerRoot.write("headed.txt.headers", "X-A: 1\n")
    handlerRoot.write("r.asis", "HTTP/1.1 200 OK\r\n\r\n")
    base = _serveRoot(serve, handlerRoot)
    response = await treq.post(base + "/" + name, data=b"x")
    assert response.code == 404
    assert json.loads(await response.content()) == {
        "error": {"code": 404, "message": f"No handler for POST /{name}"}
    }


@pytest_twisted.ensureDeferred
async def test_pathBelowAFile404(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """
    ``file.txt/`` and ``file.txt/more`` are not the file: 404.
    """
    handlerRoot.write("file.txt", "f")
    base = _serveRoot(serve, handlerRoot)
    for suffix in ("/", "/more"):
        response = await treq.get(base + "/file.txt" + suffix)
        assert response.code == 404
        await response.content()


@pytest_twisted.ensureDeferred
async def test_head(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """
    HEAD gives the headers of GET and no body, on both paths.
    """
    handlerRoot.write("a.txt", "abc")
    handlerRoot.write("b.txt", "abcd")
    handlerRoot.write("b.txt.headers", "X-B: 1\n")
    base = _serveRoot(serve, handlerRoot)
    for name, length in (("a.txt", b"3"), ("b.txt", b"4")):
        status, headers, body = await _rawGet(base, "/" + name, method="HEAD")
        assert status == b"HTTP/1.1 200 OK"
        assert headers[b"content-length"] == [length]
        assert body == b""


# -- .headers -----------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_headersFilesOrderAndCase(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """
    ``__dir__.headers`` then ``NAME.headers``, values of one name grouped
    where the name first appeared, names in the case the file gives, the
    guessed Content-Type first.
    """
    handlerRoot.write("d/__dir__.headers", "X-Dir: 1\nx-shared: dir\n")
    handlerRoot.write("d/f.html", "<p>")
    handlerRoot.write("d/f.html.headers", "X-File: 2\nX-SHARED: file\n")
    port = portOf(_serveRoot(serve, handlerRoot))
    raw = await exchange(
        port, b"GET /d/f.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]
    ours = [line for line in head if line.lower().startswith((b"x-", b"content-type"))]
    assert ours == [
        b"Content-Type: text/html",
        b"X-Dir: 1",
        b"x-shared: dir",
        b"x-shared: file",
        b"X-File: 2",
    ]


@pytest_twisted.ensureDeferred
async def test_headersFileContentType(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """
    A Content-Type in a ``.headers`` file replaces the guessed one.
    """
    handlerRoot.write("a.js", "1")
    handlerRoot.write("a.js.headers", "Content-Type: text/plain;charset=utf-8\n")
    base = _serveRoot(serve, handlerRoot)
    response = await treq.get(base + "/a.js")
    assert response.headers.getRawHeaders("content-type") == [
        "text/plain;charset=utf-8"
    ]
    await response.content()


@pytest_twisted.ensureDeferred
async def test_subHeadersTemplated(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """
    ``NAME.sub.headers`` is templated without escaping and wins over
    ``NAME.headers``.
    """
    handlerRoot.write("a.txt", "a")
    handlerRoot.write("a.txt.sub.headers", "X-Q: {{GET[q]}}\n")
    handlerRoot.write("a.txt.headers", "X-Plain: ignored\n")
    base = _serveRoot(serve, handlerRoot)
    response = await treq.get(base + "/a.txt?q=%3Cb%3E")
    assert response.headers.getRawHeaders("x-q") == ["<b>"]
    assert not response.headers.hasHeader("x-plain")
    await response.content()


@pytest_twisted.ensureDeferred
async def test_malformedHeadersFile500(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """
    A ``.headers`` line without a colon is a 500 naming the file, and the
    server keeps serving.
    """
    handlerRoot.write("a.txt", "a")
    handlerRoot.write("a.txt.headers", "no colon here\n")
    base = _serveRoot(serve, handlerRoot)
    response = await treq.get(base + "/a.txt")
    assert response.code == 500
    message = json.loads(await response.content())["error"]["message"]
    assert "a.txt.headers" in message
    again = await treq.get(base + "/a.txt.headers")
    assert again.code == 200
    await again.content()


# -- ranges -------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_singleRange(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """One range: 206, Content-Range, Content-Length, those bytes."""
    handlerRoot.write("r.txt", "0123456789")
    base = _serveRoot(serve, handlerRoot)
    status, headers, body = await _rawGet(base, "/r.txt", extra=b"Range: bytes=2-4\r\n")
    assert status == b"HTTP/1.1 206 Partial Content"
    assert headers[b"content-range"] == [b"bytes 2-4/10"]
    assert headers[b"content-length"] == [b"3"]
    assert body == b"234"


@pytest_twisted.ensureDeferred
async def test_multipleRanges(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """
    Several ranges: 206 multipart/byteranges, each part with the file's
    Content-Type and its Content-Range.
    """
    handlerRoot.write("r.txt", "0123456789")
    base = _serveRoot(serve, handlerRoot)
    response = await treq.get(base + "/r.txt", headers={"Range": "bytes=0-1,-2"})
    assert response.code == 206
    contentType = response.headers.getRawHeaders("content-type")[0]
    assert contentType.startswith("multipart/byteranges; boundary=")
    boundary = contentType.split("boundary=", 1)[1].encode()
    body = await response.content()
    assert body == (
        b"\r\n--"
        + boundary
        + b"\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n01"
        b"\r\n--"
        + boundary
        + b"\r\nContent-Type: text/plain\r\nContent-Range: bytes 8-9/10\r\n\r\n89"
        b"\r\n--" + boundary + b"--"
    )


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize(
    "header", ["bytes=10-", "bytes=5-2", "bytes=x-1", "pages=1-2", "bytes=1-2-3"]
)
async def test_unsatisfiableRange416(
    serve: Serve, handlerRoot: HandlerRoot, header: str
) -> None:
    """
    Unsatisfiable or malformed ranges give 416 with
    ``Content-Range: bytes */SIZE`` and wptserve's JSON error.
    """
    handlerRoot.write("r.txt", "0123456789")
    base = _serveRoot(serve, handlerRoot)
    response = await treq.get(base + "/r.txt", headers={"Range": header})
    assert response.code == 416
    assert response.headers.getRawHeaders("content-range") == ["bytes */10"]
    assert json.loads(await response.content())["error"]["code"] == 416


def _wptserveRanges(header: bytes, size: int) -> object:
    try:
        return [(r.lower, r.upper) for r in RangeParser()(header, size)]
    except WptserveHTTPException as error:
        return error.code


def _ourRanges(header: bytes, size: int) -> object:
    try:
        return [(r.lower, r.upper) for r in parseRange(header, size)]
    except RangeError as error:
        return error.code


def test_rangeParserMatchesWptserve() -> None:
    """
    For many generated Range headers (overlapping, touching, nested,
    suffix, open, empty and malformed items), our parser picks exactly the
    ranges — or the error code — wptserve's RangeParser does.
    """
    rng = random.Random(1234)
    pieces = ["", "-", "0", "1", "3", "5", "9", "10", "12", "x", " 2"]
    headers: list[bytes] = [b"bytes=0-9,2-2,5-5", b"bytes=", b"bytes=-", b"Bytes=0-1"]
    for _ in range(3000):
        items = []
        for _ in range(rng.randint(1, 4)):
            items.append(rng.choice(pieces) + "-" + rng.choice(pieces))
        headers.append(("bytes=" + ",".join(items)).encode())
    for header in headers:
        assert _ourRanges(header, 10) == _wptserveRanges(header, 10), header


# -- .asis --------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_asisWrittenAsIs(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """
    An ``.asis`` file reaches the socket byte for byte (its status line,
    its headers, nothing added), then the connection closes.
    """
    content = b"HTTP/1.1 299 Odd Reason\r\nx-lower: v\r\n\r\nbody bytes"
    _writeBytes(handlerRoot, "r.asis", content)
    port = portOf(_serveRoot(serve, handlerRoot))
    raw = await exchange(port, b"GET /r.asis HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw == content


@pytest_twisted.ensureDeferred
async def test_emptyAsis(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """
    An empty ``.asis`` file sends nothing at all and closes (no default
    response is added), as in wptserve.
    """
    _writeBytes(handlerRoot, "e.asis", b"")
    port = portOf(_serveRoot(serve, handlerRoot))
    raw = await exchange(port, b"GET /e.asis HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw == b""
