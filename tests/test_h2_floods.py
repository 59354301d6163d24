"""
Control-frame floods against the h2 port whose answers the client never
reads (PING, SETTINGS): the ``h2`` library and ``hyperframe`` over a real
TLS socket to a real ``twistd pyhandlers`` process.  The server must close
such a connection once its unread output passes a bound, instead of
queueing answers for ever.  The proofs are counts (frames sent before the
close, the server's resident memory), never a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest
from h2client import FrameClient, statusOf
from hyperframe.frame import PingFrame, SettingsFrame
from serving import HELLO, h2Process
from test_tls import Server

#: Frames sent in one write, and the most a server may take before closing.
BATCH = 500
MOST_FRAMES = 1_000_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A twistd process with an h2 port."""
    with h2Process(tmp_path_factory.mktemp("h2floods"), HELLO) as process:
        yield process


def portOf(server: Server) -> int:
    return server.ports("h2")[0]


def residentBytes(server: Server) -> int:
    """The server process's resident memory (VmRSS), in bytes."""
    assert server.process is not None
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def floodUntilClosed(server: Server, frame: bytes) -> int:
    """
    Send ``frame`` in batches, never reading, until the server closes the
    connection; returns how many were sent.  Fails if the server takes
    :data:`MOST_FRAMES` without closing.
    """
    client = FrameClient(portOf(server), timeout=30, receiveBuffer=4096)
    sent = 0
    try:
        batch = frame * BATCH
        while sent < MOST_FRAMES:
            try:
                client.sock.sendall(batch)
            except TimeoutError:
                raise AssertionError(f"the server stopped reading after {sent} frames, without closing")
            except (ConnectionError, OSError):
                return sent
            sent += BATCH
    finally:
        client.close()
    raise AssertionError(f"{sent} frames taken and the connection still open")


def serves(server: Server) -> None:
    client = FrameClient(portOf(server))
    try:
        headers, body, _ = client.response(client.request("/hello.py"))
        assert (statusOf(headers), body) == (200, b"hello")
    finally:
        client.close()


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: PingFrame(0, opaque_data=b"flooding").serialize(), id="ping"),
        pytest.param(lambda: SettingsFrame(0, settings={0x4: 65535}).serialize(), id="settings"),
    ],
)
def test_unreadAnswersCloseTheConnection(server: Server, make: Callable[[], bytes]) -> None:
    """
    A flood of PINGs (or SETTINGS) whose ACKs the client never reads is
    closed once the unread ACKs pass a bound (the kernel's buffers, the
    transport's, then Twisted's 17 KiB of buffered control frames): the
    server neither queues answers for ever nor stops serving others, and
    its memory stays flat.
    """
    start = residentBytes(server)
    sent = floodUntilClosed(server, make())
    assert sent < MOST_FRAMES
    assert residentBytes(server) - start < 16 * 1024 * 1024
    serves(server)
