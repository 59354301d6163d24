"""
QUIC on the reactor: aioquic's sans-IO ``QuicConnection`` driven from a
Twisted datagram protocol and reactor timers.

:class:`QuicServerPort` is the ``DatagramProtocol`` of one UDP port: it reads
each datagram's QUIC header, answers an unknown version with version
negotiation, routes the datagram to the connection its destination
connection ID names, and makes a connection for a client's first Initial
packet (as aioquic's own ``asyncio`` server does, without a retry).  Each
connection is a :class:`QuicConnectionDriver`: it feeds datagrams in, hands
every QUIC event to the connection's application (a :class:`QuicApplication`:
HTTP/3 in :mod:`twisted_pyhandlers._http3`), sends what the connection has to
send, and keeps one reactor timer aimed at the connection's next deadline
(loss detection, idle timeout, the end of a close).  There is no second
event loop and no thread: everything here runs on the reactor thread.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, Protocol, Tuple

from aioquic.buffer import Buffer
from aioquic.quic.configuration import SMALLEST_MAX_DATAGRAM_SIZE, QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import ConnectionIdIssued, ConnectionIdRetired, ConnectionTerminated, QuicEvent
from aioquic.quic.packet import (
    QuicErrorCode,
    QuicPacketType,
    encode_quic_version_negotiation,
    pull_quic_header,
)
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger

#: A UDP peer as Twisted and aioquic name it: (host, port).
Address = Tuple[str, int]

#: The largest UDP datagram the port reads (QUIC's own limit is far below).
MAX_DATAGRAM = 65535


class QuicApplication(Protocol):
    """What runs over one QUIC connection (HTTP/3): it is handed every QUIC event."""

    def quicEventReceived(self, event: QuicEvent) -> None:
        """One event of the connection, in order.  Reactor thread."""


#: Makes the application of a new connection, given its driver.
ApplicationFactory = Callable[["QuicConnectionDriver"], QuicApplication]


class QuicConnectionDriver:
    """
    Drives one aioquic ``QuicConnection`` on the reactor: datagrams in,
    events to the application, datagrams out, one timer.

    Everything runs on the reactor thread.  The application changes the
    connection (sends data, resets streams) and then calls :meth:`transmit`
    (right away) or :meth:`transmitSoon` (once, at the reactor's next turn,
    for several changes made in a row).

    :ivar quic: the connection; the application's to use, on the reactor.
    """

    _log = Logger()

    def __init__(self, reactor: IReactorTime, quic: QuicConnection, port: QuicServerPort) -> None:
        self.quic = quic
        self.port = port
        self._reactor = reactor
        self._port = port
        self._timer: Optional[IDelayedCall] = None
        self._timerAt: Optional[float] = None
        self._soon: Optional[IDelayedCall] = None
        self._terminated = False
        self.application: Optional[QuicApplication] = None
        #: The client's address, as its last datagram came from.
        self.peer: Address = ("", 0)

    @property
    def terminated(self) -> bool:
        """Whether the connection has ended (nothing it is asked to send goes out)."""
        return self._terminated

    def datagramReceived(self, data: bytes, address: Address) -> None:
        """A datagram for this connection.  Reactor thread."""
        self.peer = address
        self.quic.receive_datagram(data, address, now=self._reactor.seconds())
        self._processEvents()
        self.transmit()

    def transmit(self) -> None:
        """Send what the connection has to send and aim the timer at its next deadline.  Reactor thread."""
        if self._soon is not None:
            if self._soon.active():
                self._soon.cancel()
            self._soon = None
        for data, address in self.quic.datagrams_to_send(now=self._reactor.seconds()):
            self._port.send(data, address)
        timerAt = None if self._terminated else self.quic.get_timer()
        if timerAt == self._timerAt:
            return
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        self._timerAt = timerAt
        if timerAt is not None:
            self._timer = self._reactor.callLater(max(0.0, timerAt - self._reactor.seconds()), self._timerFired)

    def transmitSoon(self) -> None:
        """:meth:`transmit` at the reactor's next turn (once for many changes).  Reactor thread."""
        if self._soon is None and not self._terminated:
            self._soon = self._reactor.callLater(0, self.transmit)

    def close(self, errorCode: int = QuicErrorCode.NO_ERROR, reason: str = "") -> None:
        """Close the connection (CONNECTION_CLOSE) and send it.  Reactor thread."""
        if not self._terminated:
            self.quic.close(error_code=errorCode, reason_phrase=reason)
            self.transmit()

    def abandon(self) -> None:
        """Stop the timers: the port is gone, nothing more can be sent.  Reactor thread."""
        self._terminated = True
        for call in (self._timer, self._soon):
            if call is not None and call.active():
                call.cancel()
        self._timer = self._soon = None
        self._timerAt = None

    def _timerFired(self) -> None:
        now = max(self._timerAt or 0.0, self._reactor.seconds())
        self._timer = None
        self._timerAt = None
        self.quic.handle_timer(now=now)
        self._processEvents()
        self.transmit()

    def _processEvents(self) -> None:
        event = self.quic.next_event()
        while event is not None:
            if isinstance(event, ConnectionIdIssued):
                self._port.route(event.connection_id, self)
            elif isinstance(event, ConnectionIdRetired):
                self._port.unroute(event.connection_id)
            elif isinstance(event, ConnectionTerminated):
                self._terminated = True
                self._port.forget(self)
            if self.application is not None:
                try:
                    self.application.quicEventReceived(event)
                except Exception:
                    # A bug of ours must not take the port down: this
                    # connection ends, the others go on.
                    self._log.failure("QUIC connection {cid}: error handling {event}", cid=self.quic.host_cid.hex(), event=type(event).__name__)
                    if not self._terminated:
                        self.quic.close(error_code=QuicErrorCode.INTERNAL_ERROR, reason_phrase="server error")
            event = self.quic.next_event()
        if self._terminated:
            if self._timer is not None and self._timer.active():
                self._timer.cancel()
            self._timer = None
            self._timerAt = None


