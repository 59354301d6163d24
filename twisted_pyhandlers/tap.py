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
import signal
import sys
from typing import Callable, List, Optional, Sequence

from twisted.application.service import IService, MultiService, Service
from twisted.internet import endpoints, threads
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
from twisted_pyhandlers._workers import (
    AdoptedPortEndpoint,
    WorkerSupervisor,
    parseWorkers,
    watchSupervisor,
    workerArguments,
)
from twisted_pyhandlers.allocator import keepFreedMemory
from twisted_pyhandlers.config import ServerConfig
from twisted_pyhandlers.resource import DEFAULT_HANDLER_TIMEOUT, DEFAULT_THREADS, HandlerDirectory
from twisted_pyhandlers.site import DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_BODY

__all__ = [
    "DEFAULT_BACKLOG",
    "DEFAULT_LISTEN",
    "ListeningService",
    "OptionError",
    "Options",
    "QuietSite",
    "makeService",
    "withBacklog",
]

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


class OptionError(SystemExit):
    """
    A bad option value (an endpoint that cannot be parsed, a config value of
    the wrong type, an empty ``--host``...), found before anything listens.

    A ``SystemExit``, not a :class:`~twisted.python.usage.UsageError`:
    twistd prints its whole help text before a usage error, and this is one
    plain line, ``twistd pyhandlers: MESSAGE``, on standard error, with exit
    status 1.

    :ivar message: what is wrong, naming the option.
    """

    def __init__(self, message: str) -> None:
        super().__init__(f"twistd pyhandlers: {message}")
        self.message = message


