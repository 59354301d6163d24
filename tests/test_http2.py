"""
HTTP/2 on the h2 port, with real clients against a real ``twistd
pyhandlers`` process: ``curl --http2``, ``nghttp`` and ``h2load`` (Debian's
nghttp2-client; skipped where missing), httpx with its http2 extra, and the
frame-level client of ``h2client.py`` for what only frames show.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import time
from pathlib import Path
from typing import Iterator, List

import httpx
import pytest
from h2client import FrameClient, statusOf
from hyperframe.frame import DataFrame, GoAwayFrame, HeadersFrame, PushPromiseFrame, RstStreamFrame
from test_tls import Server

HANDLERS = {
    "hello.py": """
        def main(request, response):
            return [("Content-Type", "text/plain"), ("X-Protocol", request.protocol_version)], b"hello"
    """,
    "structured.py": """
        import time
        def main(request, response):
            writer = response.writer
            writer.write_status(201, "Made")
            writer.write_header("X-Written", "yes")
            writer.write_header("Connection", "close")
            writer.end_headers()
            writer.write_content("first ")
            time.sleep(0.5)
            writer.write_content(b"second")
    """,
    "echo.py": """
        import os
        seen = []
        def handle_headers(frame, request, response):
            seen.append(b"headers:" + dict(frame.headers)[b":method"])
        def handle_data(frame, request, response):
            if not frame.data:
                return  # the client's END_STREAM may come in an empty DATA frame
            seen.append(frame.data)
            with open(os.path.join(os.path.dirname(__file__), "seen.log"), "ab") as log:
                log.write(frame.data + b"\\n")
        def main(request, response):
            return [("Content-Type", "text/plain")], b"|".join(seen) + b"|body=" + request.body
    """,
    "frames.py": """
        import json
        def main(request, response):
            kinds = [type(frame).__name__ for frame in request.frames]
            kept = sum(len(getattr(frame, "data", b"")) for frame in request.frames)
            return json.dumps({"kinds": kinds, "stream": request.h2_stream_id, "body": len(request.body), "kept": kept})
    """,
    "raw11.py": """
        def main(request, response):
            response.writer.write(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nno")
    """,
    "image.py": """
        # wpt's fetch/cross-origin-resource-policy/resources/image.py, in short.
        def main(request, response):
            body = b"\\x89PNG not really"
            response.add_required_headers = False
            response.writer.write_status(200)
            response.writer.write_header(b"content-length", len(body))
            response.writer.write_header(b"content-type", b"image/png")
            response.writer.end_headers()
            response.writer.write(body)
    """,
    "rawafterdata.py": """
        def main(request, response):
            response.writer.write_status(200)
            response.writer.end_headers()
            response.writer.write_content(b"some")
            response.writer.write(b"raw")
    """,
    "headersonly.py": """
        def main(request, response):
            response.writer.write_status(204)
            response.writer.write_header("x-only", "headers")
            response.writer.end_headers()
    """,
    "rawframes.py": """
        def main(request, response):
            writer = response.writer
            writer.write_raw_header_frame([(":status", "200"), ("x-raw", "1")], end_headers=False)
            writer.write_raw_continuation_frame([("x-more", "2")], end_headers=True)
            writer.write_raw_data_frame(b"raw body", end_stream=True)
    """,
    "h2api.py": """
        def main(request, response):
            writer = response.writer
            size = writer.get_max_payload_size()
            writer.write_headers([("content-type", "text/plain"), ("x-size", str(size))], 200)
            writer.write_data_frame(b"one,", False)
            writer.write_data("two", last=True)
    """,
    "push.py": """
        def main(request, response):
            writer = response.writer
            pushed = writer.write_push(
                [(":method", "GET"), (":scheme", "https"), (":authority", request.headers[b"host"].decode()),
                 (":path", "/pushed.txt")],
                status=200, response_headers=[("content-type", "text/plain")], response_data=b"pushed body")
            writer.write_headers([("x-pushed-stream", str(pushed))], 200)
            writer.end_stream()
    """,
    "stash.py": """
        def main(request, response):
            key = request.GET.first(b"key")
            if request.method == "POST":
                request.server.stash.put(key, request.body)
                return b"stored"
            return request.server.stash.take(key) or b"none"
    """,
    "big.py": """
        def main(request, response):
            return [("Content-Type", "text/plain")], b"x" * 100000
    """,
    "oddheaders.py": """
        def main(request, response):
            return [("X-Padded", "  padded  "), ("Authorization", "Basic e30="), ("X-Int", 7)], b"odd"
    """,
    "broken_headers.py": """
        def handle_headers(frame, request, response):
            raise ValueError("bad headers step")
        def main(request, response):
            return b"not reached"
    """,
}


@pytest.fixture(scope="module")
def h2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One twistd process serving an h2 port (with the made certificate) over a root of test handlers."""
    tmp = tmp_path_factory.mktemp("h2")
    root = tmp / "root"
    root.mkdir()
    import textwrap

    for name, source in HANDLERS.items():
        (root / name).write_text(textwrap.dedent(source))
    (root / "static.txt").write_bytes(b"static body\n")
    (root / "page.sub.txt").write_text("port {{ports[h2][0]}} host {{host}}")
    server = Server(tmp, "--root", str(root), "--listen", "h2=tcp:0:interface=127.0.0.1", "--tls-dir", "tls")
    server.start(origins=1)
    server.root = root  # type: ignore[attr-defined]
    yield server
    server.stop()


def portOf(server: Server) -> int:
    return server.ports("h2")[0]


def caOf(server: Server) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(server.tmp / "tls" / "ca.pem"))


