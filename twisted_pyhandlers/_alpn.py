"""
ALPN on our TLS ports as ``wpt serve`` answers it: a client offering only
protocols the port does not speak still completes its handshake, with no
protocol selected.

Twisted (from 24.x) sets an ALPN select callback on every server context
it makes and answers "no overlap" with an empty protocol name, which
OpenSSL turns into an ``internal_error`` alert: Chromium's WebSocket offers
``http/1.1`` to a ``wss`` port whose factory names no protocol, and fails
with ``net::ERR_SSL_PROTOCOL_ERROR``.  wpt serve's servers are Python
``ssl`` sockets (pywebsocket's for ``wss``), whose callback leaves the
protocol unselected instead, and the handshake goes on.  Here the callback
is replaced by one that picks as Twisted's does (the protocols of the
factory behind the TLS layer, in its order) and otherwise declines with
pyOpenSSL's ``NO_OVERLAPPING_PROTOCOLS``.
"""

from __future__ import annotations

from typing import Any, List, Sequence, Union

from OpenSSL import SSL
from twisted.internet.interfaces import IProtocolNegotiationFactory
from twisted.internet.ssl import CertificateOptions
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol


def factoryProtocols(connection: SSL.Connection) -> List[bytes]:
    """
    The ALPN protocols of the factory behind the TLS layer of
    ``connection`` (a ``Site`` names its own; a WebSocket factory none).
    Twisted's TLS protocol is the connection's app data and its factory's
    ``wrappedFactory`` is the one behind it (Twisted 23.10 to 26.10).
    """
    tlsProtocol: TLSMemoryBIOProtocol = connection.get_app_data()
    tlsFactory = tlsProtocol.factory
    assert isinstance(tlsFactory, TLSMemoryBIOFactory)
    negotiating = IProtocolNegotiationFactory(tlsFactory.wrappedFactory, None)
    return list(negotiating.acceptableProtocols()) if negotiating is not None else []


def selectProtocol(offered: Sequence[bytes], acceptable: Sequence[bytes]) -> Union[bytes, object]:
    """
    The first of ``acceptable`` the client ``offered``, else pyOpenSSL's
    ``NO_OVERLAPPING_PROTOCOLS`` (the handshake goes on without ALPN).
    """
    for protocol in acceptable:
        if protocol in offered:
            return protocol
    return SSL.NO_OVERLAPPING_PROTOCOLS


class LenientALPNOptions(CertificateOptions):
    """
    Twisted's ``CertificateOptions`` whose context answers ALPN without
    ever failing the handshake (see the module docstring).  Reactor thread.
    """

    _lenient = False

    def getContext(self) -> SSL.Context:
        """The context, its ALPN select callback replaced once."""
        context = super().getContext()
        if not self._lenient:
            self._lenient = True

            def select(connection: SSL.Connection, offered: List[bytes]) -> Any:
                return selectProtocol(offered, factoryProtocols(connection))

            context.set_alpn_select_callback(select)
        return context
