"""
A WebTransport client for the tests: aioquic's own QUIC and HTTP/3 client
(``aioquic.asyncio.connect``) over a real UDP socket, speaking the
extended CONNECT and the capsules of a WebTransport session, and HTTP/3
requests.  It runs on its own asyncio loop (``asyncio.run`` in the test's
thread); the server under test is a separate ``twistd`` process.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import defaultdict
from contextlib import asynccontextmanager
from typing import AsyncIterator, DefaultDict, Dict, List, Optional, Tuple

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.buffer import encode_uint_var
from aioquic.h3.connection import H3_ALPN, FrameType, H3Connection
from aioquic.h3.events import DatagramReceived, DataReceived, H3Event, HeadersReceived, WebTransportStreamDataReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import QuicEvent, StreamReset

Headers = List[Tuple[bytes, bytes]]

#: The capsule that closes a WebTransport session.
CLOSE_WEBTRANSPORT_SESSION = 0x2843


class WebTransportClientProtocol(QuicConnectionProtocol):
    """Collects what arrives, by stream, and wakes whoever waits for it."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.http = H3Connection(self._quic, enable_webtransport=True)
        self.headers: Dict[int, Headers] = {}
        self.data: DefaultDict[int, bytes] = defaultdict(bytes)
        self.ended: set[int] = set()
        self.resets: Dict[int, int] = {}
        self.datagrams: List[bytes] = []
        #: (session ID, data) of each datagram, in order.
        self.sessionDatagrams: List[Tuple[int, bytes]] = []
        self.streamsOpenedByServer: List[int] = []
        self.changed = asyncio.Condition()

    def quic_event_received(self, event: QuicEvent) -> None:
        for h3event in self.http.handle_event(event):
            self._h3(h3event)
        if isinstance(event, StreamReset):
            self.resets[event.stream_id] = event.error_code
        asyncio.ensure_future(self._notify())

    def _h3(self, event: H3Event) -> None:
        if isinstance(event, HeadersReceived):
            self.headers[event.stream_id] = event.headers
            if event.stream_ended:
                self.ended.add(event.stream_id)
        elif isinstance(event, DataReceived):
            self.data[event.stream_id] += event.data
            if event.stream_ended:
                self.ended.add(event.stream_id)
        elif isinstance(event, WebTransportStreamDataReceived):
            if event.stream_id not in self.data and event.stream_id % 2 == 1:
                self.streamsOpenedByServer.append(event.stream_id)
            self.data[event.stream_id] += event.data
            if event.stream_ended:
                self.ended.add(event.stream_id)
        elif isinstance(event, DatagramReceived):
            self.datagrams.append(event.data)
            self.sessionDatagrams.append((event.stream_id, event.data))

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def until(self, predicate: object, timeout: float = 20) -> None:
        """Wait until ``predicate()`` is true."""

        async def wait() -> None:
            async with self.changed:
                await self.changed.wait_for(predicate)  # type: ignore[arg-type]

        await asyncio.wait_for(wait(), timeout)

    # -- requests ---------------------------------------------------------------

    def request(self, headers: Headers, end: bool = False) -> int:
        """Send a request's headers; its stream ID."""
        streamId = self._quic.get_next_available_stream_id()
        self.http.send_headers(streamId, headers, end_stream=end)
        self.transmit()
        return streamId

    async def response(self, streamId: int) -> Headers:
        """The response headers of ``streamId``."""
        await self.until(lambda: streamId in self.headers)
        return self.headers[streamId]

    async def openSession(self, authority: str, path: str, origin: Optional[str] = "https://web-platform.test") -> Tuple[int, Headers]:
        """An extended CONNECT for ``path``: (session ID, response headers)."""
        headers = [
            (b":method", b"CONNECT"), (b":protocol", b"webtransport"), (b":scheme", b"https"),
            (b":authority", authority.encode()), (b":path", path.encode()),
        ]
        if origin is not None:
            headers.append((b"origin", origin.encode()))
        sessionId = self.request(headers)
        return sessionId, await self.response(sessionId)

    # -- a session's streams and datagrams ------------------------------------------

    def openStream(self, sessionId: int, unidirectional: bool = False) -> int:
        streamId = self.http.create_webtransport_stream(sessionId, is_unidirectional=unidirectional)
        if not unidirectional:
            # aioquic would parse what comes back on the stream as HTTP/3
            # frames: mark it as carrying WebTransport (as wpt's server does
            # for the bidirectional streams it opens).
            with self.http._get_or_create_stream(streamId) as stream:
                stream.frame_type = FrameType.WEBTRANSPORT_STREAM
                stream.session_id = sessionId
        self.transmit()
        return streamId

    def send(self, streamId: int, data: bytes, end: bool = False) -> None:
        self._quic.send_stream_data(streamId, data, end_stream=end)
        self.transmit()

    def sendDatagram(self, sessionId: int, data: bytes) -> None:
        self.http.send_datagram(sessionId, data)
        self.transmit()

    def reset(self, streamId: int, code: int) -> None:
        self._quic.reset_stream(streamId, code)
        self.transmit()

    def closeSession(self, sessionId: int, code: int, reason: bytes) -> None:
        """The client's close: CLOSE_WEBTRANSPORT_SESSION, then FIN."""
        payload = code.to_bytes(4, "big") + reason
        capsule = encode_uint_var(CLOSE_WEBTRANSPORT_SESSION) + encode_uint_var(len(payload)) + payload
        self.http.send_data(sessionId, capsule, end_stream=True)
        self.transmit()

    async def received(self, streamId: int, size: int) -> bytes:
        await self.until(lambda: len(self.data[streamId]) >= size)
        return self.data[streamId]

    async def endOf(self, streamId: int) -> bytes:
        await self.until(lambda: streamId in self.ended)
        return self.data[streamId]


def clientConfiguration(caFile: Optional[str] = None) -> QuicConfiguration:
    """A client configuration trusting ``caFile`` (the server's made CA), or any certificate."""
    configuration = QuicConfiguration(
        is_client=True, alpn_protocols=H3_ALPN, max_datagram_frame_size=65536, server_name="localhost"
    )
    if caFile is not None:
        configuration.load_verify_locations(caFile)
    else:
        configuration.verify_mode = ssl.CERT_NONE
    return configuration


@asynccontextmanager
async def webTransportClient(port: int, caFile: Optional[str] = None) -> AsyncIterator[WebTransportClientProtocol]:
    """A connected client to 127.0.0.1:``port``."""
    async with connect(
        "127.0.0.1", port, configuration=clientConfiguration(caFile), create_protocol=WebTransportClientProtocol
    ) as client:
        yield client  # type: ignore[misc]
