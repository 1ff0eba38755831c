"""TLS in front of the API: a demo certificate authority, a server certificate it signs,
and :mod:`demo.tls_proxy` serving it on a loopback port.

Production terminates TLS in a reverse proxy with a certificate in
``/etc/ssl/orchestrator/``; the demo does the same with a CA of its own, generated for
each stack (``STATE/tls/ca.pem``, the trust anchor clients are given) and a leaf for
``localhost`` and ``127.0.0.1`` valid for 90 days (``server.pem`` holds the leaf then the
CA, ``server.key`` is mode 0600). golive's ``infrastructure.tls`` checks the endpoint
against ``ca.pem``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import sys
from functools import partial
from pathlib import Path

from demo.stack import procs
from demo.stack.app import python_env
from demo.stack.model import Stack

VALID_DAYS = 90


def write_certificates(folder: Path, days: int = VALID_DAYS) -> tuple[Path, Path, Path]:
    """Create ca.pem, server.pem (leaf + CA) and server.key in ``folder``; return them."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "golive demo CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days + 30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_file.write_bytes(ca.public_bytes(pem))
    cert_file.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
    return ca_file, cert_file, key_file


def start(stack: Stack, attempts: int = 3) -> None:
    """Generate the certificates and start the proxy in front of the API."""
    ca_file, cert_file, key_file = write_certificates(stack.state_dir / "tls")
    log = stack.state_dir / "logs" / "tls_proxy.log"
    for attempt in range(attempts):
        port = procs.free_port()
        pid = procs.spawn(
            [
                sys.executable,
                "-m",
                "demo.tls_proxy",
                "--listen",
                f"127.0.0.1:{port}",
                "--upstream",
                f"127.0.0.1:{stack.ports['api']}",
                "--cert",
                str(cert_file),
                "--key",
                str(key_file),
            ],
            log,
            env=python_env(),
            cwd=stack.state_dir,
        )
        try:
            procs.wait_until(
                partial(procs.port_open, port), 20, "tls_proxy", alive=partial(procs.alive, pid)
            )
        except (RuntimeError, TimeoutError) as exc:
            procs.kill_group(pid)
            if attempt == attempts - 1:
                raise procs.ServiceFailed("tls_proxy", str(exc), log) from None
            continue
        stack.pids["tls_proxy"] = pid
        stack.ports["tls"] = port
        stack.paths.update(tls_ca=str(ca_file), tls_cert=str(cert_file), tls_log=str(log))
        return
