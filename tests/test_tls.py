"""
The whole topology from one command, with TLS: real ``twistd pyhandlers``
processes started with ``--all-ports``, real TLS clients (Python's ``ssl``)
that verify the made CA for several names, negotiate ALPN and send
requests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest
import pytest_twisted
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from serving import TopologyProcess as Server
from twisted.internet import endpoints, reactor, threads
from twisted.web import http
from twisted.web.resource import Resource
from twisted.web.server import Site

from twisted_pyhandlers._certificates import loadServerCertificate
from twisted_pyhandlers._wptconfig import WPT_DEFAULT_CONFIG

REPO = Path(__file__).resolve().parent.parent

PORTS_HANDLER = (
    "import json\n"
    "def main(request, response):\n"
    "    return json.dumps({'ports': dict(request.server.config['ports']), 'url': request.url})\n"
)


def tlsRequest(
    port: int, name: str, cafile: Path, path: str = "/ports.py", alpn: Optional[List[str]] = None
) -> Tuple[Optional[str], bytes, bytes]:
    """
    Connect to 127.0.0.1:port over TLS verifying the certificate for
    ``name`` against ``cafile``; GET ``path`` with Host ``name``; return the
    protocol ALPN chose, the server's certificate (DER) and the response.
    """
    context = ssl.create_default_context(cafile=str(cafile))
    if alpn is not None:
        context.set_alpn_protocols(alpn)
    with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
        with context.wrap_socket(raw, server_hostname=name) as tls:
            host = f"[{name}]" if ":" in name else name
            tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
            chunks = []
            while True:
                data = tls.recv(65536)
                if not data:
                    break
                chunks.append(data)
            certificate = tls.getpeercert(binary_form=True)
            assert certificate is not None
            return tls.selected_alpn_protocol(), certificate, b"".join(chunks)


def pinOf(der: bytes) -> str:
    """The SPKI pin of a DER certificate, computed here from what the wire gave."""
    spki = x509.load_der_x509_certificate(der).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def bodyOf(response: bytes) -> Dict:
    """The JSON body of a raw HTTP/1.1 response that must be a 200."""
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), response
    return json.loads(body)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A document root with a handler that shows the config's ports and the request's URL."""
    directory = tmp_path / "root"
    directory.mkdir()
    (directory / "ports.py").write_text(PORTS_HANDLER)
    return directory


CONFIG = {
    "browser_host": "web-platform.test",
    "alternate_hosts": {"alt": "not-web-platform.test"},
    "subdomains": ["www", "www1", "www1.www", "élève", "天気の良い日"],
    "not_subdomains": ["nonexistent"],
    "ports": {
        "http": ["auto", "auto"], "https": ["auto", "auto"], "http-private": ["auto"],
        "https-public": ["auto"], "h2": ["auto"], "ws": ["auto"], "wss": ["auto"],
    },
}