def curl(server: Server, path: str, *arguments: str) -> subprocess.CompletedProcess:
    """``curl --http2`` verifying the made CA."""
    return subprocess.run(
        ["curl", "--http2", "-sS", "--cacert", str(server.tmp / "tls" / "ca.pem"), *arguments,
         f"https://localhost:{portOf(server)}{path}"],
        capture_output=True, timeout=60,
    )


def test_curlOrdinaryHandler(h2: Server) -> None:
    """
    curl negotiates HTTP/2 by ALPN; an ordinary handler's return value goes
    out as a HEADERS frame (lower-case names, the required headers added)
    and its body; ``request.protocol_version`` is "HTTP/2.0".
    """
    result = curl(h2, "/hello.py", "-i")
    assert result.returncode == 0, result.stderr
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/2 200")
    assert b"x-protocol: HTTP/2.0" in head
    assert b"content-length: 5" in head
    assert b"server: twisted_pyhandlers" in head
    assert body == b"hello"


def test_h2PortIsHTTP2Only(h2: Server) -> None:
    """ALPN on the h2 port offers h2 alone: an HTTP/1.1-only client gets no HTTP/1.1 answer."""
    result = curl(h2, "/hello.py", "--http1.1", "-m", "10")
    assert result.returncode != 0
    assert b"hello" not in result.stdout


def test_staticSubPipesStash(h2: Server) -> None:
    """Static files, ``.sub.`` templates, pipes and the stash work over HTTP/2."""
    with httpx.Client(http2=True, verify=caOf(h2), timeout=20) as client:
        base = f"https://localhost:{portOf(h2)}"
        static = client.get(base + "/static.txt")
        assert (static.http_version, static.status_code, static.content) == ("HTTP/2", 200, b"static body\n")
        assert static.headers["content-type"].startswith("text/plain")
        ranged = client.get(base + "/static.txt", headers={"Range": "bytes=0-5"})
        assert (ranged.status_code, ranged.content) == (206, b"static")
        sub = client.get(base + "/page.sub.txt")
        assert sub.text == f"port {portOf(h2)} host localhost"
        piped = client.get(base + "/hello.py?pipe=status(418)|header(X-Pipe,on)")
        assert (piped.status_code, piped.headers["x-pipe"], piped.content) == (418, "on", b"hello")
        key = "a3a7d29e-3c3c-4d3e-9d6a-0c4b1f0e1e11"
        assert client.post(base + f"/stash.py?key={key}", content=b"kept").content == b"stored"
        assert client.get(base + f"/stash.py?key={key}").content == b"kept"
        assert client.get(base + "/missing.py").status_code == 404


