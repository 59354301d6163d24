"""
WebSockets over HTTP/2 (RFC 8441) on the ``h2`` port: an extended CONNECT
stream (``:method CONNECT``, ``:protocol websocket``) runs the same
``*_wsh.py`` handlers as the ws and wss ports.

As on those ports the handler code is pywebsocket's (its dispatcher,
``stream.Stream``, ``msgutil``), run in the handler thread pool; here the
byte streams it reads and writes are one HTTP/2 stream's DATA, and the
opening handshake is RFC 8441's: a ``200`` HEADERS frame instead of a
``101``.  :class:`WebSocketH2Stream` takes the place of an HTTP/2 request
stream in Twisted's ``H2Connection`` (flow control, priorities and the
send loop stay Twisted's); the connection advertises
``SETTINGS_ENABLE_CONNECT_PROTOCOL`` (see
:mod:`twisted_pyhandlers._h2protocol`).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Dict, List, Optional, Sequence, Tuple

from pywebsocket3 import common
from pywebsocket3.handshake.base import (
    AbortedByUserException,
    HandshakeException,
    HandshakerBase,
    VersionException,
    get_mandatory_header,
    validate_mandatory_header,
)
from twisted.internet.threads import blockingCallFromThread
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_pyhandlers._addresses import hostAndPort
from twisted_pyhandlers._context import HandlerContext
from twisted_pyhandlers._wshandlers import HandlerDispatcher
from twisted_pyhandlers._wsio import WebSocketInput, WebSocketOutput


def isExtendedConnect(headers: Sequence[Tuple[Any, Any]]) -> bool:
    """Whether a request's headers open a WebSocket over HTTP/2 (``CONNECT`` with ``:protocol websocket``)."""
    fields = {_bytes(name): _bytes(value) for name, value in headers}
    return fields.get(b":method") == b"CONNECT" and fields.get(b":protocol") == b"websocket"


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("latin-1")


class _Handshaker(HandshakerBase):  # type: ignore[misc]
    """
    pywebsocket's handshake steps (subprotocol, extensions, the extra
    handshake, the stream) with RFC 8441's checks and answer: a CONNECT
    with ``:protocol websocket`` and ``:authority``, answered ``200`` with
    the headers in ``request.headers_out`` (sent by the caller).
    Handler thread.
    """

    def _transform_header(self, header: str) -> str:
        return header.lower()

    def _protocol_rfc(self) -> str:
        return "RFC 8441"

    def _validate_request(self) -> None:
        if self._request.method != "CONNECT":
            raise HandshakeException(f"Method is not CONNECT: {self._request.method!r}")
        validate_mandatory_header(self._request, ":protocol", "websocket")
        get_mandatory_header(self._request, ":authority")

    def _set_accept(self) -> None:
        """No Sec-WebSocket-Accept over HTTP/2."""

    def _send_handshake(self) -> None:
        request = self._request
        request.status = 200
        if request.ws_protocol is not None:
            request.headers_out["sec-websocket-protocol"] = request.ws_protocol
        if request.ws_extensions:
            request.headers_out["sec-websocket-extensions"] = common.format_extensions(request.ws_extensions)
        for name, value in request.extra_headers:
            request.headers_out[name.lower()] = value


class _Connection:
    """pywebsocket's ``request.connection`` over the stream's DATA.  Handler thread."""

    def __init__(self, input: WebSocketInput, output: WebSocketOutput, remote: Tuple[str, int], local: Tuple[str, int]) -> None:
        self._input = input
        self._output = output
        self.remote_addr = remote
        self.local_addr = local

    def read(self, length: int) -> bytes:
        return self._input.read(length)

    def write(self, data: Any) -> None:
        self._output.write(data)


class _Request:
    """pywebsocket's ``request`` for one extended CONNECT stream."""

    def __init__(self, headers: Dict[str, str], connection: _Connection) -> None:
        self.headers_in = headers
        self.headers_out: Dict[str, str] = {}
        self.status: Optional[int] = None
        self.method = headers.get(":method", "")
        self.uri = self.unparsed_uri = headers.get(":path", "")
        self.protocol = "HTTP/2"
        self.connection = connection

    def is_https(self) -> bool:
        return True


class _StreamTransport:
    """
    What :class:`WebSocketInput` and :class:`WebSocketOutput` drive: one
    HTTP/2 stream of the connection.  Reactor thread.
    """

    def __init__(self, stream: "WebSocketH2Stream") -> None:
        self._stream = stream

    def write(self, data: bytes) -> None:
        stream = self._stream
        if not stream.wireEnded:
            stream.connection.sendData(stream.streamID, data, False)

    def loseConnection(self) -> None:
        stream = self._stream
        if not stream.wireEnded and stream.streamID in stream.connection.streams:
            stream.connection.endStream(stream.streamID)

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """Twisted's flow control tells the stream (``flowControlBlocked``/``windowUpdated``)."""

    def unregisterProducer(self) -> None:
        """See :meth:`registerProducer`."""

    def pauseProducing(self) -> None:
        """Reading is paced by the HTTP/2 window, opened as DATA arrives."""

    def resumeProducing(self) -> None:
        """See :meth:`pauseProducing`."""


