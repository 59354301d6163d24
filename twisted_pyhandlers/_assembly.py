"""
Assembling a server from its options: the one function that does it,
:func:`assembleServer`, used by ``twistd pyhandlers``
(:func:`twisted_pyhandlers.tap.makeService`), by each worker of
``--workers`` (a ``twistd pyhandlers`` too) and by the test fixture's
child process (:func:`twisted_pyhandlers._childserver.main`).

It builds, from options already checked (:class:`twisted_pyhandlers.tap.Options`
decides the listeners and the config): the handler thread pool tied to
the reactor, the stash store, the resource tree, the ``Site`` of each
scheme (:class:`~twisted_pyhandlers._schemes.SiteMaker`), the TLS
certificate, and a service tree that listens on every listener when it
starts (:class:`~twisted_pyhandlers._listening.ListeningService`), reports
what it serves and checks the stash.  The supervisor of ``--workers``
serves nothing itself: :func:`supervisorService` builds it.

Everything here runs on the reactor thread, before the reactor runs.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Protocol, Tuple

from twisted.application.service import IService, MultiService, Service
from twisted.internet import endpoints, threads
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IProtocolFactory, IReactorCore, IStreamServerEndpoint
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure

from twisted_pyhandlers._certificates import (
    CertificateError,
    ServerCertificate,
    defaultTLSDirectory,
    makeServerCertificate,
)
from twisted_pyhandlers._listening import ListeningService, portNumber, withBacklog
from twisted_pyhandlers._schemes import SiteMaker
from twisted_pyhandlers._stashurl import stashStoreFromURL
from twisted_pyhandlers._threads import HandlerThreadPool, tiedToReactor
from twisted_pyhandlers._topology import Listener, Topology
from twisted_pyhandlers._workers import AdoptedPortEndpoint, WorkerSupervisor, watchSupervisor, workerArguments
from twisted_pyhandlers.allocator import keepFreedMemory
from twisted_pyhandlers.config import ServerConfig
from twisted_pyhandlers.hosts import DEFAULT_ADDRESS, chromiumSwitches
from twisted_pyhandlers.resource import CheckoutRoutes, HandlerDirectory, ScriptInjection
from twisted_pyhandlers.stash import RemoteStore, StashStore


class ServerOptions(Protocol):
    """
    What :func:`assembleServer` reads of the options: ``twistd
    pyhandlers``'s :class:`~twisted_pyhandlers.tap.Options` once parsed
    (their values by option name, and what ``postOptions`` decided).
    """

    topology: Topology
    userCertificate: Optional[ServerCertificate]
    injectScript: Optional[bytes]
    workerCount: int
    workerFds: Optional[List[int]]
    argv: List[str]

    def __getitem__(self, name: str) -> Any: ...


@dataclass
class AssembledServer:
    """
    A server :func:`assembleServer` built, not yet started.

    :ivar service: the service tree to start (twistd starts it).
    :ivar listeners: one service per listener, in the topology's order;
        each one's ``listening`` fires with its port.
    :ivar config: the config handlers see (its ports filled in as each
        listener listens).
    :ivar certificate: the certificate the TLS listeners present, or None.
    :ivar resource: the resource tree every scheme serves.
    """

    service: MultiService
    listeners: List[ListeningService]
    config: ServerConfig
    certificate: Optional[ServerCertificate]
    resource: HandlerDirectory


def assembleServer(
    options: ServerOptions, reactor: Any, onRequest: Optional[Callable[[Any], None]] = None
) -> AssembledServer:
    """
    Build the server ``options`` describe, on ``reactor``.

    :param onRequest: called with each HTTP/1.1 request before it is
        routed (the test fixture's child records what arrived); None for
        nothing.
    """
    if not options["keep-malloc-defaults"]:
        keepFreedMemory()
    root = os.path.realpath(options["root"])
    config = options.topology.config
    certificate = serverCertificate(options)
    pool = tiedToReactor(HandlerThreadPool(options["threads"]), reactor)
    exitZeroOnSigterm(reactor)
    store: StashStore = stashStoreFromURL(options["stash"])
    routes = checkoutRoutes(options, config)
    resource = HandlerDirectory(
        root,
        reactor=reactor,
        threadpool=pool,
        stash=store,
        config=config,
        handlerTimeout=options["handler-timeout"],
        testPages=None if options["test-pages"] == "off" else options["test-pages"],
        routes=routes,
        responseFilter=ScriptInjection(options.injectScript) if options.injectScript is not None else None,
    )
    sites = SiteMaker(
        resource,
        options["access-log"],
        verbose=options["verbose"],
        wsHandlers=options["ws-handlers"],
        onRequest=onRequest,
        headerTimeout=options["header-timeout"] or None,
        timeout=options["idle-timeout"] or None,
        maxBody=options["max-body"] or None,
    )
    service = MultiService()
    listening: List[ListeningService] = []
    workerFds = options.workerFds
    if workerFds is not None:
        watchSupervisor(reactor)
    for index, listener in enumerate(options.topology.listeners):
        endpoint: IStreamServerEndpoint
        if listener.datagram:
            assert certificate is not None
            endpoint, factory = datagramListener(reactor, listener, resource, sites, certificate)
            child = ListeningService(reactor, endpoint, factory, listener.scheme, config, listener.description)
            child.setServiceParent(service)
            listening.append(child)
            continue
        if workerFds is not None:
            endpoint = AdoptedPortEndpoint(reactor, workerFds[index])
        else:
            endpoint = endpoints.serverFromString(reactor, withBacklog(listener.description))
        child = ListeningService(
            reactor,
            endpoint,
            factoryFor(listener, sites, certificate),
            listener.scheme,
            config,
            listener.description,
        )
        child.setServiceParent(service)
        listening.append(child)
    StartupReport(listening, options.topology, config, certificate).setServiceParent(service)
    StashCheck(store, threads.deferToThread).setServiceParent(service)
    return AssembledServer(service, listening, config, certificate, resource)


def supervisorService(options: ServerOptions, reactor: Any) -> IService:
    """
    ``--workers N`` (N > 1): this process supervises N workers (see
    :mod:`twisted_pyhandlers._workers`), each of which assembles its own
    server.  A made certificate is made here, once, for the workers to
    reuse.
    """
    serverCertificate(options)
    if str(options["workers"]).strip().lower() == "auto":
        Logger().info(
            "--workers auto: {count} workers (the CPUs this process may run on)", count=options.workerCount
        )
    return WorkerSupervisor(
        reactor,
        [withBacklog(listener.description) for listener in options.topology.listeners],
        workerArguments(options.argv),
        options.workerCount,
        options["stash"],
    )


class StartupReport(Service):
    """
    Logs, once every listener listens, the origins served, the host names
    they answer for, what was not served, and the TLS certificate (the CA
    file to trust and the ``spki pin:`` line for Chromium).
    """

    _log = Logger()

    def __init__(
        self,
        listeners: List[ListeningService],
        topology: Topology,
        config: ServerConfig,
        certificate: Optional[ServerCertificate],
    ) -> None:
        self.listeners = listeners
        self.topology = topology
        self.config = config
        self.certificate = certificate

    def startService(self) -> None:
        super().startService()
        for line in self.topology.notes:
            self._log.info("{line}", line=line)
        for line in self.topology.notServed:
            self._log.warn("{line}", line=line)
        if self.certificate is not None:
            if self.certificate.caPath is not None:
                self._log.info("TLS: made certificate {path}, signed by the CA {ca}", path=str(self.certificate.certPath), ca=str(self.certificate.caPath))
            else:
                self._log.info("TLS: certificate {path}", path=str(self.certificate.certPath))
            self._log.info("spki pin: {pin}", pin=self.certificate.pin)
        DeferredList([service.listening for service in self.listeners], consumeErrors=True).addCallback(
            lambda _: self._reportOrigins()
        )

    def _reportOrigins(self) -> None:
        host = self.config["browser_host"]
        for service, listener in zip(self.listeners, self.topology.listeners, strict=True):
            if service.port is None:
                continue
            number = portNumber(service.port)
            if number is not None:
                origin = f"{listener.urlScheme}://{host}:{number}"
            else:
                origin = f"{listener.urlScheme}:// on {service.port.getHost()}"
            self._log.info("serving {origin} ({scheme})", origin=origin, scheme=listener.scheme)
        names = sorted(self.config["domains_set"] - {host})
        if names:
            self._log.info("each origin also answers for: {names}", names=" ".join(names))
            address = self.topology.bindAddress
            if address is None or address in ("0.0.0.0", "::"):
                address = DEFAULT_ADDRESS
            pin = self.certificate.pin if self.certificate is not None else None
            switches = " ".join(f"'{switch}'" for switch in chromiumSwitches(self.config, address, pin))
            self._log.info("Chromium, every origin without /etc/hosts: {switches}", switches=switches)


class StashCheck(Service):
    """
    Checks, once the reactor runs, that a stash that lives elsewhere (Redis)
    can be reached, and logs a warning naming its URL (password redacted)
    when it cannot.  The server serves either way: handlers using the stash
    get a 500 naming it until it answers, then work again.

    :param store: the stash store; checked only if it is a
        :class:`~twisted_pyhandlers.stash.RemoteStore`.
    :param runInThread: runs a blocking call off the reactor thread,
        returning a Deferred (``deferToThread``).
    """

    _log = Logger()

    def __init__(self, store: object, runInThread: Callable[[Callable[[], None]], "Deferred[None]"]) -> None:
        self.store = store
        self.runInThread = runInThread
        #: Fires once the check is done (with None, whatever it found).
        self.checked: Deferred[None] = Deferred()

    def startService(self) -> None:
        """Start the check in a thread.  Reactor thread."""
        super().startService()
        if not isinstance(self.store, RemoteStore):
            self.checked.callback(None)
            return
        ping = self.store.ping

        def unreachable(failure: Failure) -> None:
            self._log.warn(
                "{message} (at start-up; handlers that use the stash answer 500 until it answers)",
                message=failure.getErrorMessage().rstrip("."),
            )

        self.runInThread(ping).addErrback(unreachable).addBoth(lambda _: self.checked.callback(None))


def serverCertificate(options: ServerOptions) -> Optional[ServerCertificate]:
    """The certificate the TLS listeners present: the user's, made ones when needed, or none."""
    if options.userCertificate is not None:
        return options.userCertificate
    if not options.topology.needsServerCertificate:
        return None
    config = options.topology.config
    names = set(config["domains_set"]) | {config["server_host"]}
    address = options.topology.bindAddress
    if address is not None and address not in ("0.0.0.0", "::"):
        names.add(address)
    directory = options["tls-dir"] or defaultTLSDirectory()
    try:
        return makeServerCertificate(directory, names)
    except CertificateError as e:
        raise SystemExit(str(e)) from e


def checkoutRoutes(options: ServerOptions, config: ServerConfig) -> Optional[CheckoutRoutes]:
    """
    wpt serve's routes for a checkout, with the config's aliases, when
    ``--all-ports`` (a whole checkout's topology) or ``--wpt-routes`` asks
    for them; their warnings logged.
    """
    if not (options["all-ports"] or options["wpt-routes"]):
        return None
    aliases = config.get("aliases") or []
    if not isinstance(aliases, list):
        Logger().warn("the config's aliases are not a list: none mounted")
        aliases = []
    routes = CheckoutRoutes(aliases)
    for line in routes.warnings:
        Logger().warn("{line}", line=line)
    return routes


def factoryFor(listener: Listener, sites: SiteMaker, certificate: Optional[ServerCertificate]) -> IProtocolFactory:
    """
    What ``listener`` serves: the scheme's ``Site``, inside TLS with the
    server's certificate (its own TLS context) when it asks for it.
    """
    site = sites.siteForScheme(listener.scheme)
    if listener.tls != "server":
        return site
    assert certificate is not None
    return TLSMemoryBIOFactory(certificate.contextFactory(), False, site)


def datagramListener(
    reactor: Any, listener: Listener, resource: HandlerDirectory, sites: SiteMaker, certificate: ServerCertificate
) -> Tuple[IStreamServerEndpoint, IProtocolFactory]:
    """
    The UDP endpoint and QUIC protocol of a ``webtransport-h3`` or ``h3``
    listener, over the tree of ``resource`` (its thread pool, stash and
    code cache); an ``h3`` port answers ordinary requests through the
    HTTP/1.1 schemes' ``Site`` (its request class and access log).
    :class:`~twisted_pyhandlers._listening.ListeningService` listens with
    them as with a stream endpoint and a factory.
    """
    # Imported here: aioquic is loaded only when a QUIC port is served.
    from twisted_pyhandlers._h3port import UDPServerEndpoint, webTransportProtocol

    site = sites.siteForScheme("https") if listener.scheme == "h3" else None
    protocol = webTransportProtocol(reactor, resource.context, certificate, site)
    return UDPServerEndpoint(reactor, listener.description), protocol  # type: ignore[return-value]


def exitZeroOnSigterm(reactor: IReactorCore) -> None:
    """
    Make a stop asked by SIGTERM (a service manager's, a test runner's)
    end the process with status 0, as a server that stopped cleanly: twistd
    would otherwise re-raise the signal on itself once the reactor stopped
    and die by it.  Other signals (SIGINT) keep Twisted's behaviour.
    Reactor thread.
    """

    def clear() -> None:
        # The reactor records the signal that stopped it here, and twistd
        # reads it after the reactor returns.
        # A private attribute of Twisted's reactors (26.10), which other
        # reactors need not have.
        if getattr(reactor, "_exitSignal", None) == signal.SIGTERM:
            reactor._exitSignal = None  # type: ignore[attr-defined]

    reactor.addSystemEventTrigger("after", "shutdown", clear)


