"""
The ``ws`` and ``wss`` ports: a Twisted protocol that runs pywebsocket's
own request handling for each connection in the handler thread pool.

wptserve hands its WebSocket ports to pywebsocket3's standalone server
(a thread per connection reading a blocking socket).  Here the socket is a
Twisted transport, and what runs in the handler thread is pywebsocket's
own :class:`~pywebsocket3.request_handler.WebSocketRequestHandler`: its
request line and header parsing, its handshake
(``handshake.do_handshake``, RFC 6455), its dispatch to the ``*_wsh.py``
handler (:class:`~twisted_pyhandlers._wshandlers.HandlerDispatcher`), its
``stream.Stream`` and its error answers.  Only the socket under it is
replaced, by :mod:`twisted_pyhandlers._wsio`: reads block on what
the reactor received, writes go through the reactor, and both apply
back-pressure.

Differences from pywebsocket's standalone server (also in the docs): a path
with no handler is answered 404 instead of falling back to serving files
of the working directory, and the connection carries one request: the
server closes it once the WebSocket (or the error answer) is done.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

from pywebsocket3 import memorizingfile, request_handler
from twisted.internet.interfaces import IAddress, IHalfCloseableProtocol
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_pyhandlers._addresses import hostAndPort
from twisted_pyhandlers._context import HandlerContext
from twisted_pyhandlers._wshandlers import HandlerDispatcher
from twisted_pyhandlers._wsio import WebSocketInput, WebSocketOutput

#: pywebsocket's limit on the lines of a handshake it keeps.
_MAX_MEMORIZED_LINES = 1024


class _Options:
    """
    The ``websocket_server_options`` pywebsocket's request handler reads,
    as wpt's ``serve.py`` sets them: no CGI, no basic auth, no host or port
    validation.
    """

    def __init__(self, dispatcher: HandlerDispatcher, secure: bool) -> None:
        self.dispatcher = dispatcher
        self.use_tls = secure
        self.cgi_directories: List[str] = []
        self.is_executable_method = None
        self.use_basic_auth = False
        self.basic_auth_credential = ""
        self.validation_host = None
        self.validation_port = None


class _Server:
    """What pywebsocket's request handler reads of its server."""

    def __init__(self, options: _Options, host: IAddress) -> None:
        self.websocket_server_options = options
        self.server_name, self.server_port = hostAndPort(host)


class _SocketFiles:
    """
    The socket pywebsocket's handler is given: ``makefile`` is not used
    (``setup`` below takes the files directly), only its identity.
    """

    def __init__(self, input: WebSocketInput, output: WebSocketOutput) -> None:
        self.input = input
        self.output = output


class _OutputFile:
    """The handler's ``wfile``: unbuffered, as socketserver's.  Handler thread."""

    def __init__(self, output: WebSocketOutput) -> None:
        self._output = output

    def write(self, data: Any) -> int:
        self._output.write(data)
        return len(data)

    def flush(self) -> None:
        """Nothing is buffered here."""

    def close(self) -> None:
        """The connection is closed by the protocol, once the handler returns."""

    @property
    def closed(self) -> bool:
        return False


class _RequestHandler(request_handler.WebSocketRequestHandler):
    """
    pywebsocket's request handler over our two streams.  Made and run in a
    handler thread (its constructor handles the whole connection).
    """

    def setup(self) -> None:
        """socketserver's ``setup``, with our streams instead of the socket's files."""
        files: _SocketFiles = self.request
        self.connection = files
        self.rfile = memorizingfile.MemorizingFile(files.input, max_memorized_lines=_MAX_MEMORIZED_LINES)
        self.wfile = _OutputFile(files.output)

    def handle(self) -> None:
        """One request per connection (see the module docstring)."""
        self.close_connection = True
        self.handle_one_request()

    def finish(self) -> None:
        """The protocol closes the connection."""

    def send_head(self) -> None:
        """A path with no WebSocket handler (pywebsocket would serve a file): 404."""
        self.send_error(404, "File not found")
        return None

    def do_POST(self) -> None:
        """As for GET: nothing but WebSocket handlers is served here."""
        self.send_error(404, "File not found")


