"""
Deciding the listeners: ``--listen [SCHEME=]ENDPOINT``, ``--all-ports`` from
a config (or wpt's default topology), ``--bind``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from twisted_pyhandlers._topology import (
    Listener,
    TopologyError,
    bindAddress,
    parseBind,
    parseListen,
    planTopology,
)
from twisted_pyhandlers._wptconfig import WPT_DEFAULT_CONFIG
from twisted_pyhandlers.config import ServerConfig


@pytest.mark.parametrize(
    "value, expected",
    [
        ("tcp:8000", ("http", "tcp:8000")),
        ("ssl:8443:privateKey=k.pem", ("https", "ssl:8443:privateKey=k.pem")),
        ("https=ssl:8443:privateKey=k.pem", ("https", "ssl:8443:privateKey=k.pem")),
        ("HTTP-Private=tcp:0", ("http-private", "tcp:0")),
        ("h2=tcp:9000", ("h2", "tcp:9000")),
        ("unix:/tmp/a=b", ("http", "unix:/tmp/a=b")),
    ],
)
def test_parseListen(value: str, expected: tuple) -> None:
    """SCHEME= prefixes name the scheme; a bare endpoint is https for ssl:, http otherwise."""
    assert parseListen(value) == expected


def test_parseListenUnknownScheme() -> None:
    """An unknown scheme is one line naming it and the known ones."""
    with pytest.raises(TopologyError, match=r"^--listen gopher=tcp:70: unknown scheme 'gopher' \(known: h2, h3, http,"):
        parseListen("gopher=tcp:70")


def config(**data: object) -> ServerConfig:
    """A config from a wptserve-style dict."""
    return ServerConfig.fromDict(data)


def test_allPortsFromConfig() -> None:
    """
    Every port of every served scheme becomes a listener on loopback ("auto"
    is port 0); TLS schemes (h2 and wss among them) present the server's
    certificate; ws and h2 are served like the others.
    """
    topology = planTopology(
        config(ports={"http": [8000, "auto"], "https": [8443], "https-private": ["auto"], "h2": [9000], "ws": ["auto"]}),
        [],
        allPorts=True,
    )
    assert topology.listeners == [
        Listener("http", "tcp:8000:interface=127.0.0.1", None, 8000),
        Listener("http", "tcp:0:interface=127.0.0.1", None, 0),
        Listener("https", "tcp:8443:interface=127.0.0.1", "server", 8443),
        Listener("https-private", "tcp:0:interface=127.0.0.1", "server", 0),
        Listener("h2", "tcp:9000:interface=127.0.0.1", "server", 9000),
        Listener("ws", "tcp:0:interface=127.0.0.1", None, 0),
    ]
    assert topology.needsServerCertificate
    assert topology.notServed == [
    ]


def test_withoutAllPorts() -> None:
    """Without --all-ports the config's ports are information only; the default endpoint is used."""
    topology = planTopology(config(ports={"https": [8443]}), [], default="tcp:8000:interface=127.0.0.1")
    assert topology.listeners == [Listener("http", "tcp:8000:interface=127.0.0.1")]
    assert topology.config["ports"]["https"] == [8443]
    assert not topology.needsServerCertificate


def test_listenTakesOverScheme() -> None:
    """
    With --all-ports, a scheme given by --listen is served only there: its
    ports from the config are dropped from the config handlers see.
    """
    topology = planTopology(
        config(ports={"http": [8000], "https": [8443]}), ["https=tcp:0:interface=127.0.0.1"], allPorts=True
    )
    assert topology.listeners == [
        Listener("http", "tcp:8000:interface=127.0.0.1", None, 8000),
        Listener("https", "tcp:0:interface=127.0.0.1", "server"),
    ]
    assert topology.config.declaredPorts() == {"http": [8000], "https": []}


@pytest.mark.parametrize(
    "value, expected",
    [
        ("https=ssl:0:interface=127.0.0.1", Listener("https", "tcp:0:interface=127.0.0.1", "server")),
        ("ssl:0", Listener("https", "tcp:0", "server")),
        ("https-public=unix:/tmp/s", Listener("https-public", "unix:/tmp/s", "server")),
        ("http-public=tcp:0", Listener("http-public", "tcp:0")),
    ],
)
def test_listenTLS(value: str, expected: Listener) -> None:
    """
    A TLS scheme over a plain endpoint, or an ssl: endpoint naming no
    certificate, gets TLS with the server's certificate.
    """
    assert planTopology(config(), [value]).listeners == [expected]


def test_listenOwnCertificate(tmp_path: Path) -> None:
    """An ssl: endpoint naming its key is used as given; a missing key file is one line."""
    key = tmp_path / "k.pem"
    key.write_text("")
    escaped = str(key).replace(":", "\\:")
    assert planTopology(config(), [f"ssl:0:privateKey={escaped}"]).listeners == [
        Listener("https", f"ssl:0:privateKey={escaped}", "own")
    ]
    with pytest.raises(TopologyError, match=r"privateKey /no/such\.pem: No such file"):
        planTopology(config(), ["https=ssl:0:privateKey=/no/such.pem"])


