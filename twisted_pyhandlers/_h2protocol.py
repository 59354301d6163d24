"""
The HTTP/2 connection the ``h2`` port serves: Twisted's own
(:class:`twisted.web._http2.H2Connection` and ``H2Stream``), with what
wptserve's HTTP/2 handler API needs of it and what Twisted's lacks.

This is the one module that touches Twisted's private HTTP/2 state, as read
from Twisted 26.10's ``twisted/web/_http2.py``: ``H2Stream._conn`` (offered
as :attr:`HandlerH2Stream.connection`) and ``_request``; ``H2Connection``'s
``_requestReceived``, ``_requestDataReceived``, ``_requestEnded``,
``_requestAborted``, ``_requestDone``, ``_outboundStreamQueues``,
``_streamCleanupCallbacks``, ``_stillProducing``, ``priority``,
``_tryToWriteControlData``, and, for the send loop and the limits,
``dataReceived``, ``_sendPrioritisedData``, ``_handleWindowUpdate``,
``_handlePriorityUpdate``, ``_terminate``, ``_sendingDeferred``,
``_consumerBlocked``, ``_bufferedControlFrames`` and
``_END_STREAM_SENTINEL``, and ``_isSecure`` (asked once per connection).
Check them again when Twisted is upgraded.

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
- What a client may cost is bounded (:mod:`twisted_pyhandlers._h2limits`):
  a stream opened and reset within one read of the socket is never looked
  up, a stream over the bound of running handlers (per connection, per
  client address) is refused, resets empty a token bucket whose end is
  ``GOAWAY ENHANCE_YOUR_CALM``, a request body over ``--max-body`` is
  answered 413 and the stream reset, and a handler file's stream gets its
  flow-control window back only as its ``handle_data`` steps run.
- Twisted's send loop no longer spins on a stream waiting for the peer's
  window (see :meth:`HandlerH2Connection._sendPrioritisedData`).
- WebSockets over HTTP/2 (RFC 8441): the connection advertises
  ``SETTINGS_ENABLE_CONNECT_PROTOCOL``, and an extended CONNECT stream
  (``:protocol websocket``) is a
  :class:`~twisted_pyhandlers._wsh2.WebSocketH2Stream` running the site's
  ``*_wsh.py`` handlers instead of a request of the resource tree.

Everything here runs on the reactor thread.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple
from urllib.parse import unquote_to_bytes

import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import priority
from h2.stream import StreamInputs
from hpack import HeaderTuple
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionLost
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web._http2 import _END_STREAM_SENTINEL, H2Connection, H2Stream
from zope.interface import implementer

from twisted_pyhandlers._h2limits import (
    CONNECTION_RESET_BURST,
    CONNECTION_RESET_RATE,
    RUNS_PER_CONNECTION,
    ClientLimits,
    TokenBucket,
)
from twisted_pyhandlers._h2validation import checkReceivedHeaders, isPlainResponse
from twisted_pyhandlers._h2writer import H2ResponseWriter
from twisted_pyhandlers._interfaces import IHandlerChannel, IRunWatcher, IStreamingResource, IStreamRun
from twisted_pyhandlers._wsh2 import WebSocketH2Stream, isExtendedConnect

HeaderList = List[Tuple[bytes, bytes]]


@implementer(IHandlerChannel, IRunWatcher)
class HandlerH2Stream(H2Stream):
    """
    One HTTP/2 stream: Twisted's, plus the early look-up of its URL (so a
    handler file's ``handle_headers`` runs when the headers arrive), the
    body limit, and an end that respects a handler that ended the stream
    itself.  It is its request's run watcher
    (:class:`~twisted_pyhandlers.site.RunWatcher`): the connection counts
    the streams whose handler run holds a place.

    :ivar event: the ``RequestReceived`` event that opened the stream.
    :ivar wireEnded: True once the handler ended (or reset) the stream on
        the wire: nothing more is sent on it.
    :ivar endQueued: True once the handler's end of the stream is queued in
        Twisted's send loop, behind the stream's data.
    :ivar runHeld: True while a handler run of this stream holds a place.
    :ivar bodyReceived: bytes of the request body received so far.
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
        self.runHeld = False
        self.bodyReceived = 0
        self.streamRun: Optional[IStreamRun] = None
        self.lookedUp: Any = None
        self._request.runWatcher = self
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
                self.lookedUp = resource
        except Exception:
            self._log.failure("Looking up {path} on arrival of its headers failed", path=self.path)

    # -- RunWatcher: the request's handler run, on the reactor ------------------

    def runStarted(self) -> None:
        """A handler run took up this stream's request: it holds a place."""
        self.runHeld = True
        connection: HandlerH2Connection = self._conn
        connection.runStarted()

    def runEnded(self) -> None:
        """
        The run let go of the request (its response finished, or it never
        ran): the place is free, and the links between the stream, its
        request and its run are cut, so that all of them are freed as soon
        as Twisted lets go of the stream, instead of waiting, a cycle per
        request, for the cyclic garbage collector.
        """
        self._request.runWatcher = None
        self.streamRun = None
        if self.runHeld:
            self.runHeld = False
            connection: HandlerH2Connection = self._conn
            connection.runEnded()

    # -- the body ---------------------------------------------------------------

    def dataEvent(self, event: h2.events.DataReceived) -> None:
        """
        A DATA frame of this stream arrived: over ``--max-body`` the stream
        is answered 413 and reset; otherwise the body grows, and the run
        hears of it.  A run with frame steps gets the window back only once
        its step for the frame has run (so a slow ``handle_data`` holds at
        most a window's worth); a body bound for the spool (memory under
        100,000 bytes, else a temporary file) gets it back once stored, as
        Twisted does.
        """
        connection: HandlerH2Connection = self._conn
        self.bodyReceived += len(event.data)
        limit = connection.maxBody
        if limit is not None and self.bodyReceived > limit:
            connection.refuseBody(self.streamID, limit)
            return
        if self.streamRun is None or not self.producing:
            self.receiveDataChunk(event.data, event.flow_controlled_length)
            return
        self._request.handleContentChunk(event.data)
        streamID, length = self.streamID, event.flow_controlled_length
        self.streamRun.dataReceived(event, lambda: connection.consumed(streamID, length))

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

    def streamReset(self, reason: Failure) -> None:
        """
        The client reset the stream (or the connection went): the request
        is lost (a running handler's writes go nowhere from now on) and a
        run with frame steps that never reached ``main`` ends after them.
        """
        self.connectionLost(reason)
        if self.streamRun is not None:
            self.streamRun.streamGone()


