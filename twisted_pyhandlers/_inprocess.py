"""
A test server inside the test's own process, on a reactor of its own.

:class:`InProcessServer` is what ``pyhandlers(...)`` hands a test.  It runs
a private reactor (not the global one) in a background thread, so it
answers a plain synchronous test (whose thread blocks in a client) and a
pytest-twisted test (whose global reactor turns only while the test waits)
alike, and the functions it serves are the test's own objects: closures, the
test's locals, no pickling.  Starting one makes a reactor, binds its ports
and starts a thread, with no process to start (``bench/teststart.py``
measures it).

Every port listens before the reactor thread starts, so a client may
connect as soon as :meth:`InProcessServer.start` returns; its connection
waits in the listen backlog for the reactor's first turn.

What the server gives the test (read from the test's thread):

- ``requests``: a :class:`~twisted_pyhandlers._expectations.RequestLog`;
- ``expect(...)``: an :class:`~twisted_pyhandlers._expectations.Expectation`;
- ``handler_errors``: the handlers that raised (their 500 and traceback),
  each with the request that triggered it; the fixture fails the test with
  them at teardown unless the test called ``allow_errors()``;
- ``log``: what the server logged, attached to a failing test's report.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union
from urllib.parse import urljoin

from twisted.internet.interfaces import IListeningPort, IProtocolFactory
from twisted.internet.posixbase import PosixReactorBase
from twisted.internet.task import Cooperator
from twisted.logger import ILogObserver, LogEvent, LogLevel, eventAsText, globalLogPublisher
from zope.interface import implementer

from twisted_pyhandlers._childserver import ServerStartError, ServerStash
from twisted_pyhandlers._expectations import Expectation, Expectations, PathSpec, RequestLog, RequestMatch
from twisted_pyhandlers._response import Response
from twisted_pyhandlers._run import HandlerFunction, HandlerRun
from twisted_pyhandlers._schemes import SiteMaker
from twisted_pyhandlers._testtree import TestTree, emptyRoot
from twisted_pyhandlers._threads import HandlerThreadPool, tiedToReactor
from twisted_pyhandlers.config import ServerConfig
from twisted_pyhandlers.resource import HandlerDirectory
from twisted_pyhandlers.stash import MemoryStashStore, StashStore

__all__ = ["HandlerError", "InProcessServer", "serve"]

#: Threads that run a test server's handlers.
TEST_THREADS = 32

#: Seconds :meth:`InProcessServer.stop` waits for the reactor thread.
STOP_TIMEOUT = 10.0

#: A WebSocket handler written in a test: ``web_socket_transfer_data``, or
#: ``(web_socket_do_extra_handshake, web_socket_transfer_data)``.
WebSocketFunctions = Union[Callable[[Any], None], Tuple[Callable[[Any], None], Callable[[Any], None]]]

#: The schemes that need a certificate.
TLS_SCHEMES = frozenset({"https", "h2", "wss"})


def newReactor() -> PosixReactorBase:
    """
    A reactor of its own for one server: epoll where there is one, else
    select.  It does not register its thread as Twisted's I/O thread
    (``_registerAsIOThread``, a private flag of ``ReactorBase`` as of
    Twisted 26.10): that belongs to the global reactor.
    """
    try:
        from twisted.internet.epollreactor import EPollReactor

        reactor: PosixReactorBase = EPollReactor()
    except ImportError:  # pragma: no cover - not Linux
        from twisted.internet.selectreactor import SelectReactor

        reactor = SelectReactor()
    reactor._registerAsIOThread = False
    return reactor


def releaseReactor(reactor: PosixReactorBase) -> None:
    """
    Close what a stopped reactor still holds (its waker's pipe, its epoll
    descriptor), as Twisted's own reactor tests do (``_internalReaders``,
    ``_poller``: private, as of Twisted 26.10).  Any thread, once ``run``
    has returned.
    """
    for reader in list(reactor._internalReaders):
        reactor.removeReader(reader)
        reader.connectionLost(None)
    try:
        from twisted.internet.epollreactor import EPollReactor
    except ImportError:  # pragma: no cover - not Linux
        return
    if isinstance(reactor, EPollReactor):
        reactor._poller.close()


_certificateDirectories: List[str] = []
_certificateLock = threading.Lock()


def certificateDirectory() -> str:
    """
    Where servers not told otherwise keep their made certificate: one
    directory per process (the certificate is reused while it names the
    same hosts), removed when the process exits.  Any thread.
    """
    with _certificateLock:
        if not _certificateDirectories:
            directory = tempfile.mkdtemp(prefix="pyhandlers-tls-")
            atexit.register(shutil.rmtree, directory, True)
            _certificateDirectories.append(directory)
        return _certificateDirectories[0]


@dataclass(frozen=True)
class HandlerError:
    """
    A handler that raised (or a response that failed), as the server
    logged it.

    :ivar request: ``METHOD URL`` and the request's headers, one a line.
    :ivar text: the server's message with the traceback.
    """

    request: str
    text: str

    def __str__(self) -> str:
        return f"{self.request}\n{self.text}"


def _requestText(request: Any) -> str:
    lines = [f"{request.method} {request.url}"]
    for name, values in request.headers.items():
        for value in values:
            lines.append(f"  {name.decode('iso-8859-1')}: {value.decode('iso-8859-1')}")
    return "\n".join(lines)


@implementer(ILogObserver)
class _ServerLog:
    """
    What one server logs: every event whose source is one of its
    responses or runs (handlers run in the pool's threads), and every event
    at warning level or above logged on its reactor thread or while it
    starts.  Any thread (observers run where the
    event is emitted).
    """

    def __init__(self, config: ServerConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self.reactorThread: Optional[int] = None
        self.startingThread: Optional[int] = None
        self.lines: List[str] = []
        self.errors: List[HandlerError] = []

    def __call__(self, event: LogEvent) -> None:
        source = event.get("log_source")
        request = source.request if isinstance(source, (Response, HandlerRun)) else None
        level = event.get("log_level")
        ours = request is not None and request.server.config is self._config
        if not ours:
            # Its own threads' events that matter (the reactor's chatter
            # about ports and factories, at info level, does not).
            if threading.get_ident() not in (self.reactorThread, self.startingThread):
                return
            if level is None or level < LogLevel.warn:
                return
        text = eventAsText(event, includeTimestamp=False, includeSystem=False)
        with self._lock:
            self.lines.append(text)
            if request is not None and level in (LogLevel.error, LogLevel.critical):
                self.errors.append(HandlerError(_requestText(request), text))

    def clear(self) -> None:
        with self._lock:
            self.lines.clear()
            self.errors.clear()


Config = Union[str, "os.PathLike[str]", Mapping[str, Any], None]


class InProcessServer:
    """
    A test server (see the module docstring).  Every method runs in the
    test's thread unless it says otherwise.

    :param root: the document root, or None for none (an empty directory
        stands in, so only the functions and expectations answer).
    :param handlers: path to handler function, ``main(request, response)``.
    :param stash: a :class:`~twisted_pyhandlers.stash.StashStore` or stash
        URL; by default a fresh in-memory store.
    :param config: a wptserve-style config: a JSON file's path or a mapping.
    :param host: the host name handlers see (``browser_host``).
    :param tls: serve ``https`` (and ``wss`` with ``ws``), and make
        :attr:`base_url` an ``https`` URL.
    :param h2: serve ``h2`` (HTTP/2 over TLS, ALPN ``h2``).
    :param ws: serve ``ws`` (and ``wss`` with ``tls``): the ``*_wsh.py``
        handlers under ``ws_handlers`` (``websockets/handlers`` of the root
        by default).
    :param websockets: path to WebSocket handler functions (see
        :meth:`add_websocket`); implies ``ws``.
    :param certificates: where the made TLS certificate is kept (reused
        while it names the same hosts); by default one directory for the
        process (:func:`certificateDirectory`).

    :raises ServerStartError: for a config that cannot be read.
    """

    def __init__(
        self,
        root: Union[str, "os.PathLike[str]", None] = None,
        *,
        handlers: Optional[Mapping[str, HandlerFunction]] = None,
        stash: Union[StashStore, str, None] = None,
        config: Config = None,
        host: Optional[str] = None,
        tls: bool = False,
        h2: bool = False,
        ws: bool = False,
        ws_handlers: Optional[str] = None,
        websockets: Optional[Mapping[str, WebSocketFunctions]] = None,
        certificates: Union[str, "os.PathLike[str]", None] = None,
    ) -> None:
        if root is not None and not Path(root).is_dir():
            raise ValueError(f"pyhandlers({os.fspath(root)!r}): not a directory")
        self.servesRoot = root is not None
        if root is None:
            root = emptyRoot()
        self.root = Path(os.path.realpath(os.fspath(root)))
        self.tls = tls
        self.schemes = ["http"] + (["https"] if tls else []) + (["h2"] if h2 else [])
        ws = ws or bool(websockets)
        self.schemes += (["ws"] if ws else []) + (["wss"] if ws and tls else [])
        self._initialWebSockets = dict(websockets or {})
        self._maker: Optional[SiteMaker] = None
        self._certificates = certificates
        self._wsHandlers = ws_handlers
        self.config = self._makeConfig(config, host)
        self._stashStore: StashStore = MemoryStashStore() if stash is None else self._storeFor(stash)
        self.requests = RequestLog()
        self.expectations = Expectations()
        self._log = _ServerLog(self.config)
        self._errorsAllowed = False
        self._initialHandlers = dict(handlers or {})
        self.ports: Dict[str, int] = {}
        self.ca: Optional[str] = None
        self.spkiPin: Optional[str] = None
        self.reactor: Any = None
        self._tree: Optional[TestTree] = None
        self._thread: Optional[threading.Thread] = None
        self._listening: List[IListeningPort] = []
        self._stash: Optional[ServerStash] = None

    def _makeConfig(self, config: Config, host: Optional[str]) -> ServerConfig:
        """
        :raises ServerStartError: for a config that cannot be read, with why.
        """
        try:
            if isinstance(config, Mapping):
                return ServerConfig.fromDict(config, browserHost=host, docRoot=str(self.root))
            return ServerConfig.fromOptions(
                configFile=None if config is None else os.fspath(config), host=host, docRoot=str(self.root)
            )
        except ValueError as e:
            raise ServerStartError(f"twisted_pyhandlers test server for {os.fspath(self.root)!r}: {e}") from None

    @staticmethod
    def _storeFor(stash: Union[StashStore, str]) -> StashStore:
        if isinstance(stash, str):
            from twisted_pyhandlers._stashurl import stashStoreFromURL

            return stashStoreFromURL(stash)
        return stash

    # -- starting and stopping ------------------------------------------------

    def start(self) -> InProcessServer:
        """
        Listen on every scheme's port (127.0.0.1, a free port each), then
        start the reactor thread.  Returns the server.

        :raises ServerStartError: if a TLS scheme's certificate cannot be made.
        """
        if self._thread is not None:
            return self
        globalLogPublisher.addObserver(self._log)
        self._log.startingThread = threading.get_ident()
        try:
            return self._start()
        except BaseException:
            globalLogPublisher.removeObserver(self._log)
            raise
        finally:
            self._log.startingThread = None

    def _start(self) -> InProcessServer:
        reactor: Any = newReactor()
        self.reactor = reactor
        pool = tiedToReactor(HandlerThreadPool(TEST_THREADS, name="pyhandlers-test"), reactor)
        cooperator = Cooperator(scheduler=lambda work: reactor.callLater(0, work), started=False)
        reactor.callWhenRunning(cooperator.start)
        reactor.addSystemEventTrigger("before", "shutdown", cooperator.stop)
        directory = HandlerDirectory(
            self.root, reactor=reactor, threadpool=pool, stash=self._stashStore, config=self.config
        )
        tree = self._tree = TestTree(
            directory, self._initialHandlers, self.expectations, self.requests, cooperator, serveRoot=self.servesRoot
        )
        maker = self._maker = SiteMaker(tree, wsHandlers=self._wsHandlers, context=directory.context)
        if "ws" in self.schemes:
            # Loaded before the h2 site is made, which then serves them
            # over RFC 8441 too, handler directory or not.
            maker.webSocketDispatcher()
        certificate = None
        if TLS_SCHEMES.intersection(self.schemes):
            certificate = self._certificate()
        for scheme in self.schemes:
            factory = maker.siteForScheme(scheme)
            if scheme in ("http", "https", "h2"):
                # Twisted's HTTPFactory keeps its own clock (timeouts, the
                # log date): this server's reactor, not the global one.
                factory.reactor = reactor  # type: ignore[attr-defined]
            if scheme in TLS_SCHEMES:
                from twisted.protocols.tls import TLSMemoryBIOFactory

                assert certificate is not None
                factory = TLSMemoryBIOFactory(certificate.contextFactory(), False, factory, clock=reactor)
            self._listen(scheme, factory)
        for path, functions in self._initialWebSockets.items():
            self.add_websocket(path, functions)
        thread = self._thread = threading.Thread(
            target=self._run, name=f"pyhandlers server :{self.port}", daemon=True
        )
        thread.start()
        return self

    def _certificate(self) -> Any:
        from twisted_pyhandlers._certificates import CertificateError, makeServerCertificate

        directory = self._certificates
        if directory is None:
            directory = certificateDirectory()
        names = set(self.config["domains_set"]) | {self.config["server_host"]}
        try:
            certificate = makeServerCertificate(os.fspath(directory), names)
        except CertificateError as e:
            raise ServerStartError(f"twisted_pyhandlers test server: {e}") from None
        self.ca = os.fspath(certificate.caPath) if certificate.caPath else None
        self.spkiPin = certificate.pin
        return certificate

    def _listen(self, scheme: str, factory: IProtocolFactory) -> None:
        port = self.reactor.listenTCP(0, factory, interface="127.0.0.1")
        self._listening.append(port)
        number = port.getHost().port
        self.ports[scheme] = number
        self.config.addListeningPort(scheme, number)

    def _run(self) -> None:
        """The reactor thread: run until stopped."""
        self._log.reactorThread = threading.get_ident()
        self.reactor.run(installSignalHandlers=False)

    def stop(self) -> None:
        """
        Stop the reactor (its ports close, its pool stops), wait for its
        thread, then close the reactor's own descriptors (left open if a
        handler keeps the thread past :data:`STOP_TIMEOUT`).  Idempotent.
        """
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self.reactor.callFromThread(self.reactor.stop)
        thread.join(STOP_TIMEOUT)
        globalLogPublisher.removeObserver(self._log)
        if not thread.is_alive():
            # Here, not at the end of the reactor thread: the reactor may run
            # the stop before callFromThread has written to its waker.
            releaseReactor(self.reactor)

    def __enter__(self) -> InProcessServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- where it is ----------------------------------------------------------

    @property
    def port(self) -> int:
        """The port of :attr:`base_url`."""
        return self.ports["https" if self.tls else "http"]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/`` (``https://`` with ``tls``)."""
        return self.url("/")

    def url(self, path: str = "/", scheme: Optional[str] = None) -> str:
        """
        The absolute URL of ``path`` on this server, on the port of
        ``scheme`` (``"http"``, ``"https"``, ``"h2"``, ``"ws"``, ``"wss"``;
        by default that of :attr:`base_url`).  An ``h2`` URL is an
        ``https://`` URL on the HTTP/2 port.

        :raises ValueError: for a scheme this server does not serve, naming
            the option that would serve it.
        """
        scheme = scheme or ("https" if self.tls else "http")
        if scheme not in self.ports:
            option = {"https": "tls=True", "h2": "h2=True", "ws": "ws=True", "wss": "ws=True, tls=True"}.get(scheme)
            hint = f"; start it with {option}" if option else ""
            raise ValueError(f"this server does not serve {scheme!r}{hint}")
        wire = "https" if scheme == "h2" else scheme
        return urljoin(f"{wire}://127.0.0.1:{self.ports[scheme]}/", path.lstrip("/"))

    # -- what the test adds ---------------------------------------------------

    def add_handler(self, path: str, main: HandlerFunction) -> None:
        """Serve ``main(request, response)`` at ``path`` from the next request on."""
        assert self._tree is not None, "start the server first"
        self._tree.addHandler(path, main)

    def add_websocket(self, path: str, handler: WebSocketFunctions) -> None:
        """
        Serve a WebSocket at ``path`` (``"/echo"``) with ``handler``: a
        ``web_socket_transfer_data(request)`` function, or a pair
        ``(web_socket_do_extra_handshake, web_socket_transfer_data)``, as
        pywebsocket calls them; on ``ws``, ``wss`` and (RFC 8441) the h2
        port.

        :raises ValueError: if the server serves no WebSocket scheme.
        """
        if "ws" not in self.schemes or self._maker is None:
            raise ValueError("this server does not serve WebSockets; start it with ws=True")
        if not path.startswith("/") or "?" in path:
            raise ValueError(f"a WebSocket handler's path starts with / and holds no query: {path!r}")
        if isinstance(handler, tuple):
            extraHandshake, transferData = handler
        else:
            extraHandshake, transferData = None, handler
        self._maker.webSocketDispatcher().addHandler(path, transferData, extraHandshake)

    def remove_handler(self, path: str) -> None:
        """Stop serving the function at ``path``."""
        assert self._tree is not None, "start the server first"
        self._tree.removeHandler(path)

    def expect(self, path: Optional[PathSpec] = None, *, ordered: bool = False, **criteria: Any) -> Expectation:
        """
        Expect a request matching ``path`` and ``criteria`` (see
        :class:`~twisted_pyhandlers._expectations.RequestMatch`): at least
        once, unless :meth:`~twisted_pyhandlers._expectations.Expectation.times`
        says otherwise; with ``ordered=True``, after the ordered expectations
        declared before it are met.
        """
        return self.expectations.add(Expectation(RequestMatch(path, **criteria), ordered=ordered))

    def expect_nothing_else(self) -> None:
        """A request that no expectation takes fails the test."""
        self.expectations.expect_nothing_else()

    def allow_errors(self) -> List[HandlerError]:
        """
        This test expects handlers to fail: their errors do not fail it.
        Returns the live list of errors, for the test to look at.
        """
        self._errorsAllowed = True
        return self._log.errors

    @property
    def handler_errors(self) -> List[HandlerError]:
        """The handler errors so far (see :class:`HandlerError`)."""
        return list(self._log.errors)

    @property
    def log(self) -> str:
        """What this server logged so far, one event a line."""
        return "\n".join(self._log.lines)

    @property
    def stash(self) -> ServerStash:
        """The stash the handlers see, for the test to ``put`` and ``take``."""
        if self._stash is None:
            self._stash = ServerStash(self._stashStore)
        return self._stash

    @property
    def stashStore(self) -> StashStore:
        """The store behind :attr:`stash` (handlers see it as ``request.server.stash``)."""
        return self._stashStore

    # -- the end of a test ----------------------------------------------------

    def problems(self) -> List[str]:
        """
        Everything that should fail the test: handler errors (unless
        allowed), expectations not met, requests nobody expected.
        """
        found: List[str] = []
        if not self._errorsAllowed:
            for error in self._log.errors:
                found.append(f"a handler failed on\n{error}")
        found.extend(self.expectations.problems(self.requests))
        return found

    def check(self) -> None:
        """Fail (``AssertionError``) with every problem found, and every request received."""
        __tracebackhide__ = True
        problems = self.problems()
        if problems:
            raise AssertionError(self.report(problems))

    def report(self, problems: List[str]) -> str:
        """The text a failing check shows."""
        return (
            f"twisted_pyhandlers test server {self.base_url}:\n"
            + "\n".join(f"- {problem}" for problem in problems)
            + "\n"
            + self.requests.listing()
        )

    def reset(self) -> None:
        """
        Forget the requests, expectations, errors and log so far, and the
        allowance of errors: a server shared by several tests starts each
        one afresh.  Handler functions stay.
        """
        self.requests.clear()
        self.expectations.clear()
        self._log.clear()
        self._errorsAllowed = False


def serve(root: Union[str, "os.PathLike[str]", None] = None, **options: Any) -> InProcessServer:
    """
    A started :class:`InProcessServer` (``with serve(...) as server:``
    stops it at the end of the block), for a session- or module-scoped
    fixture of the user's own; see ``pyhandlers.use``.
    """
    return InProcessServer(root, **options).start()

