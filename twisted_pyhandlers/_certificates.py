"""
Certificates for the https ports: made ones (a CA and a server certificate
signed by it) or the user's own.

A browser is told to trust the CA once (or given the server key's SPKI pin);
the server certificate names every host the config implies, each explicitly
(a wildcard ``*.HOST`` does not cover ``www1.www.HOST``, which WPT uses),
plus ``localhost`` and ``127.0.0.1``.  Both live in a directory
(``--tls-dir``) and are reused while they are valid and name the same
hosts; the server key is kept when the certificate is re-issued, so the pin
stays the same for a directory.

Blocking file I/O and key generation: call these at start-up, before the
reactor runs, never while serving.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import FrozenSet, Iterable, List, Optional, Tuple, Union

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from OpenSSL import crypto
from twisted.internet.ssl import CertificateOptions

from twisted_pyhandlers._alpn import LenientALPNOptions

#: How long a made CA is valid.
CA_LIFETIME = datetime.timedelta(days=3650)
#: How long a made server certificate is valid (under the 398 days browsers
#: accept from public CAs, so no browser rule refuses it).
SERVER_LIFETIME = datetime.timedelta(days=397)
#: A certificate that expires sooner than this is made again at start-up.
RENEW_BEFORE = datetime.timedelta(days=7)

#: The names every made server certificate carries besides the config's.
ALWAYS_NAMED = ("localhost", "127.0.0.1")

CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca.key"
SERVER_CERT_FILE = "server.pem"
SERVER_KEY_FILE = "server.key"

_CA_NAME = "twisted_pyhandlers test CA"


class CertificateError(ValueError):
    """A certificate or key that cannot be read, used or made."""


def defaultTLSDirectory() -> Path:
    """
    Where made certificates are kept without ``--tls-dir``:
    ``$XDG_CACHE_HOME/twisted_pyhandlers/tls``, or
    ``~/.cache/twisted_pyhandlers/tls``.
    """
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "twisted_pyhandlers" / "tls"


def hostNames(names: Iterable[str]) -> FrozenSet[str]:
    """
    ``names`` as a certificate names them: IP addresses in their normal
    form, host names lower case and IDNA-encoded label by label (the same
    codec wptserve's config uses), trailing dots dropped.
    """
    result = set()
    for name in names:
        name = name.strip().rstrip(".")
        if not name:
            continue
        try:
            result.add(str(ipaddress.ip_address(name)))
            continue
        except ValueError:
            pass
        try:
            result.add(".".join(label.encode("idna").decode("ascii") for label in name.lower().split(".")))
        except UnicodeError as e:
            raise CertificateError(f"{name!r} cannot be named in a certificate: {e}") from e
    return frozenset(result)


def spkiPin(certificate: x509.Certificate) -> str:
    """
    The base64 SHA-256 of the certificate's SubjectPublicKeyInfo: the value
    Chromium's ``--ignore-certificate-errors-spki-list`` takes.
    """
    der = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(der).digest()).decode("ascii")


@dataclass(frozen=True)
class ServerCertificate:
    """
    What a TLS listener presents: a key, its certificate and the chain
    after it.  ``caPath`` is the made CA's file (``None`` for the user's own
    certificate).
    """

    key: CertificateIssuerPrivateKeyTypes
    certificate: x509.Certificate
    chain: Tuple[x509.Certificate, ...]
    certPath: Path
    keyPath: Path
    caPath: Optional[Path] = None

    @property
    def pin(self) -> str:
        """The SPKI pin of the server key (see :func:`spkiPin`)."""
        return spkiPin(self.certificate)

    def names(self) -> FrozenSet[str]:
        """The DNS names and IP addresses the certificate is valid for."""
        return _subjectAltNames(self.certificate)

    def contextFactory(self) -> CertificateOptions:
        """
        A new TLS context factory presenting this certificate: call it once
        per listener, so each has its own context.  It names no ALPN
        protocols of its own: the ``Site`` behind the listener decides them,
        and a client offering none of them still completes its handshake
        (see :mod:`twisted_pyhandlers._alpn`).
        """
        return LenientALPNOptions(
            privateKey=crypto.PKey.from_cryptography_key(self.key),  # type: ignore[arg-type]
            certificate=crypto.X509.from_cryptography(self.certificate),
            extraCertChain=[crypto.X509.from_cryptography(c) for c in self.chain],
        )


def loadServerCertificate(certPath: Union[str, Path], keyPath: Union[str, Path]) -> ServerCertificate:
    """
    The user's own certificate (PEM; the file may hold the chain after the
    server certificate) and its key (PEM, unencrypted).

    :raises CertificateError: one line naming the file, for a missing or
        unreadable file, or a key that does not belong to the certificate.
    """
    certPath, keyPath = Path(certPath).absolute(), Path(keyPath).absolute()
    certificates = _readCertificates(certPath)
    key = _readKey(keyPath)
    if not _sameKey(certificates[0], key):
        raise CertificateError(f"--tls-key {keyPath} is not the key of the certificate in {certPath}")
    return ServerCertificate(key, certificates[0], tuple(certificates[1:]), certPath, keyPath)


def makeServerCertificate(
    directory: Union[str, Path],
    names: Iterable[str],
    now: Optional[datetime.datetime] = None,
) -> ServerCertificate:
    """
    The made certificate for ``names`` in ``directory``: reused when the
    files there are a CA and a server certificate it signed that are valid
    for at least :data:`RENEW_BEFORE` after ``now`` and name exactly these
    hosts; otherwise made again (a new CA only when the CA itself is not
    usable; the server key is kept when it is readable).

    :param names: host names and IP addresses, besides :data:`ALWAYS_NAMED`.
    :param now: the time to judge validity by (default: the current time).
    :raises CertificateError: one line, when the directory cannot be
        written or read.
    """
    directory = Path(directory).absolute()
    now = now if now is not None else datetime.datetime.now(datetime.timezone.utc)
    wanted = hostNames([*names, *ALWAYS_NAMED])
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        caKey, caCert = _usableCA(directory, now)
        if caKey is None or caCert is None:
            caKey = ec.generate_private_key(ec.SECP256R1())
            caCert = _caCertificate(caKey, now)
            _writeKey(directory / CA_KEY_FILE, caKey)
            _writeFile(directory / CA_CERT_FILE, caCert.public_bytes(serialization.Encoding.PEM))
        serverCert, serverKey = _usableServer(directory, caCert, wanted, now)
        if serverCert is None or serverKey is None:
            serverKey = _existingKey(directory / SERVER_KEY_FILE)
            if serverKey is None:
                serverKey = ec.generate_private_key(ec.SECP256R1())
                _writeKey(directory / SERVER_KEY_FILE, serverKey)
            serverCert = _serverCertificate(serverKey, caKey, caCert, wanted, now)
            _writeFile(directory / SERVER_CERT_FILE, serverCert.public_bytes(serialization.Encoding.PEM))
    except OSError as e:
        raise CertificateError(f"--tls-dir {directory}: {e.strerror or e}") from e
    return ServerCertificate(
        serverKey,
        serverCert,
        (),
        directory / SERVER_CERT_FILE,
        directory / SERVER_KEY_FILE,
        caPath=directory / CA_CERT_FILE,
    )


# -- making -----------------------------------------------------------------


def _caCertificate(key: ec.EllipticCurvePrivateKey, now: datetime.datetime) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "twisted_pyhandlers"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{_CA_NAME} {now:%Y-%m-%d %H:%M:%S}"),
        ]
    )
    publicKey = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(publicKey)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(publicKey), critical=False)
        .sign(key, hashes.SHA256())
    )


def _serverCertificate(
    key: CertificateIssuerPrivateKeyTypes,
    caKey: CertificateIssuerPrivateKeyTypes,
    caCert: x509.Certificate,
    names: FrozenSet[str],
    now: datetime.datetime,
) -> x509.Certificate:
    dnsNames: List[x509.GeneralName] = []
    addresses: List[x509.GeneralName] = []
    for name in sorted(names):
        try:
            addresses.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            dnsNames.append(x509.DNSName(name))
    commonName = next((n.value for n in dnsNames), "localhost")
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, commonName)]))
        .issuer_name(caCert.subject)
        .public_key(key.public_key())  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(min(now + SERVER_LIFETIME, caCert.not_valid_after_utc))
        .add_extension(x509.SubjectAlternativeName(dnsNames + addresses), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)  # type: ignore[arg-type]
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(caKey.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(caKey, hashes.SHA256())
    )


def _writeFile(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` atomically (a reader sees the old or the new file)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(temporary, path)


def _writeKey(path: Path, key: CertificateIssuerPrivateKeyTypes) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _writeFile(path, data, mode=0o600)


# -- reusing ----------------------------------------------------------------


def _usableCA(
    directory: Path, now: datetime.datetime
) -> Tuple[Optional[CertificateIssuerPrivateKeyTypes], Optional[x509.Certificate]]:
    key = _existingKey(directory / CA_KEY_FILE)
    try:
        cert = x509.load_pem_x509_certificate((directory / CA_CERT_FILE).read_bytes())
    except (OSError, ValueError):
        return None, None
    if key is None or not _sameKey(cert, key) or not _validAt(cert, now):
        return None, None
    return key, cert


def _usableServer(
    directory: Path, caCert: x509.Certificate, names: FrozenSet[str], now: datetime.datetime
) -> Tuple[Optional[x509.Certificate], Optional[CertificateIssuerPrivateKeyTypes]]:
    key = _existingKey(directory / SERVER_KEY_FILE)
    try:
        cert = x509.load_pem_x509_certificate((directory / SERVER_CERT_FILE).read_bytes())
    except (OSError, ValueError):
        return None, None
    if key is None or not _sameKey(cert, key) or not _validAt(cert, now):
        return None, None
    if _subjectAltNames(cert) != names or not _signedBy(cert, caCert):
        return None, None
    return cert, key


def _existingKey(path: Path) -> Optional[CertificateIssuerPrivateKeyTypes]:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    return key  # type: ignore[return-value]


def _validAt(cert: x509.Certificate, now: datetime.datetime) -> bool:
    return cert.not_valid_before_utc <= now and now + RENEW_BEFORE < cert.not_valid_after_utc


def _signedBy(cert: x509.Certificate, caCert: x509.Certificate) -> bool:
    if cert.issuer != caCert.subject:
        return False
    try:
        cert.verify_directly_issued_by(caCert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _sameKey(cert: x509.Certificate, key: CertificateIssuerPrivateKeyTypes) -> bool:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return bool(
        cert.public_key().public_bytes(serialization.Encoding.DER, spki)
        == key.public_key().public_bytes(serialization.Encoding.DER, spki)
    )


def _subjectAltNames(cert: x509.Certificate) -> FrozenSet[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return frozenset()
    names = {str(n) for n in san.get_values_for_type(x509.DNSName)}
    names.update(str(a) for a in san.get_values_for_type(x509.IPAddress))
    return frozenset(names)


# -- reading the user's own -----------------------------------------------------


def _readCertificates(path: Path) -> List[x509.Certificate]:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CertificateError(f"--tls-cert {path}: {e.strerror or e}") from e
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as e:
        raise CertificateError(f"--tls-cert {path}: not a PEM certificate ({e})") from e
    return certificates


def _readKey(path: Path) -> CertificateIssuerPrivateKeyTypes:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CertificateError(f"--tls-key {path}: {e.strerror or e}") from e
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise CertificateError(f"--tls-key {path}: not an unencrypted PEM private key ({e})") from e
    return key  # type: ignore[return-value]
