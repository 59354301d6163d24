"""
Ordinary HTTP/3 requests on the ``h3`` port: each request stream is the
channel of a twisted.web request of the same resource tree as every other
port (``main(request, response)``, static files, pipes), as Twisted's own
``H2Stream`` is for HTTP/2.

:class:`H3RequestStream` turns the stream's HEADERS and DATA into the
request (pseudo-headers into the method, path and Host), gives the handler
run its writer (:class:`~twisted_pyhandlers._http3writer.H3ResponseWriter`,
through :class:`~twisted_pyhandlers._interfaces.IHandlerChannel`), and takes
what Twisted itself writes (``writeHeaders``/``write``: static files, the
server's own answers) as HEADERS and DATA frames.  It reaches the
connection only through the :class:`RequestWire` the HTTP/3 connection
gives it.  Everything here runs on the reactor thread.
"""

from __future__ import annotations

from typing import Any, List, Protocol, Tuple

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_pyhandlers._fieldwriter import CONNECTION_HEADERS
from twisted_pyhandlers._http3writer import H3ResponseWriter
from twisted_pyhandlers._interfaces import IHandlerChannel

Headers = List[Tuple[bytes, bytes]]

#: HTTP/3's H3_INTERNAL_ERROR, for a stream reset by the server.
H3_INTERNAL_ERROR = 0x102


class RequestWire(Protocol):
    """What a request stream needs of its HTTP/3 connection (reactor thread)."""

    def answer(self, sessionId: int, headers: Headers, endStream: bool) -> None:
        """Send response headers on a stream."""

    def sendData(self, streamId: int, data: bytes, endStream: bool) -> None:
        """Send a DATA frame (or only the end) on a stream."""

    def resetStream(self, streamId: int, code: int) -> None:
        """RESET_STREAM."""


def _address(address: Tuple[Any, ...]) -> Any:
    host, port = address[0], address[1]
    return IPv6Address("UDP", host, port) if ":" in host else IPv4Address("UDP", host, port)