class Options(usage.Options):
    """
    Command-line options of ``twistd pyhandlers``.

    Each option's help is one line; the details are in the long
    description and in the docs' command-line page.

    :raises OptionError: from :meth:`parseOptions`, for an option value
        that cannot be served.
    """

    synopsis = "[options]"
    longdesc = (
        "Serve a document root the way wptserve does: *.py files run as handlers "
        "(main(request, response)), everything else is static.  Without --listen or "
        f"--all-ports it listens on {DEFAULT_LISTEN} only.  --listen takes a Twisted "
        "endpoint string, or SCHEME=ENDPOINT (https=tcp:8443 is TLS with the made "
        "certificate); TCP endpoints get backlog=1024 unless they name one.  "
        "--all-ports serves every http, https, h2, ws, wss and webtransport-h3 port of the config (\"auto\": "
        "a system-chosen port), or of wpt's default topology without --config; "
        "h2 ports speak HTTP/2 only, https ports HTTP/1.1 only; ws and wss ports (and "
        "h2, by extended CONNECT) run the *_wsh.py handlers of --ws-handlers "
        "(default websockets/handlers under the root: DIR/echo_wsh.py answers /echo).  "
        "webtransport-h3=udp:PORT:interface=ADDRESS is QUIC, running webtransport/handlers/*.py "
        "WebTransport sessions.  "
        "Stash URLs: memory: (the default, one process) or redis://host:port/db "
        "(shared between processes).  --workers N (or auto: one per CPU) runs N "
        "processes that share every port and one stash.  Each access log line is in Apache's combined "
        "format; the size is the body's bytes."
    )
    optFlags = [
        ["all-ports", None, "Serve every port of the config (or wpt's)."],
        ["verbose", None, "Add the handler's run time to log lines."],
        ["keep-malloc-defaults", None, "Leave glibc's malloc settings alone."],
    ]
    optParameters = [
        ["root", "r", None, "The document root to serve (required)."],
        ["threads", "t", DEFAULT_THREADS, "Threads that run handlers.", int],
        ["access-log", None, None, "Access log file ('-': twistd's own log)."],
        ["stash", None, None, "memory: (default) or redis://host:port/db."],
        ["workers", None, None, "Processes sharing the ports: N or auto [1]."],
        ["worker-fds", None, None, "(internal) Sockets a worker adopts."],
        ["config", None, None, "A wptserve-style JSON config file."],
        ["host", None, None, "The host name handlers see [default: localhost]."],
        ["bind", None, None, "The IP address --all-ports listens on."],
        ["tls-dir", None, None, "Where made certificates are kept and reused."],
        ["tls-cert", None, None, "Your own TLS certificate (PEM); needs --tls-key."],
        ["tls-key", None, None, "The private key (PEM) of --tls-cert."],
        # Defaults in the help text (Twisted's "[default: ...]" would not fit
        # one line); filled in by _checkValues.
        ["handler-timeout", None, None, f"Seconds before a handler gets 504 [{DEFAULT_HANDLER_TIMEOUT:g}].", float],
        ["header-timeout", None, None, f"Seconds for a request's headers [{DEFAULT_HEADER_TIMEOUT:g}].", float],
        ["idle-timeout", None, None, f"Seconds an idle connection is kept [{DEFAULT_IDLE_TIMEOUT:g}].", float],
        ["max-body", None, None, "The largest request body, bytes [1 GiB].", int],
        ["ws-handlers", None, None, "The *_wsh.py directory [websockets/handlers]."],
    ]
    compData = usage.Completions(
        optActions={
            "root": usage.CompleteDirs(),
            "access-log": usage.CompleteFiles(),
            "config": usage.CompleteFiles(),
            "tls-dir": usage.CompleteDirs(),
            "tls-cert": usage.CompleteFiles(),
            "tls-key": usage.CompleteFiles(),
            "ws-handlers": usage.CompleteDirs(),
        }
    )

    #: The listeners and the config, decided by :meth:`postOptions`.
    topology: Topology
    #: The user's own certificate (``--tls-cert``), read by :meth:`postOptions`.
    userCertificate: Optional[ServerCertificate] = None

    #: How many server processes serve (``--workers``, ``auto`` resolved).
    workerCount: int = 1
    #: ``--worker-fds``: the sockets this worker adopts, None outside a worker.
    workerFds: Optional[List[int]] = None
    #: The arguments as given, which the workers of ``--workers`` get again.
    argv: List[str]

    def __init__(self) -> None:
        super().__init__()
        self["listen"] = []
        self.argv = []

    def parseOptions(self, options: Optional[Sequence[str]] = None) -> None:
        """Parse (twistd gives the arguments after ``pyhandlers``), keeping them for the workers."""
        self.argv = list(sys.argv[1:] if options is None else options)
        super().parseOptions(options)

    def opt_listen(self, description: str) -> None:
        """Endpoint, or SCHEME=ENDPOINT (repeatable)."""
        # SCHEME=ENDPOINT names the scheme it serves (https=tcp:8443 is TLS
        # with the server's certificate; https=ssl:8443:privateKey=k.pem the
        # user's own; h2=tcp:9000 is HTTP/2 only, over TLS; ws=tcp:8001 and
        # wss=tcp:8002 serve WebSocket handlers); a bare ssl:
        # endpoint is https (HTTP/1.1 only), anything else http.
        # With --all-ports, a scheme given here replaces the config's ports
        # of that scheme.
        self["listen"].append(description)

    def opt_logfile(self, path: str) -> None:
        """Alias of --access-log (twistd web's name)."""
        self["access-log"] = path

    def postOptions(self) -> None:
        """
        Check the values: a bad one is an :class:`OptionError` (an unknown
        option or a missing value stays twistd's usage error, with its help).
        """
        try:
            self._checkValues()
        except usage.UsageError as e:
            raise OptionError(str(e)) from None

    def _checkValues(self) -> None:
        """Check every value, deciding the topology; UsageError naming the option if one is bad."""
        if self["host"] is not None and not self["host"].strip():
            raise usage.UsageError("--host must not be empty")
        if self["root"] is None:
            raise usage.UsageError("--root is required")
        if not os.path.isdir(self["root"]):
            raise usage.UsageError(f"--root {self['root']!r} is not a directory")
        if self["threads"] < 1:
            raise usage.UsageError("--threads must be at least 1")
        defaults = {
            "handler-timeout": DEFAULT_HANDLER_TIMEOUT,
            "header-timeout": DEFAULT_HEADER_TIMEOUT,
            "idle-timeout": DEFAULT_IDLE_TIMEOUT,
            "max-body": DEFAULT_MAX_BODY,
        }
        for name, default in defaults.items():
            if self[name] is None:
                self[name] = default
            if self[name] < 0:
                raise usage.UsageError(f"--{name} cannot be negative")
        if (self["tls-cert"] is None) != (self["tls-key"] is None):
            raise usage.UsageError("--tls-cert and --tls-key go together")
        try:
            self.workerCount = parseWorkers(str(self["workers"] or 1))
            self.workerFds = _workerFds(self["worker-fds"])
        except ValueError as e:
            raise usage.UsageError(str(e)) from e
        # A bad --config file, --stash URL, listener or certificate is a
        # usage error, not a traceback from makeService (none of these
        # checks connects or listens anywhere).
        try:
            if self["bind"] is not None:
                parseBind(self["bind"])
        except ValueError as e:
            raise usage.UsageError(str(e)) from e
        try:
            config = _configFor(self)
        except ValueError as e:
            raise usage.UsageError(_configMessage(self["config"], str(e))) from e
        try:
            self.topology = planTopology(
                config, self["listen"], allPorts=self["all-ports"], bind=self["bind"], default=DEFAULT_LISTEN
            )
            if not self.topology.listeners:
                raise TopologyError("--all-ports: the config declares no port of a scheme this server serves")
            for listener in self.topology.listeners:
                _checkEndpoint(listener)
            if self["tls-cert"] is not None:
                self.userCertificate = loadServerCertificate(self["tls-cert"], self["tls-key"])
            if self["ws-handlers"] is not None:
                directory = os.path.join(self["root"], self["ws-handlers"])
                if not os.path.isdir(directory):
                    raise ValueError(f"--ws-handlers {self['ws-handlers']!r}: no directory {directory}")
            stashStoreFromURL(self["stash"])
        except ValueError as e:
            raise usage.UsageError(str(e)) from e
        if not self["listen"] and not self["all-ports"]:
            self["listen"] = [DEFAULT_LISTEN]
        if self.workerCount > 1 and self.workerFds is None:
            for listener in self.topology.listeners:
                if listener.datagram:
                    raise usage.UsageError(
                        f"--workers: the {listener.scheme} port ({listener.description}) keeps its QUIC "
                        "connections in one process; serve it with --workers 1"
                    )
                if listener.tls == "own":
                    raise usage.UsageError(
                        f"--workers: {listener.description} makes its own TLS context, which a worker "
                        f"cannot adopt; use {listener.scheme}=tcp:PORT (the server's certificate) or "
                        "--tls-cert/--tls-key"
                    )
        if self.workerFds is not None and len(self.workerFds) != len(self.topology.listeners):
            raise usage.UsageError("--worker-fds: one socket per listener is needed")


