"""
``twistd pyhandlers``: serve a document root of handler files.

``Options`` parses the command line and decides the listeners (see
:mod:`twisted_pyhandlers._topology`); ``makeService`` builds a service tree
that listens on each of them when twistd starts it (not while parsing
options; the handler thread pool starts when the reactor runs), and records the ports it really
listens on in the server config, so handlers and templates see them even
when the system chose the port.  TLS listeners present a made certificate
(:mod:`twisted_pyhandlers._certificates`) or the user's own.
"""

from __future__ import annotations

import os
import re
from typing import List, Optional

from twisted.application.service import IService, MultiService, Service
from twisted.internet import endpoints
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IListeningPort, IProtocolFactory, IReactorCore, IStreamServerEndpoint
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python import usage
from twisted.python.failure import Failure

from twisted_pyhandlers._certificates import (
    CertificateError,
    ServerCertificate,
    defaultTLSDirectory,
    loadServerCertificate,
    makeServerCertificate,
)
from twisted_pyhandlers._sites import QuietSite, SiteMaker
from twisted_pyhandlers._stashurl import stashStoreFromURL
from twisted_pyhandlers._threads import HandlerThreadPool, tiedToReactor
from twisted_pyhandlers._topology import (
    WPT_DEFAULT_CONFIG,
    Listener,
    Topology,
    TopologyError,
    parseBind,
    planTopology,
)
from twisted_pyhandlers.allocator import keepFreedMemory
from twisted_pyhandlers.config import ServerConfig
from twisted_pyhandlers.resource import DEFAULT_THREADS, HandlerDirectory

__all__ = ["DEFAULT_BACKLOG", "DEFAULT_LISTEN", "ListeningService", "Options", "makeService", "withBacklog"]

__all__ = ["DEFAULT_BACKLOG", "DEFAULT_LISTEN", "ListeningService", "Options", "QuietSite", "makeService", "withBacklog"]

#: Loopback only: handlers are arbitrary code, so the server never binds a
#: public interface unless the user names one.
DEFAULT_LISTEN = "tcp:8000:interface=127.0.0.1"

#: The listen queue of a stream endpoint that names none.  Twisted's
#: default, 50, is less than a test run opening a few hundred connections at
#: once: the kernel drops the rest of the connection attempts, and each one
#: dropped waits a second for the client to retry (the benchmark's 200
#: connections lost ~10% of their rate to it).  wptserve asks for 2000;
#: the kernel caps either at ``net.core.somaxconn``.
DEFAULT_BACKLOG = 1024

#: Endpoint types whose description takes a ``backlog`` parameter.
_BACKLOG_ENDPOINTS = frozenset({"tcp", "tcp6", "ssl", "unix"})

#: The ``:`` between endpoint description fields (``\:`` is an escaped colon).
_FIELD_SEPARATOR = re.compile(r"(?<!\\):")


def withBacklog(description: str, backlog: int = DEFAULT_BACKLOG) -> str:
    """
    ``description`` with ``backlog=`` added when it is a TCP, TLS or UNIX
    endpoint that does not name its own; any other description unchanged.
    """
    fields = _FIELD_SEPARATOR.split(description)
    if fields[0].lower() not in _BACKLOG_ENDPOINTS:
        return description
    if any(field.startswith("backlog=") for field in fields[1:]):
        return description
    return f"{description}:backlog={backlog}"


