"""
``twistd pyhandlers``: serve a document root of handler files.

``Options`` parses the command line; ``makeService`` builds a service tree
that listens on each ``--listen`` endpoint when twistd starts it (not while
parsing options; the handler thread pool starts when the reactor runs), and
records the ports it really listens on in the server config, so handlers and
templates see them even when the system chose the port.
"""

from __future__ import annotations

import os
import re
from typing import Any, Optional

from twisted.application.service import IService, MultiService, Service
from twisted.internet import endpoints
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort, IReactorCore, IStreamServerEndpoint
from twisted.logger import Logger
from twisted.python import usage
from twisted.web.server import Site

from twisted_pyhandlers._stashurl import stashStoreFromURL
from twisted_pyhandlers._threads import HandlerThreadPool, tiedToReactor
from twisted_pyhandlers.allocator import keepFreedMemory
from twisted_pyhandlers.config import ServerConfig, schemeForEndpoint
from twisted_pyhandlers.resource import DEFAULT_THREADS, HandlerDirectory
from twisted_pyhandlers.site import HandlerSite

__all__ = ["DEFAULT_BACKLOG", "DEFAULT_LISTEN", "ListeningService", "Options", "makeService", "withBacklog"]

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
        "handlers (main(request, response)), everything else is static."
    )
    optFlags = [
        [
            "keep-malloc-defaults",
            None,
            "Leave glibc's malloc settings alone (by default the server keeps freed memory of large bodies for reuse).",
        ],
    ]
    optParameters = [
        ["root", "r", None, "The document root to serve (required)."],
        ["threads", "t", DEFAULT_THREADS, "Threads that run handlers.", int],
        ["logfile", "l", None, "Write an access log (combined format) to this file; '-' for the twistd log. Default: no access log."],
        ["stash", None, None, "Stash URL: redis://host:port/db to share the stash between processes (default: in memory)."],
        ["config", None, None, "A wptserve-style JSON config file (browser_host, subdomains, alternate_hosts, ports...)."],
        ["host", None, None, "The host name handed to handlers and templates (browser_host; default localhost)."],
    ]
    compData = usage.Completions(
        optActions={"root": usage.CompleteDirs(), "logfile": usage.CompleteFiles(), "config": usage.CompleteFiles()}
    )

    def __init__(self) -> None:
        super().__init__()
        self["listen"] = []

    def opt_listen(self, description: str) -> None:
        """
        Listen on a Twisted endpoint string, e.g. tcp:8000:interface=127.0.0.1
        (repeatable; default tcp:8000:interface=127.0.0.1).  TCP, TLS and
        UNIX endpoints get backlog=1024 unless they name a backlog.
        """
        self["listen"].append(description)

    def postOptions(self) -> None:
        if self["root"] is None:
            raise usage.UsageError("--root is required")
        if not os.path.isdir(self["root"]):
            raise usage.UsageError(f"--root {self['root']!r} is not a directory")
        if self["threads"] < 1:
            raise usage.UsageError("--threads must be at least 1")
        if not self["listen"]:
            self["listen"] = [DEFAULT_LISTEN]
        # A bad --config file or --stash URL is a usage error, not a
        # traceback from makeService (neither check connects anywhere).
        try:
            if self["config"] is not None:
                ServerConfig.fromFile(self["config"])
            stashStoreFromURL(self["stash"])
        except ValueError as e:
            raise usage.UsageError(str(e)) from e


class QuietSite(HandlerSite):
    """
    A :class:`~twisted_pyhandlers.site.HandlerSite` that writes no access log line per request: without
    ``--logfile`` a test server's log shows what matters (errors, handler
    tracebacks), as wptserve's does, and formatting a line per request
    would cost a fifth of a tiny handler's time.
    """

    def log(self, request: Any) -> None:
        """No access log."""


class ListeningService(Service):
    """
    Listens on one endpoint while running, and records the port it got in
    the server config under the endpoint's scheme.
    """

    _log = Logger()

    def __init__(
        self,
        reactor: IReactorCore,
        endpoint: IStreamServerEndpoint,
        factory: Site,
        scheme: str,
        config: ServerConfig,
    ) -> None:
        self.reactor = reactor
        self.endpoint = endpoint
        self.factory = factory
        self.scheme = scheme
        self.config = config
        self.port: Optional[IListeningPort] = None

    def startService(self) -> None:
        super().startService()
        listening = self.endpoint.listen(self.factory)
        listening.addCallback(self._listening)
        listening.addErrback(self._failed)

    def _listening(self, port: IListeningPort) -> None:
        self.port = port
        address = port.getHost()
        number = getattr(address, "port", None)
        if isinstance(number, int):
            self.config.addListeningPort(self.scheme, number)
        self._log.info("twisted_pyhandlers listening on {address}", address=address)

    def _failed(self, failure: Any) -> None:
        self._log.failure("Could not listen", failure)
        self.reactor.stop()

    def stopService(self) -> Optional[Deferred[None]]:
        super().stopService()
        if self.port is not None:
            return self.port.stopListening()  # type: ignore[return-value]
        return None


def makeService(options: Options) -> IService:
    """Build the service tree for ``twistd pyhandlers``."""
    from twisted.internet import reactor

    if not options["keep-malloc-defaults"]:
        keepFreedMemory()
    root = os.path.realpath(options["root"])
    config = ServerConfig.fromOptions(configFile=options["config"], host=options["host"], docRoot=root)
    pool = tiedToReactor(HandlerThreadPool(options["threads"]), reactor)  # type: ignore[arg-type]
    resource = HandlerDirectory(
        root,
        reactor=reactor,  # type: ignore[arg-type]
        threadpool=pool,
        stash=stashStoreFromURL(options["stash"]),
        config=config,
    )
    # HandlerSite: header names as sent, bodies left to the handlers.
    logfile = options["logfile"]
    if logfile is None:
        site: Site = QuietSite(resource)
    elif logfile == "-":
        site = HandlerSite(resource)
    else:
        site = HandlerSite(resource, logPath=logfile)
    service = MultiService()
    for description in options["listen"]:
        endpoint = endpoints.serverFromString(reactor, withBacklog(description))
        ListeningService(
            reactor, endpoint, site, schemeForEndpoint(description), config  # type: ignore[arg-type]
        ).setServiceParent(service)
    return service
