"""
Rapid Reset (CVE-2023-44487) against the h2 port, frame by frame: the
``h2`` library (through ``h2client.FrameClient``) over a real TLS socket to
a real ``twistd pyhandlers`` process.  Nothing here asserts a time: the
proofs are counts (handler runs started, as lines a handler file appends;
frames seen) in bounded loops.
"""

from __future__ import annotations

import ssl
import time
from pathlib import Path
from typing import Iterator, List

import pytest
from h2client import FrameClient, statusOf
from hyperframe.frame import Frame, GoAwayFrame, PingFrame, RstStreamFrame
from serving import h2Process
from test_tls import Server

from twisted_pyhandlers._h2limits import CONNECTION_RESET_BURST, RUNS_PER_CLIENT, RUNS_PER_CONNECTION

#: A handler whose every run, from its module body on, is a line in
#: started.log; main blocks until release.flag exists (20 s at most), then
#: notes whether its write still reached a live stream.
HANDLERS = {
    "counted.py": """
        import os, time
        here = os.path.dirname(__file__)
        with open(os.path.join(here, "started.log"), "a") as log:
            log.write("started\\n")
        def main(request, response):
            deadline = time.monotonic() + 20
            while not os.path.exists(os.path.join(here, "release.flag")) and time.monotonic() < deadline:
                time.sleep(0.02)
            written = response.writer.write_content("late")
            with open(os.path.join(here, "written.log"), "a") as log:
                log.write("%s\\n" % written)
    """,
    "stepper.py": """
        import os
        here = os.path.dirname(__file__)
        def handle_headers(frame, request, response):
            with open(os.path.join(here, "headers.log"), "a") as log:
                log.write("headers\\n")
        def main(request, response):
            return b"main"
    """,
    "hello.py": """
        def main(request, response):
            return [("Content-Type", "text/plain")], b"hello"
    """,
}


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[Server]:
    """A twistd process with an h2 port over a root holding the counting handler (300 threads)."""
    with h2Process(tmp_path, HANDLERS, "--threads", "300") as process:
        yield process


def portOf(server: Server) -> int:
    return server.ports("h2")[0]


def linesOf(path: Path) -> List[str]:
    return path.read_text().splitlines() if path.exists() else []


def waitForLines(path: Path, count: int) -> None:
    """Wait (20 s at most) until ``path`` has ``count`` lines."""
    deadline = time.monotonic() + 20
    while len(linesOf(path)) < count:
        assert time.monotonic() < deadline, f"{path.name}: {len(linesOf(path))} of {count} lines"
        time.sleep(0.02)


def framesUntilClosed(client: FrameClient, limit: int = 100000) -> List[Frame]:
    """Every frame until the server closes the connection (``limit`` frames at most)."""
    frames: List[Frame] = []
    try:
        for _ in range(limit):
            frames.append(client.frame())
    except (EOFError, ConnectionError, OSError):
        return frames
    raise AssertionError("the server never closed the connection")


def framesUntilPingOrClosed(client: FrameClient, limit: int = 100000) -> List[Frame]:
    """Every frame until a PING ACK or the server's close (``limit`` frames at most)."""
    frames: List[Frame] = []
    try:
        for _ in range(limit):
            frame = client.frame()
            frames.append(frame)
            if isinstance(frame, PingFrame) and "ACK" in frame.flags:
                return frames
    except (EOFError, ConnectionError, OSError):
        return frames
    raise AssertionError("neither a PING ACK nor a close")


def test_resetWithinOneReadStartsNothing(server: Server) -> None:
    """
    Streams opened and reset in the same write (so the same read on the
    server) start no handler run at all, and the connection goes on
    serving an ordinary request after them.
    """
    root: Path = server.root  # type: ignore[attr-defined]
    client = FrameClient(portOf(server))
    try:
        for _ in range(3):
            client.openAndReset("/counted.py", 40)
        headers, body, _ = client.response(client.request("/hello.py"))
        assert (statusOf(headers), body) == (200, b"hello")
    finally:
        client.close()
    assert linesOf(root / "started.log") == []


def test_floodIsClosedWithEnhanceYourCalm(server: Server) -> None:
    """
    A client that keeps opening and resetting streams is sent GOAWAY
    ENHANCE_YOUR_CALM once the connection's reset budget is spent, and the
    connection is closed; no handler ran for any of its streams, and the
    log counts the resets.
    """
    root: Path = server.root  # type: ignore[attr-defined]
    client = FrameClient(portOf(server))
    sent = 0
    try:
        try:
            while sent < CONNECTION_RESET_BURST * 5:
                client.openAndReset("/counted.py", 20)
                sent += 20
        except (ConnectionError, OSError):
            pass
        frames = framesUntilClosed(client)
    finally:
        client.close()
    goaways = [frame for frame in frames if isinstance(frame, GoAwayFrame)]
    assert [frame.error_code for frame in goaways] == [11], goaways
    assert linesOf(root / "started.log") == []
    assert "GOAWAY ENHANCE_YOUR_CALM" in server.text()