def _workerFds(value: Optional[str]) -> Optional[List[int]]:
    """``--worker-fds 3,4``: the file descriptors a worker adopts, one per listener."""
    if value is None:
        return None
    try:
        return [int(fd) for fd in value.split(",") if fd.strip()]
    except ValueError:
        raise ValueError(f"--worker-fds takes file descriptor numbers, not {value!r}") from None


def _configMessage(path: Optional[str], message: str) -> str:
    """A bad config's message, naming the option that gave it."""
    if path is None:
        return message
    prefix = f"Config file {path}: "
    return f"--config {path}: {message.removeprefix(prefix)}"


def _configFor(options: Options) -> ServerConfig:
    """The config as read: the file's, or wpt's default topology for --all-ports without one."""
    root = os.path.realpath(options["root"])
    if options["config"] is None and options["all-ports"]:
        return ServerConfig.fromDict(WPT_DEFAULT_CONFIG, browserHost=options["host"], docRoot=root)
    return ServerConfig.fromOptions(configFile=options["config"], host=options["host"], docRoot=root)


def _checkEndpoint(listener: Listener) -> None:
    """Parse ``listener``'s endpoint string, so that a bad one is a usage error now."""
    from twisted.internet import reactor

    if listener.datagram:
        from twisted_pyhandlers._h3port import parseUDP

        try:
            parseUDP(listener.description)
        except ValueError as e:
            raise TopologyError(f"--listen {listener.scheme}={e}") from e
        return

    try:
        endpoints.serverFromString(reactor, withBacklog(listener.description))
    except Exception as e:
        reason = str(e)
        if isinstance(e, ValueError) and reason.startswith("invalid literal for int()"):
            reason = f"a port (or other number) is not a number: {reason.rpartition(': ')[2]}"
        raise TopologyError(f"--listen {listener.description}: {reason}") from e


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