class QuicServerPort(DatagramProtocol):
    """
    The datagram protocol of one QUIC server port: routes datagrams to
    connections by destination connection ID and makes new connections.
    Reactor thread.

    :param reactor: gives the time and the timers.
    :param configuration: the server's QUIC configuration (certificate,
        ALPN, transport parameters), shared by every connection.
    :param applicationFactory: makes each connection's application.
    """

    _log = Logger()

    def __init__(self, reactor: IReactorTime, configuration: QuicConfiguration, applicationFactory: ApplicationFactory) -> None:
        self._reactor = reactor
        self._configuration = configuration
        self._applicationFactory = applicationFactory
        self._routes: Dict[bytes, QuicConnectionDriver] = {}

    @property
    def connections(self) -> int:
        """How many connections the port has (each counted once)."""
        return len({id(driver) for driver in self._routes.values()})

    def datagramReceived(self, datagram: bytes, addr: Address) -> None:  # type: ignore[override]
        """One UDP datagram from ``addr``.  Reactor thread."""
        try:
            header = pull_quic_header(Buffer(data=datagram), host_cid_length=self._configuration.connection_id_length)
        except ValueError:
            return
        versions = self._configuration.supported_versions
        if (
            header.packet_type != QuicPacketType.VERSION_NEGOTIATION
            and header.version is not None
            and header.version not in versions
        ):
            # Never answered to a version negotiation packet: two servers
            # would bounce them at each other.
            self.send(
                encode_quic_version_negotiation(
                    source_cid=header.destination_cid, destination_cid=header.source_cid, supported_versions=versions
                ),
                addr,
            )
            return
        driver = self._routes.get(header.destination_cid)
        if driver is None:
            if len(datagram) < SMALLEST_MAX_DATAGRAM_SIZE or header.packet_type != QuicPacketType.INITIAL:
                return
            quic = QuicConnection(configuration=self._configuration, original_destination_connection_id=header.destination_cid)
            driver = QuicConnectionDriver(self._reactor, quic, self)
            driver.application = self._applicationFactory(driver)
            self._routes[header.destination_cid] = driver
            self._routes[quic.host_cid] = driver
        driver.datagramReceived(datagram, addr)

    def send(self, data: bytes, address: Address) -> None:
        """Send one datagram (dropped if the port is closed).  Reactor thread."""
        if self.transport is not None:
            self.transport.write(data, address)

    @property
    def host(self) -> Address:
        """The (address, port) the port listens on."""
        assert self.transport is not None, "not listening"
        address = self.transport.getHost()
        return (address.host, address.port)

    def route(self, cid: bytes, driver: QuicConnectionDriver) -> None:
        """Datagrams for ``cid`` go to ``driver``.  Reactor thread."""
        self._routes[cid] = driver

    def unroute(self, cid: bytes) -> None:
        """Forget ``cid`` (retired).  Reactor thread."""
        self._routes.pop(cid, None)

    def forget(self, driver: QuicConnectionDriver) -> None:
        """Forget every connection ID of ``driver`` (its connection ended).  Reactor thread."""
        for cid in [cid for cid, known in self._routes.items() if known is driver]:
            del self._routes[cid]

    def closeConnections(self) -> None:
        """Close every connection (CONNECTION_CLOSE to each peer): the port is stopping.  Reactor thread."""
        for driver in {id(d): d for d in self._routes.values()}.values():
            driver.close(reason="server stopping")

    def stopProtocol(self) -> None:
        """The socket is closed: every connection's timers stop.  Reactor thread."""
        for driver in {id(d): d for d in self._routes.values()}.values():
            driver.abandon()
        self._routes.clear()