class Options(usage.Options):
    """Command-line options of ``twistd pyhandlers``."""

    synopsis = "[options]"
    longdesc = (
        "Serve a document root the way wptserve does: *.py files run as "
        "handlers (main(request, response)), everything else is static.  "
        "--all-ports serves every port of the config (or of wpt's default "
        "topology), https with a made certificate, h2 as HTTP/2 only."
    )
    optFlags = [
        [
            "keep-malloc-defaults",
            None,
            "Leave glibc's malloc settings alone (by default the server keeps freed memory of large bodies for reuse).",
        ],
        [
            "all-ports",
            None,
            "Listen on every port of every scheme of the config (http, https, http-private, http-public, "
            "https-private, https-public, h2; \"auto\" is a system-chosen port); without --config, wpt's default "
            "topology (web-platform.test and its subdomains, ports 8000, 8443, 8444 and more).",
        ],
    ]
    optParameters = [
        ["root", "r", None, "The document root to serve (required)."],
        ["threads", "t", DEFAULT_THREADS, "Threads that run handlers.", int],
        ["logfile", "l", None, "Write an access log (combined format) to this file; '-' for the twistd log. Default: no access log."],
        ["stash", None, None, "Stash URL: redis://host:port/db to share the stash between processes (default: in memory)."],
        ["config", None, None, "A wptserve-style JSON config file (browser_host, subdomains, alternate_hosts, ports...)."],
        ["host", None, None, "The host name handed to handlers and templates (browser_host; default localhost, or web-platform.test with --all-ports and no --config)."],
        ["bind", None, None, "The IP address --all-ports listens on (default: the config's bind_address if it is an address, else 127.0.0.1)."],
        ["tls-dir", None, None, f"Where the made CA and server certificate are kept and reused (default {defaultTLSDirectory()})."],
        ["tls-cert", None, None, "Your own server certificate (PEM, chain after it) for the TLS ports, instead of a made one; needs --tls-key."],
        ["tls-key", None, None, "The private key (PEM, unencrypted) of --tls-cert."],
    ]
    compData = usage.Completions(
        optActions={
            "root": usage.CompleteDirs(),
            "logfile": usage.CompleteFiles(),
            "config": usage.CompleteFiles(),
            "tls-dir": usage.CompleteDirs(),
            "tls-cert": usage.CompleteFiles(),
            "tls-key": usage.CompleteFiles(),
        }
    )

    #: The listeners and the config, decided by :meth:`postOptions`.
    topology: Topology
    #: The user's own certificate (``--tls-cert``), read by :meth:`postOptions`.
    userCertificate: Optional[ServerCertificate] = None

    def __init__(self) -> None:
        super().__init__()
        self["listen"] = []

    def opt_listen(self, description: str) -> None:
        """
        Listen on a Twisted endpoint string, e.g. tcp:8000:interface=127.0.0.1
        (repeatable; default tcp:8000:interface=127.0.0.1 unless --all-ports).
        SCHEME=ENDPOINT names the scheme it serves (https=tcp:8443 is TLS
        with the server's certificate; https=ssl:8443:privateKey=k.pem your
        own; h2=tcp:9000 is HTTP/2 only, over TLS); a bare ssl: endpoint is
        https (HTTP/1.1 only), anything else http.  With
        --all-ports, a scheme given here replaces the config's ports of that
        scheme.  TCP, TLS and UNIX endpoints get backlog=1024 unless they
        name a backlog.
        """
        self["listen"].append(description)

    # Shown by --help as one paragraph, not with the source's indentation.
    opt_listen.__doc__ = " ".join((opt_listen.__doc__ or "").split())

    def postOptions(self) -> None:
        if self["root"] is None:
            raise usage.UsageError("--root is required")
        if not os.path.isdir(self["root"]):
            raise usage.UsageError(f"--root {self['root']!r} is not a directory")
        if self["threads"] < 1:
            raise usage.UsageError("--threads must be at least 1")
        if (self["tls-cert"] is None) != (self["tls-key"] is None):
            raise usage.UsageError("--tls-cert and --tls-key go together")
        # A bad --config file, --stash URL, listener or certificate is a
        # usage error, not a traceback from makeService (none of these
        # checks connects or listens anywhere).
        try:
            if self["bind"] is not None:
                parseBind(self["bind"])
            config = _configFor(self)
            self.topology = planTopology(
                config, self["listen"], allPorts=self["all-ports"], bind=self["bind"], default=DEFAULT_LISTEN
            )
            if not self.topology.listeners:
                raise TopologyError("--all-ports: the config declares no port of a scheme this server serves")
            for listener in self.topology.listeners:
                _checkEndpoint(listener)
            if self["tls-cert"] is not None:
                self.userCertificate = loadServerCertificate(self["tls-cert"], self["tls-key"])
            stashStoreFromURL(self["stash"])
        except ValueError as e:
            raise usage.UsageError(str(e)) from e
        if not self["listen"] and not self["all-ports"]:
            self["listen"] = [DEFAULT_LISTEN]


def _configFor(options: Options) -> ServerConfig:
    """The config as read: the file's, or wpt's default topology for --all-ports without one."""
    root = os.path.realpath(options["root"])
    if options["config"] is None and options["all-ports"]:
        return ServerConfig.fromDict(WPT_DEFAULT_CONFIG, browserHost=options["host"], docRoot=root)
    return ServerConfig.fromOptions(configFile=options["config"], host=options["host"], docRoot=root)


def _checkEndpoint(listener: Listener) -> None:
    """Parse ``listener``'s endpoint string, so that a bad one is a usage error now."""
    from twisted.internet import reactor

    try:
        endpoints.serverFromString(reactor, withBacklog(listener.description))
    except Exception as e:
        raise TopologyError(f"--listen {listener.description}: {e}") from e


