"""
Request bodies on the h2 port held to ``--max-body`` and to memory, as on
HTTP/1.1: the ``h2`` library (through ``h2client.FrameClient``) over a real
TLS socket to a real ``twistd pyhandlers`` process.  The proofs are counts
(handler runs, bytes sent, the server's resident memory), never a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, List

import h2.events
import pytest
from h2client import FrameClient
from serving import h2Process
from test_tls import Server

MAX_BODY = 1024 * 1024

HANDLERS = {
    "counted.py": """
        import os
        here = os.path.dirname(__file__)
        def main(request, response):
            with open(os.path.join(here, "main.log"), "a") as log:
                log.write("main\\n")
            return "never read the body"
    """,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A twistd process with an h2 port and ``--max-body`` 1 MiB."""
    with h2Process(tmp_path_factory.mktemp("h2body"), HANDLERS, "--max-body", str(MAX_BODY)) as process:
        yield process


@pytest.fixture(scope="module")
def roomy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A twistd process with an h2 port and the default ``--max-body`` (1 GiB)."""
    with h2Process(tmp_path_factory.mktemp("h2roomy"), HANDLERS) as process:
        yield process


def portOf(server: Server) -> int:
    return server.ports("h2")[0]


def mainRuns(server: Server) -> int:
    log = server.root / "main.log"  # type: ignore[attr-defined]
    return len(log.read_text().splitlines()) if log.exists() else 0


def statusOf(events: List[object]) -> int:
    for event in events:
        if isinstance(event, h2.events.ResponseReceived):
            return int(dict(event.headers)[b":status"])
    raise AssertionError(f"no response in {events}")


def residentBytes(server: Server) -> int:
    """The server process's resident memory (VmRSS), in bytes."""
    assert server.process is not None
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_declaredLengthOverMaxBodyIs413(server: Server) -> None:
    """
    A request whose Content-Length passes ``--max-body`` is answered 413
    and its stream reset (NO_ERROR) before a byte of the body is taken: the
    client sends at most one window, and no handler runs.
    """
    before = mainRuns(server)
    client = FrameClient(portOf(server))
    try:
        events, sent = client.upload("/counted.py", 4 * MAX_BODY, declare=True)
    finally:
        client.close()
    assert statusOf(events) == 413
    assert any(isinstance(event, h2.events.StreamReset) and event.error_code == 0 for event in events), events
    assert sent <= 65535
    assert mainRuns(server) == before


def test_streamedBodyOverMaxBodyIs413(server: Server) -> None:
    """
    A body with no Content-Length is answered 413 as soon as it passes
    ``--max-body``, its stream reset, the rest never taken (the client got
    no more window than the limit and one window beyond), and the
    handler's ``main`` never runs.
    """
    before = mainRuns(server)
    client = FrameClient(portOf(server))
    try:
        events, sent = client.upload("/counted.py", 8 * MAX_BODY)
    finally:
        client.close()
    assert statusOf(events) == 413
    assert any(isinstance(event, h2.events.StreamReset) for event in events), events
    assert sent <= MAX_BODY + 2 * 65535
    assert mainRuns(server) == before


def test_bodyUnderMaxBodyIsTaken(server: Server) -> None:
    """A body just under ``--max-body`` reaches the handler (200)."""
    client = FrameClient(portOf(server))
    try:
        events, sent = client.upload("/counted.py", MAX_BODY)
    finally:
        client.close()
    assert statusOf(events) == 200
    assert sent == MAX_BODY


def test_largeBodyToHandlerThatNeverReadsStaysOutOfMemory(roomy: Server) -> None:
    """
    64 MiB sent to a handler that never reads its body grows the server by
    less than 24 MiB: the body is spooled to a temporary file, the DATA
    frames are not kept beside it, and the window opens only as the spool
    takes the data.  (The same with 1 GiB, measured once, is in
    docs/threat-model.rst.)
    """
    client = FrameClient(portOf(roomy), timeout=60)
    try:
        events, _ = client.upload("/counted.py", 1024)
        assert statusOf(events) == 200
        start = residentBytes(roomy)
        peak = [start]
        events, sent = client.upload(
            "/counted.py", 64 * 1024 * 1024, progress=lambda _: peak.append(residentBytes(roomy))
        )
        peak.append(residentBytes(roomy))
    finally:
        client.close()
    assert statusOf(events) == 200
    assert sent == 64 * 1024 * 1024
    assert max(peak) - start < 24 * 1024 * 1024, (start, max(peak))
