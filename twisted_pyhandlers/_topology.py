"""
Which ports to listen on, for which scheme, from the config and the command
line (``--listen [SCHEME=]ENDPOINT``, ``--all-ports``, ``--bind``).

A wptserve-style config names ports by scheme (``{"http": [8000, "auto"],
"https": [8443], ...}``); ``--all-ports`` listens on every one of them that
this version serves, on the config's bind address or ``--bind`` (loopback
by default), with a system-chosen port for ``"auto"``.  ``--listen`` adds
endpoints of its own; with ``--all-ports``, a scheme given by ``--listen``
is served only where ``--listen`` says.

Pure decisions, no I/O except checking that files named in ``ssl:``
endpoints exist: the service in :mod:`twisted_pyhandlers.tap` does the
listening.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import List, Mapping, Optional, Tuple

from twisted_pyhandlers._schemes import PROTOCOL_FOR_SCHEME, PROTOCOL_NAMES, servesScheme
from twisted_pyhandlers.config import ServerConfig, schemeForEndpoint

#: Schemes served over TLS.
TLS_SCHEMES = frozenset({"https", "https-private", "https-local", "https-public", "h2", "wss", "webtransport-h3", "h3"})

#: Schemes served over QUIC (UDP), on ``udp:PORT:interface=ADDRESS`` listeners:
#: wpt's WebTransport port, and (beyond wpt) an HTTP/3 port serving the tree.
QUIC_SCHEMES = frozenset({"webtransport-h3", "h3"})

#: The loopback address listeners bind to unless told otherwise.
LOOPBACK = "127.0.0.1"

#: ``SCHEME=`` at the start of a ``--listen`` value (an endpoint string
#: has a ``:`` before any ``=``).
_SCHEME_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)=(.*)$", re.DOTALL)

#: The ``:`` between endpoint description fields (``\:`` is an escaped colon).
_FIELD_SEPARATOR = re.compile(r"(?<!\\):")
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)

#: Parameters of Twisted's ``ssl:`` endpoint that bring a certificate.
_CERTIFICATE_FIELDS = ("privateKey", "certKey")


class TopologyError(ValueError):
    """A listener that cannot be planned: one line saying why."""


@dataclass(frozen=True)
class Listener:
    """
    One port to listen on.

    :ivar scheme: the config scheme it serves (``https-private``, ...).
    :ivar description: a Twisted endpoint string.
    :ivar tls: ``None`` for plain TCP; ``"own"`` for an ``ssl:`` endpoint
        that names its own certificate (Twisted makes its TLS context);
        ``"server"`` for TLS with the server's certificate (made, or
        ``--tls-cert``) over the endpoint.
    :ivar port: the port number asked for (0: the system chooses), when
        the listener comes from the config.
    """

    scheme: str
    description: str
    tls: Optional[str] = None
    port: Optional[int] = None

    @property
    def datagram(self) -> bool:
        """Whether it listens on UDP (QUIC) rather than a stream endpoint."""
        return self.scheme in QUIC_SCHEMES

    @property
    def urlScheme(self) -> str:
        """``https`` for a TLS listener, ``http`` otherwise; ``wss``/``ws`` for WebSocket ones."""
        if PROTOCOL_FOR_SCHEME.get(self.scheme) == "websocket":
            return "wss" if self.tls is not None else "ws"
        return "https" if self.tls is not None else "http"


@dataclass
class Topology:
    """
    The listeners to start and the config handlers see (its declared ports
    adjusted for schemes ``--listen`` took over).  ``notServed`` holds one
    line for each configured scheme that is not listened on, and why.
    """

    listeners: List[Listener]
    config: ServerConfig
    bindAddress: Optional[str] = None
    notServed: List[str] = field(default_factory=list)
    #: Lines for the start-up log about where the config came from.
    notes: List[str] = field(default_factory=list)

    @property
    def needsServerCertificate(self) -> bool:
        """Whether some listener presents the server's certificate."""
        return any(listener.tls == "server" for listener in self.listeners)


def parseBind(value: str) -> str:
    """
    An address to bind to: an IPv4 or IPv6 literal, in normal form.

    :raises TopologyError: for anything else.
    """
    try:
        return str(ipaddress.ip_address(value.strip().strip("[]")))
    except ValueError:
        raise TopologyError(f"--bind {value!r} is not an IP address (such as 127.0.0.1 or ::1)") from None


def parseListen(value: str) -> Tuple[str, str]:
    """
    A ``--listen`` value as (scheme, endpoint description): ``SCHEME=ENDPOINT``
    names its scheme; a bare endpoint serves ``https`` when it is ``ssl:``,
    ``http`` otherwise.

    :raises TopologyError: for an unknown scheme or an empty endpoint.
    """
    match = _SCHEME_PREFIX.match(value)
    if match is None:
        return schemeForEndpoint(value), value
    scheme, description = match.group(1).lower(), match.group(2)
    if scheme not in PROTOCOL_FOR_SCHEME:
        known = ", ".join(sorted(PROTOCOL_FOR_SCHEME))
        raise TopologyError(f"--listen {value}: unknown scheme {scheme!r} (known: {known})")
    if not description:
        raise TopologyError(f"--listen {value}: no endpoint after {scheme}=")
    return scheme, description


