"""
The HTTP/2 connection the ``h2`` port serves: Twisted's own
(:class:`twisted.web._http2.H2Connection` and ``H2Stream``), with what
wptserve's HTTP/2 handler API needs of it and what Twisted's lacks.

This is the one module that touches Twisted's private HTTP/2 state, as read
from Twisted 26.10's ``twisted/web/_http2.py``: ``H2Stream._conn`` (offered
as :attr:`HandlerH2Stream.connection`) and ``_request``; ``H2Connection``'s
``_requestReceived``, ``_requestDataReceived``, ``_requestEnded``,
``_requestAborted``, ``_requestDone``, ``_outboundStreamQueues``,
``_streamCleanupCallbacks``, ``_stillProducing``, ``priority`` and
``_tryToWriteControlData``.  Check them again when Twisted is upgraded.

Twisted's HTTP/2 hands a request to the resource tree only once its whole
body has arrived, and owns the end of every stream.  wptserve's HTTP/2
handlers see more of the wire:

- ``handle_headers(frame, request, response)`` runs when the HEADERS frame
  arrives and ``handle_data(frame, request, response)`` for each DATA
  frame as it arrives, before ``main``.  :class:`HandlerH2Stream` looks the
  URL up in the tree as soon as the headers are in, and a leaf that wants
  the frames (``startStream``, a handler file) starts its run right there;
  :class:`HandlerH2Connection` hands it each DATA event.
- A handler may end its stream itself (``write_data(last=True)``,
  ``end_stream()``) or write raw frames past Twisted's state machine.  The
  stream's wire is then done but its request is not (``main`` may still be
  to run when the client's END_STREAM comes): Twisted forgets such a
  stream, and its events would raise ``KeyError``.  The connection keeps
  it aside (``_detached``) until its request finishes, and it never adds
  HEADERS or END_STREAM of its own after the handler ended the stream.
- A client resetting a stream we pushed (which Twisted never knew) would
  raise ``KeyError`` in Twisted and kill the connection: it is ignored.
- WebSockets over HTTP/2 (RFC 8441): the connection advertises
  ``SETTINGS_ENABLE_CONNECT_PROTOCOL``, and an extended CONNECT stream
  (``:protocol websocket``) is a
  :class:`~twisted_pyhandlers._wsh2.WebSocketH2Stream` running the site's
  ``*_wsh.py`` handlers instead of a request of the resource tree.

Everything here runs on the reactor thread.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Dict, List, Optional, Sequence, Tuple
from urllib.parse import unquote_to_bytes

import h2.errors
import h2.events
import h2.exceptions
import h2.settings
from h2.stream import StreamInputs
from hpack import HeaderTuple
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web._http2 import H2Connection, H2Stream
from zope.interface import implementer

from twisted_pyhandlers._h2writer import H2ResponseWriter
from twisted_pyhandlers._interfaces import IHandlerChannel, IStreamingResource, IStreamRun
from twisted_pyhandlers._wsh2 import WebSocketH2Stream, isExtendedConnect

HeaderList = List[Tuple[bytes, bytes]]


@implementer(IHandlerChannel)
class HandlerH2Stream(H2Stream):
    """
    One HTTP/2 stream: Twisted's, plus the early look-up of its URL (so a
    handler file's ``handle_headers`` runs when the headers arrive) and an
    end that respects a handler that ended the stream itself.

    :ivar event: the ``RequestReceived`` event that opened the stream.
    :ivar wireEnded: True once the handler ended (or reset) the stream on
        the wire: nothing more is sent on it.
    :ivar endQueued: True once the handler's end of the stream is queued in
        Twisted's send loop, behind the stream's data.
    """

    _log = Logger()

    #: The writer of a handler's response on this stream: HTTP/2 frames.
    writerClass = H2ResponseWriter

    def __init__(
        self,
        streamID: int,
        connection: "HandlerH2Connection",
        event: h2.events.RequestReceived,
        requestFactory: Any,
        site: Any,
        factory: Any,
    ) -> None:
        super().__init__(streamID, connection, event.headers, requestFactory, site, factory)
        self.event = event
        self.wireEnded = False
        self.endQueued = False
        self.streamRun: Optional[IStreamRun] = None
        self._lookUpEarly()

    @property
    def connection(self) -> "HandlerH2Connection":
        """The connection this stream belongs to (Twisted 26.10's private ``H2Stream._conn``)."""
        connection: HandlerH2Connection = self._conn
        return connection

    def handlerTimer(self, reactor: Any) -> None:
        """None: a run on an HTTP/2 stream keeps a timer of its own (streams run side by side)."""
        return None

    def _lookUpEarly(self) -> None:
        """
        Find the resource this stream's URL names now, as Twisted would once
        the body is in (``Request.requestReceived`` and ``process``), and let
        it start the run if it wants the frames.  The request is looked up
        again, the normal way, when the body is complete.
        """
        request: Any = self._request
        if self.site is None or self.command is None or self.path is None:
            return
        request.method, request.uri, request.clientproto = self.command, self.path, b"HTTP/2"
        request.path = self.path.split(b"?", 1)[0]
        request.prepath = []
        request.postpath = [unquote_to_bytes(segment) for segment in request.path[1:].split(b"/")]
        try:
            resource = self.site.getResourceFor(request)
            if IStreamingResource.providedBy(resource):
                self.streamRun = resource.startStream(request, self.streamID, self.event)
        except Exception:
            self._log.failure("Looking up {path} on arrival of its headers failed", path=self.path)

    def dataEvent(self, event: h2.events.DataReceived) -> None:
        """A DATA frame of this stream arrived: the body grows, then the run hears of it."""
        self.receiveDataChunk(event.data, event.flow_controlled_length)
        if self.streamRun is not None:
            self.streamRun.dataReceived(event)

    def requestDone(self, request: Any) -> None:
        """
        The request finished (our run ended it): end the stream after the
        data queued on it, as wptserve's ``end_stream()`` after ``main``,
        unless the handler already ended or reset it (then nothing is sent).
        """
        connection: HandlerH2Connection = self._conn
        connection.releaseStream(self.streamID)
        if self.streamID not in connection.streams:
            return
        if self.endQueued:
            # The handler's end is queued behind its data: the send loop ends
            # the stream and cleans up.
            return
        if self.wireEnded:
            connection.forgetStream(self.streamID)
        else:
            connection.endRequest(self.streamID)


class HandlerH2Connection(H2Connection):
    """
    Twisted's HTTP/2 connection with :class:`HandlerH2Stream` streams, the
    frame calls of the HTTP/2 writer (:mod:`twisted_pyhandlers._h2writer`), and
    the tolerance described in the module docstring.  Reactor thread.
    """

    _log = Logger()

    def __init__(self, reactor: Any = None, webSockets: Any = None) -> None:
        """
        :param webSockets: ``(context, dispatcher)`` of the ``*_wsh.py``
            handlers that extended CONNECT streams run, or None for none.
        """
        super().__init__(reactor)
        self.webSockets = webSockets
        #: Streams whose wire is done but whose request is not finished.
        self._detached: Dict[int, HandlerH2Stream] = {}

    def connectionMade(self) -> None:
        """
        Start HTTP/2, offering extended CONNECT (RFC 8441) in the first
        SETTINGS, as wptserve's h2 server does, and take the transport's
        back-pressure (Twisted's wrapper does that for its own).
        """
        self.conn.local_settings[h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL] = 1
        self.conn.local_settings.acknowledge()
        super().connectionMade()
        transport: Any = self.transport
        transport.registerProducer(self, True)

    # -- streams, as Twisted keeps them -----------------------------------

    def _stream(self, streamID: int) -> Optional[HandlerH2Stream]:
        return self.streams.get(streamID) or self._detached.get(streamID)

    def _requestReceived(self, event: h2.events.RequestReceived) -> None:
        """Twisted's, with our stream class (which needs the event itself)."""
        # Set on the protocol by the Site's buildProtocol.
        requestFactory: Any = self.requestFactory  # type: ignore[attr-defined]
        webSockets = self.webSockets
        stream: Any
        if webSockets is not None and isExtendedConnect(event.headers):
            stream = WebSocketH2Stream(event.stream_id, self, event.headers, *webSockets)
        else:
            stream = HandlerH2Stream(event.stream_id, self, event, requestFactory, self.site, self.factory)
        self._streamCleanupCallbacks[event.stream_id] = Deferred()
        self._outboundStreamQueues[event.stream_id] = deque()
        self.streams[event.stream_id] = stream
        try:
            self.priority.insert_stream(event.stream_id)
        except Exception:
            # Already in the tree: a PRIORITY frame came before the HEADERS.
            pass
        else:
            self.priority.block(event.stream_id)
        if isinstance(stream, WebSocketH2Stream):
            stream.start()

    def _requestDataReceived(self, event: h2.events.DataReceived) -> None:
        stream = self._stream(event.stream_id)
        if stream is None:
            # A stream we no longer know (reset, or pushed): give the window back.
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            self._tryToWriteControlData()
            return
        stream.dataEvent(event)

    def _requestEnded(self, event: h2.events.StreamEnded) -> None:
        stream = self._stream(event.stream_id)
        if stream is not None:
            stream.requestComplete()

    def _requestAborted(self, event: h2.events.StreamReset) -> None:
        """A reset of a stream Twisted forgot (ended by its handler, or pushed) is not an error."""
        if event.stream_id in self.streams:
            super()._requestAborted(event)
            return
        stream = self._detached.pop(event.stream_id, None)
        if stream is not None:
            stream.connectionLost(Failure(ConnectionError(f"Stream reset with code {event.error_code}")))

    def _requestDone(self, streamID: int) -> None:
        """Twisted's clean-up; a stream whose request is not finished is kept aside for its events."""
        stream = self.streams.get(streamID)
        super()._requestDone(streamID)
        if stream is not None and not stream._request.finished and self._stillProducing:
            self._detached[streamID] = stream

    def connectionLost(self, reason: Failure = Failure(ConnectionError("connection lost")), _cancelTimeouts: bool = True) -> None:
        """Twisted's, and the streams kept aside hear of it too."""
        detached, self._detached = self._detached, {}
        super().connectionLost(reason, _cancelTimeouts)
        for stream in detached.values():
            stream.connectionLost(reason)

    def releaseStream(self, streamID: int) -> None:
        """The stream's request finished: nothing keeps it any more."""
        self._detached.pop(streamID, None)

    def forgetStream(self, streamID: int) -> None:
        """Drop Twisted's state of a stream the handler ended itself, sending nothing."""
        if streamID in self.streams:
            self._outboundStreamQueues[streamID].clear()
            self._requestDone(streamID)

    # -- what the HTTP/2 writer does, on the reactor -------------------------

    def _ended(self, streamID: int, queued: bool = False) -> None:
        stream = self._stream(streamID)
        if stream is not None:
            stream.wireEnded = True
            stream.endQueued = stream.endQueued or queued

    def _isOwn(self, streamID: int) -> bool:
        """Whether Twisted's send loop serves ``streamID`` (a request's own, still active)."""
        stream = self.streams.get(streamID)
        return stream is not None and not stream.wireEnded

    def sendHeaders(self, streamID: int, headers: Sequence[Tuple[Any, Any]], endStream: bool) -> None:
        """A HEADERS frame through h2's state machine; ``endStream`` ends the stream after it."""
        if endStream and self._isOwn(streamID) and self._outboundStreamQueues[streamID]:
            # Data still queued: it goes first, then the end.
            self.conn.send_headers(streamID, list(headers))
            self._tryToWriteControlData()
            self._ended(streamID, queued=True)
            self.endRequest(streamID)
            return
        self.conn.send_headers(streamID, list(headers), end_stream=endStream)
        self._tryToWriteControlData()
        if endStream:
            self._ended(streamID)
            self.forgetStream(streamID)

    def sendData(self, streamID: int, data: bytes, endStream: bool) -> None:
        """
        DATA on ``streamID``: through Twisted's send loop (flow control,
        priority, back-pressure) for a request's own stream; straight
        through h2 for a pushed one.
        """
        if self._isOwn(streamID):
            if data:
                self.writeDataToStream(streamID, data)
            if endStream:
                self._ended(streamID, queued=True)
                self.endRequest(streamID)
            return
        stream = self._stream(streamID)
        if stream is not None and stream.wireEnded:
            raise h2.exceptions.StreamClosedError(streamID)
        view = memoryview(data)
        while True:
            size = min(self.conn.max_outbound_frame_size, self.conn.local_flow_control_window(streamID))
            chunk, view = view[:size], view[size:]
            if view and not chunk:
                raise h2.exceptions.FlowControlError(f"no flow-control window left on stream {streamID}")
            self.conn.send_data(streamID, bytes(chunk), end_stream=endStream and not view)
            if not view:
                break
        self._tryToWriteControlData()

    def endStream(self, streamID: int) -> None:
        """END_STREAM on ``streamID``, after the data queued on it."""
        self.sendData(streamID, b"", True)

    def pushPromise(self, streamID: int, promiseHeaders: Sequence[Tuple[Any, Any]], pushID: Optional[int]) -> int:
        """A PUSH_PROMISE on ``streamID``; returns the promised stream's id."""
        if pushID is None:
            pushID = self.conn.get_next_available_stream_id()
        self.conn.push_stream(streamID, pushID, list(promiseHeaders))
        self._tryToWriteControlData()
        return pushID

    def encodeHeaders(self, headers: Sequence[Tuple[Any, Any]]) -> bytes:
        """HPACK-encode ``headers`` with the connection's encoder (its table stays in step)."""
        return bytes(self.conn.encoder.encode([HeaderTuple(name, value) for name, value in headers]))

    def sendRaw(self, streamID: int, frame: bytes, endsStream: bool) -> None:
        """
        A frame serialised by the writer, past the state machine.  If it
        ends the stream, h2 is told (its slot is freed) and Twisted forgets
        the stream, sending nothing after it.
        """
        self._tryToWriteControlData()
        transport: Any = self.transport
        transport.write(frame)
        if endsStream:
            self._closeQuietly(streamID)

    def _closeQuietly(self, streamID: int) -> None:
        self._ended(streamID)
        h2stream = self.conn.streams.get(streamID)
        if h2stream is not None and not h2stream.closed:
            try:
                h2stream.state_machine.process_input(StreamInputs.SEND_END_STREAM)
            except h2.exceptions.ProtocolError:
                pass
        self.forgetStream(streamID)

    def resetStream(self, streamID: int) -> None:
        """RST_STREAM on ``streamID`` (INTERNAL_ERROR)."""
        self._ended(streamID)
        try:
            self.conn.reset_stream(streamID, error_code=h2.errors.ErrorCodes.INTERNAL_ERROR)
        except h2.exceptions.StreamClosedError:
            pass
        if self._tryToWriteControlData() and streamID in self.streams:
            self._requestDone(streamID)

    def maxPayloadSize(self, streamID: int) -> int:
        """wptserve's ``get_max_payload_size``: the frame size or the window, less the frame header."""
        return min(self.conn.remote_settings.max_frame_size, self.conn.local_flow_control_window(streamID)) - 9