class ListeningService(Service):
    """
    Listens on one endpoint while running, and records the port it got in
    the server config under the endpoint's scheme.

    It listens in ``privilegedStartService`` (as Twisted's own
    ``StreamServerEndpointService``), before the reactor runs: a port that
    cannot be had (in use, not allowed) ends start-up with one plain line
    and a non-zero exit, instead of a server missing one of its ports.
    """

    _log = Logger()

    def __init__(
        self,
        reactor: IReactorCore,
        endpoint: IStreamServerEndpoint,
        factory: IProtocolFactory,
        scheme: str,
        config: ServerConfig,
        description: Optional[str] = None,
    ) -> None:
        self.reactor = reactor
        self.endpoint = endpoint
        self.factory = factory
        self.scheme = scheme
        self.config = config
        self.description = description
        self.port: Optional[IListeningPort] = None
        #: Fires with the listening port once it listens.
        self.listening: Deferred[IListeningPort] = Deferred()
        self._started = False

    def privilegedStartService(self) -> None:
        super().privilegedStartService()
        self._listen()

    def startService(self) -> None:
        super().startService()
        self._listen()

    def _listen(self) -> None:
        if self._started:
            return
        self._started = True
        failures: List[Failure] = []
        listening = self.endpoint.listen(self.factory)
        listening.addCallbacks(self._listening, failures.append)
        if failures:
            message = f"Cannot listen on {self.description or self.endpoint} ({self.scheme}): {failures[0].getErrorMessage()}"
            self._log.error("{message}", message=message)
            # Logged above; exit status 1 without printing it a second time.
            raise SystemExit(1)
        listening.addErrback(self._failed)

    def _listening(self, port: IListeningPort) -> IListeningPort:
        self.port = port
        address = port.getHost()
        number = getattr(address, "port", None)
        if isinstance(number, int):
            self.config.addListeningPort(self.scheme, number)
        self._log.info("twisted_pyhandlers listening on {address} ({scheme})", address=address, scheme=self.scheme)
        self.listening.callback(port)
        return port

    def _failed(self, failure: Failure) -> None:
        self._log.error(
            "Cannot listen on {endpoint} ({scheme}): {reason}",
            endpoint=self.description or self.endpoint,
            scheme=self.scheme,
            reason=failure.getErrorMessage(),
        )
        self.reactor.stop()

    def stopService(self) -> Optional[Deferred[None]]:
        super().stopService()
        if self.port is not None:
            return self.port.stopListening()  # type: ignore[return-value]
        return None


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
            number = getattr(service.port.getHost(), "port", None)
            if isinstance(number, int):
                origin = f"{listener.urlScheme}://{host}:{number}"
            else:
                origin = f"{listener.urlScheme}:// on {service.port.getHost()}"
            self._log.info("serving {origin} ({scheme})", origin=origin, scheme=listener.scheme)
        names = sorted(self.config["domains_set"] - {host})
        if names:
            self._log.info("each origin also answers for: {names}", names=" ".join(names))


def _serverCertificate(options: Options) -> Optional[ServerCertificate]:
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


def _factoryFor(listener: Listener, sites: SiteMaker, certificate: Optional[ServerCertificate]) -> IProtocolFactory:
    """
    What ``listener`` serves: the scheme's ``Site``, inside TLS with the
    server's certificate (its own TLS context) when it asks for it.
    """
    site = sites.siteForScheme(listener.scheme)
    if listener.tls != "server":
        return site
    assert certificate is not None
    return TLSMemoryBIOFactory(certificate.contextFactory(), False, site)


def makeService(options: Options) -> IService:
    """Build the service tree for ``twistd pyhandlers``."""
    from twisted.internet import reactor

    if not options["keep-malloc-defaults"]:
        keepFreedMemory()
    root = os.path.realpath(options["root"])
    config = options.topology.config
    certificate = _serverCertificate(options)
    pool = tiedToReactor(HandlerThreadPool(options["threads"]), reactor)  # type: ignore[arg-type]
    resource = HandlerDirectory(
        root,
        reactor=reactor,  # type: ignore[arg-type]
        threadpool=pool,
        stash=stashStoreFromURL(options["stash"]),
        config=config,
    )
    sites = SiteMaker(resource, options["logfile"])
    service = MultiService()
    listening: List[ListeningService] = []
    for listener in options.topology.listeners:
        endpoint = endpoints.serverFromString(reactor, withBacklog(listener.description))
        child = ListeningService(
            reactor,  # type: ignore[arg-type]
            endpoint,
            _factoryFor(listener, sites, certificate),
            listener.scheme,
            config,
            listener.description,
        )
        child.setServiceParent(service)
        listening.append(child)
    StartupReport(listening, options.topology, config, certificate).setServiceParent(service)
    return service
