"""
The ``Site`` each URL scheme is served by.

A ``Site`` says which protocols TLS may negotiate for it by ALPN
(``IProtocolNegotiationFactory``): Twisted's own offers ``h2`` on every TLS
port as soon as ``h2`` and ``priority`` are importable, and then answers on
its HTTP/2 stack, which our HTTP/1.1 response path cannot write to.  As in
wptserve, each scheme speaks one wire protocol: ``http`` and ``https`` (and
their ``-private``/``-public`` twins) HTTP/1.1 only, ``h2`` HTTP/2 only.

:class:`SiteMaker` is the one place that decides which ``Site`` a scheme
gets: :class:`HTTP11Site` (ALPN ``http/1.1`` only) for the HTTP/1.1
schemes, :class:`H2Site` (ALPN ``h2`` only, every connection Twisted's
HTTP/2 as extended in :mod:`twisted_pyhandlers._h2protocol`) for ``h2``.
The ``ws`` and ``wss`` schemes get a
:class:`~twisted_pyhandlers._websocket.WebSocketFactory` (pywebsocket's
handling of ``*_wsh.py`` handlers), not a ``Site``.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Optional

from twisted.internet.interfaces import IProtocolFactory
from twisted.logger import Logger
from twisted.web.resource import IResource
from twisted.web.server import Site

from twisted_pyhandlers._accesslog import combinedLogFormatter, verboseLogFormatter
from twisted_pyhandlers._context import HandlerContext
from twisted_pyhandlers._h2limits import ClientLimits
from twisted_pyhandlers._h2protocol import HandlerH2Connection
from twisted_pyhandlers.compat.wptserve.stash import store_env_config, storeAddress
from twisted_pyhandlers.resource import HandlerDirectory
from twisted_pyhandlers.site import HandlerSite

#: The wire protocol (its ALPN name) each scheme speaks, as in wptserve.
PROTOCOL_FOR_SCHEME: Dict[str, str] = {
    "http": "http/1.1",
    "http-private": "http/1.1",
    "http-local": "http/1.1",
    "http-public": "http/1.1",
    "https": "http/1.1",
    "https-private": "http/1.1",
    "https-local": "http/1.1",
    "https-public": "http/1.1",
    "h2": "h2",
    "ws": "websocket",
    "wss": "websocket",
    "webtransport-h3": "h3",
    "h3": "h3",
}

#: How the protocols are named in messages.
PROTOCOL_NAMES = {"http/1.1": "HTTP/1.1", "h2": "HTTP/2", "websocket": "WebSocket", "h3": "HTTP/3"}

#: The protocols this version serves.
SERVED_PROTOCOLS = frozenset({"http/1.1", "h2", "websocket", "h3"})


class UnservedScheme(ValueError):
    """A scheme whose protocol this version does not serve (yet)."""


class HTTP11Site(HandlerSite):
    """
    A :class:`~twisted_pyhandlers.site.HandlerSite` that speaks HTTP/1.1
    only: on a TLS port ALPN offers ``http/1.1`` and nothing else, whatever
    is installed.
    """

    def acceptableProtocols(self) -> List[bytes]:
        """The protocols TLS may negotiate by ALPN: HTTP/1.1 alone."""
        return [b"http/1.1"]


class QuietSite(HTTP11Site):
    """
    An HTTP/1.1 ``Site`` that writes no access log line per request:
    without ``--access-log`` a test server's log shows what matters (errors,
    handler tracebacks), as wptserve's does, and no time goes into
    formatting lines nobody reads.
    """

    accessLog = False


class RecordingSite(QuietSite):
    """
    A :class:`QuietSite` that hands each request to ``onRequest`` before
    routing it: the test fixture's child process records what arrived
    (its requests file is its log).  Reactor thread.
    """

    def __init__(self, resource: IResource, onRequest: Callable[[Any], None], **kwargs: Any) -> None:
        super().__init__(resource, **kwargs)
        self.onRequest = onRequest

    def getResourceFor(self, request: Any) -> Any:
        """Hand ``request`` to ``onRequest``, then route it as ``Site`` does."""
        self.onRequest(request)
        return super().getResourceFor(request)


def _h2Protocol(factory: Any) -> HandlerH2Connection:
    """
    The protocol of an :class:`H2Site` connection: HTTP/2 from the first
    byte (TLS negotiated ``h2``; a client that did not gets HTTP/2's
    connection error), on the site's reactor, held to the site's limits.
    """
    return HandlerH2Connection(factory.reactor, factory.webSockets, factory.clientLimits, factory.maxBody)


class H2Site(HandlerSite):
    """
    A :class:`~twisted_pyhandlers.site.HandlerSite` that speaks HTTP/2
    only, as wptserve's h2 port: ALPN offers ``h2`` and nothing else, and
    every connection is a
    :class:`~twisted_pyhandlers._h2protocol.HandlerH2Connection`.
    """

    protocol = _h2Protocol  # type: ignore[assignment]

    #: ``(context, dispatcher)`` of the WebSocket handlers extended CONNECT
    #: streams run (see :class:`SiteMaker`), or None for none.
    webSockets: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: What each client address holds over all its connections.
        self.clientLimits = ClientLimits()

    def acceptableProtocols(self) -> List[bytes]:
        """The protocols TLS may negotiate by ALPN: HTTP/2 alone."""
        return [b"h2"]


class QuietH2Site(H2Site):
    """An :class:`H2Site` with no access log line per request (see :class:`QuietSite`)."""

    accessLog = False


def servesScheme(scheme: str) -> bool:
    """Whether this version serves ``scheme`` (a known scheme whose protocol it speaks)."""
    return PROTOCOL_FOR_SCHEME.get(scheme) in SERVED_PROTOCOLS


class SiteMaker:
    """
    Makes the ``Site`` for each scheme, one per wire protocol, all over the
    same resource tree: every HTTP/1.1 scheme shares one ``Site``, the h2
    scheme has its own (a log file given is opened by each); ``ws`` and
    ``wss`` share one set of loaded WebSocket handlers.

    Used on the reactor thread (at start-up).

    :param resource: the root resource every scheme serves (a
        :class:`~twisted_pyhandlers.HandlerDirectory` for the WebSocket
        schemes, whose stash, config and thread pool they share).
    :param logPath: ``None`` for no access log, ``"-"`` for the twistd log,
        otherwise the file to write the access log to.
    :param verbose: whether each access log line ends with the handler's
        run time.
    :param wsHandlers: the WebSocket handler directory, relative to the
        document root (or absolute); by default wpt's
        ``websockets/handlers``.
    :param onRequest: called with each HTTP/1.1 request before it is
        routed (instead of an access log line); None for nothing.
    :param context: the handler tree's context the WebSocket schemes share
        (stash, config, thread pool); by default the resource's own, when
        it is a :class:`~twisted_pyhandlers.HandlerDirectory` (the test
        server's root resource wraps one and names its context).
    :param limits: ``headerTimeout``, ``maxBody`` and ``timeout`` (the idle
        timeout) for every :class:`~twisted_pyhandlers.site.HandlerSite`.
    """

    _log = Logger()

    def __init__(
        self,
        resource: IResource,
        logPath: Optional[str] = None,
        verbose: bool = False,
        wsHandlers: Optional[str] = None,
        onRequest: Optional[Callable[[Any], None]] = None,
        context: Optional[HandlerContext] = None,
        **limits: Any,
    ) -> None:
        self._resource = resource
        self._context = context
        self._onRequest = onRequest
        self._logPath = logPath
        self._formatter = verboseLogFormatter if verbose else combinedLogFormatter
        self._limits = limits
        self._wsHandlers = wsHandlers
        self._sites: Dict[str, IProtocolFactory] = {}
        self._dispatcher: Any = None

    def siteForScheme(self, scheme: str) -> IProtocolFactory:
        """
        The ``Site`` (for ``ws``/``wss``, the WebSocket factory) that serves
        ``scheme``.

        :raises UnservedScheme: for unknown schemes, and for ``ws``/``wss``
            over a root that is not a HandlerDirectory.
        """
        protocol = PROTOCOL_FOR_SCHEME.get(scheme)
        if protocol is None:
            raise UnservedScheme(f"unknown scheme {scheme!r}")
        if protocol not in SERVED_PROTOCOLS:
            raise UnservedScheme(f"{scheme}: {PROTOCOL_NAMES[protocol]} is not served by this version")
        if protocol == "h3":
            # A UDP port: its datagram protocol is made by _h3port, not here.
            raise UnservedScheme(f"{scheme}: a QUIC port has no Site (see twisted_pyhandlers._h3port)")
        key = scheme if protocol == "websocket" else protocol
        site = self._sites.get(key)
        if site is None:
            if protocol == "websocket":
                site = self._webSocketFactory(secure=scheme == "wss")
            else:
                site = self._h2Site() if protocol == "h2" else self._http11Site()
            self._sites[key] = site
        return site

    def webSocketDirectory(self, root: str) -> str:
        """The WebSocket handler directory for the document root ``root``."""
        from twisted_pyhandlers._wshandlers import DEFAULT_WS_HANDLERS

        return os.path.join(root, self._wsHandlers if self._wsHandlers is not None else DEFAULT_WS_HANDLERS)

    def _webSocketFactory(self, secure: bool) -> IProtocolFactory:
        # Imported here: the WebSocket side is loaded only when served.
        from twisted_pyhandlers._websocket import WebSocketFactory

        context, dispatcher = self._webSocketHandlers()
        return WebSocketFactory(context, dispatcher, secure)

    def _treeContext(self) -> Optional[HandlerContext]:
        """The context given, else the root's when it is a HandlerDirectory, else None."""
        if self._context is not None:
            return self._context
        if isinstance(self._resource, HandlerDirectory):
            return self._resource.context
        return None

    def webSocketDispatcher(self) -> Any:
        """
        The loaded WebSocket handlers (a
        :class:`~twisted_pyhandlers._wshandlers.HandlerDispatcher`), shared
        by ``ws``, ``wss`` and the h2 port; loaded on first use.

        :raises UnservedScheme: if the root is not a HandlerDirectory.
        """
        return self._webSocketHandlers()[1]

    def _webSocketHandlers(self) -> Any:
        """
        The tree's context and the loaded ``*_wsh.py`` handlers, shared by
        ``ws``, ``wss`` and WebSockets over HTTP/2; loaded once.

        :raises UnservedScheme: if the root is not a HandlerDirectory.
        """
        from twisted_pyhandlers._wshandlers import HandlerDispatcher

        context = self._treeContext()
        if context is None:
            raise UnservedScheme("ws/wss: WebSocket handlers need a HandlerDirectory as the root resource")
        if self._dispatcher is None:
            directory = self.webSocketDirectory(context.root.path)
            # Handler files read WPT_STASH_CONFIG as they load (wptserve's
            # StashServer sets it before pywebsocket starts).
            store_env_config(storeAddress(context.stashStore), b"")
            self._dispatcher = HandlerDispatcher(directory, context.stashStore, context.config)
            for warning in self._dispatcher.source_warnings():
                self._log.warn("WebSocket handler not loaded: {warning}", warning=warning)
            if not os.path.isdir(directory):
                self._log.warn("no WebSocket handler directory {directory}: every WebSocket request is answered 404", directory=directory)
            else:
                self._log.info(
                    "WebSocket handlers from {directory}: {resources}",
                    directory=directory,
                    resources=" ".join(self._dispatcher.resources()) or "(none)",
                )
        return context, self._dispatcher

    def _h2Site(self) -> "H2Site":
        # Of the limits the idle timeout and the body limit apply to HTTP/2
        # connections (the header deadline lives in HandlerChannel, the
        # HTTP/1.1 parser; HTTP/2 headers come in whole frames).
        limits = {name: value for name, value in self._limits.items() if name in ("timeout", "maxBody")}
        if self._logPath is None:
            site: H2Site = QuietH2Site(self._resource, parsePOSTFormSubmission=False, **limits)
        elif self._logPath == "-":
            site = H2Site(self._resource, parsePOSTFormSubmission=False, **limits)
        else:
            site = H2Site(self._resource, logPath=self._logPath, parsePOSTFormSubmission=False, **limits)
        # WebSockets over HTTP/2 (extended CONNECT) run the ws handlers,
        # when the tree is a HandlerDirectory and the handler directory
        # exists (an h2-only server without one warns about nothing).
        context = self._treeContext()
        if context is not None and (self._dispatcher is not None or os.path.isdir(self.webSocketDirectory(context.root.path))):
            site.webSockets = self._webSocketHandlers()
        return site

    def _http11Site(self) -> Site:
        # Handlers parse their own request bodies (lazily, as wptserve
        # does); twisted.web must not parse (or reject) multipart bodies
        # first.
        limits = self._limits
        if self._onRequest is not None:
            return RecordingSite(self._resource, self._onRequest, parsePOSTFormSubmission=False, **limits)
        if self._logPath is None:
            return QuietSite(self._resource, parsePOSTFormSubmission=False, **limits)
        logPath = None if self._logPath == "-" else self._logPath
        return HTTP11Site(
            self._resource, logPath=logPath, logFormatter=self._formatter, parsePOSTFormSubmission=False, **limits
        )
