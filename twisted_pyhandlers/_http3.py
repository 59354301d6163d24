"""
HTTP/3 over one QUIC connection, for WebTransport sessions: aioquic's
``H3Connection`` with the settings Chromium's WebTransport asks for, the
CONNECT requests that open sessions, the capsules of their CONNECT streams,
the session's wire (:class:`~twisted_pyhandlers._webtransport.SessionWire`),
and, on the ``h3`` port, ordinary requests answered by the resource tree
(:mod:`twisted_pyhandlers._h3request`).

:class:`HTTP3Connection` is a connection's
:class:`~twisted_pyhandlers._quic.QuicApplication`.  A request is answered as
wpt's WebTransport server answers it: an extended CONNECT with ``:protocol
webtransport`` and an ``Origin`` opens a session run by the handler file its
``:path`` names (404 when there is none, 400 without ``:path``); any other
request gets 404, or 403 when it has no ``Origin`` (on the ``h3`` port,
any request but a CONNECT goes to the resource tree).  This is the only module
that writes HTTP/3 frames and capsules, and the only one that reaches into
aioquic's private ``H3Connection`` attributes (read from aioquic 1.7.2).
Everything here runs on the reactor thread.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, Optional, Tuple

from aioquic.buffer import Buffer, BufferReadError, encode_uint_var
from aioquic.h3.connection import ErrorCode, FrameType, H3Connection
from aioquic.h3.events import DatagramReceived, DataReceived, H3Event, HeadersReceived, WebTransportStreamDataReceived
from aioquic.quic.events import ConnectionTerminated, ProtocolNegotiated, QuicEvent, StreamReset
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from twisted_pyhandlers._h3request import H3RequestStream
from twisted_pyhandlers._quic import QuicConnectionDriver
from twisted_pyhandlers._webtransport import (
    BASE_RESPONSE_HEADERS,
    CloseInfo,
    Headers,
    WebTransportHandlers,
    WebTransportRun,
)

#: SETTINGS_WEBTRANSPORT_MAX_SESSIONS of draft-ietf-webtrans-http3-07,
#: which Chromium reads to speak that draft; one session per connection,
#: as wpt's server offers.
WEBTRANSPORT_MAX_SESSIONS_DRAFT07 = 0xC671706A

#: The capsule that closes a session (code and reason), and the one that
#: asks for it to be drained (draft-ietf-webtrans-http3).
CLOSE_WEBTRANSPORT_SESSION = 0x2843
DRAIN_WEBTRANSPORT_SESSION = 0x78AE


class WebTransportH3Connection(H3Connection):
    """
    aioquic's HTTP/3 connection with WebTransport enabled, offering
    Chromium's WebTransport draft, and taking data on the bidirectional
    streams the server opens as the session's.
    """

    def __init__(self, quic: object) -> None:
        super().__init__(quic, enable_webtransport=True)  # type: ignore[arg-type]

    def _get_local_settings(self) -> Dict[int, int]:
        # aioquic 1.7.2's hook for the SETTINGS frame; wpt adds the same.
        settings = super()._get_local_settings()
        settings[WEBTRANSPORT_MAX_SESSIONS_DRAFT07] = 1
        return settings

    def createWebTransportStream(self, sessionId: int, unidirectional: bool) -> int:
        """Open a stream of the session; a bidirectional one is marked as the session's for what comes back."""
        streamId: int = self.create_webtransport_stream(sessionId, is_unidirectional=unidirectional)
        if not unidirectional:
            # aioquic parses a bidirectional stream's incoming bytes as
            # HTTP/3 frames unless it knows it carries WebTransport; a
            # server-opened one does (the client sends no stream header).
            with self._get_or_create_stream(streamId) as stream:
                stream.frame_type = FrameType.WEBTRANSPORT_STREAM
                stream.session_id = sessionId
        return streamId


def encodeCapsule(capsuleType: int, payload: bytes) -> bytes:
    """A capsule (RFC 9297): type, length, payload."""
    return encode_uint_var(capsuleType) + encode_uint_var(len(payload)) + payload


