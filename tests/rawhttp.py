"""
A raw TCP client for tests that must see the exact bytes on the wire (and
when they arrive), which no HTTP client library shows.
"""

from __future__ import annotations

import time
from typing import Dict, List, Optional, Tuple

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure


class RawClient(Protocol):
    """
    Sends bytes and records what comes back, with arrival times.

    :ivar chunks: ``(monotonic time, data)`` for every read from the socket.
    :ivar closed: fires with the whole response when the server closes.
    """

    def __init__(self) -> None:
        self.chunks: List[Tuple[float, bytes]] = []
        self.closed: Deferred[bytes] = Deferred()
        self._waiting: List[Tuple[bytes, Deferred[bytes]]] = []

    def dataReceived(self, data: bytes) -> None:
        self.chunks.append((time.monotonic(), data))
        if not self._waiting:
            return
        received = self.received
        for marker, waiter in list(self._waiting):
            if marker in received:
                self._waiting.remove((marker, waiter))
                waiter.callback(received)

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        for _, waiter in self._waiting:
            waiter.callback(self.received)
        self._waiting = []
        self.closed.callback(self.received)

    @property
    def received(self) -> bytes:
        """Everything received so far."""
        return b"".join(data for _, data in self.chunks)

    def waitFor(self, marker: bytes) -> Deferred[bytes]:
        """Fires once ``marker`` has been received (or the connection closed)."""
        waiter: Deferred[bytes] = Deferred()
        if marker in self.received:
            waiter.callback(self.received)
        else:
            self._waiting.append((marker, waiter))
        return waiter


async def connect(port: int, data: Optional[bytes] = None) -> RawClient:
    """Connect to 127.0.0.1:``port`` and send ``data``."""
    client = RawClient()
    await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
    if data is not None:
        client.transport.write(data)  # type: ignore[union-attr]
    return client


async def exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` and return everything received until the server closes."""
    client = await connect(port, data)
    return await client.closed


def portOf(url: str) -> int:
    """The port of an ``http://127.0.0.1:PORT`` base URL."""
    return int(url.rsplit(":", 1)[1])


async def get(base: str, target: str, method: str = "GET") -> Tuple[bytes, Dict[bytes, List[bytes]], bytes]:
    """
    One ``Connection: close`` request to the server at ``base`` over a raw
    socket: its status line, its headers by lower-case name, its body.
    """
    raw = await exchange(portOf(base), f"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers: Dict[bytes, List[bytes]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers.setdefault(name.lower(), []).append(value.strip())
    return lines[0], headers, body