def test_allPorts(tmp_path: Path, root: Path) -> None:
    """
    ``--all-ports`` with a config of "auto" ports listens on each port of
    each served scheme in one process; every https port presents a
    certificate the made CA verifies for the main host, a ``www1.www.``
    subdomain, an IDNA subdomain of the alternate host, localhost and
    127.0.0.1; the logged pin is the SPKI hash of the certificate on the
    wire; ALPN gives http/1.1 to a client that offers h2 first on the
    https ports, and h2 on the h2 port, which answers an HTTP/2 client;
    handlers on every port see the real port numbers (the ws and wss ones
    too).
    """
    (tmp_path / "config.json").write_text(json.dumps(CONFIG), encoding="utf-8")
    server = Server(tmp_path, "--root", str(root), "--config", "config.json", "--all-ports", "--tls-dir", "tls")
    # wpt serve's defaults fill in the schemes the file leaves out
    # (http-public, https-private, the -local twins and webtransport-h3).
    server.start(origins=13)
    try:
        text = server.text()
        ca = tmp_path / "tls" / "ca.pem"
        assert f"signed by the CA {ca}" in text
        assert "is not served" not in text
        schemes = ("http", "https", "http-private", "https-public", "h2", "ws", "wss",
                   "http-public", "https-private", "http-local", "https-local", "webtransport-h3")
        expected = {scheme: server.ports(scheme) for scheme in schemes}
        assert [len(expected[s]) for s in expected] == [2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
        assert {(u, h) for u, h, _, _ in server.origins()} == {
            (scheme, "web-platform.test") for scheme in ("http", "https", "ws", "wss")
        }
        pin = server.pin()
        for port in expected["https"] + expected["https-public"]:
            for name in ("web-platform.test", "www1.www.web-platform.test", "xn--lve-6lad.not-web-platform.test",
                         "xn--n8j6ds53lwwkrqhv28a.web-platform.test", "localhost", "127.0.0.1"):
                protocol, der, response = tlsRequest(port, name, ca, alpn=["h2", "http/1.1"])
                assert protocol == "http/1.1"
                assert pinOf(der) == pin
                seen = bodyOf(response)
                assert seen["ports"] == expected
                assert seen["url"].startswith("https://")
            with pytest.raises(ssl.SSLCertVerificationError):
                tlsRequest(port, "www3.web-platform.test", ca)
        import httpx

        with httpx.Client(http2=True, verify=ssl.create_default_context(cafile=str(ca)), timeout=20) as client:
            answer = client.get(f"https://127.0.0.1:{expected['h2'][0]}/ports.py")
        assert answer.http_version == "HTTP/2"
        assert answer.json()["ports"] == expected
        import urllib.request

        for port in expected["http"] + expected["http-private"]:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ports.py", timeout=20) as answer:
                assert json.loads(answer.read())["ports"]["https"] == expected["https"]
    finally:
        server.stop()


def test_certificateReused(tmp_path: Path, root: Path) -> None:
    """
    A second start with the same --tls-dir reuses the CA and the server
    certificate (same files, same pin); a start with another host makes a
    new server certificate from the same CA, with the same key.
    """
    arguments = ("--root", str(root), "--listen", "https=tcp:0:interface=127.0.0.1", "--tls-dir", "tls")
    first = Server(tmp_path, *arguments).start(origins=1)
    first.stop()
    files = {p.name: p.read_bytes() for p in (tmp_path / "tls").iterdir()}
    second = Server(tmp_path, *arguments).start(origins=1)
    try:
        assert second.pin() == first.pin()
        assert {p.name: p.read_bytes() for p in (tmp_path / "tls").iterdir()} == files
        protocol, der, response = tlsRequest(second.ports("https")[0], "localhost", tmp_path / "tls" / "ca.pem")
        assert pinOf(der) == first.pin()
    finally:
        second.stop()
    third = Server(tmp_path, *arguments, "--host", "other.test").start(origins=1)
    try:
        assert (tmp_path / "tls" / "ca.pem").read_bytes() == files["ca.pem"]
        assert (tmp_path / "tls" / "server.pem").read_bytes() != files["server.pem"]
        _, der, _ = tlsRequest(third.ports("https")[0], "other.test", tmp_path / "tls" / "ca.pem")
        assert pinOf(der) == first.pin()
    finally:
        third.stop()


def test_userCertificate(tmp_path: Path, root: Path) -> None:
    """
    --tls-cert/--tls-key: the TLS ports present the user's certificate
    (verified against itself as the trust anchor), the pin of its key is
    logged, no CA is made.
    """
    from selfsigned import writeSelfSigned

    certPath, keyPath = writeSelfSigned(tmp_path, "own.test")
    server = Server(
        tmp_path, "--root", str(root), "--listen", "https=tcp:0:interface=127.0.0.1",
        "--tls-cert", str(certPath), "--tls-key", str(keyPath), "--tls-dir", "tls",
    ).start(origins=1)
    try:
        _, der, response = tlsRequest(server.ports("https")[0], "own.test", certPath)
        assert der == x509.load_pem_x509_certificate(certPath.read_bytes()).public_bytes(serialization.Encoding.DER)
        assert server.pin() == pinOf(der)
        assert f"TLS: certificate {certPath}" in server.text()
        assert not (tmp_path / "tls").exists()
        bodyOf(response)
    finally:
        server.stop()


def test_sslListenOffersNoH2(tmp_path: Path, root: Path) -> None:
    """
    A plain ``--listen ssl:...`` endpoint with its own key (Twisted makes its
    TLS context) does not offer h2 though h2 and priority are installed: a
    client offering h2 and http/1.1 gets http/1.1 and its response (it used
    to get h2 and hang on Twisted's HTTP/2 stack); one offering only h2 is
    refused at once in the handshake (Twisted's ALPN callback finds no
    overlap), never given h2.
    """
    from selfsigned import writeSelfSigned

    assert http.H2_ENABLED, "twisted[http2] is a test dependency: Twisted would offer h2"
    certPath, keyPath = writeSelfSigned(tmp_path, "localhost")
    server = Server(
        tmp_path, "--root", str(root),
        "--listen", f"ssl:0:interface=127.0.0.1:privateKey={keyPath}:certKey={certPath}",
    ).start(origins=1)
    try:
        port = server.ports("https")[0]
        assert tlsRequest(port, "localhost", certPath, alpn=["h2", "http/1.1"])[0] == "http/1.1"
        bodyOf(tlsRequest(port, "localhost", certPath, alpn=["h2", "http/1.1"])[2])
        started = time.monotonic()
        with pytest.raises(ssl.SSLError, match="alert internal error"):
            tlsRequest(port, "localhost", certPath, alpn=["h2"])
        assert time.monotonic() - started < 10
    finally:
        server.stop()


@pytest_twisted.ensureDeferred
async def test_twistedSiteOffersH2(tmp_path: Path) -> None:
    """
    The control for the ALPN tests: with the test dependencies installed, a
    plain twisted.web ``Site`` on a TLS port does give h2 to a client that
    offers it, so a server that offered it would fail them.
    """
    from selfsigned import writeSelfSigned

    certPath, keyPath = writeSelfSigned(tmp_path, "localhost")
    context = loadServerCertificate(certPath, keyPath).contextFactory()
    endpoint = endpoints.SSL4ServerEndpoint(reactor, 0, context, interface="127.0.0.1")
    port = await endpoint.listen(Site(Resource()))
    try:
        def negotiate() -> Optional[str]:
            tls = ssl.create_default_context(cafile=str(certPath))
            tls.set_alpn_protocols(["h2", "http/1.1"])
            with socket.create_connection(("127.0.0.1", port.getHost().port), timeout=20) as raw:
                with tls.wrap_socket(raw, server_hostname="localhost") as connection:
                    return connection.selected_alpn_protocol()

        assert await threads.deferToThread(negotiate) == "h2"
    finally:
        await port.stopListening()


def runTwistd(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess:
    """Run ``twistd -n pyhandlers ARGUMENTS`` to its end (it must end by itself)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    return subprocess.run(
        [sys.executable, "-c", "from twisted.scripts.twistd import run; run()", "-n", "--pidfile=",
         "--logfile", str(tmp_path / "fail.log"), "pyhandlers", *arguments],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--tls-cert", "missing.pem", "--tls-key", "missing.key"], r"--tls-cert \S*missing\.pem: No such file or directory"),
        (["--tls-cert", "missing.pem"], r"--tls-cert and --tls-key go together"),
        (["--listen", "gopher=tcp:0"], r"--listen gopher=tcp:0: unknown scheme 'gopher'"),
        (["--listen", "ws=ssl:0"], r"--listen ws=ssl:0: ws is not a TLS scheme"),
        (["--ws-handlers", "nowhere"], r"--ws-handlers 'nowhere': no directory \S*nowhere$"),
        (["--all-ports", "--bind", "nowhere"], r"--bind 'nowhere' is not an IP address"),
        (["--listen", "tcp:notaport"], r"--listen tcp:notaport: "),
    ],
)
def test_badOptions(tmp_path: Path, arguments: List[str], message: str) -> None:
    """A bad option is one plain line naming it, and a non-zero exit, before anything listens."""
    result = runTwistd(tmp_path, "--root", ".", *arguments)
    assert result.returncode != 0
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert re.search(message, lines[-1]), lines[-3:]
    assert "Traceback" not in result.stdout + result.stderr


def test_portInUse(tmp_path: Path) -> None:
    """A port that cannot be had ends start-up with one plain line and a non-zero exit."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        result = runTwistd(
            tmp_path, "--root", ".", "--listen", "tcp:0:interface=127.0.0.1",
            "--listen", f"https=tcp:{busy}:interface=127.0.0.1", "--tls-dir", "tls",
        )
    log = (tmp_path / "fail.log").read_text()
    assert result.returncode != 0
    assert re.search(rf"Cannot listen on tcp:{busy}:interface=127.0.0.1 \(https\): .*[Aa]ddress already in use", log), log
    assert "Traceback" not in log + result.stderr


def test_helpListsOptions(tmp_path: Path) -> None:
    """``twistd pyhandlers --help`` shows every topology and TLS option."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    result = subprocess.run(
        [sys.executable, "-c", "from twisted.scripts.twistd import run; run()", "pyhandlers", "--help"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    for option in ("--all-ports", "--bind=", "--tls-dir=", "--tls-cert=", "--tls-key=", "--listen=", "SCHEME=ENDPOINT"):
        assert option in result.stdout, result.stdout



def test_tlsDirectoryUnusable(tmp_path: Path) -> None:
    """A --tls-dir where certificates cannot be made is one plain line and a non-zero exit."""
    (tmp_path / "blocker").write_text("")
    result = runTwistd(tmp_path, "--root", ".", "--listen", "https=tcp:0:interface=127.0.0.1", "--tls-dir", "blocker/tls")
    assert result.returncode != 0
    assert re.fullmatch(r"--tls-dir \S*blocker/tls: Not a directory", result.stderr.strip()), result.stderr


def test_allPortsNothingToServe(tmp_path: Path) -> None:
    """--all-ports with a config that declares no port this server serves is a usage error, not an idle server."""
    from twisted_pyhandlers.tap import OptionError, Options

    # wpt serve's defaults are merged in: the file takes every one of their schemes away.
    none = {scheme: [] for scheme in WPT_DEFAULT_CONFIG["ports"]}
    (tmp_path / "config.json").write_text(json.dumps({"ports": {**none, "gopher": ["auto"]}}))
    with pytest.raises(OptionError, match="^twistd pyhandlers: --all-ports: the config declares no port"):
        Options().parseOptions(["--root", str(tmp_path), "--config", str(tmp_path / "config.json"), "--all-ports"])
