"""
A client that never opens its flow-control window, and one whose handler
reads slowly, against the h2 port: the ``h2`` library (through
``h2client.FrameClient``) over a real TLS socket to a real ``twistd
pyhandlers`` process.  The proofs are frames seen and bytes counted in
bounded loops, never a time.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator, List

import pytest
from h2client import FrameClient
from hyperframe.frame import DataFrame, Frame, GoAwayFrame, WindowUpdateFrame
from serving import h2Process
from test_tls import Server

HANDLERS = {
    "big.py": """
        def main(request, response):
            return [("Content-Type", "application/octet-stream")], b"x" * (1024 * 1024)
    """,
    "slowreader.py": """
        import os, time
        here = os.path.dirname(__file__)
        def handle_data(frame, request, response):
            deadline = time.monotonic() + 20
            while not os.path.exists(os.path.join(here, "release.flag")) and time.monotonic() < deadline:
                time.sleep(0.02)
        def main(request, response):
            return b"read %d" % len(request.body)
    """,
}


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[Server]:
    """A twistd process with an h2 port and a 2 s idle timeout."""
    with h2Process(tmp_path, HANDLERS, "--idle-timeout", "2") as process:
        yield process


def portOf(server: Server) -> int:
    return server.ports("h2")[0]


def test_stalledWindowIsTimedOut(server: Server) -> None:
    """
    A client asks for 1 MiB and never opens its window: the server sends
    one window's worth (65,535 bytes), then waits without spinning (its
    send loop no longer picks the blocked stream on every turn of the
    reactor, which also reset the idle timer on every turn), so the idle
    timeout closes the connection with a GOAWAY.  On Twisted's loop
    unchanged the connection was never closed and this test ends in the
    socket's timeout.
    """
    client = FrameClient(portOf(server), timeout=30)
    frames: List[Frame] = []
    try:
        client.request("/big.py")
        try:
            for _ in range(10000):
                frames.append(client.frame())
        except EOFError:
            pass
    finally:
        client.close()
    data = sum(len(frame.data) for frame in frames if isinstance(frame, DataFrame))
    assert data == 65535
    assert any(isinstance(frame, GoAwayFrame) for frame in frames)
    assert "Timing out client" in server.text()


def test_windowOpensOnlyAsTheHandlerReads(server: Server) -> None:
    """
    A handler whose ``handle_data`` has not run yet gives no window back:
    while it is blocked, everything the client may send (one initial
    window) reaches the server and no WINDOW_UPDATE for the stream comes
    back (a PING's ACK marks that the server read it all); once it goes on,
    the window opens and the whole body arrives.
    """
    root: Path = server.root  # type: ignore[attr-defined]
    client = FrameClient(portOf(server), timeout=30)
    try:
        streamID = client.conn.get_next_available_stream_id()
        headers = [(":method", "POST"), (":scheme", "https"), (":authority", "localhost"), (":path", "/slowreader.py")]
        client.conn.send_headers(streamID, headers)
        window = client.conn.local_flow_control_window(streamID)
        chunk = 16384
        sent = 0
        while sent + chunk <= window:
            client.conn.send_data(streamID, b"y" * chunk)
            sent += chunk
        client._flush()
        frames = client.framesUntilPing()
        updates = [frame for frame in frames if isinstance(frame, WindowUpdateFrame) and frame.stream_id == streamID]
        assert updates == []
        (root / "release.flag").write_text("")
        opened = 0
        deadline = time.monotonic() + 20
        # h2 gives a window back once half of it is consumed.
        while opened == 0:
            assert time.monotonic() < deadline
            frame = client.frame()
            if isinstance(frame, WindowUpdateFrame) and frame.stream_id == streamID:
                opened += frame.window_increment
        client.conn.send_data(streamID, b"", end_stream=True)
        client._flush()
        _, body, _ = client.response(streamID)
        assert body == b"read %d" % sent
    finally:
        client.close()

