"""
Start-up: listening on an endpoint, once, before the reactor runs.

The one way every process of the server listens: ``twistd pyhandlers``
(:class:`ListeningService`, one per listener), the test fixture's child
process (the same services) and the supervisor of ``--workers``
(:class:`~twisted_pyhandlers._workers.WorkerSupervisor`, which listens
for its workers and never accepts) all call :func:`listenAtStartUp`.  A port
that cannot be had (in use, not allowed) ends start-up with one plain line
and exit status 1, instead of a server missing one of its ports.

Everything here runs on the reactor thread (before it runs, at start-up).
"""

from __future__ import annotations

import re
from typing import List, Optional

from twisted.application.service import Service
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IReactorCore,
    IStreamServerEndpoint,
)
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_pyhandlers.config import ServerConfig

#: The listen queue of a stream endpoint that names none.  Twisted's
#: default, 50, is less than a test run opening a few hundred connections at
#: once: the kernel drops the rest of the connection attempts, and each one
#: dropped waits a second for the client to retry.  wptserve asks for 2000;
#: the kernel caps either at ``net.core.somaxconn``.
DEFAULT_BACKLOG = 1024

#: Endpoint types whose description takes a ``backlog`` parameter.
_BACKLOG_ENDPOINTS = frozenset({"tcp", "tcp6", "ssl", "unix"})

#: The ``:`` between endpoint description fields (``\:`` is an escaped colon).
_FIELD_SEPARATOR = re.compile(r"(?<!\\):")

_log = Logger()


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


def portNumber(port: IListeningPort) -> Optional[int]:
    """The TCP port number ``port`` listens on; None for a UNIX socket or other address."""
    address = port.getHost()
    if isinstance(address, (IPv4Address, IPv6Address)):
        return address.port
    return None


def listenAtStartUp(
    endpoint: IStreamServerEndpoint, factory: IProtocolFactory, what: str
) -> "Deferred[IListeningPort]":
    """
    Listen on ``endpoint`` with ``factory`` now.  An endpoint that fails at
    once (every stream endpoint of a running system does: TCP, UNIX, an
    adopted socket) is logged as ``Cannot listen on WHAT: REASON`` and ends
    start-up with exit status 1; one that fails later is the caller's to
    handle (the Deferred fails).

    :param what: the endpoint as the log names it.
    :raises SystemExit: when the endpoint failed at once.
    """
    failures: List[Failure] = []

    def failed(failure: Failure) -> Failure:
        failures.append(failure)
        return failure

    listening = endpoint.listen(factory)
    listening.addErrback(failed)
    if failures:
        _log.error("{message}", message=f"Cannot listen on {what}: {failures[0].getErrorMessage()}")
        listening.addErrback(lambda _: None)
        # Logged above; exit status 1 without printing it a second time.
        raise SystemExit(1)
    return listening


class ListeningService(Service):
    """
    Listens on one endpoint while running, and records the port it got in
    the server config under the endpoint's scheme.

    It listens in ``privilegedStartService`` (as Twisted's own
    ``StreamServerEndpointService``), before the reactor runs, through
    :func:`listenAtStartUp`.
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
        what = f"{self.description or self.endpoint} ({self.scheme})"
        listenAtStartUp(self.endpoint, self.factory, what).addCallbacks(self._listening, self._failed)

    def _listening(self, port: IListeningPort) -> IListeningPort:
        self.port = port
        number = portNumber(port)
        if number is not None:
            self.config.addListeningPort(self.scheme, number)
        self._log.info("twisted_pyhandlers listening on {address} ({scheme})", address=port.getHost(), scheme=self.scheme)
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
