"""
The HTTP/1.1 protocol: :class:`HandlerSite` (public as
:class:`twisted_pyhandlers.site.HandlerSite`), its channel
(:class:`HandlerChannel`, one per connection), its request
(:class:`HandlerRequest`, one per request, also the request class of an
HTTP/2 stream) and the timer a connection keeps for its requests
(:class:`RepeatingTimer`).

What they add to Twisted's ``HTTPChannel`` and ``Request``:

- request header names *as the client sent them*: Twisted canonicalises
  every name (``x-test`` arrives as ``X-Test``), but wptserve's
  ``request.raw_headers`` keeps each field line's name in its own case and
  order, and real tests check it.  :class:`HandlerChannel` records each
  field line as it is parsed, on the request it belongs to, before its
  name is canonicalised; ``request.raw_headers`` reads that record.
- limits a hostile or broken client cannot get around, each answered with
  a status line before the connection closes (Twisted answers 400, or
  closes with no answer at all): a header block not complete within
  ``headerTimeout`` seconds, however slowly its bytes trickle in, is
  answered 408 (Twisted's idle timer is reset by every byte); a request or
  header line over :data:`MAX_LINE` bytes is answered 414 or 431, as
  wptserve does, and so are more than :data:`MAX_HEADERS` header lines or a
  header block over :data:`MAX_HEADER_BLOCK` bytes; a body over
  ``maxBody`` bytes is answered 413 as soon as its Content-Length, or the
  decoded total of its chunks, passes the limit, without receiving the
  rest.  See ``docs/threat-model.rst``.
- the default headers of a response Twisted writes itself: Twisted's
  ``Request.process`` sets ``Server`` and ``Date`` on every request before
  it is routed, although a handler's response is written by our own
  writer, which never reads them.  :class:`HandlerRequest` sets them only
  when Twisted itself writes the response (a plain static file, a Twisted
  error page), at its first ``write``, first in the header block, so those
  responses carry the same headers in the same order.
- the access log line of a request whose client went away before it
  finished (see :mod:`twisted_pyhandlers._accesslog`).

Everything here runs on the reactor thread.
"""

from __future__ import annotations

import tempfile
from io import BytesIO
from typing import IO, Any, Callable, List, Optional, Protocol, Tuple

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.python import failure
from twisted.python.failure import Failure
from twisted.web import resource as twistedResource
from twisted.web.http import HTTPChannel, _GenericHTTPChannelProtocol, unquote
from twisted.web.http_headers import Headers
from twisted.web.server import Request, Site, version
from zope.interface import implementer

from twisted_pyhandlers._accesslog import combinedLogFormatter, logUnfinished
from twisted_pyhandlers._h11writer import ResponseWriter, wholeResponse
from twisted_pyhandlers._interfaces import IHandlerChannel, IHandlerRequest
from twisted_pyhandlers._response import httpDate

#: Seconds a client has to send a request's whole header block, from its
#: first byte: a browser sends it in one packet, so a header block still
#: incomplete after this long is a stalled or hostile client (slowloris).
DEFAULT_HEADER_TIMEOUT = 30.0

#: Seconds an idle connection (no request in progress) is kept: Twisted's
#: own default.
DEFAULT_IDLE_TIMEOUT = 60.0

#: The largest request body taken, in bytes: 1 GiB, far above what a test
#: uploads (Twisted spools bodies over 100 KB to a temporary file, so this
#: bounds disk, not memory).
DEFAULT_MAX_BODY = 1024 * 1024 * 1024

#: The longest request line or header line, its line end excluded:
#: wptserve's (Python's ``http.server``) 64 KiB.  Twisted's is 16 KiB.
MAX_LINE = 64 * 1024

#: The most header lines a request may have: wptserve raises
#: ``http.client``'s limit to 512 lines, the blank line that ends the block
#: included, so 511 header lines; Twisted's is 500.
MAX_HEADERS = 512