def test_structuredWriterCalls(h2: Server) -> None:
    """
    ``write_status``/``write_header``/``end_headers``/``write_content`` make
    a HEADERS frame and DATA frames: the status and headers as given (the
    forbidden Connection header dropped), the body in two steps.
    """
    client = FrameClient(portOf(h2))
    try:
        start = time.monotonic()
        streamID = client.request("/structured.py")
        headers, body, frames = client.response(streamID)
        assert statusOf(headers) == 201
        assert (b"x-written", b"yes") in headers
        assert b"connection" not in dict(headers)
        assert body == b"first second"
        data = [f for f in frames if isinstance(f, DataFrame) and f.data]
        assert [f.data for f in data] == [b"first ", b"second"]
        assert time.monotonic() - start >= 0.5
    finally:
        client.close()


def test_handleDataFramesArriveOneByOne(h2: Server) -> None:
    """
    httpx streams an upload in three chunks; ``handle_data`` sees each DATA
    frame as it arrives (the upload only goes on once the server logged
    the previous chunk), ``handle_headers`` ran first, and ``main`` runs
    after the body is complete, with ``request.body`` whole.
    """
    log = h2.root / "seen.log"  # type: ignore[attr-defined]
    log.unlink(missing_ok=True)
    chunks = [b"one", b"two", b"three"]

    def upload() -> Iterator[bytes]:
        for index, chunk in enumerate(chunks):
            yield chunk
            deadline = time.monotonic() + 20
            while not (log.exists() and log.read_bytes().splitlines() == chunks[: index + 1]):
                assert time.monotonic() < deadline, "handle_data did not see the chunk before the body ended"
                time.sleep(0.02)

    with httpx.Client(http2=True, verify=caOf(h2), timeout=30) as client:
        answer = client.post(f"https://localhost:{portOf(h2)}/echo.py", content=upload())
    assert answer.http_version == "HTTP/2"
    assert answer.content == b"headers:POST|one|two|three|body=onetwothree"


def test_framesOfAFileWithoutFrameSteps(h2: Server) -> None:
    """
    A handler file without ``handle_headers``/``handle_data`` sees the same
    ``request.frames`` (the HEADERS event, then the DATA events, their
    payload not kept twice: it is ``request.body``), ``h2_stream_id`` and
    body the first time (its code not yet cached: its frames are steps)
    and after (cached: the frames are only noted, and the run starts once
    the request is complete).
    """
    with httpx.Client(http2=True, verify=caOf(h2), timeout=30) as client:
        for _ in range(3):
            answer = client.post(f"https://localhost:{portOf(h2)}/frames.py", content=b"x" * 50000)
            assert answer.http_version == "HTTP/2"
            got = answer.json()
            assert got["kinds"][0] == "RequestReceived" and set(got["kinds"][1:]) == {"DataReceived"}
            assert (got["body"], got["kept"]) == (50000, 0)
            assert got["stream"] % 2 == 1


def test_rawWriteBeforeAnyFrameIs500(h2: Server) -> None:
    """
    Raw ``writer.write()`` of HTTP/1.1 bytes on an HTTP/2 stream, before
    anything went out, is the handler's error, answered 500 with the
    error's JSON body (as ``wpt serve``, whose HTTP/2 writer raises there);
    the connection serves the next request.
    """
    client = FrameClient(portOf(h2))
    try:
        headers, body, frames = client.response(client.request("/raw11.py"))
        assert statusOf(headers) == 500
        assert b"writer.write() of raw bytes on an HTTP/2 stream" in body
        assert json.loads(body)["error"]["code"] == 500
        headers, body, _ = client.response(client.request("/hello.py"))
        assert (statusOf(headers), body) == (200, b"hello")
    finally:
        client.close()