@pytest.mark.parametrize(
    "value, message",
    [
        ("ws=ssl:0", r"ws is not a TLS scheme; use https=ssl:0"),
        ("wss=", r"no endpoint after wss="),
        ("http=ssl:0", r"http is not a TLS scheme; use https=ssl:0"),
        ("https=", r"no endpoint after https="),
        ("webtransport-h3=tcp:11000", r"webtransport-h3 listens on UDP: webtransport-h3=udp:PORT"),
    ],
)
def test_listenErrors(value: str, message: str) -> None:
    """An explicit listener this version cannot serve is refused in one line, not skipped."""
    with pytest.raises(TopologyError, match=message):
        planTopology(config(), [value])


def test_listenH2() -> None:
    """--listen h2=ENDPOINT is HTTP/2 over TLS with the server's certificate (ssl: without one included)."""
    assert planTopology(config(), ["h2=tcp:9000"]).listeners == [Listener("h2", "tcp:9000", "server")]
    assert planTopology(config(), ["h2=ssl:9000"]).listeners == [Listener("h2", "tcp:9000", "server")]


def test_listenWebTransport() -> None:
    """
    --listen webtransport-h3=udp:PORT:interface=ADDRESS (and h3=udp:...)
    is QUIC on that UDP port with the server's certificate; the config's webtransport-h3 ports
    get a udp: listener on the bind address (IPv6 escaped as tcp6: is).
    """
    assert planTopology(config(), ["webtransport-h3=udp:0:interface=127.0.0.1"]).listeners == [
        Listener("webtransport-h3", "udp:0:interface=127.0.0.1", "server")
    ]
    listener = planTopology(config(ports={"webtransport-h3": ["auto"]}), [], allPorts=True, bind="::1").listeners[0]
    assert listener == Listener("webtransport-h3", "udp:0:interface=\\:\\:1", "server", 0)
    assert listener.datagram and listener.urlScheme == "https"
    assert planTopology(config(), ["h3=udp:8443"]).listeners == [Listener("h3", "udp:8443", "server")]


def test_bind() -> None:
    """--bind beats the config; bind_address as an address is used; false is all interfaces, with a warning."""
    assert bindAddress(config(bind_address="::1"), None) == ("::1", None)
    assert bindAddress(config(bind_address="::1"), "127.0.0.2") == ("127.0.0.2", None)
    assert bindAddress(config(bind_address=True), None) == ("127.0.0.1", None)
    assert bindAddress(config(), None) == ("127.0.0.1", None)
    assert bindAddress(config(bind_address=False), None)[0] == "0.0.0.0"
    topology = planTopology(config(ports={"http": ["auto"]}), [], allPorts=True, bind="::1")
    assert topology.listeners == [Listener("http", "tcp6:0:interface=\\:\\:1", None, 0)]


@pytest.mark.parametrize("value", ["localhost", "300.1.1.1", "", "tcp:0"])
def test_badBind(value: str) -> None:
    """--bind takes an IP address only."""
    with pytest.raises(TopologyError, match="is not an IP address"):
        parseBind(value)


def test_wptDefaultTopology() -> None:
    """
    Without a config, --all-ports uses wpt's default topology: web-platform.test
    and not-web-platform.test, the www/www1/www2/天気の良い日/élève subdomains
    and their pairs (www1.www), nonexistent as a not-subdomain, and the
    ports of ``wpt serve`` (8000 and one more http, 8443 and 8444, the
    -private (2021's name), -local (today's) and -public twins, h2 on 9000,
    ws and wss, webtransport-h3 on UDP 11000).
    """
    default = ServerConfig.fromDict(WPT_DEFAULT_CONFIG)
    assert default["browser_host"] == "web-platform.test"
    assert default["alternate_hosts"] == {"alt": "not-web-platform.test"}
    assert default["domains"][""]["www1.www"] == "www1.www.web-platform.test"
    assert default["domains"]["alt"]["élève"] == "xn--lve-6lad.not-web-platform.test"
    assert default["not_domains"][""]["nonexistent"] == "nonexistent.web-platform.test"
    assert len(default["domains_set"]) == 2 * (5 + 25 + 1)
    topology = planTopology(default, [], allPorts=True)
    assert [(listener.scheme, listener.port) for listener in topology.listeners] == [
        ("http", 8000), ("http", 0), ("http-private", 0), ("http-local", 0), ("http-public", 0),
        ("https", 8443), ("https", 8444), ("https-private", 0), ("https-local", 0), ("https-public", 0), ("h2", 9000),
        ("ws", 0), ("wss", 0), ("webtransport-h3", 11000),
    ]
    assert topology.listeners[-1].description == "udp:11000:interface=127.0.0.1"
    assert topology.listeners[-1].tls == "server"
    assert [line.split(":")[0] for line in topology.notServed] == [
    ]