#: The largest header block, request line included: as much as wptserve
#: could take (the request line and 512 lines of 64 KiB, ~32 MiB), which has
#: no limit of its own.  Twisted's is 16 KiB.
MAX_HEADER_BLOCK = (MAX_HEADERS + 1) * (MAX_LINE + 2)

#: How long a refused connection keeps reading (and dropping) what the
#: client still sends after its answer, so that the client reads the answer
#: instead of a reset (a close with unread input resets the connection).
LINGER = 2.0

_REASONS = {
    408: b"Request Timeout",
    413: b"Content Too Large",
    414: b"URI Too Long",
    431: b"Request Header Fields Too Large",
}

#: ``(name, value)`` per header field line, in arrival order, the name as
#: the client wrote it and the value stripped of surrounding blanks (as
#: Twisted strips it).
ReceivedHeaders = List[Tuple[bytes, bytes]]


class RepeatingTimer:
    """
    A timer aimed again for each use instead of made and cancelled per use:
    every request on a keep-alive connection needs a handler timeout that
    is almost never reached, and a reactor ``callLater`` made and cancelled
    per request costs a ``DelayedCall``, a push onto the reactor's heap and,
    once cancelled calls pile up, a rebuild of that heap; aiming the same
    ``DelayedCall`` later (``DelayedCall.reset``) costs an addition, and the
    reactor moves it in its heap only if it ever comes due.

    One timer for a series of uses, one at a time: :meth:`start` aims it
    at a callback, :meth:`stop` disarms it without cancelling the reactor
    call underneath (a call that comes due disarmed does nothing), and
    :meth:`close` cancels that call for good.  Reactor thread throughout.

    Aiming it sooner than it is already aimed (a shorter timeout than the
    last one) makes a new call, as the reactor would have to move the old one
    in its heap anyway.
    """

    __slots__ = ("_clock", "_call", "_callback")

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self._call: Optional[IDelayedCall] = None
        self._callback: Optional[Callable[[], object]] = None

    def start(self, seconds: float, callback: Callable[[], object]) -> None:
        """Call ``callback`` in ``seconds``, unless stopped or started again first."""
        self._callback = callback
        call = self._call
        if call is not None and call.active():
            if call.getTime() <= self._clock.seconds() + seconds:
                call.reset(seconds)
                return
            call.cancel()
        self._call = self._clock.callLater(seconds, self._fire)

    def stop(self, callback: Callable[[], object]) -> None:
        """Disarm the timer if it is still aimed at ``callback`` (compared with ``==``: bound methods are made anew on each access)."""
        if self._callback == callback:
            self._callback = None

    def close(self) -> None:
        """Cancel the timer for good (its connection is gone)."""
        self._callback = None
        call, self._call = self._call, None
        if call is not None and call.active():
            call.cancel()

    def _fire(self) -> None:
        self._call = None
        callback, self._callback = self._callback, None
        if callback is not None:
            callback()


