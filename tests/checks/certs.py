"""Real X.509 certificates for the TLS tests, made with `cryptography`, and a loopback TLS
server that presents them (host:port mode).

`Pki(dir)` makes a CA; `pki.leaf(...)` issues a server certificate valid (or expired, or
expiring) for the given names; `self_signed(dir, ...)` makes one no CA vouches for (the
tests that need a self-signed server certificate all use it).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _san(names: list[str]) -> x509.SubjectAlternativeName:
    out: list[x509.GeneralName] = []
    for n in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            out.append(x509.DNSName(n))
    return x509.SubjectAlternativeName(out)


class Pki:
    """A test CA in `directory`, and server certificates it issues."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.ca_key = _key()
        now = datetime.now(timezone.utc)
        ski = x509.SubjectKeyIdentifier.from_public_key(self.ca_key.public_key())
        self.ca = (
            x509.CertificateBuilder()
            .subject_name(_name("golive test CA"))
            .issuer_name(_name("golive test CA"))
            .public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=30))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .sign(self.ca_key, hashes.SHA256())
        )
        self.ca_file = directory / "ca.pem"
        self.ca_file.write_bytes(self.ca.public_bytes(serialization.Encoding.PEM))

    def leaf(
        self,
        name: str,
        names: list[str],
        *,
        days_left: float = 90,
        issuer_signed: bool = True,
    ) -> tuple[Path, Path]:
        """A server certificate for `names` expiring in `days_left` days (negative: expired
        that long ago); signed by the CA, or by itself with `issuer_signed=False`."""
        if not issuer_signed:
            return self_signed(self.dir, name, names, days_left=days_left)
        key = _key()
        cert = _server_cert(names, key, self.ca_key, self.ca.subject, days_left)
        return _write(self.dir, name, cert, key)


def self_signed(
    directory: Path, name: str, names: list[str], *, days_left: float = 90
) -> tuple[Path, Path]:
    """A server certificate for `names` that no CA vouches for (its own key signs it),
    expiring in `days_left` days, written as NAME.pem and NAME.key in `directory`. A client
    given the certificate itself as its trust anchor accepts it; any other client refuses
    it ("self-signed certificate")."""
    key = _key()
    return _write(directory, name, _server_cert(names, key, key, _name(names[0]), days_left), key)


def _server_cert(
    names: list[str],
    key: ec.EllipticCurvePrivateKey,
    signer_key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    days_left: float,
) -> x509.Certificate:
    now = datetime.now(timezone.utc)
    not_after = now + timedelta(days=days_left)
    not_before = min(now, not_after) - timedelta(days=60)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(_san(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
            critical=False,
        )
    )
    return builder.sign(signer_key, hashes.SHA256())


def _write(
    directory: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> tuple[Path, Path]:
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextmanager
def tls_server(cert: Path, key: Path) -> Iterator[int]:
    """A TLS server on 127.0.0.1 (a free port) that completes handshakes with `cert` and
    closes; yields the port. Stopped on exit."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass
            finally:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        sock.close()