@implementer(IHalfCloseableProtocol)
class WebSocketProtocol(Protocol):
    """
    One ``ws``/``wss`` connection.  Its events run in the reactor thread;
    pywebsocket runs in a handler thread, from ``connectionMade`` until it
    returns, then the connection is closed.

    A client that shuts down its sending side still gets what the handler
    writes, as from a socket: the handler reads the end, and the
    connection is closed once it returns.
    """

    _log = Logger()

    def __init__(self, factory: "WebSocketFactory") -> None:
        self.factory = factory
        self.input: Optional[WebSocketInput] = None
        self.output: Optional[WebSocketOutput] = None

    def connectionMade(self) -> None:
        """Start pywebsocket's handling in a handler thread.  Reactor thread."""
        context = self.factory.context
        self.input = WebSocketInput(context.reactor, self.transport)
        self.output = WebSocketOutput(context.reactor, context.mailbox, self.transport)  # type: ignore[arg-type]
        peer = self.transport.getPeer()  # type: ignore[union-attr]
        client: Tuple[str, int] = hostAndPort(peer)
        server = _Server(self.factory.options, self.transport.getHost())  # type: ignore[union-attr]
        context.threadpool.callInThread(self._run, _SocketFiles(self.input, self.output), client, server)

    def dataReceived(self, data: bytes) -> None:
        """Bytes from the client, for the handler thread.  Reactor thread."""
        assert self.input is not None
        self.input.feed(data)

    def readConnectionLost(self) -> None:
        """The client will send no more: the handler reads the end.  Reactor thread."""
        if self.input is not None:
            self.input.end()

    def writeConnectionLost(self) -> None:
        """The client reads no more: the handler's writes fail.  Reactor thread."""
        if self.output is not None:
            self.output.connectionLost()

    def connectionLost(self, reason: Optional[Failure] = None) -> None:
        """The handler thread reads the end and fails its writes.  Reactor thread."""
        if self.input is not None:
            self.input.end()
        if self.output is not None:
            self.output.connectionLost()

    def _run(self, files: _SocketFiles, client: Tuple[str, int], server: _Server) -> None:
        """pywebsocket's handling of the connection, start to end.  Handler thread."""
        try:
            _RequestHandler(files, client, server)
        except (BrokenPipeError, ConnectionError):
            pass  # the client went away: nothing to tell anyone
        except BaseException:
            # As socketserver's handle_error: the traceback goes to the log.
            self._log.failure("Unhandled error in a WebSocket handler ({client})", Failure(), client=client)
        finally:
            files.output.close()


class WebSocketFactory(Factory):  # type: ignore[type-arg]
    """
    The factory of a ``ws`` (or, inside TLS, ``wss``) port.

    Made on the reactor thread at start-up.  At the reactor's shutdown
    every connection is closed before the thread pool stops (Twisted's
    ``disconnectAll`` runs first), so handler threads blocked reading see
    the end and return.

    :param context: the handler tree's context (reactor, thread pool,
        mailbox).
    :param dispatcher: the loaded ``*_wsh.py`` handlers.
    :param secure: whether the port is ``wss`` (pywebsocket's
        ``request.is_https()``).
    """

    #: No "Starting factory" line per port: the listening line says it.
    noisy = False

    def __init__(self, context: HandlerContext, dispatcher: HandlerDispatcher, secure: bool) -> None:
        self.context = context
        self.dispatcher = dispatcher
        self.options = _Options(dispatcher, secure)

    def buildProtocol(self, addr: Optional[IAddress]) -> WebSocketProtocol:
        """A protocol for one connection.  Reactor thread."""
        return WebSocketProtocol(self)