@implementer(IHandlerRequest)
class HandlerRequest(Request):
    """
    The Twisted request of a :class:`HandlerSite`.

    :ivar receivedHeaders: every header field line of the request, as
        recorded by :class:`HandlerChannel`; None until the first one
        arrives (and for a request that did not come through that channel,
        e.g. over HTTP/2).

    Runs on the reactor thread.
    """

    receivedHeaders: Optional[ReceivedHeaders] = None
    #: Seconds the handler run took, for ``--verbose`` access logs; None
    #: when no handler ran.
    handlerRunTime: Optional[float] = None
    #: True once a handler run answers the request: the run writes its
    #: access log line when it ends, even if the client has gone by then.
    answeredByRun = False
    #: True once the request's access log line was written (one per request).
    accessLogged = False

    def process(self) -> None:
        """
        Route the request and render what it names, as Twisted's
        ``Request.process`` does, without setting the ``Server`` and
        ``Date`` headers first (see :meth:`write`).
        """
        self.site = self.channel.site  # type: ignore[attr-defined]
        self.prepath = []
        self.postpath = [unquote(segment) for segment in self.path[1:].split(b"/")]
        if self.path == b"*":
            self._handleStar()
            return
        try:
            resrc = self.site.getResourceFor(self)
            if twistedResource._IEncodingResource.providedBy(resrc):
                encoder = resrc.getEncoder(self)
                if encoder is not None:
                    self._encoder = encoder
            self.render(resrc)
        except BaseException:
            self.processingFailed(failure.Failure())

    def write(self, data: bytes) -> None:
        """
        Twisted writes this response itself: before its first bytes, put
        the ``Server`` (Twisted's, unless one was set) and ``Date`` headers
        first in the header block, where Twisted's ``process`` would have
        set them.
        """
        if not self.startedWriting:
            headers = self.responseHeaders
            server = headers.getRawHeaders(b"server") or [version]
            date = headers.getRawHeaders(b"date") or [httpDate()]
            ordered = Headers()
            ordered.setRawHeaders(b"Server", server)
            ordered.setRawHeaders(b"Date", date)
            for name, values in headers.getAllRawHeaders():
                if name.lower() not in (b"server", b"date"):
                    ordered.setRawHeaders(name, values)
            self.responseHeaders = ordered
        super().write(data)

    #: The output of the handler run answering this request, told when the
    #: connection is lost (see :meth:`watchOutput`).
    _output: Any = None

    def watchOutput(self, output: Any) -> None:
        """
        Tell ``output`` (a :class:`~twisted_pyhandlers._output.ResponseOutput`)
        when this request's connection is lost, instead of it waiting on
        :meth:`notifyFinish` (a Deferred per request).  Reactor thread.
        """
        self._output = output

    def connectionLost(self, reason: Any) -> None:
        """
        The connection went away: if the request had not finished and no
        handler run answers it (a plain static file mid-transfer), write
        its access log line now, with the status and the body bytes sent
        so far; a handler run writes its own line when it ends.
        """
        super().connectionLost(reason)
        if self._output is not None:
            self._output.connectionLost()
        if not self.answeredByRun:
            logUnfinished(self)

    #: Bytes of the body received so far (after chunked decoding).
    _bodyReceived = 0

    def handleContentChunk(self, data: bytes) -> None:
        """
        Take a piece of the body, unless it takes the body past the channel's
        ``maxBody``: then the channel answers 413 and closes, and the body is
        not stored further.
        """
        self._bodyReceived += len(data)
        channel = self.channel
        # Only our HTTP/1.1 channel has a body limit (this request class
        # serves HTTP/2 streams too).
        if isinstance(channel, HandlerChannel):
            limit = channel.maxBody
            if limit is not None and self._bodyReceived > limit:
                channel.refuse(413, b"request body over %d bytes" % limit)
                return
        super().handleContentChunk(data)


