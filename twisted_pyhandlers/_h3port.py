"""
The ``webtransport-h3`` port: a UDP port whose QUIC connections speak
HTTP/3 and run wpt's WebTransport handlers, with the server's certificate.

Its listener description is ``udp:PORT[:interface=ADDRESS]`` (Twisted has
no UDP endpoint strings, so :func:`parseUDP` reads this one form, with the
same escaping of ``:`` in IPv6 addresses as ``tcp6:``).
:class:`UDPServerEndpoint` listens like a stream endpoint does (``listen``
returns a Deferred of the listening port), so the twistd service that
listens on every other port listens on this one too; stopping it sends every
client a CONNECTION_CLOSE before the socket closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from aioquic.h3.connection import H3_ALPN
from aioquic.quic.configuration import QuicConfiguration
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IListeningPort, IReactorTime, IReactorUDP

from twisted_pyhandlers._certificates import ServerCertificate
from twisted_pyhandlers._context import HandlerContext
from twisted_pyhandlers._http3 import HTTP3Connection
from twisted_pyhandlers._quic import MAX_DATAGRAM, QuicConnectionDriver, QuicServerPort
from twisted_pyhandlers._topology import endpointFields
from twisted_pyhandlers._webtransport import WebTransportHandlers

#: The largest datagram a WebTransport session may send or receive (wpt's).
MAX_DATAGRAM_FRAME = 65536


@dataclass(frozen=True)
class UDPDescription:
    """A parsed ``udp:PORT[:interface=ADDRESS]``."""

    port: int
    interface: str = ""


def parseUDP(description: str) -> UDPDescription:
    """
    Read ``udp:PORT[:interface=ADDRESS]``.

    :raises ValueError: one line, for anything else.
    """
    kind, named = endpointFields(description)
    if kind != "udp":
        raise ValueError(f"{description}: a webtransport-h3 port is a udp:PORT[:interface=ADDRESS] endpoint")
    fields = description.split(":", 2)
    if len(fields) < 2 or not fields[1].strip().isdigit():
        raise ValueError(f"{description}: udp: needs a port number (udp:PORT[:interface=ADDRESS])")
    port = int(fields[1])
    if port > 65535:
        raise ValueError(f"{description}: {port} is not a port number")
    unknown = set(named) - {"interface"}
    if unknown:
        raise ValueError(f"{description}: udp: takes only interface=, not {', '.join(sorted(unknown))}")
    return UDPDescription(port, named.get("interface", ""))


def quicConfiguration(certificate: ServerCertificate) -> QuicConfiguration:
    """The server's QUIC configuration: HTTP/3 by ALPN, datagrams on, the server's certificate."""
    return QuicConfiguration(
        alpn_protocols=H3_ALPN,
        is_client=False,
        max_datagram_frame_size=MAX_DATAGRAM_FRAME,
        certificate=certificate.certificate,
        certificate_chain=list(certificate.chain),
        private_key=certificate.key,
    )


def webTransportProtocol(
    reactor: IReactorTime, context: HandlerContext, certificate: ServerCertificate, site: Any = None
) -> QuicServerPort:
    """
    The datagram protocol of a QUIC port serving the tree of ``context``:
    WebTransport sessions, and, when ``site`` is given (the ``h3`` port),
    ordinary requests answered by that ``Site``.
    """
    handlers = WebTransportHandlers(context)

    def application(driver: QuicConnectionDriver) -> HTTP3Connection:
        return HTTP3Connection(reactor, driver, handlers, site)

    return QuicServerPort(reactor, quicConfiguration(certificate), application)


class _QuicListeningPort:
    """The UDP port, whose ``stopListening`` closes the QUIC connections first."""

    def __init__(self, port: Any, protocol: QuicServerPort) -> None:
        self._port = port
        self._protocol = protocol

    def getHost(self) -> Any:
        """The address listened on."""
        return self._port.getHost()

    def startListening(self) -> None:
        """Already listening."""

    def stopListening(self) -> Optional[Deferred[None]]:
        """Say goodbye to every client, then close the socket.  Reactor thread."""
        self._protocol.closeConnections()
        return self._port.stopListening()  # type: ignore[no-any-return]


class UDPServerEndpoint:
    """
    Listens on a UDP port with a ``DatagramProtocol``: a stream endpoint's
    ``listen``, for :class:`~twisted_pyhandlers._listening.ListeningService`.
    """

    def __init__(self, reactor: IReactorUDP, description: str) -> None:
        self._reactor = reactor
        self._address = parseUDP(description)
        self._description = description

    def listen(self, protocol: QuicServerPort) -> Deferred[IListeningPort]:  # type: ignore[override]
        """Listen now; the port, or the failure.  Reactor thread."""
        try:
            port = self._reactor.listenUDP(
                self._address.port, protocol, interface=self._address.interface, maxPacketSize=MAX_DATAGRAM
            )
        except Exception:
            return fail()
        return succeed(_QuicListeningPort(port, protocol))  # type: ignore[arg-type]

    def __str__(self) -> str:
        return self._description
