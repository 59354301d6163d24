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
import sys
from typing import List, Optional, Sequence, Tuple

from twisted.application.service import IService
from twisted.internet import endpoints
from twisted.python import usage

from twisted_pyhandlers._assembly import assembleServer, supervisorService
from twisted_pyhandlers._certificates import ServerCertificate, loadServerCertificate
from twisted_pyhandlers._listening import DEFAULT_BACKLOG, ListeningService, withBacklog
from twisted_pyhandlers._pagekinds import PAGE_SETS
from twisted_pyhandlers._schemes import QuietSite
from twisted_pyhandlers._stashurl import stashStoreFromURL
from twisted_pyhandlers._topology import (
    Listener,
    Topology,
    TopologyError,
    parseBind,
    planTopology,
)
from twisted_pyhandlers._workers import parseWorkers
from twisted_pyhandlers._wptconfig import wptServeConfig
from twisted_pyhandlers.config import ServerConfig
from twisted_pyhandlers.resource import DEFAULT_HANDLER_TIMEOUT, DEFAULT_THREADS
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
        "processes that share every port and one stash.  wpt serve's routes (404 for /tools/, "
        "/_certs/ and /results/, /resources/WebIDLParser.js, the config's aliases, the "
        "/.well-known/ handlers) are on with --all-ports or --wpt-routes.  Each access log line is in Apache's combined "
        "format; the size is the body's bytes."
    )
    optFlags = [
        ["all-ports", None, "Serve every port of the config (or wpt's)."],
        ["wpt-routes", None, "wpt serve's routes without --all-ports."],
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
        ["test-pages", None, None, "x.any.html pages: current, 2021, off [current]."],
        ["inject-script", None, None, "A script put into every text/html page."],
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
            "inject-script": usage.CompleteFiles(),
        }
    )

    #: The listeners and the config, decided by :meth:`postOptions`.
    topology: Topology
    #: The script of ``--inject-script``, read by :meth:`postOptions`.
    injectScript: Optional[bytes] = None
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
        if self["inject-script"] is not None:
            try:
                with open(self["inject-script"], "rb") as f:
                    self.injectScript = f.read()
            except OSError as e:
                raise usage.UsageError(f"--inject-script {self['inject-script']}: {e.strerror or e}") from e
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
        if self["test-pages"] is None:
            self["test-pages"] = "current"
        if self["test-pages"] != "off" and self["test-pages"] not in PAGE_SETS:
            raise usage.UsageError(f"--test-pages must be one of {', '.join(PAGE_SETS)} or off")
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
            config, notes = _configFor(self)
        except ValueError as e:
            raise usage.UsageError(_configMessage(self["config"], str(e))) from e
        try:
            self.topology = planTopology(
                config, self["listen"], allPorts=self["all-ports"], bind=self["bind"], default=DEFAULT_LISTEN
            )
            self.topology.notes.extend(notes)
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


def _configFor(options: Options) -> Tuple[ServerConfig, List[str]]:
    """
    The config as read, and lines for the start-up log saying where it came
    from.  With ``--all-ports``, as ``wpt serve`` builds it: its defaults,
    the checkout's ``config.json`` and ``--config`` merged over them (see
    :mod:`twisted_pyhandlers._wptconfig`); without, the ``--config`` file
    as written (or a config for ``--host``).
    """
    root = os.path.realpath(options["root"])
    if options["all-ports"]:
        data, notes = wptServeConfig(root, options["config"], options["host"])
        return ServerConfig.fromDict(data, docRoot=None if data.get("doc_root") else root), notes
    return ServerConfig.fromOptions(configFile=options["config"], host=options["host"], docRoot=root), []


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


def makeService(options: Options) -> IService:
    """
    Build the service tree for ``twistd pyhandlers``: the server the
    options describe (:func:`~twisted_pyhandlers._assembly.assembleServer`),
    or, for ``--workers N``, the supervisor of N workers that each assemble
    one.
    """
    from twisted.internet import reactor

    if options.workerCount > 1 and options.workerFds is None:
        return supervisorService(options, reactor)
    return assembleServer(options, reactor).service