class StashCheck(Service):
    """
    Checks, once the reactor runs, that a stash that lives elsewhere (Redis)
    can be reached, and logs a warning naming its URL (password redacted)
    when it cannot.  The server serves either way: handlers using the stash
    get a 500 naming it until it answers, then work again.

    :param store: the stash store; checked only if it has a ``ping()``.
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
        ping = getattr(self.store, "ping", None)
        if ping is None:
            self.checked.callback(None)
            return

        def unreachable(failure: Failure) -> None:
            self._log.warn(
                "{message} (at start-up; handlers that use the stash answer 500 until it answers)",
                message=failure.getErrorMessage().rstrip("."),
            )

        self.runInThread(ping).addErrback(unreachable).addBoth(lambda _: self.checked.callback(None))


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


def _datagramListener(reactor: object, listener: Listener, resource: HandlerDirectory, certificate: ServerCertificate) -> tuple:
    """The UDP endpoint and QUIC protocol of a ``webtransport-h3`` listener, over the tree of ``resource``."""
    # Imported here: aioquic is loaded only when a QUIC port is served.
    from twisted_pyhandlers._h3port import UDPServerEndpoint, webTransportProtocol

    protocol = webTransportProtocol(reactor, resource.context, certificate)  # type: ignore[arg-type]
    return UDPServerEndpoint(reactor, listener.description), protocol  # type: ignore[arg-type]


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
        if getattr(reactor, "_exitSignal", None) == signal.SIGTERM:
            reactor._exitSignal = None  # type: ignore[attr-defined]

    reactor.addSystemEventTrigger("after", "shutdown", clear)


def makeService(options: Options) -> IService:
    """Build the service tree for ``twistd pyhandlers``."""
    from twisted.internet import reactor

    if options.workerCount > 1 and options.workerFds is None:
        return _supervisorService(options, reactor)
    if not options["keep-malloc-defaults"]:
        keepFreedMemory()
    root = os.path.realpath(options["root"])
    config = options.topology.config
    certificate = _serverCertificate(options)
    pool = tiedToReactor(HandlerThreadPool(options["threads"]), reactor)  # type: ignore[arg-type]
    exitZeroOnSigterm(reactor)  # type: ignore[arg-type]
    store = stashStoreFromURL(options["stash"])
    resource = HandlerDirectory(
        root,
        reactor=reactor,  # type: ignore[arg-type]
        threadpool=pool,
        stash=store,
        config=config,
        handlerTimeout=options["handler-timeout"],
    )
    sites = SiteMaker(
        resource,
        options["access-log"],
        verbose=options["verbose"],
        wsHandlers=options["ws-handlers"],
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
            endpoint, factory = _datagramListener(reactor, listener, resource, certificate)
            child = ListeningService(reactor, endpoint, factory, listener.scheme, config, listener.description)  # type: ignore[arg-type]
            child.setServiceParent(service)
            listening.append(child)
            continue
        if workerFds is not None:
            endpoint = AdoptedPortEndpoint(reactor, workerFds[index])
        else:
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
    StashCheck(store, threads.deferToThread).setServiceParent(service)
    return service


def _supervisorService(options: Options, reactor: object) -> IService:
    """
    ``--workers N`` (N > 1): this process supervises N workers (see
    :mod:`twisted_pyhandlers._workers`).  A made certificate is made here,
    once, for the workers to reuse.
    """
    _serverCertificate(options)
    if str(options["workers"]).strip().lower() == "auto":
        Logger().info(
            "--workers auto: {count} workers (the CPUs this process may run on)", count=options.workerCount
        )
    return WorkerSupervisor(
        reactor,  # type: ignore[arg-type]
        [withBacklog(listener.description) for listener in options.topology.listeners],
        workerArguments(options.argv),
        options.workerCount,
        options["stash"],
    )