class CapsuleReader:
    """The capsules of a CONNECT stream's data, as they complete."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> Iterator[Tuple[int, bytes]]:
        """Add ``data``; each capsule it completes, as (type, payload)."""
        self._buffer += data
        while self._buffer:
            buffer = Buffer(data=self._buffer)
            try:
                capsuleType = buffer.pull_uint_var()
                length = buffer.pull_uint_var()
            except BufferReadError:
                return
            start = buffer.tell()
            if len(self._buffer) < start + length:
                return
            payload = self._buffer[start : start + length]
            self._buffer = self._buffer[start + length :]
            yield capsuleType, payload

    @property
    def pending(self) -> bool:
        """Whether part of a capsule is waiting for the rest."""
        return bool(self._buffer)


class _Session:
    """The connection's view of one session: its run and its CONNECT stream's capsules."""

    __slots__ = ("run", "capsules", "closeInfo")

    def __init__(self, run: WebTransportRun) -> None:
        self.run = run
        self.capsules = CapsuleReader()
        self.closeInfo: Optional[CloseInfo] = None


class HTTP3Connection:
    """
    One QUIC connection's HTTP/3: requests, WebTransport sessions, and
    their wire.  Reactor thread.

    :param driver: the QUIC connection's driver.
    :param handlers: what the server's WebTransport sessions share.
    :param site: the ``Site`` whose tree answers ordinary requests (the
        ``h3`` port), or None to refuse them as wpt's WebTransport server
        does (the ``webtransport-h3`` port).
    """

    _log = Logger()

    def __init__(
        self, reactor: IReactorTime, driver: QuicConnectionDriver, handlers: WebTransportHandlers, site: Any = None
    ) -> None:
        self._reactor = reactor
        self._driver = driver
        self._handlers = handlers
        self._site = site
        self._http: Optional[WebTransportH3Connection] = None
        self._sessions: Dict[int, _Session] = {}
        #: The ordinary requests under way, by stream.
        self._requests: Dict[int, H3RequestStream] = {}
        #: Which session each WebTransport stream belongs to.
        self._streamSessions: Dict[int, int] = {}

    # -- QuicApplication ---------------------------------------------------------

    def quicEventReceived(self, event: QuicEvent) -> None:
        """One QUIC event: to HTTP/3, then to the sessions it concerns."""
        if isinstance(event, ProtocolNegotiated):
            self._http = WebTransportH3Connection(self._driver.quic)
        if self._http is not None:
            for h3event in self._http.handle_event(event):
                self._h3EventReceived(h3event)
        if isinstance(event, StreamReset):
            self._streamReset(event.stream_id, event.error_code)
        elif isinstance(event, ConnectionTerminated):
            for session in self._sessions.values():
                session.run.closed(None, abruptly=True)
            self._sessions.clear()
            requests, self._requests = self._requests, {}
            for request in requests.values():
                request.connectionLost()

    def _h3EventReceived(self, event: H3Event) -> None:
        if isinstance(event, HeadersReceived):
            if event.stream_id not in self._sessions and event.stream_id not in self._requests:
                self._request(event.stream_id, event.headers, event.stream_ended)
        elif isinstance(event, DataReceived):
            session = self._sessions.get(event.stream_id)
            if session is not None:
                self._sessionStreamData(session, event.data, event.stream_ended)
            request = self._requests.get(event.stream_id)
            if request is not None:
                request.dataReceived(event.data, event.stream_ended)
        elif isinstance(event, WebTransportStreamDataReceived):
            session = self._sessions.get(event.session_id)
            if session is not None:
                self._streamSessions[event.stream_id] = event.session_id
                session.run.streamDataReceived(event.stream_id, event.data, event.stream_ended)
        elif isinstance(event, DatagramReceived):
            session = self._sessions.get(event.stream_id)
            if session is not None:
                session.run.datagramReceived(event.data)

    def _request(self, streamId: int, requestHeaders: Headers, ended: bool) -> None:
        """
        A request's headers: open a WebTransport session, hand an ordinary
        request to the tree (the ``h3`` port), or refuse as wpt does.
        """
        # One value per name, the last one kept (wpt's dict).
        headers = dict(requestHeaders)
        origin = headers.get(b"origin")
        method = headers.get(b":method")
        if self._site is not None and method != b"CONNECT":
            request = H3RequestStream(self._reactor, self, streamId, self._site, self._driver.peer, self._driver.port.host)
            self._requests[streamId] = request
            request.headersReceived(requestHeaders, ended)
            return
        if not (method == b"CONNECT" and headers.get(b":protocol") == b"webtransport" and origin):
            self._refuse(streamId, 404 if origin else 403)
            return
        path = headers.get(b":path")
        if path is None:
            self._refuse(streamId, 400)
            return
        handler = self._handlers.handlerFor(path)
        if handler is None:
            self._refuse(streamId, 404)
            return
        run = WebTransportRun(self._handlers, self, streamId, requestHeaders, handler)
        self._sessions[streamId] = _Session(run)
        run.start()

    def _refuse(self, streamId: int, status: int) -> None:
        self.answer(streamId, [(b":status", str(status).encode("ascii")), *BASE_RESPONSE_HEADERS[:1]], True)

    def _sessionStreamData(self, session: _Session, data: bytes, ended: bool) -> None:
        """The CONNECT stream's capsules; its end ends the session (cleanly)."""
        for capsuleType, payload in session.capsules.feed(data):
            if session.closeInfo is not None:
                self._protocolError(f"capsule {capsuleType:#x} after CLOSE_WEBTRANSPORT_SESSION")
                return
            if capsuleType == CLOSE_WEBTRANSPORT_SESSION:
                if len(payload) < 4:
                    self._protocolError("CLOSE_WEBTRANSPORT_SESSION shorter than its code")
                    return
                session.closeInfo = (int.from_bytes(payload[:4], "big"), payload[4:])
            # Other capsules (DRAIN_WEBTRANSPORT_SESSION, unknown ones) are
            # ignored, as wpt's server and RFC 9297 do.
        if ended:
            sessionId = session.run.session.session_id
            self._sessions.pop(sessionId, None)
            session.run.closed(session.closeInfo, abruptly=False)
            # The client's close ends the session both ways: our side of
            # the CONNECT stream ends too (wpt's server leaves it open).
            if not self._driver.terminated:
                try:
                    self._h3().send_data(sessionId, b"", True)
                except Exception:
                    # Already ended by our own close: nothing to end.
                    pass
                self._driver.transmitSoon()

    def _streamReset(self, streamId: int, code: int) -> None:
        request = self._requests.pop(streamId, None)
        if request is not None:
            request.connectionLost()
            return
        session = self._sessions.pop(streamId, None)
        if session is not None:
            # The CONNECT stream itself: the session ends abruptly.
            session.run.closed(None, abruptly=True)
            return
        sessionId = self._streamSessions.get(streamId)
        if sessionId is None and len(self._sessions) == 1:
            # A stream reset before its first bytes arrived names no
            # session; the connection's only one is its (wpt's server
            # gives every reset to its one session).
            sessionId = next(iter(self._sessions))
        session = self._sessions.get(sessionId) if sessionId is not None else None
        if session is not None:
            session.run.streamReset(streamId, code)

    def _protocolError(self, reason: str) -> None:
        self._log.warn("HTTP/3 protocol error from a client: {reason}", reason=reason)
        self._driver.close(ErrorCode.H3_GENERAL_PROTOCOL_ERROR, reason)

    # -- SessionWire -------------------------------------------------------------

    def _h3(self) -> WebTransportH3Connection:
        assert self._http is not None, "no HTTP/3 before ALPN"
        return self._http

    def answer(self, sessionId: int, headers: Headers, endStream: bool) -> None:
        """Send a request's response headers."""
        if self._driver.terminated:
            return
        self._h3().send_headers(sessionId, headers, end_stream=endStream)
        if endStream:
            self._sessions.pop(sessionId, None)
            self._requests.pop(sessionId, None)
        self._driver.transmitSoon()

    def sendData(self, streamId: int, data: bytes, endStream: bool) -> None:
        """A DATA frame (or only the end) on a request stream; its end forgets the request."""
        if self._driver.terminated:
            return
        self._h3().send_data(streamId, data, endStream)
        if endStream:
            self._requests.pop(streamId, None)
        self._driver.transmitSoon()

    def closeSession(self, sessionId: int, closeInfo: Optional[CloseInfo]) -> None:
        """CLOSE_WEBTRANSPORT_SESSION (if ``closeInfo``) and FIN on the CONNECT stream."""
        if self._driver.terminated or self._sessions.pop(sessionId, None) is None:
            return
        http = self._h3()
        if closeInfo is not None:
            code, reason = closeInfo
            http.send_data(sessionId, encodeCapsule(CLOSE_WEBTRANSPORT_SESSION, code.to_bytes(4, "big") + reason), False)
        http.send_data(sessionId, b"", True)
        self._driver.transmitSoon()

    def createStream(self, sessionId: int, unidirectional: bool) -> int:
        """A new WebTransport stream of the session."""
        streamId = self._h3().createWebTransportStream(sessionId, unidirectional)
        self._streamSessions[streamId] = sessionId
        self._driver.transmitSoon()
        return streamId

    def sendStreamData(self, streamId: int, data: bytes, endStream: bool) -> None:
        """Bytes on a WebTransport stream."""
        if self._driver.terminated:
            return
        self._driver.quic.send_stream_data(streamId, data, end_stream=endStream)
        self._driver.transmitSoon()

    def sendDatagram(self, sessionId: int, data: bytes) -> None:
        """One HTTP datagram of the session (its quarter stream ID first)."""
        if self._driver.terminated:
            return
        self._h3().send_datagram(sessionId, data)
        self._driver.transmitSoon()

    def stopStream(self, streamId: int, code: int) -> None:
        """STOP_SENDING."""
        if self._driver.terminated:
            return
        self._driver.quic.stop_stream(streamId, code)
        self._driver.transmitSoon()

    def resetStream(self, streamId: int, code: int) -> None:
        """RESET_STREAM."""
        self._requests.pop(streamId, None)
        if self._driver.terminated:
            return
        self._driver.quic.reset_stream(streamId, code)
        self._driver.transmitSoon()