@implementer(IHandlerChannel)
class HandlerChannel(HTTPChannel):
    """
    An :class:`~twisted.web.http.HTTPChannel` that records each request
    header field line, name as sent, on the request being received (as
    ``receivedHeaders``), in addition to what Twisted does with it; and
    enforces the limits of the module docstring, answering each with a
    status line.

    :param headerTimeout: seconds from a request's first byte to the end of
        its header block, else 408; None for no deadline.
    :param maxBody: the largest body taken, in bytes, else 413; None for no
        limit.

    Runs on the reactor thread.
    """

    MAX_LENGTH = MAX_LINE
    maxHeaders = MAX_HEADERS
    totalHeadersSize = MAX_HEADER_BLOCK

    #: The writer of a handler's response on this channel: HTTP/1.1 bytes.
    writerClass = ResponseWriter
    #: No run starts before its request is complete on HTTP/1.1.
    streamRun = None

    _log = Logger()

    def __init__(
        self, headerTimeout: Optional[float] = DEFAULT_HEADER_TIMEOUT, maxBody: Optional[int] = DEFAULT_MAX_BODY
    ) -> None:
        super().__init__()
        self.headerTimeout = headerTimeout
        self.maxBody = maxBody
        self._headerDeadline: Optional[IDelayedCall] = None
        #: Lines of the header block being received (the request line first).
        self._headLines = 0
        #: True once a request was refused: everything after is dropped.
        self._refused = False
        #: The idle timer: one per connection, aimed again, not remade (see
        #: :meth:`setTimeout`).
        self._idleCall: Optional[IDelayedCall] = None
        self._host: Any = None
        self._secure: Optional[bool] = None
        # The handler timeout of the requests of this connection, one at a
        # time (see handlerTimer).
        self._runTimer: Optional[RepeatingTimer] = None
        # The request whose header lines are being recorded, and its record.
        self._recording: Any = None
        self._record: ReceivedHeaders = []

    # -- receiving ---------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        """
        Bytes from the client; dropped once a request was refused.  If they
        leave a request's head incomplete, its header deadline starts (the
        first byte of the head came in these bytes or, for a head already
        under way, its deadline is running).  A head that arrives whole, as
        a browser sends it, never needs a timer.
        """
        if self._refused:
            return
        super().dataReceived(data)
        if (
            self._headerDeadline is None
            and self.headerTimeout
            and not self._refused
            and self.line_mode
            and not self._handlingRequest
            and (self._headLines or self._buffer)
        ):
            self._headerDeadline = self.callLater(self.headerTimeout, self._headerTimedOut)

    def getHost(self) -> Any:
        """
        The connection's local address: asked once (Twisted asks the socket,
        a ``getsockname`` call, for every request), then remembered.
        """
        if self._host is None:
            self._host = self.transport.getHost()  # type: ignore[union-attr]
        return self._host

    def isSecure(self) -> bool:
        """
        Whether the connection is TLS: asked once (Twisted adapts the
        transport to ``ISSLTransport`` for every request), then remembered.
        """
        if self._secure is None:
            self._secure = bool(super().isSecure())
        return self._secure

    # -- the idle timeout --------------------------------------------------

    def setTimeout(self, period: Optional[float]) -> Optional[float]:
        """
        Twisted's ``TimeoutMixin.setTimeout``, with one timer per
        connection: ``HTTPChannel`` turns the idle timeout off when a
        request is complete and on again when it is answered, and the mixin
        cancels its ``DelayedCall`` and makes a new one each time, twice per
        request.  Here turning it off leaves the timer armed (if it fires
        while off, nothing happens) and turning it on re-aims it, which
        costs an addition.  Reactor thread.

        :return: the previous period.
        """
        previous = self.timeOut
        self.timeOut = period  # type: ignore[assignment]  # Twisted types it int, takes any number
        if period is not None:
            call = self._idleCall
            if call is not None and call.active():
                call.reset(period)
            else:
                self._idleCall = self.callLater(period, self._idleTimedOut)
        return previous

    def resetTimeout(self) -> None:
        """Bytes arrived: the idle timer starts again (when it is on)."""
        call = self._idleCall
        if call is not None and self.timeOut is not None:
            call.reset(self.timeOut)

    def _idleTimedOut(self) -> None:
        """The idle timer fired: time the connection out if the timeout is on."""
        self._idleCall = None
        if self.timeOut is not None:
            self.timeoutConnection()

    def _cancelIdleTimer(self) -> None:
        call, self._idleCall = self._idleCall, None
        if call is not None and call.active():
            call.cancel()

    def lineReceived(self, line: bytes) -> None:
        """
        One line of a request's head: refuse a head over
        :data:`MAX_HEADER_BLOCK` with 431 (Twisted answers 400), then let
        Twisted take it.
        """
        if self._refused:
            return
        if self._receivedHeaderSize + len(line) > self.totalHeadersSize:
            self.refuse(431, b"header block over %d bytes" % self.totalHeadersSize)
            return
        if self._headLines or line:
            self._headLines += 1
        super().lineReceived(line)

    def lineLengthExceeded(self, line: bytes) -> None:
        """
        A line over :data:`MAX_LINE` bytes: 414 for the request line, 431
        for a header line, as wptserve (LineReceiver closes without a word).
        """
        if self._headLines == 0:
            self.refuse(414, b"request line over %d bytes" % self.MAX_LENGTH)
        else:
            self.refuse(431, b"header line over %d bytes" % self.MAX_LENGTH)

    def headerReceived(self, line: bytes) -> bool:
        """
        Refuse a header line past :data:`MAX_HEADERS` (431), and a
        Content-Length over ``maxBody`` (413, before any of the body is
        read); let Twisted take the field line (it may refuse it and answer
        400), then record it on the current request if Twisted accepted it.

        :param line: one header field line without its line end; folded
            continuation lines are already joined to it.
        :return: whether the field was valid.
        """
        if self._refused:
            return False
        if self._receivedHeaderCount >= self.maxHeaders:
            self.refuse(431, b"more than %d header lines" % self.maxHeaders)
            return False
        accepted: bool = super().headerReceived(line)
        if accepted and self.maxBody is not None and self.length is not None and self.length > self.maxBody:
            self.refuse(413, b"request body over %d bytes" % self.maxBody)
            return False
        if accepted:
            request = self.requests[-1]
            if self._recording is not request:
                # The request's first header line: its record starts (on
                # the request, whatever its class).
                self._recording = request
                self._record = request.receivedHeaders = []
            name, _, value = line.partition(b":")
            self._record.append((name, value.strip(b" \t")))
        return accepted

    def allHeadersReceived(self) -> None:
        """The head is complete: its deadline is met, its record ended."""
        self._cancelHeaderDeadline()
        self._headLines = 0
        self._recording = None
        super().allHeadersReceived()

    def allContentReceived(self) -> None:
        """The request is complete, unless it was refused on the way."""
        if self._refused:
            return
        super().allContentReceived()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """The connection is gone: so are its header deadline and idle timer."""
        self._cancelHeaderDeadline()
        super().connectionLost(reason)
        self._cancelIdleTimer()
        if self._runTimer is not None:
            self._runTimer.close()

    def handlerTimer(self, reactor: Any) -> RepeatingTimer:
        """
        The timer for the handler timeout of this connection's requests,
        one at a time (a :class:`RepeatingTimer`), made on first
        use.  Reactor thread.
        """
        timer = self._runTimer
        if timer is None:
            timer = self._runTimer = RepeatingTimer(reactor)
        return timer

    # -- refusing ------------------------------------------------------------

    def _headerTimedOut(self) -> None:
        """The header block was not complete in time."""
        self._headerDeadline = None
        self._log.info(
            "No complete request head from {peer} within {seconds} s: 408",
            peer=str(self.transport.getPeer()),  # type: ignore[union-attr]
            seconds=self.headerTimeout,
        )
        self.refuse(408, b"request head not complete within %g s" % (self.headerTimeout or 0))

    def _cancelHeaderDeadline(self) -> None:
        if self._headerDeadline is not None:
            if self._headerDeadline.active():
                self._headerDeadline.cancel()
            self._headerDeadline = None

    def refuse(self, code: int, why: bytes) -> None:
        """
        Answer ``code`` with a short plain-text body saying ``why``, then
        close: stop reading the request, let the answer go out, and drop
        what the client still sends for :data:`LINGER` seconds so that it
        reads the answer rather than a reset.  Once per connection.
        """
        if self._refused:
            return
        self._refused = True
        self._cancelHeaderDeadline()
        self.setTimeout(None)
        self.persistent = False
        body = why + b"\n"
        transport: Any = self.transport
        answer, _ = wholeResponse(
            code,
            _REASONS.get(code, b"Bad Request"),
            [
                (b"Content-Type", b"text/plain; charset=utf-8"),
                (b"Content-Length", b"%d" % len(body)),
                (b"Connection", b"close"),
            ],
            body,
        )
        transport.write(answer)
        # Twisted's TCP transports can half-close; a TLS one need not.
        loseWrite = getattr(transport, "loseWriteConnection", None)
        if loseWrite is None:
            transport.loseConnection()
            return
        loseWrite()
        self.callLater(LINGER, transport.loseConnection)


class ChannelLimits(Protocol):
    """What :func:`handlerChannelProtocol` reads of its factory: a ``HandlerSite``'s limits."""

    headerTimeout: Optional[float]
    maxBody: Optional[int]