class HandlerH2Connection(H2Connection):
    """
    Twisted's HTTP/2 connection with :class:`HandlerH2Stream` streams, the
    frame calls of the HTTP/2 writer (:mod:`twisted_pyhandlers._h2writer`),
    the limits of :mod:`twisted_pyhandlers._h2limits`, and the tolerance
    described in the module docstring.  Reactor thread.

    Read from Twisted 26.10.0's ``twisted/web/_http2.py``: this class
    overrides ``dataReceived``, ``_sendPrioritisedData``,
    ``_requestAborted``, ``_handleWindowUpdate`` and ``_isSecure`` and uses the private
    state they use (``conn``, ``streams``, ``priority``,
    ``_outboundStreamQueues``, ``_streamCleanupCallbacks``,
    ``_sendingDeferred``, ``_consumerBlocked``, ``_stillProducing``,
    ``_END_STREAM_SENTINEL``).

    :param webSockets: ``(context, dispatcher)`` of the ``*_wsh.py``
        handlers that extended CONNECT streams run, or None for none.
    :param clientLimits: what each client address holds, shared by the
        site's connections (a connection of its own if None).
    :param maxBody: the largest request body taken, in bytes, else 413;
        None for no limit.

    :ivar resetsBeforeLookUp: streams the client opened and reset within
        one read (never looked up, nothing run).
    :ivar resetsOfOpen: streams the client reset after they were taken.
    :ivar resetsWhileRunning: of those, streams whose handler was running.
    :ivar refused: streams refused (over a bound of running handlers).
    """

    _log = Logger()

    def __init__(
        self,
        reactor: Any = None,
        webSockets: Any = None,
        clientLimits: Optional[ClientLimits] = None,
        maxBody: Optional[int] = None,
    ) -> None:
        super().__init__(reactor)
        # Received header blocks are checked by checkReceivedHeaders (h2's
        # own checks, made in one pass: see _h2validation), in dataReceived.
        self.conn.config.validate_inbound_headers = False
        self.webSockets = webSockets
        #: Streams whose wire is done but whose request is not finished.
        self._detached: Dict[int, HandlerH2Stream] = {}
        self._clients = clientLimits if clientLimits is not None else ClientLimits()
        self.maxBody = maxBody
        self._client = ""
        self._runs = 0
        self._resets = TokenBucket(CONNECTION_RESET_BURST, CONNECTION_RESET_RATE, self._reactor.seconds())
        self.resetsBeforeLookUp = 0
        self.resetsOfOpen = 0
        self.resetsWhileRunning = 0
        self.refused = 0
        self.bodiesRefused = 0
        self._logged = False
        # The transport's addresses and security, asked once per connection
        # instead of once per stream (see getHost).
        self._host: Any = None
        self._peer: Any = None
        self._secure: Optional[bool] = None

    def connectionMade(self) -> None:
        """
        Start HTTP/2, offering extended CONNECT (RFC 8441) in the first
        SETTINGS, as wptserve's h2 server does, and take the transport's
        back-pressure (Twisted's wrapper does that for its own); unless the
        client's address has spent its reset budget: then the connection
        is closed at once (see :mod:`twisted_pyhandlers._h2limits`).
        """
        transport: Any = self.transport
        self._client = str(transport.getPeer().host)
        if not self._clients.mayConnect(self._client, self._reactor.seconds()):
            # The address spent its reset budget: no TLS handshake, no GOAWAY.
            transport.abortConnection()
            return
        dropped = self._clients.droppedSince(self._client)
        if dropped:
            self._log.warn(
                "HTTP/2 client {client}: {dropped} connections closed at once while its reset budget was spent",
                client=self._client,
                dropped=dropped,
            )
        self.conn.local_settings[h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL] = 1
        self.conn.local_settings.acknowledge()
        super().connectionMade()
        transport.registerProducer(self, True)

    # -- what every stream's request asks -------------------------------------

    def getHost(self) -> Any:
        """
        Twisted's (the transport's address), asked of the transport once:
        every stream's request asks when it is made, and over TCP each ask
        is a ``getsockname()`` system call.
        """
        if self._host is None:
            self._host = super().getHost()
        return self._host

    def getPeer(self) -> Any:
        """Twisted's (the client's address), asked of the transport once (see :meth:`getHost`)."""
        if self._peer is None:
            self._peer = super().getPeer()
        return self._peer

    def _isSecure(self) -> bool:
        """Twisted's (whether the transport is TLS: an adaptation each time), asked once."""
        if self._secure is None:
            self._secure = bool(super()._isSecure())
        return self._secure

    # -- what arrives --------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        """
        Twisted's, with what a read brings sorted first: a stream opened and
        reset within this read is never taken (no look-up, no run, its data
        given back to the window), only counted; a change of the peer's
        initial window wakes the streams waiting on it.  Nothing is read
        once the connection is closing (a flood would make h2 answer each
        late frame with another GOAWAY).
        """
        if not self._stillProducing:
            return
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self._terminate(Failure())
            return
        self.resetTimeout()
        opened: Set[int] = set()
        reset: Set[int] = set()
        try:
            for event in events:
                if isinstance(event, h2.events.RequestReceived):
                    opened.add(event.stream_id)
                    checkReceivedHeaders(event.headers)
                elif isinstance(event, h2.events.StreamReset):
                    reset.add(event.stream_id)
                elif isinstance(event, h2.events.TrailersReceived):
                    checkReceivedHeaders(event.headers, trailers=True)
        except h2.exceptions.ProtocolError:
            # What h2 does for a header block its own checks refuse.
            self.conn.close_connection(error_code=h2.errors.ErrorCodes.PROTOCOL_ERROR)
            self._terminate(Failure())
            return
        dropped = opened & reset
        for event in events:
            if not self._stillProducing:
                return
            if isinstance(event, h2.events.RequestReceived):
                if event.stream_id not in dropped:
                    self._requestReceived(event)
            elif isinstance(event, h2.events.DataReceived):
                if event.stream_id in dropped:
                    self._giveBack(event)
                else:
                    self._requestDataReceived(event)
            elif isinstance(event, h2.events.StreamEnded):
                if event.stream_id not in dropped:
                    self._requestEnded(event)
            elif isinstance(event, h2.events.StreamReset):
                if event.stream_id in dropped:
                    self.resetsBeforeLookUp += 1
                    self._spendReset("stream resets")
                else:
                    self._requestAborted(event)
            elif isinstance(event, h2.events.WindowUpdated):
                self._handleWindowUpdate(event)
            elif isinstance(event, h2.events.RemoteSettingsChanged):
                if h2.settings.SettingCodes.INITIAL_WINDOW_SIZE in event.changed_settings:
                    self._windowsChanged()
            elif isinstance(event, h2.events.PriorityUpdated):
                self._handlePriorityUpdate(event)
            elif isinstance(event, h2.events.ConnectionTerminated):
                transport: Any = self.transport
                transport.unregisterProducer()
                transport.loseConnection()
                self.connectionLost(Failure(ConnectionLost("Remote peer sent GOAWAY")), _cancelTimeouts=False)
        self._tryToWriteControlData()

    def _terminate(self, reason: Failure) -> None:
        """
        Twisted's, after letting go of the transport's back-pressure: TLS
        shuts down only once no producer is registered, so a connection
        closed with GOAWAY would otherwise stay open until a timer aborts it.
        """
        transport: Any = self.transport
        transport.unregisterProducer()
        super()._terminate(reason)

    def timeoutConnection(self) -> None:
        """Twisted's (GOAWAY, then close), after letting go of the transport's back-pressure."""
        transport: Any = self.transport
        transport.unregisterProducer()
        super().timeoutConnection()

    def _giveBack(self, event: h2.events.DataReceived) -> None:
        """Data nobody takes: its flow-control window goes back at once."""
        self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)

    # -- streams, as Twisted keeps them -----------------------------------

    def _stream(self, streamID: int) -> Optional[HandlerH2Stream]:
        return self.streams.get(streamID) or self._detached.get(streamID)

    def _requestReceived(self, event: h2.events.RequestReceived) -> None:
        """
        Twisted's, with our stream class (which needs the event itself),
        after the limits: over the bound of running handlers the stream is
        refused; a Content-Length over ``--max-body`` is answered 413 before
        anything is looked up.
        """
        # Set on the protocol by the Site's buildProtocol.
        requestFactory: Any = self.requestFactory  # type: ignore[attr-defined]
        webSockets = self.webSockets
        streamID = event.stream_id
        if self._runs >= RUNS_PER_CONNECTION or not self._clients.mayRun(self._client):
            self._refuse(streamID)
            return
        length = _contentLength(event.headers)
        if self.maxBody is not None and length is not None and length > self.maxBody:
            self._answer413(streamID, self.maxBody)
            return
        stream: Any
        if webSockets is not None and isExtendedConnect(event.headers):
            stream = WebSocketH2Stream(streamID, self, event.headers, *webSockets)
        else:
            stream = HandlerH2Stream(streamID, self, event, requestFactory, self.site, self.factory)
        self._streamCleanupCallbacks[streamID] = Deferred()
        self._outboundStreamQueues[streamID] = deque()
        self.streams[streamID] = stream
        try:
            self.priority.insert_stream(streamID)
        except Exception:
            # Already in the tree: a PRIORITY frame came before the HEADERS.
            pass
        else:
            self.priority.block(streamID)
        if isinstance(stream, WebSocketH2Stream):
            stream.start()

    def _requestDataReceived(self, event: h2.events.DataReceived) -> None:
        stream = self._stream(event.stream_id)
        if stream is None:
            # A stream we no longer know (reset, refused, or pushed): give the window back.
            self._giveBack(event)
            return
        stream.dataEvent(event)

    def _requestEnded(self, event: h2.events.StreamEnded) -> None:
        stream = self._stream(event.stream_id)
        if stream is not None:
            stream.requestComplete()

    def _requestAborted(self, event: h2.events.StreamReset) -> None:
        """
        The client reset a stream: its request is lost (a running handler is
        told: its writes go nowhere) and counted; a stream Twisted forgot
        (ended by its handler, or pushed) is no error.  Every reset spends a
        token of the connection's and of the client's bucket (Twisted's own
        bucket, replaced here, was the connection's alone).
        """
        streamID = event.stream_id
        reason = Failure(ConnectionLost(f"Stream reset with code {event.error_code}"))
        stream: Any = self.streams.get(streamID)
        if stream is not None:
            self.resetsOfOpen += 1
            if isinstance(stream, HandlerH2Stream):
                if stream.runHeld:
                    self.resetsWhileRunning += 1
                stream.streamReset(reason)
            else:
                stream.connectionLost(reason)
            self._requestDone(streamID)
        else:
            detached = self._detached.pop(streamID, None)
            if detached is None:
                return
            self.resetsOfOpen += 1
            if detached.runHeld:
                self.resetsWhileRunning += 1
            detached.streamReset(reason)
        self._spendReset("stream resets")

    def _spendReset(self, what: str) -> None:
        """
        A reset, the client's or our refusal: spend a token of the
        connection's and the client's buckets; with either empty, close the
        connection with ``GOAWAY ENHANCE_YOUR_CALM``.
        """
        now = self._reactor.seconds()
        connectionOK = self._resets.take(now)
        clientOK = self._clients.spendReset(self._client, now)
        if connectionOK and clientOK:
            return
        self._log.warn(
            "HTTP/2 client {client}: too many {what} ({scope}); connection closed (GOAWAY ENHANCE_YOUR_CALM)",
            client=self._client,
            what=what,
            scope="on this connection" if not connectionOK else "from this address",
        )
        self.conn.close_connection(error_code=h2.errors.ErrorCodes.ENHANCE_YOUR_CALM)
        self._terminate(Failure(ConnectionLost(f"Too many {what}")))

    def _refuse(self, streamID: int) -> None:
        """Refuse a new stream (``REFUSED_STREAM``: nothing ran, the client may retry)."""
        self.refused += 1
        self.conn.reset_stream(streamID, error_code=h2.errors.ErrorCodes.REFUSED_STREAM)
        self._spendReset("refused streams")

    def runStarted(self) -> None:
        """A stream's handler run took a place (see :mod:`twisted_pyhandlers._h2limits`)."""
        self._runs += 1
        self._clients.runStarted(self._client)

    def runEnded(self) -> None:
        """A stream's handler run let go of its place."""
        self._runs -= 1
        self._clients.runEnded(self._client)

    # -- the request body ----------------------------------------------------

    def consumed(self, streamID: int, length: int) -> None:
        """A handler's step took ``length`` flow-controlled bytes: the window opens by as much."""
        if not self._stillProducing:
            return
        if self._stream(streamID) is None:
            # The stream is gone; the connection's window still counts it.
            self.conn.acknowledge_received_data(length, streamID)
            self._tryToWriteControlData()
            return
        self.openStreamWindow(streamID, length)

    def refuseBody(self, streamID: int, limit: int) -> None:
        """
        The body of ``streamID`` passed ``limit`` bytes: answer 413 if no
        response has begun, reset the stream, and let its request go (a
        running handler's writes go nowhere); nothing more of the body is
        taken.
        """
        self.bodiesRefused += 1
        self._log.info(
            "HTTP/2 client {client}: request body of stream {stream} over {limit} bytes (--max-body): 413",
            client=self._client,
            stream=streamID,
            limit=limit,
        )
        stream = self._stream(streamID)
        h2stream = self.conn.streams.get(streamID)
        if h2stream is not None and not h2stream.state_machine.headers_sent:
            self._answer413(streamID, limit)
        else:
            self._resetQuietly(streamID, h2.errors.ErrorCodes.CANCEL)
        if stream is not None:
            stream.wireEnded = True
            stream.streamReset(Failure(ConnectionLost(f"Request body over {limit} bytes")))
            if streamID in self.streams:
                self._requestDone(streamID)
            self._detached.pop(streamID, None)

    def _answer413(self, streamID: int, limit: int) -> None:
        """
        A 413 on ``streamID`` (in HEADERS and, if the window takes it, DATA),
        then ``RST_STREAM NO_ERROR``: the client need send nothing more
        (RFC 9113 8.1).
        """
        body = b"request body over %d bytes (--max-body)\n" % limit
        headers = [
            (b":status", b"413"),
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", b"%d" % len(body)),
        ]
        try:
            if self.conn.local_flow_control_window(streamID) >= len(body):
                self.conn.send_headers(streamID, headers)
                self.conn.send_data(streamID, body, end_stream=True)
            else:
                self.conn.send_headers(streamID, headers[:2] + [(b"content-length", b"0")], end_stream=True)
        except h2.exceptions.ProtocolError:
            pass
        self._resetQuietly(streamID, h2.errors.ErrorCodes.NO_ERROR)

    def _resetQuietly(self, streamID: int, code: int) -> None:
        """RST_STREAM with ``code`` unless the stream is closed already."""
        h2stream = self.conn.streams.get(streamID)
        if h2stream is not None and not h2stream.closed:
            try:
                self.conn.reset_stream(streamID, error_code=code)
            except h2.exceptions.ProtocolError:
                pass
        self._tryToWriteControlData()

    # -- the send loop -------------------------------------------------------

    def _sendPrioritisedData(self, *args: object) -> None:
        """
        Twisted's data sending loop (Twisted 26.10.0), with one change: a
        stream whose flow-control window is exhausted is blocked in the
        priority tree until a WINDOW_UPDATE (or a SETTINGS raising the
        initial window) unblocks it.  Twisted leaves it unblocked, so the
        loop picks it again on every turn of the reactor (``callLater(0)``),
        sends nothing, and resets the idle timeout each time: a client that
        never opens its window pinned a core and was never timed out.
        """
        if not self._stillProducing:
            return
        stream = None
        while stream is None:
            try:
                stream = next(self.priority)
            except priority.DeadlockError:
                # Every stream is blocked (no data, or no window): wait.
                assert self._sendingDeferred is None
                self._sendingDeferred = Deferred()
                self._sendingDeferred.addCallback(self._sendPrioritisedData)
                return
        if self._consumerBlocked is not None:
            self._consumerBlocked.addCallback(self._sendPrioritisedData)
            return
        queue = self._outboundStreamQueues[stream]
        remainingWindow = self.conn.local_flow_control_window(stream)
        if remainingWindow <= 0 and queue and queue[0] is not _END_STREAM_SENTINEL:
            # The change: wait off the tree for the peer's window.
            self.priority.block(stream)
            self.streams[stream].flowControlBlocked()
            self._reactor.callLater(0, self._sendPrioritisedData)
            return
        self.resetTimeout()
        frameData = queue.popleft()
        maxFrameSize = min(self.conn.max_outbound_frame_size, remainingWindow)
        if frameData is _END_STREAM_SENTINEL:
            self.conn.end_stream(stream)
            transport: Any = self.transport
            transport.write(self.conn.data_to_send())
            self._requestDone(stream)
        else:
            if len(frameData) > maxFrameSize:
                queue.appendleft(frameData[maxFrameSize:])
                frameData = frameData[:maxFrameSize]
            if frameData:
                self.conn.send_data(stream, frameData)
                transport = self.transport
                transport.write(self.conn.data_to_send())
            if not queue:
                self.priority.block(stream)
            if self.remainingOutboundWindow(stream) <= 0:
                self.streams[stream].flowControlBlocked()
        self._reactor.callLater(0, self._sendPrioritisedData)

    def _handleWindowUpdate(self, event: h2.events.WindowUpdated) -> None:
        """Twisted's, and the send loop, if it waits with every stream blocked, looks again."""
        super()._handleWindowUpdate(event)
        self._wakeSendLoop()

    def _windowsChanged(self) -> None:
        """The peer's initial window changed: every stream's window did."""
        for streamID, stream in list(self.streams.items()):
            stream.windowUpdated()
            if self._outboundStreamQueues.get(streamID):
                self.priority.unblock(streamID)
        self._wakeSendLoop()

    def _wakeSendLoop(self) -> None:
        waiting, self._sendingDeferred = self._sendingDeferred, None
        if waiting is not None:
            waiting.callback(None)

    def _requestDone(self, streamID: int) -> None:
        """Twisted's clean-up; a stream whose request is not finished is kept aside for its events."""
        stream = self.streams.get(streamID)
        super()._requestDone(streamID)
        if stream is not None and not stream._request.finished and self._stillProducing:
            self._detached[streamID] = stream

    def connectionLost(self, reason: Failure = Failure(ConnectionError("connection lost")), _cancelTimeouts: bool = True) -> None:
        """
        Twisted's; the streams kept aside hear of it too, runs still in
        their frame steps end after them, and the resets, refusals and
        refused bodies of the connection are counted in the log.
        """
        streams = [stream for stream in self.streams.values() if isinstance(stream, HandlerH2Stream)]
        detached, self._detached = self._detached, {}
        super().connectionLost(reason, _cancelTimeouts)
        for stream in detached.values():
            stream.connectionLost(reason)
        for stream in streams + list(detached.values()):
            if stream.streamRun is not None:
                stream.streamRun.streamGone()
        counted = self.resetsBeforeLookUp or self.resetsOfOpen or self.refused or self.bodiesRefused
        if counted and not self._logged:
            self._logged = True
            self._log.info(
                "HTTP/2 connection of {client} closed: {resets} streams reset by the client "
                "({early} before they were looked up, {running} while their handler ran), "
                "{refused} refused over the bound of running handlers, {bodies} bodies over --max-body",
                client=self._client,
                resets=self.resetsBeforeLookUp + self.resetsOfOpen,
                early=self.resetsBeforeLookUp,
                running=self.resetsWhileRunning,
                refused=self.refused,
                bodies=self.bodiesRefused,
            )

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

    def sendResponse(self, streamID: int, headers: List[Tuple[bytes, bytes]], body: bytes) -> None:
        """
        A whole response on a request's own stream: HEADERS, then ``body``
        (if any) in one DATA frame that ends the stream, handed to the
        transport in one write, when nothing waits before them and the
        stream's window and the frame size take the body; otherwise the
        HEADERS frame, then the body through :meth:`sendData`.
        """
        if body and not self._fitsNow(streamID, body):
            self.sendHeaders(streamID, headers, False)
            self.sendData(streamID, body, True)
            return
        if body:
            self.resetTimeout()
            self._sendResponseHeaders(streamID, headers, False)
            self.conn.send_data(streamID, body, end_stream=True)
        else:
            self._sendResponseHeaders(streamID, headers, True)
        self._tryToWriteControlData()
        self._ended(streamID)
        self.forgetStream(streamID)

    def _sendResponseHeaders(self, streamID: int, headers: List[Tuple[bytes, bytes]], endStream: bool) -> None:
        """
        ``send_headers``, past h2's normalisation and checks of outgoing
        fields when they would let ``headers`` through unchanged anyway
        (:func:`~twisted_pyhandlers._h2validation.isPlainResponse`): h2
        reads those two settings of its configuration on each call.
        """
        config = self.conn.config
        if not isPlainResponse(headers):
            self.conn.send_headers(streamID, headers, end_stream=endStream)
            return
        normalize, validate = config.normalize_outbound_headers, config.validate_outbound_headers
        config.normalize_outbound_headers = config.validate_outbound_headers = False
        try:
            self.conn.send_headers(streamID, headers, end_stream=endStream)
        finally:
            config.normalize_outbound_headers, config.validate_outbound_headers = normalize, validate

    def sendData(self, streamID: int, data: bytes, endStream: bool) -> None:
        """
        DATA on ``streamID``: through Twisted's send loop (flow control,
        priority, back-pressure) for a request's own stream, unless it
        goes out at once (see :meth:`_sendNow`); straight through h2 for a
        pushed one.
        """
        if self._isOwn(streamID):
            if data and not self._sendNow(streamID, data):
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

    def _sendNow(self, streamID: int, data: bytes) -> bool:
        """
        Send ``data`` on ``streamID`` in one DATA frame right now, if
        nothing waits before it (no data queued on the stream, the
        transport not paused, no control frames held back) and one frame
        within the window takes it: what Twisted's send loop would do on
        its next turn of the reactor, without the turn.  A small response
        then leaves in the same write as its HEADERS.

        :return: whether it was sent.
        """
        if not self._fitsNow(streamID, data):
            return False
        self.resetTimeout()
        self.conn.send_data(streamID, data)
        if self._tryToWriteControlData() and self.remainingOutboundWindow(streamID) <= 0:
            self.streams[streamID].flowControlBlocked()
        return True

    def _fitsNow(self, streamID: int, data: bytes) -> bool:
        """
        Whether ``data`` may go on ``streamID`` in one DATA frame right now:
        the stream is a request's own and nothing waits before it (no data
        queued on the stream, the transport not paused, no control frames
        held back), and the window and the frame size take it.
        """
        if not self._isOwn(streamID):
            return False
        if self._outboundStreamQueues[streamID] or self._consumerBlocked is not None or self._bufferedControlFrames:
            return False
        return len(data) <= min(self.conn.max_outbound_frame_size, self.conn.local_flow_control_window(streamID))

    def endRequest(self, streamID: int) -> None:
        """
        Twisted's end of a response (END_STREAM after the data queued), sent
        at once when nothing is queued before it, instead of on the send
        loop's next turn of the reactor.
        """
        queue = self._outboundStreamQueues.get(streamID)
        if queue is None or queue or self._consumerBlocked is not None or self._bufferedControlFrames:
            super().endRequest(streamID)
            return
        try:
            self.conn.end_stream(streamID)
        except h2.exceptions.StreamClosedError:
            pass
        if self._tryToWriteControlData() and streamID in self.streams:
            self._requestDone(streamID)

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



def _contentLength(headers: Sequence[Tuple[Any, Any]]) -> Optional[int]:
    """The request's Content-Length, if it has one that is a number."""
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
