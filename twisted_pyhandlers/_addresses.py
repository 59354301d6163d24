"""
The host and port of a Twisted address, whatever kind it is.

A connection's addresses (``getPeer``, ``getHost``, a request's
``getClientAddress``) are ``IPv4Address``/``IPv6Address`` for TCP, a
``UNIXAddress`` for a UNIX socket, ``_XForwardedForAddress`` behind a
proxy, or something else for an in-memory transport.  Handlers and
pywebsocket want a ``(host, port)`` pair: these helpers give it, with the
blanks a non-IP address has.  Any thread (addresses are plain values).
"""

from __future__ import annotations

from typing import Optional, Tuple

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress


def hostAndPort(address: object) -> Tuple[str, int]:
    """``(host, port)`` of an IP address; ``("", 0)`` for any other kind."""
    if isinstance(address, (IPv4Address, IPv6Address)):
        return (str(address.host), int(address.port))
    return ("", 0)


def clientHostAndPort(address: object) -> Tuple[str, int]:
    """
    ``(host, port)`` of a client's address as wptserve's
    ``request.client_address`` has it: an IP address's, a UNIX socket's
    name and 0, else ``("", 0)``.
    """
    if isinstance(address, UNIXAddress):
        return (str(address.name or ""), 0)
    return hostAndPort(address)


def portOf(address: object) -> Optional[int]:
    """The TCP port of an IP address; None for any other kind."""
    if isinstance(address, (IPv4Address, IPv6Address)):
        return int(address.port)
    return None