def handlerChannelProtocol(factory: ChannelLimits) -> _GenericHTTPChannelProtocol:
    """
    The protocol a :class:`HandlerSite` builds for a connection: Twisted's
    own wrapper (the one a plain ``Site`` uses, which switches to HTTP/2
    when TLS negotiates it) around a :class:`HandlerChannel`.
    """
    return _GenericHTTPChannelProtocol(
        HandlerChannel(
            headerTimeout=factory.headerTimeout,
            maxBody=factory.maxBody,
        )
    )


class HandlerSite(Site):
    """
    A :class:`~twisted.web.server.Site` for handler trees: requests are
    :class:`HandlerRequest`\\ s received by a :class:`HandlerChannel`, so
    handlers see request header names as sent, and request bodies are left
    to the handlers (``parsePOSTFormSubmission=False`` unless given).

    Takes every argument ``Site`` takes (``logPath``, ``requestFactory``
    ...; ``timeout``, the idle timeout of a connection between requests,
    defaults to :data:`DEFAULT_IDLE_TIMEOUT`), and ``headerTimeout`` and
    ``maxBody`` (see :class:`HandlerChannel`)::

        site = HandlerSite(HandlerDirectory("/srv/tests"))
        reactor.listenTCP(8000, site, interface="127.0.0.1")

    A ``requestFactory`` of your own should subclass :class:`HandlerRequest`
    (any request object with a ``__dict__`` gets the record too).

    Its access log (``logPath``) is in Apache's Combined Log Format unless a
    ``logFormatter`` is given, with one line per request; a subclass with
    ``accessLog = False`` writes none.
    """

    protocol = handlerChannelProtocol  # type: ignore[assignment]
    requestFactory = HandlerRequest
    #: Whether the site writes an access log line per request.
    accessLog = True

    def __init__(
        self,
        resource: Any,
        requestFactory: Any = None,
        *args: Any,
        parsePOSTFormSubmission: bool = False,
        headerTimeout: Optional[float] = DEFAULT_HEADER_TIMEOUT,
        maxBody: Optional[int] = DEFAULT_MAX_BODY,
        **kwargs: Any,
    ) -> None:
        self.headerTimeout = headerTimeout
        self.maxBody = maxBody
        if len(args) < 3:  # Site's positional (logPath, timeout, logFormatter)
            kwargs.setdefault("logFormatter", combinedLogFormatter)
        if len(args) < 2:
            kwargs.setdefault("timeout", DEFAULT_IDLE_TIMEOUT)
        super().__init__(
            resource,
            requestFactory,
            *args,
            parsePOSTFormSubmission=parsePOSTFormSubmission,
            **kwargs,
        )

    def getContentFile(self, length: Optional[int]) -> IO[bytes]:
        """
        Where a request's body is kept: in memory under 100,000 bytes, else
        a temporary file, as Twisted's own ``Request.gotLength`` decides.
        Twisted's ``server.Request`` asks its site for this hook on every
        request and, on a plain ``Site``, raises and catches an
        ``AttributeError`` to find that it is missing; here it is found.
        Reactor thread.
        """
        if length is not None and length < 100000:
            return BytesIO()
        return tempfile.TemporaryFile()

    def log(self, request: Any) -> None:
        """
        Write ``request``'s access log line, unless it was written already:
        one line per request, whichever way it ended (none when
        ``accessLog`` is False).  Reactor thread.
        """
        if not self.accessLog:
            return
        if IHandlerRequest.providedBy(request):
            if request.accessLogged:
                return
            request.accessLogged = True
        super().log(request)