def test_rawWriteAfterStructuredHeadersIs500(h2: Server) -> None:
    """
    wpt's ``image.py`` pattern over HTTP/2 (``write_status``,
    ``write_header``, ``end_headers``, then ``write(body)``): the HEADERS
    frame was held, so the client gets the 500 ``wpt serve`` gives (there,
    the structured calls themselves raise), not a 200 whose stream breaks.
    """
    client = FrameClient(portOf(h2))
    try:
        headers, body, frames = client.response(client.request("/image.py"))
        assert statusOf(headers) == 500
        assert b"writer.write() of raw bytes" in body
        assert [dict(headers).get(b"content-type")] == [b"application/json"]
        assert not any(isinstance(frame, RstStreamFrame) for frame in frames)
    finally:
        client.close()


def test_rawWriteAfterDataResetsStreamOnly(h2: Server) -> None:
    """
    Once DATA went out, a raw ``write()`` can only reset the stream
    (INTERNAL_ERROR), with a clear error in the log; the connection serves
    the next request.
    """
    client = FrameClient(portOf(h2))
    try:
        headers, body, frames = client.response(client.request("/rawafterdata.py"))
        assert statusOf(headers) == 200
        assert isinstance(frames[-1], RstStreamFrame) and frames[-1].error_code == 2
        headers, body, _ = client.response(client.request("/hello.py"))
        assert (statusOf(headers), body) == (200, b"hello")
    finally:
        client.close()
    assert "writer.write() of raw bytes on the HTTP/2 stream" in h2.text()


def test_heldHeadersGoOutWhenTheHandlerEnds(h2: Server) -> None:
    """A handler that ends its headers and returns gets its HEADERS frame sent, then the end of the stream."""
    client = FrameClient(portOf(h2))
    try:
        headers, body, frames = client.response(client.request("/headersonly.py"))
        assert statusOf(headers) == 204
        assert dict(headers)[b"x-only"] == b"headers"
        assert body == b""
    finally:
        client.close()


def test_wholeResponseIsTwoFrames(h2: Server) -> None:
    """
    A handler returning a small body known in full gets a HEADERS frame and
    one DATA frame that ends the stream (no empty DATA frame after it).
    """
    client = FrameClient(portOf(h2))
    try:
        _, _, frames = client.response(client.request("/hello.py"))
        assert [type(frame) for frame in frames] == [HeadersFrame, DataFrame]
        assert "END_STREAM" not in frames[0].flags
        assert "END_STREAM" in frames[1].flags and frames[1].data == b"hello"
        headers = client.headersOf(frames[0])
        assert headers[0] == (b":status", b"200")
        assert (b"content-length", b"5") in headers and (b"x-protocol", b"HTTP/2.0") in headers
    finally:
        client.close()


def test_wholeResponseToHEADIsOneFrame(h2: Server) -> None:
    """A HEAD request's whole response is one HEADERS frame ending the stream, with the body's Content-Length."""
    client = FrameClient(portOf(h2))
    try:
        headers, body, frames = client.response(client.request("/hello.py", method="HEAD"))
        assert [type(frame) for frame in frames] == [HeadersFrame]
        assert "END_STREAM" in frames[0].flags
        assert statusOf(headers) == 200 and dict(headers)[b"content-length"] == b"5" and body == b""
    finally:
        client.close()