def bindAddress(config: ServerConfig, bind: Optional[str]) -> Tuple[str, Optional[str]]:
    """
    The address config listeners bind to, and a warning line or ``None``:
    ``--bind`` when given; else the config's ``bind_address`` when it is an
    address; all interfaces when it is ``false`` (wptserve's meaning, with a
    warning); loopback otherwise (``true``, wptserve's default, binds
    wptserve to ``server_host``, which we do not resolve: loopback is what
    the hosts file points those names at).
    """
    if bind is not None:
        return parseBind(bind), None
    value = config.get("bind_address", True)
    if value is False:
        return "0.0.0.0", "the config's bind_address is false: listening on all interfaces"
    if isinstance(value, str):
        try:
            return parseBind(value), None
        except TopologyError:
            raise TopologyError(f"the config's bind_address {value!r} is not an IP address") from None
    return LOOPBACK, None


def planTopology(
    config: ServerConfig,
    listen: List[str],
    allPorts: bool = False,
    bind: Optional[str] = None,
    default: Optional[str] = None,
) -> Topology:
    """
    Decide the listeners.

    :param config: the config as read (its declared ports, ``"auto"``
        included).
    :param listen: the ``--listen`` values, in order.
    :param allPorts: listen on every port of every served scheme of the
        config (``--all-ports``).
    :param bind: ``--bind``, the address for the config's ports.
    :param default: the endpoint to listen on when there is nothing else
        (neither ``--listen`` nor ``--all-ports``).
    :raises TopologyError: one line, for a listener that cannot be served.
    """
    listeners = [_listenerFor(value) for value in listen]
    if not listeners and not allPorts and default is not None:
        listeners = [_listenerFor(default)]
    if not allPorts:
        return Topology(listeners, config)
    address, warning = bindAddress(config, bind)
    takenOver = {listener.scheme for listener in listeners}
    declared = config.declaredPorts()
    notServed = [warning] if warning else []
    fromConfig: List[Listener] = []
    for scheme, ports in declared.items():
        if scheme in takenOver or not ports:
            continue
        shown = ", ".join(str(p) for p in ports)
        if not servesScheme(scheme):
            protocol = PROTOCOL_FOR_SCHEME.get(scheme)
            why = f"{PROTOCOL_NAMES[protocol]} is not served by this version" if protocol else "not a scheme this server knows"
            notServed.append(f"not listening on the config's {scheme} port(s) {shown}: {why}")
            continue
        tls = "server" if scheme in TLS_SCHEMES else None
        for port in ports:
            number = 0 if port == "auto" else int(port)
            description = _tcpDescription(number, address)
            if scheme in QUIC_SCHEMES:
                description = "udp:" + description.split(":", 1)[1]
            fromConfig.append(Listener(scheme, description, tls, number))
    config = config.withPorts({scheme: [] for scheme in takenOver if scheme in declared})
    return Topology(fromConfig + listeners, config, address, notServed)


def _tcpDescription(port: int, address: str) -> str:
    if ipaddress.ip_address(address).version == 6:
        escaped = address.replace(":", "\\:")
        return f"tcp6:{port}:interface={escaped}"
    return f"tcp:{port}:interface={address}"


def endpointFields(description: str) -> Tuple[str, Mapping[str, str]]:
    """The endpoint type of ``description`` and its ``name=value`` fields, unescaped."""
    fields = _FIELD_SEPARATOR.split(description)
    named = {}
    for item in fields[1:]:
        name, equals, value = item.partition("=")
        if equals:
            named[name] = _ESCAPE.sub(r"\1", value)
    return fields[0].strip().lower(), named


def _listenerFor(value: str) -> Listener:
    scheme, description = parseListen(value)
    if not servesScheme(scheme):
        raise TopologyError(
            f"--listen {value}: {PROTOCOL_NAMES[PROTOCOL_FOR_SCHEME[scheme]]} ({scheme}) is not served by this version"
        )
    kind, named = endpointFields(description)
    if scheme in QUIC_SCHEMES:
        if kind != "udp":
            raise TopologyError(f"--listen {value}: {scheme} listens on UDP: {scheme}=udp:PORT:interface=ADDRESS")
        return Listener(scheme, description, "server")
    if scheme not in TLS_SCHEMES:
        if kind in ("ssl", "tls"):
            raise TopologyError(f"--listen {value}: {scheme} is not a TLS scheme; use https={description}")
        return Listener(scheme, description)
    if kind != "ssl":
        # TLS over any stream endpoint, with the server's certificate.
        return Listener(scheme, description, "server")
    if not any(name in named for name in _CERTIFICATE_FIELDS):
        # ssl: without a certificate: the server's, over TCP.
        return Listener(scheme, "tcp:" + description.split(":", 1)[1], "server")
    for name in _CERTIFICATE_FIELDS:
        path = named.get(name)
        if path is not None:
            try:
                open(path, "rb").close()
            except OSError as e:
                raise TopologyError(f"--listen {value}: {name} {path}: {e.strerror or e}") from None
    return Listener(scheme, description, "own")
