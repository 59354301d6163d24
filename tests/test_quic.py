"""
The QUIC port on the reactor (``twisted_pyhandlers._quic``): a real UDP
socket on 127.0.0.1, and a client that is aioquic's own sans-IO
``QuicConnection`` driven by the test on the same reactor.  Pins the
routing and the life of connections: an unknown QUIC version gets version
negotiation, junk makes no connection, a handshake completes, and stopping
the port says CONNECTION_CLOSE to every client and leaves no timer behind.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, List, Tuple

import pytest_twisted
from aioquic.buffer import Buffer
from aioquic.h3.connection import H3_ALPN
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import ConnectionTerminated, HandshakeCompleted, QuicEvent
from aioquic.quic.packet import QuicPacketType, pull_quic_header
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import deferLater

from twisted_pyhandlers._certificates import makeServerCertificate
from twisted_pyhandlers._h3port import UDPServerEndpoint, quicConfiguration
from twisted_pyhandlers._quic import QuicConnectionDriver, QuicServerPort


class Recorder:
    """A connection's application that keeps every QUIC event."""

    def __init__(self) -> None:
        self.events: List[QuicEvent] = []

    def quicEventReceived(self, event: QuicEvent) -> None:
        self.events.append(event)


class Peer(DatagramProtocol):
    """A UDP socket that keeps what it receives and fires a Deferred for the next datagram."""

    def __init__(self) -> None:
        self.received: List[bytes] = []
        self.waiting: List[Deferred[bytes]] = []

    def datagramReceived(self, data: bytes, addr: Tuple[str, int]) -> None:  # type: ignore[override]
        self.received.append(data)
        waiting, self.waiting = self.waiting, []
        for d in waiting:
            d.callback(data)

    def next(self) -> Deferred[bytes]:
        d: Deferred[bytes] = Deferred()
        self.waiting.append(d)
        return d


class Client(Peer):
    """aioquic's client connection, driven on the reactor by the test."""

    def __init__(self, configuration: QuicConfiguration) -> None:
        super().__init__()
        self.quic = QuicConnection(configuration=configuration)
        self.events: List[QuicEvent] = []
        self.changed: List[Deferred[None]] = []
        self.timer: Any = None

    def timerFired(self) -> None:
        self.timer = None
        self.quic.handle_timer(now=reactor.seconds())
        self.flush()

    def datagramReceived(self, data: bytes, addr: Tuple[str, int]) -> None:  # type: ignore[override]
        self.quic.receive_datagram(data, addr, now=reactor.seconds())
        self.flush()

    def flush(self) -> None:
        event = self.quic.next_event()
        while event is not None:
            self.events.append(event)
            event = self.quic.next_event()
        for data, address in self.quic.datagrams_to_send(now=reactor.seconds()):
            self.transport.write(data, address)
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        at = self.quic.get_timer()
        self.timer = None if at is None else reactor.callLater(max(0.0, at - reactor.seconds()), self.timerFired)
        changed, self.changed = self.changed, []
        for d in changed:
            d.callback(None)

    async def until(self, kind: type) -> QuicEvent:
        """Wait (20 s at most) until an event of ``kind`` came."""
        for _ in range(400):
            found = [e for e in self.events if isinstance(e, kind)]
            if found:
                return found[0]
            d: Deferred[None] = Deferred()
            self.changed.append(d)
            timeout = reactor.callLater(0.05, lambda waiting=d: waiting.called or waiting.callback(None))
            await d
            if timeout.active():
                timeout.cancel()
        raise AssertionError(f"no {kind.__name__}")


def serverPort(tmp: Path) -> Tuple[QuicServerPort, List[Recorder]]:
    certificate = makeServerCertificate(tmp / "tls", [])
    recorders: List[Recorder] = []

    def application(driver: QuicConnectionDriver) -> Recorder:
        recorders.append(Recorder())
        return recorders[-1]

    return QuicServerPort(reactor, quicConfiguration(certificate), application), recorders


@pytest_twisted.ensureDeferred
async def test_unknownVersionGetsVersionNegotiationAndJunkNothing(tmp_path: Path) -> None:
    """
    A long-header packet of a version the server does not speak is
    answered with version negotiation listing QUIC v1; datagrams that are
    not QUIC make no connection and no answer, and the port goes on.
    """
    protocol, recorders = serverPort(tmp_path)
    port = await UDPServerEndpoint(reactor, "udp:0:interface=127.0.0.1").listen(protocol)
    peer = Peer()
    client = reactor.listenUDP(0, peer, interface="127.0.0.1")
    address = ("127.0.0.1", port.getHost().port)
    try:
        for junk in (b"", b"\x00", os.urandom(3), b"GET / HTTP/1.1\r\n\r\n"):
            peer.transport.write(junk, address)
        answer = peer.next()
        # Long header, version 0x1a2a3a4a, DCID and SCID of 8 bytes, padded.
        packet = b"\xc0" + bytes.fromhex("1a2a3a4a") + b"\x08" + b"D" * 8 + b"\x08" + b"S" * 8
        peer.transport.write(packet + b"\x00" * (1200 - len(packet)), address)
        data = await answer
        header = pull_quic_header(Buffer(data=data), host_cid_length=8)
        assert header.packet_type == QuicPacketType.VERSION_NEGOTIATION
        assert header.destination_cid == b"S" * 8 and header.source_cid == b"D" * 8
        assert 0x00000001 in header.supported_versions
        assert protocol.connections == 0 and recorders == []
        assert len(peer.received) == 1
    finally:
        await client.stopListening()
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_handshakeThenStopSaysGoodbye(tmp_path: Path) -> None:
    """
    aioquic's client completes a handshake with the port (ALPN h3, the made
    certificate verified by its CA); the application sees the same
    handshake; stopping the port sends the client a CONNECTION_CLOSE, and
    no reactor timer of the connection is left.
    """
    protocol, recorders = serverPort(tmp_path)
    port = await UDPServerEndpoint(reactor, "udp:0:interface=127.0.0.1").listen(protocol)
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, server_name="localhost")
    configuration.load_verify_locations(str(tmp_path / "tls" / "ca.pem"))
    client = Client(configuration)
    clientPort = reactor.listenUDP(0, client, interface="127.0.0.1")
    try:
        client.quic.connect(("127.0.0.1", port.getHost().port), now=reactor.seconds())
        client.flush()
        handshake = await client.until(HandshakeCompleted)
        assert handshake.alpn_protocol == "h3"  # type: ignore[attr-defined]
        assert protocol.connections == 1
        await deferLater(reactor, 0.05, lambda: None)
        assert any(isinstance(e, HandshakeCompleted) for e in recorders[0].events)
        await port.stopListening()
        terminated = await client.until(ConnectionTerminated)
        assert terminated.reason_phrase == "server stopping"  # type: ignore[attr-defined]
        assert protocol.connections == 0
        assert not [call for call in reactor.getDelayedCalls() if "QuicConnectionDriver" in repr(call.func)]
    finally:
        if client.timer is not None and client.timer.active():
            client.timer.cancel()
        await clientPort.stopListening()