def test_wholeResponseOverTheWindowWaitsForIt(h2: Server) -> None:
    """
    A whole response larger than the stream's flow-control window goes out
    as far as the window lets it, and the rest once the client opens it:
    all 100,000 bytes arrive, the stream ended once.
    """
    client = FrameClient(portOf(h2))
    try:
        headers, body, frames = client.response(client.request("/big.py"))
        assert statusOf(headers) == 200 and dict(headers)[b"content-length"] == b"100000"
        assert body == b"x" * 100000
        assert len([frame for frame in frames if isinstance(frame, DataFrame)]) > 1
        assert ["END_STREAM" in frame.flags for frame in frames].count(True) == 1
    finally:
        client.close()


def test_wholeResponseWithFieldsH2Normalises(h2: Server) -> None:
    """
    Fields h2's normalisation changes (a padded value, ``Authorization``,
    which h2 never indexes) still go through it: the value arrives
    stripped, as before the whole-response path.
    """
    client = FrameClient(portOf(h2))
    try:
        headers, body, _ = client.response(client.request("/oddheaders.py"))
        fields = dict(headers)
        assert (statusOf(headers), body) == (200, b"odd")
        assert fields[b"x-padded"] == b"padded"
        assert fields[b"authorization"] == b"Basic e30="
        assert fields[b"x-int"] == b"7"
    finally:
        client.close()


def test_rawFramesGetNothingAdded(h2: Server) -> None:
    """
    ``write_raw_header_frame``, ``write_raw_continuation_frame`` and
    ``write_raw_data_frame`` go out as built (HEADERS without END_HEADERS,
    then CONTINUATION, then DATA with END_STREAM), and Twisted adds no
    HEADERS or END_STREAM of its own after them.
    """
    client = FrameClient(portOf(h2))
    try:
        streamID = client.request("/rawframes.py")
        _, _, frames = client.response(streamID)
        assert [type(f).__name__ for f in frames] == ["HeadersFrame", "ContinuationFrame", "DataFrame"]
        assert "END_HEADERS" not in frames[0].flags and "END_HEADERS" in frames[1].flags
        assert client.headersOf(frames[0]) == [(b":status", b"200"), (b"x-raw", b"1")]
        assert client.headersOf(frames[1]) == [(b"x-more", b"2")]
        assert frames[2].data == b"raw body" and "END_STREAM" in frames[2].flags
        time.sleep(0.3)
        later = client.framesUntilPing()
        assert [f for f in later if f.stream_id == streamID] == []
    finally:
        client.close()


def test_h2WriterCalls(h2: Server) -> None:
    """
    ``write_headers``, ``write_data_frame`` and ``write_data(last=True)``
    through the state machine; ``get_max_payload_size`` is the frame size
    (16384 by default) less the 9-byte frame header.
    """
    client = FrameClient(portOf(h2))
    try:
        headers, body, frames = client.response(client.request("/h2api.py"))
        assert statusOf(headers) == 200
        assert dict(headers)[b"x-size"] == b"16375"
        assert body == b"one,two"
        assert "END_STREAM" in frames[-1].flags
        assert sum("END_STREAM" in f.flags for f in frames) == 1
    finally:
        client.close()


def test_pushAndClientResetOfPush(h2: Server) -> None:
    """
    ``write_push`` sends a PUSH_PROMISE on the request's stream and the
    pushed response on the promised (even) stream; a client resetting the
    pushed stream does not kill the connection.
    """
    client = FrameClient(portOf(h2))
    try:
        streamID = client.request("/push.py")
        seen: List = []
        while not any(f.stream_id == streamID and "END_STREAM" in f.flags for f in seen):
            seen.append(client.frame())
        promise = next(f for f in seen if isinstance(f, PushPromiseFrame))
        assert promise.stream_id == streamID and promise.promised_stream_id % 2 == 0
        assert (b":path", b"/pushed.txt") in client.headersOf(promise)
        pushedID = promise.promised_stream_id
        mine = [f for f in seen if f.stream_id == streamID and isinstance(f, HeadersFrame)]
        assert dict(client.headersOf(mine[0]))[b"x-pushed-stream"] == str(pushedID).encode()
        client.reset(pushedID)
        for _ in range(3):
            headers, body, _ = client.response(client.request("/hello.py"))
            assert (statusOf(headers), body) == (200, b"hello")
        assert not any(isinstance(f, GoAwayFrame) for f in client.framesUntilPing())
    finally:
        client.close()