def test_reconnectingFloodIsBoundedPerAddress(server: Server) -> None:
    """
    Reconnecting buys nothing: the client address's reset budget spans its
    connections, so a connection that stays under its own budget is still
    closed with ENHANCE_YOUR_CALM once its address has spent its budget,
    and the address's next connections are closed before the TLS
    handshake; a client on another address is served meanwhile.
    """
    underOwnBudget = CONNECTION_RESET_BURST - 20
    calmed = 0
    dropped = False
    for _ in range(30):
        try:
            client = FrameClient(portOf(server), source="127.0.0.2")
        except (ssl.SSLError, ConnectionError, OSError):
            dropped = True
            break
        try:
            try:
                for _ in range(underOwnBudget // 20):
                    client.openAndReset("/counted.py", 20)
                client.ping()
            except (ConnectionError, OSError):
                pass
            frames = framesUntilPingOrClosed(client)
        finally:
            client.close()
        if any(isinstance(frame, GoAwayFrame) and frame.error_code == 11 for frame in frames):
            calmed += 1
    assert calmed >= 1, "the address's budget never ran out"
    assert dropped, "the address's new connections were still taken"
    other = FrameClient(portOf(server), source="127.0.0.3")
    try:
        headers, body, _ = other.response(other.request("/hello.py"))
        assert (statusOf(headers), body) == (200, b"hello")
    finally:
        other.close()


def test_runningHandlersAreBoundedPerConnection(server: Server) -> None:
    """
    Streams whose handler runs hold a place are bounded per connection:
    with RUNS_PER_CONNECTION handlers running for streams the client has
    reset, the next stream is refused (RST_STREAM REFUSED_STREAM) and runs
    nothing.  The reset handlers are told: their writes fail.  Once they
    return, the connection serves again, and the log counts the resets
    made while handlers ran.
    """
    root: Path = server.root  # type: ignore[attr-defined]
    client = FrameClient(portOf(server))
    try:
        streams = [client.request("/counted.py") for _ in range(RUNS_PER_CONNECTION)]
        waitForLines(root / "started.log", RUNS_PER_CONNECTION)
        for streamID in streams:
            client.conn.reset_stream(streamID, error_code=8)
        client._flush()
        refused = client.request("/hello.py")
        frames = client.framesUntilPing()
        assert any(
            isinstance(frame, RstStreamFrame) and frame.stream_id == refused and frame.error_code == 7
            for frame in frames
        ), frames
        (root / "release.flag").write_text("")
        waitForLines(root / "written.log", RUNS_PER_CONNECTION)
        assert set(linesOf(root / "written.log")) == {"False"}
        # Places free again: the next request is served.
        for _ in range(50):
            streamID = client.request("/hello.py")
            headers, body, frames = client.response(streamID)
            if not isinstance(frames[-1], RstStreamFrame):
                break
        assert (statusOf(headers), body) == (200, b"hello")
    finally:
        client.close()
    assert len(linesOf(root / "started.log")) == RUNS_PER_CONNECTION
    deadline = time.monotonic() + 20
    while f"{RUNS_PER_CONNECTION} while their handler ran" not in server.text():
        assert time.monotonic() < deadline, server.text()[-3000:]
        time.sleep(0.05)


def test_runningHandlersAreBoundedPerAddress(server: Server) -> None:
    """
    Over several connections from one address, the streams with running
    handlers are bounded by RUNS_PER_CLIENT: the stream past the bound is
    refused on a fresh connection from that address, and a client on
    another address is served meanwhile.
    """
    root: Path = server.root  # type: ignore[attr-defined]
    clients = [FrameClient(portOf(server), source="127.0.0.4") for _ in range(2)]
    other = FrameClient(portOf(server), source="127.0.0.5")
    try:
        first = RUNS_PER_CONNECTION
        second = RUNS_PER_CLIENT - RUNS_PER_CONNECTION
        for _ in range(first):
            clients[0].request("/counted.py")
        for _ in range(second):
            clients[1].request("/counted.py")
        waitForLines(root / "started.log", RUNS_PER_CLIENT)
        refused = clients[1].request("/hello.py")
        frames = clients[1].framesUntilPing()
        assert any(
            isinstance(frame, RstStreamFrame) and frame.stream_id == refused and frame.error_code == 7
            for frame in frames
        ), frames
        headers, body, _ = other.response(other.request("/hello.py"))
        assert (statusOf(headers), body) == (200, b"hello")
    finally:
        (root / "release.flag").write_text("")
        for client in clients + [other]:
            client.close()
    assert len(linesOf(root / "started.log")) == RUNS_PER_CLIENT


def test_streamsResetBeforeMainGiveTheirPlaceBack(server: Server) -> None:
    """
    A handler file with frame steps starts its run when the headers
    arrive; when the client resets the stream before its body is complete
    (so ``main`` never runs), the run ends and its place among the
    connection's running handlers is free again: more such streams than
    the bound, one after another, and the connection still serves.
    """
    root: Path = server.root  # type: ignore[attr-defined]
    client = FrameClient(portOf(server))
    try:
        for index in range(RUNS_PER_CONNECTION + 20):
            streamID = client.conn.get_next_available_stream_id()
            headers = [(":method", "POST"), (":scheme", "https"), (":authority", "localhost"), (":path", "/stepper.py")]
            client.conn.send_headers(streamID, headers)
            client._flush()
            waitForLines(root / "headers.log", index + 1)
            client.conn.reset_stream(streamID, error_code=8)
            client._flush()
        headers, body, frames = client.response(client.request("/hello.py"))
        assert (statusOf(headers), body) == (200, b"hello"), frames
    finally:
        client.close()


#: A WebSocket handler that holds its thread until the client goes.
HOLDING_WSH = """
def web_socket_do_extra_handshake(request):
    request.ws_extension_processors = []


def web_socket_transfer_data(request):
    while request.ws_stream.receive_message() is not None:
        pass
"""


def test_webSocketStreamsCountAsRunningHandlers(tmp_path: Path) -> None:
    """
    A WebSocket over HTTP/2 (extended CONNECT) holds a handler thread for
    as long as it is open, so it holds a place among its client's running
    handlers: with RUNS_PER_CLIENT of them open over two connections from
    one address, the next stream is refused (REFUSED_STREAM); once the
    client resets one and its handler returns, a new one is taken.
    """
    from hpack import Encoder
    from hyperframe.frame import HeadersFrame

    root = tmp_path / "root"
    (root / "ws").mkdir(parents=True)
    (root / "ws" / "hold_wsh.py").write_text(HOLDING_WSH)
    process = Server(tmp_path, "--root", str(root), "--ws-handlers", "ws", "--tls-dir", "tls",
                     "--listen", "h2=tcp:0:interface=127.0.0.1", "--threads", "300")
    process.start(origins=1)
    port = portOf(process)
    clients = [FrameClient(port, source="127.0.0.6") for _ in range(2)]
    encoders = [Encoder(), Encoder()]

    def connect(which: int, streamID: int) -> None:
        headers = [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"), (":path", "/hold"),
                   (":authority", f"localhost:{port}"), ("sec-websocket-version", "13")]
        block = encoders[which].encode(headers)
        clients[which].sock.sendall(HeadersFrame(streamID, data=block, flags=["END_HEADERS"]).serialize())

    def answerTo(which: int, streamID: int) -> Frame:
        while True:
            got = clients[which].frame()
            if got.stream_id == streamID and isinstance(got, (HeadersFrame, RstStreamFrame)):
                return got

    try:
        counts = (RUNS_PER_CONNECTION - 1, RUNS_PER_CLIENT - (RUNS_PER_CONNECTION - 1))
        streams = [[1 + 2 * index for index in range(count)] for count in counts]
        for which in (0, 1):
            for streamID in streams[which]:
                connect(which, streamID)
            for streamID in streams[which]:
                answer = answerTo(which, streamID)
                assert isinstance(answer, HeadersFrame) and statusOf(clients[which].headersOf(answer)) == 200
        over = streams[1][-1] + 2
        connect(1, over)
        refused = answerTo(1, over)
        assert isinstance(refused, RstStreamFrame) and refused.error_code == 7, refused
        reset = RstStreamFrame(streams[0][0])
        reset.error_code = 8
        clients[0].sock.sendall(reset.serialize())
        taken = False
        for attempt in range(50):
            streamID = over + 2 * (attempt + 1)
            connect(1, streamID)
            answer = answerTo(1, streamID)
            if isinstance(answer, HeadersFrame):
                assert statusOf(clients[1].headersOf(answer)) == 200
                taken = True
                break
        assert taken, "the reset WebSocket's place never came back"
    finally:
        for client in clients:
            client.close()
        process.stop()
