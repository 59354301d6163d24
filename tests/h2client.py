"""
A frame-level HTTP/2 client for the tests: the ``h2`` library speaks for
the client (preface, SETTINGS, requests, resets) over a raw TLS socket, and
what the server sends is read frame by frame with ``hyperframe`` (and its
header blocks decoded with ``hpack``), not through the client's state
machine, so raw frames a handler wrote are seen exactly as they went out.
"""

from __future__ import annotations

import socket
import ssl
import time
from typing import Any, Callable, List, Optional, Sequence, Tuple

import h2.config
import h2.connection
from hpack import Decoder
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    HeadersFrame,
    PingFrame,
    PushPromiseFrame,
    SettingsFrame,
)


class FrameClient:
    """One HTTP/2 connection to 127.0.0.1:``port`` (TLS, ALPN h2, no certificate check)."""

    def __init__(
        self,
        port: int,
        timeout: float = 20,
        source: Optional[str] = None,
        settings: Optional[dict] = None,
        receiveBuffer: Optional[int] = None,
    ) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_alpn_protocols(["h2"])
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.settimeout(timeout)
        if receiveBuffer is not None:
            # Set before connecting, so that the TCP window is small from the start.
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receiveBuffer)
        if source:
            raw.bind((source, 0))
        raw.connect(("127.0.0.1", port))
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = context.wrap_socket(raw, server_hostname="localhost")
        assert self.sock.selected_alpn_protocol() == "h2"
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self._flush()
        self._buffer = b""
        self._decoder = Decoder()
        self.port = port

    def _flush(self) -> None:
        self.sock.sendall(self.conn.data_to_send())

    def request(self, path: str, method: str = "GET", body: Optional[bytes] = None) -> int:
        """Send a request; returns its stream id."""
        streamID = self.conn.get_next_available_stream_id()
        headers = [(":method", method), (":scheme", "https"), (":authority", f"localhost:{self.port}"), (":path", path)]
        self.conn.send_headers(streamID, headers, end_stream=body is None)
        if body is not None:
            self.conn.send_data(streamID, body, end_stream=True)
        self._flush()
        return streamID

    def openAndReset(self, path: str, count: int) -> List[int]:
        """
        Rapid Reset: ``count`` requests for ``path``, each HEADERS followed
        at once by its RST_STREAM (CANCEL), all in one write.
        """
        streamIDs = []
        for _ in range(count):
            streamID = self.conn.get_next_available_stream_id()
            headers = [(":method", "GET"), (":scheme", "https"), (":authority", f"localhost:{self.port}"), (":path", path)]
            self.conn.send_headers(streamID, headers, end_stream=True)
            self.conn.reset_stream(streamID, error_code=8)
            streamIDs.append(streamID)
        self._flush()
        return streamIDs

    def upload(self, path: str, total: int, declare: bool = False, progress: Optional[Callable[[int], None]] = None) -> Tuple[List[Any], int]:
        """
        POST ``total`` bytes to ``path`` as fast as the server's flow control
        lets the client (the h2 state machine reads the server's frames and
        keeps the windows), with a Content-Length if ``declare``;
        ``progress(sent)`` is called now and then.  Stops early if the
        server resets or ends the stream.

        :return: the h2 events of the stream, and the bytes sent.
        """
        import h2.events

        streamID = self.conn.get_next_available_stream_id()
        headers = [(":method", "POST"), (":scheme", "https"), (":authority", f"localhost:{self.port}"), (":path", path)]
        if declare:
            headers.append(("content-length", str(total)))
        self.conn.send_headers(streamID, headers)
        self._flush()
        events: List[Any] = []
        sent = 0
        chunk = b"z" * 16384
        ended = False

        def read() -> None:
            nonlocal ended
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("the server closed the connection")
            for event in self.conn.receive_data(data):
                ofStream = (h2.events.ResponseReceived, h2.events.DataReceived, h2.events.StreamEnded, h2.events.StreamReset)
                if isinstance(event, ofStream) and event.stream_id == streamID:
                    events.append(event)
                    if isinstance(event, (h2.events.StreamReset, h2.events.StreamEnded)):
                        ended = True
                    if isinstance(event, h2.events.DataReceived):
                        self.conn.acknowledge_received_data(event.flow_controlled_length, streamID)
            self._flush()

        while sent < total and not ended:
            window = min(self.conn.local_flow_control_window(streamID), self.conn.max_outbound_frame_size)
            if window <= 0:
                read()
                continue
            piece = chunk[: min(window, total - sent)]
            self.conn.send_data(streamID, piece)
            sent += len(piece)
            self._flush()
            if progress is not None and sent % (1024 * 1024) < len(piece):
                progress(sent)
        if not ended:
            self.conn.end_stream(streamID)
            self._flush()
        while not ended:
            read()
        return events, sent

    def reset(self, streamID: int) -> None:
        """RST_STREAM (CANCEL) on ``streamID``, written straight to the socket."""
        from hyperframe.frame import RstStreamFrame

        frame = RstStreamFrame(streamID)
        frame.error_code = 8
        self.sock.sendall(frame.serialize())

    def ping(self, opaque: bytes = b"pyhandlr") -> None:
        """A PING: its ACK marks the point up to which the server has answered."""
        self.sock.sendall(PingFrame(0, opaque_data=opaque).serialize())

    def frame(self) -> Frame:
        """The next frame from the server; SETTINGS are acknowledged on the way."""
        while True:
            if len(self._buffer) >= 9:
                frame, length = Frame.parse_frame_header(memoryview(self._buffer[:9]))
                if len(self._buffer) >= 9 + length:
                    frame.parse_body(memoryview(self._buffer[9 : 9 + length]))
                    self._buffer = self._buffer[9 + length :]
                    if isinstance(frame, SettingsFrame) and "ACK" not in frame.flags:
                        self.sock.sendall(SettingsFrame(0, flags=["ACK"]).serialize())
                    return frame
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("the server closed the connection")
            self._buffer += data

    def headersOf(self, frame: Frame) -> List[Tuple[bytes, bytes]]:
        """Decode the header block of a HEADERS, CONTINUATION or PUSH_PROMISE frame."""
        assert isinstance(frame, (HeadersFrame, ContinuationFrame, PushPromiseFrame))
        return [(bytes(n), bytes(v)) for n, v in self._decoder.decode(frame.data, raw=True)]

    def framesUntilPing(self, deadline: float = 20) -> List[Frame]:
        """Every frame before the ACK of a PING sent now."""
        self.ping()
        frames = []
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            frame = self.frame()
            if isinstance(frame, PingFrame) and "ACK" in frame.flags:
                return frames
            frames.append(frame)
        raise AssertionError("no PING ACK")

    def response(self, streamID: int) -> Tuple[List[Tuple[bytes, bytes]], bytes, List[Frame]]:
        """Read until ``streamID`` ends: its headers, its body, and all its frames."""
        headers: List[Tuple[bytes, bytes]] = []
        body = b""
        frames: List[Frame] = []
        while True:
            frame = self.frame()
            if frame.stream_id != streamID:
                continue
            frames.append(frame)
            if isinstance(frame, (HeadersFrame, ContinuationFrame)):
                headers += self.headersOf(frame)
            elif isinstance(frame, DataFrame):
                body += frame.data
                if frame.data:
                    self._windowBack(streamID, frame.flow_controlled_length)
            if "END_STREAM" in frame.flags or frame.type == 0x3:
                return headers, body, frames

    def _windowBack(self, streamID: int, length: int) -> None:
        from hyperframe.frame import WindowUpdateFrame

        self.sock.sendall(
            WindowUpdateFrame(0, window_increment=length).serialize()
            + WindowUpdateFrame(streamID, window_increment=length).serialize()
        )

    def close(self) -> None:
        self.sock.close()


def statusOf(headers: Sequence[Tuple[bytes, bytes]]) -> int:
    """The ``:status`` of a header list."""
    return int(dict(headers)[b":status"])