def test_brokenFrameStep(h2: Server) -> None:
    """An exception in ``handle_headers`` is wptserve's 500 JSON error, with the traceback, and main does not run."""
    with httpx.Client(http2=True, verify=caOf(h2), timeout=20) as client:
        answer = client.get(f"https://localhost:{portOf(h2)}/broken_headers.py")
    assert answer.status_code == 500
    message = json.loads(answer.content)["error"]["message"]
    assert "bad headers step" in message and "Traceback" in message


def test_thousandRequestsOneConnection(h2: Server) -> None:
    """
    A thousand requests on one connection, sequentially on the frame-level
    client, half of them ended by raw frames: every stream's slot is freed
    (h2 allows 100 open streams), so all are answered.
    """
    client = FrameClient(portOf(h2))
    try:
        for index in range(1000):
            path = "/rawframes.py" if index % 2 else "/hello.py"
            headers, body, _ = client.response(client.request(path))
            assert statusOf(headers) == 200
            assert body == (b"raw body" if index % 2 else b"hello")
    finally:
        client.close()


needsNghttp = pytest.mark.skipif(
    shutil.which("nghttp") is None or shutil.which("h2load") is None,
    reason="nghttp and h2load (Debian's nghttp2-client) are not installed",
)


@needsNghttp
def test_nghttp(h2: Server) -> None:
    """nghttp fetches a handler and a pushed resource's promise is shown; the response is HTTP/2 with our body."""
    result = subprocess.run(
        ["nghttp", "-v", f"https://localhost:{portOf(h2)}/push.py"], capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert b"recv PUSH_PROMISE frame" in result.stdout
    assert b"/pushed.txt" in result.stdout
    result = subprocess.run(["nghttp", f"https://localhost:{portOf(h2)}/hello.py"], capture_output=True, timeout=60)
    assert result.stdout == b"hello"


@needsNghttp
def test_h2loadManyStreams(h2: Server) -> None:
    """h2load: 1000 requests on one connection, 50 streams at a time, all succeed."""
    result = subprocess.run(
        ["h2load", "-n", "1000", "-c", "1", "-m", "50", f"https://localhost:{portOf(h2)}/hello.py"],
        capture_output=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert b"1000 succeeded, 0 failed, 0 errored" in result.stdout, result.stdout


def test_runawayHandlerOverHTTP2(tmp_path: Path) -> None:
    """
    Over HTTP/2 too, a handler still running after ``--handler-timeout``
    has its stream answered 504 (a HEADERS and a DATA frame, not HTTP/1.1
    bytes), and the server goes on serving.
    """
    root = tmp_path / "root"
    root.mkdir()
    (root / "stuck.py").write_text("import time\ndef main(request, response):\n    while True:\n        time.sleep(0.05)\n")
    (root / "hello.py").write_text("def main(request, response):\n    return 'hello'\n")
    server = Server(tmp_path, "--root", str(root), "--listen", "h2=tcp:0:interface=127.0.0.1", "--tls-dir", "tls",
                    "--handler-timeout", "1", "--threads", "2")
    server.start(origins=1)
    try:
        result = curl(server, "/stuck.py", "-i", "-m", "20")
        assert result.returncode == 0, result.stderr
        head, _, body = result.stdout.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/2 504")
        assert b"stuck.py did not finish within 1 s" in body
        result = curl(server, "/hello.py", "-m", "20")
        assert result.returncode == 0 and result.stdout == b"hello", result.stderr
    finally:
        server.stop()