@implementer(IHandlerChannel)
class H3RequestStream:
    """
    One HTTP/3 request stream as a twisted.web channel: Twisted's
    ``Request`` reads its addresses and site, writes through it, and tells
    it when the response is done.

    :param wire: the stream's HTTP/3 connection.
    :param streamId: the request stream's ID.
    :param site: the ``Site`` whose tree, request class and log serve it.
    :param peer: the client's (host, port); ``host`` the port's own.
    """

    #: The writer of a handler's response on this stream: HTTP/3 frames.
    writerClass = H3ResponseWriter
    #: No run starts before the body is in (see IHandlerChannel).
    streamRun = None
    #: Nothing is looked up before the request is complete.
    lookedUp = None
    #: twisted.web's Request reads its transport; an HTTP/3 stream has none of its own.
    transport = None

    def __init__(
        self, reactor: IReactorTime, wire: RequestWire, streamId: int, site: Any, peer: Tuple[Any, ...], host: Tuple[Any, ...]
    ) -> None:
        self._reactor = reactor
        self._wire = wire
        self.streamId = streamId
        self.site = site
        self.factory = site
        self.persistent = True
        self._peer = _address(peer)
        self._host = _address(host)
        self._headersSent = False
        self._ended = False
        self._producer: Any = None
        self._pulling = False
        self._request: Any = None
        self._command = b""
        self._path = b""

    # -- from the connection -----------------------------------------------------

    def headersReceived(self, headers: Headers, ended: bool) -> None:
        """The request's HEADERS: make the request (its body, if any, follows)."""
        request = self.site.requestFactory(self, queued=False)
        self._request = request
        gotLength = False
        for name, value in headers:
            if name == b":method":
                self._command = value
            elif name == b":path":
                self._path = value
            elif name == b":authority":
                request.requestHeaders.addRawHeader(b"host", value)
            elif not name.startswith(b":"):
                request.requestHeaders.addRawHeader(name, value)
                if name == b"content-length":
                    request.gotLength(int(value))
                    gotLength = True
        if not gotLength:
            request.gotLength(0 if self._command in (b"GET", b"HEAD") else None)
        request.parseCookies()
        if ended:
            self.dataReceived(b"", True)

    def dataReceived(self, data: bytes, ended: bool) -> None:
        """Body bytes; the end of the stream starts the request's processing."""
        if data:
            self._request.handleContentChunk(data)
        if ended:
            self._request.requestReceived(self._command, self._path, b"HTTP/3")

    def connectionLost(self) -> None:
        """The stream was reset, or the connection went away."""
        self._ended = True
        self._producer = None
        if self._request is not None:
            self._request.connectionLost(Failure(ConnectionLost("HTTP/3 stream closed")))

    # -- the handler writer's stream (H3ResponseStream) ------------------------------

    def sendHeaders(self, headers: Headers, end: bool) -> None:
        """A HEADERS frame."""
        if self._ended:
            return
        self._headersSent = True
        self._wire.answer(self.streamId, headers, end)
        if end:
            self._ended = True

    def sendData(self, data: bytes, end: bool) -> None:
        """A DATA frame, or the end of the stream."""
        if self._ended:
            return
        self._wire.sendData(self.streamId, data, end)
        if end:
            self._ended = True

    def reset(self) -> None:
        """Reset the stream."""
        if not self._ended:
            self._ended = True
            self._wire.resetStream(self.streamId, H3_INTERNAL_ERROR)

    # -- IHandlerChannel -----------------------------------------------------------

    def handlerTimer(self, reactor: Any) -> None:
        """None: a run on an HTTP/3 stream keeps a timer of its own (streams run side by side)."""
        return None

    # -- what twisted.web's Request asks of its channel ------------------------------

    def getPeer(self) -> Any:
        """The client's address."""
        return self._peer

    def getHost(self) -> Any:
        """The port's own address."""
        return self._host

    def isSecure(self) -> bool:
        """Always: QUIC is TLS."""
        return True

    def writeHeaders(self, version: bytes, code: bytes, reason: bytes, headers: Any) -> None:
        """Twisted's own response head (a static file, an error page) as a HEADERS frame."""
        fields: Headers = [(b":status", code)]
        for name, values in headers.getAllRawHeaders():
            lower = name.lower()
            if lower not in CONNECTION_HEADERS:
                fields.extend((lower, value) for value in values)
        self.sendHeaders(fields, False)

    def write(self, data: bytes) -> None:
        """Body bytes Twisted writes."""
        if data:
            self.sendData(data, False)

    def writeSequence(self, data: List[bytes]) -> None:
        """Body bytes Twisted writes, in pieces."""
        self.write(b"".join(data))

    def requestDone(self, request: Any) -> None:
        """The response is complete: end the stream (with a head, if nothing was written)."""
        if not self._headersSent:
            self.sendHeaders([(b":status", b"%d" % (request.code,))], True)
        else:
            self.sendData(b"", True)

    def loseConnection(self) -> None:
        """Closing a request's connection, on HTTP/3, resets its stream."""
        self.reset()

    def abortConnection(self) -> None:
        """As :meth:`loseConnection`."""
        self.reset()

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """
        A producer of the response: a push producer runs as it likes (QUIC
        buffers what it cannot send yet); a pull producer is asked for more
        at each reactor turn until it unregisters.
        """
        self._producer = producer
        if not streaming and not self._pulling:
            self._pulling = True
            self._reactor.callLater(0, self._pull)

    def unregisterProducer(self) -> None:
        """The producer is done."""
        self._producer = None

    def _pull(self) -> None:
        producer = self._producer
        if producer is None or self._ended:
            self._pulling = False
            return
        producer.resumeProducing()
        self._reactor.callLater(0, self._pull)

    def stopProducing(self) -> None:
        """Twisted asks the channel to stop: the stream is reset."""
        self.reset()

