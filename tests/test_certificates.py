"""
Made certificates: a CA and a server certificate naming every host
explicitly, reused while valid and naming the same hosts, made again
otherwise; the user's own certificate read and checked.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from selfsigned import writeSelfSigned

from twisted_pyhandlers._certificates import (
    CA_CERT_FILE,
    SERVER_CERT_FILE,
    CertificateError,
    defaultTLSDirectory,
    hostNames,
    loadServerCertificate,
    makeServerCertificate,
)

NAMES = ["web-platform.test", "www.web-platform.test", "www1.www.web-platform.test", "xn--lve-6lad.web-platform.test"]
NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc)


def sanOf(path: Path) -> set:
    """The subjectAltName entries of the PEM certificate at ``path``, as strings."""
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v) for v in san.get_values_for_type(x509.DNSName)} | {
        str(v) for v in san.get_values_for_type(x509.IPAddress)
    }


def test_namesListedExplicitly(tmp_path: Path) -> None:
    """
    The server certificate lists every name given, each on its own (no
    wildcard), plus localhost and the IP address 127.0.0.1; it is signed by
    the CA written beside it.
    """
    made = makeServerCertificate(tmp_path, NAMES, now=NOW)
    assert sanOf(made.certPath) == set(NAMES) | {"localhost", "127.0.0.1"}
    cert = x509.load_pem_x509_certificate(made.certPath.read_bytes())
    ca = x509.load_pem_x509_certificate((tmp_path / CA_CERT_FILE).read_bytes())
    cert.verify_directly_issued_by(ca)
    assert made.caPath == tmp_path / CA_CERT_FILE
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_pin(tmp_path: Path) -> None:
    """The pin is base64(SHA-256(SubjectPublicKeyInfo DER)) of the server key."""
    made = makeServerCertificate(tmp_path, NAMES, now=NOW)
    key = serialization.load_pem_private_key(made.keyPath.read_bytes(), password=None)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert made.pin == base64.b64encode(hashlib.sha256(der).digest()).decode()


def test_reusedWhileValid(tmp_path: Path) -> None:
    """A second start with the same names, a month later, reuses both files byte for byte."""
    first = makeServerCertificate(tmp_path, NAMES, now=NOW)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    second = makeServerCertificate(tmp_path, list(reversed(NAMES)), now=NOW + datetime.timedelta(days=30))
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert second.pin == first.pin


def test_changedNamesReissued(tmp_path: Path) -> None:
    """
    A changed name set re-issues the server certificate from the same CA
    and keeps the server key, so the CA stays trusted and the pin stays.
    """
    first = makeServerCertificate(tmp_path, NAMES, now=NOW)
    ca = (tmp_path / CA_CERT_FILE).read_bytes()
    cert = (tmp_path / SERVER_CERT_FILE).read_bytes()
    second = makeServerCertificate(tmp_path, NAMES + ["www2.web-platform.test"], now=NOW)
    assert (tmp_path / CA_CERT_FILE).read_bytes() == ca
    assert (tmp_path / SERVER_CERT_FILE).read_bytes() != cert
    assert "www2.web-platform.test" in sanOf(second.certPath)
    assert second.pin == first.pin


def test_expiryReissued(tmp_path: Path) -> None:
    """A server certificate that expires within a week is made again; one past its CA's life makes a new CA too."""
    makeServerCertificate(tmp_path, NAMES, now=NOW)
    ca = (tmp_path / CA_CERT_FILE).read_bytes()
    cert = (tmp_path / SERVER_CERT_FILE).read_bytes()
    later = NOW + datetime.timedelta(days=395)
    made = makeServerCertificate(tmp_path, NAMES, now=later)
    assert (tmp_path / SERVER_CERT_FILE).read_bytes() != cert
    assert (tmp_path / CA_CERT_FILE).read_bytes() == ca
    assert x509.load_pem_x509_certificate(made.certPath.read_bytes()).not_valid_after_utc > later + datetime.timedelta(days=300)
    makeServerCertificate(tmp_path, NAMES, now=NOW + datetime.timedelta(days=3700))
    assert (tmp_path / CA_CERT_FILE).read_bytes() != ca


def test_foreignCertificateReplaced(tmp_path: Path) -> None:
    """A server certificate in the directory that the CA there did not sign is not reused."""
    makeServerCertificate(tmp_path, NAMES, now=NOW)
    other = tmp_path / "other"
    makeServerCertificate(other, NAMES, now=NOW)
    (tmp_path / SERVER_CERT_FILE).write_bytes((other / SERVER_CERT_FILE).read_bytes())
    (tmp_path / "server.key").write_bytes((other / "server.key").read_bytes())
    made = makeServerCertificate(tmp_path, NAMES, now=NOW)
    ca = x509.load_pem_x509_certificate((tmp_path / CA_CERT_FILE).read_bytes())
    x509.load_pem_x509_certificate(made.certPath.read_bytes()).verify_directly_issued_by(ca)


def test_hostNames() -> None:
    """Names are IDNA-encoded label by label and lower-cased; IP addresses are normalised."""
    assert hostNames(["élève.Example.test", "天気の良い日.x.test", "::0001", "127.0.0.1", "a.test."]) == {
        "xn--lve-6lad.example.test",
        "xn--n8j6ds53lwwkrqhv28a.x.test",
        "::1",
        "127.0.0.1",
        "a.test",
    }


def test_unwritableDirectory(tmp_path: Path) -> None:
    """A --tls-dir that cannot be made is one plain error naming it."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(CertificateError, match=r"^--tls-dir .*file/tls"):
        makeServerCertificate(blocker / "tls", NAMES, now=NOW)


def test_defaultDirectory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without --tls-dir, certificates live under the user's cache directory."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert defaultTLSDirectory() == tmp_path / "twisted_pyhandlers" / "tls"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert defaultTLSDirectory() == Path.home() / ".cache" / "twisted_pyhandlers" / "tls"


def test_userCertificate(tmp_path: Path) -> None:
    """The user's certificate and key are read as they are; no CA is claimed."""
    certPath, keyPath = writeSelfSigned(tmp_path)
    own = loadServerCertificate(certPath, keyPath)
    assert own.names() == {"own.test"}
    assert own.caPath is None
    assert own.certificate.public_bytes(serialization.Encoding.PEM) == certPath.read_bytes()


def test_userCertificateErrors(tmp_path: Path) -> None:
    """A missing file, a file that is not PEM, or a key of another certificate is one line naming the file."""
    certPath, keyPath = writeSelfSigned(tmp_path)
    _, otherKey = writeSelfSigned(tmp_path, "other.test")
    with pytest.raises(CertificateError, match=r"^--tls-cert .*missing\.pem: No such file"):
        loadServerCertificate(tmp_path / "missing.pem", keyPath)
    with pytest.raises(CertificateError, match=r"^--tls-cert .*own\.test\.key: not a PEM certificate"):
        loadServerCertificate(keyPath, keyPath)
    with pytest.raises(CertificateError, match=r"^--tls-key .*other\.test\.key is not the key of the certificate"):
        loadServerCertificate(certPath, otherKey)