class WebSocketH2Stream:
    """
    One extended CONNECT stream, in the place of Twisted's ``H2Stream`` in
    the connection's ``streams``: the connection calls its methods on the
    reactor thread; pywebsocket and the handler run in a handler thread
    from :meth:`start` to the end of the stream.
    """

    _log = Logger()

    def __init__(
        self,
        streamID: int,
        connection: Any,
        headers: Sequence[Tuple[Any, Any]],
        context: HandlerContext,
        dispatcher: HandlerDispatcher,
    ) -> None:
        self.streamID = streamID
        self.connection = connection
        self.dispatcher = dispatcher
        self.context = context
        self.wireEnded = False
        self.endQueued = False
        self.streamRun = None
        # The connection asks whether the stream's request finished before
        # keeping a stream aside; this one has none to wait for.
        self._request = SimpleNamespace(finished=True)
        transport = _StreamTransport(self)
        self.input = WebSocketInput(context.reactor, transport)
        self.output = WebSocketOutput(context.reactor, context.mailbox, transport)  # type: ignore[arg-type]
        self._headers = {_bytes(n).decode("latin-1").lower(): _bytes(v).decode("latin-1") for n, v in headers}
        self._remote = hostAndPort(connection.transport.getPeer())
        self._local = hostAndPort(connection.transport.getHost())

    # -- the connection's calls, reactor thread ---------------------------------

    def start(self) -> None:
        """Run the handshake and the handler in a handler thread.  Reactor thread."""
        self.context.threadpool.callInThread(self._run)

    def dataEvent(self, event: Any) -> None:
        self.receiveDataChunk(event.data, event.flow_controlled_length)

    def receiveDataChunk(self, data: bytes, flowControlledLength: int) -> None:
        """DATA from the client: to the handler's reads; the window is opened again at once."""
        self.input.feed(data)
        self.connection.openStreamWindow(self.streamID, flowControlledLength)

    def requestComplete(self) -> None:
        """The client ended its side of the stream: the handler reads the end."""
        self.input.end()

    def connectionLost(self, reason: Optional[Failure] = None) -> None:
        """The stream was reset or the connection lost."""
        self.wireEnded = True
        self.input.end()
        self.output.connectionLost()

    def windowUpdated(self) -> None:
        self.output.resumeProducing()

    def flowControlBlocked(self) -> None:
        self.output.pauseProducing()

    # -- handler thread ------------------------------------------------------------

    def _answer(self, status: int, headers: List[Tuple[str, str]], endStream: bool) -> None:
        """A HEADERS frame, sent before anything the handler writes.  Handler thread."""
        fields = [(":status", str(status))] + headers
        encoded = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in fields]
        blockingCallFromThread(self.context.reactor, self._sendHeaders, encoded, endStream)

    def _sendHeaders(self, headers: List[Tuple[bytes, bytes]], endStream: bool) -> None:
        if not self.wireEnded:
            self.connection.sendHeaders(self.streamID, headers, endStream)

    def _run(self) -> None:
        """pywebsocket's handshake and the handler, start to end.  Handler thread."""
        request = _Request(self._headers, _Connection(self.input, self.output, self._remote, self._local))
        try:
            if not self.dispatcher.get_handler_suite(request.uri):
                self._answer(404, [], True)
                return
            try:
                _Handshaker(request, self.dispatcher).do_handshake()
            except VersionException as e:
                self._answer(400, [("sec-websocket-version", e.supported_versions)], True)
                return
            except HandshakeException as e:
                self._answer(e.status or 400, [], True)
                return
            except AbortedByUserException:
                blockingCallFromThread(self.context.reactor, self.connection.resetStream, self.streamID)
                return
            self._answer(request.status or 200, sorted(request.headers_out.items()), False)
            request._dispatcher = self.dispatcher  # type: ignore[attr-defined]
            try:
                self.dispatcher.transfer_data(request)
            except AbortedByUserException:
                blockingCallFromThread(self.context.reactor, self.connection.resetStream, self.streamID)
        except (BrokenPipeError, ConnectionError):
            pass  # the stream is gone
        except BaseException:
            self._log.failure("Unhandled error in a WebSocket handler over HTTP/2 ({path})", Failure(), path=request.uri)
            blockingCallFromThread(self.context.reactor, self.connection.resetStream, self.streamID)
        finally:
            self.output.close()
