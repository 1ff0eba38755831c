"""TLS certificate inspection shared by `infrastructure.tls` and the generic `tls` check.

A certificate comes from a PEM/DER file (leaf first, then any intermediates) or from a
live endpoint (host:port). Either way golive reports the days left, whether the chain
verifies against the trust store (the system's, or a CA file), and whether the name
clients use matches. For an endpoint the verdict is OpenSSL's own, from a verifying
handshake: exactly what a client would experience. For a file, cryptography's X.509
verifier (RFC 5280 / CA/B profile) checks the chain.

cryptography is imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from golive.models import Outcome

if TYPE_CHECKING:
    from cryptography.x509 import Certificate


@dataclass(frozen=True)
class CertInfo:
    """What a report shows about one certificate."""

    subject: str
    issuer: str
    names: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    serial: str
    sha256: str
    self_signed: bool

    def days_left(self, now: datetime) -> float:
        """Days until expiry (negative once expired)."""
        return (self.not_after - now).total_seconds() / 86400

    def as_evidence(self, now: datetime) -> dict[str, Any]:
        """A JSON-able description for a report."""
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "names": list(self.names),
            "not_before": self.not_before.isoformat(timespec="seconds"),
            "not_after": self.not_after.isoformat(timespec="seconds"),
            "days_left": round(self.days_left(now), 1),
            "serial": self.serial,
            "sha256": self.sha256,
            "self_signed": self.self_signed,
        }


def load_chain(data: bytes) -> list[Certificate]:
    """Certificates from PEM (one or more, leaf first) or DER bytes; ValueError if none."""
    from cryptography import x509

    if b"-----BEGIN CERTIFICATE-----" in data:
        return list(x509.load_pem_x509_certificates(data))
    return [x509.load_der_x509_certificate(data)]


def describe(cert: Certificate) -> CertInfo:
    """Subject, issuer, names, validity and fingerprint of a certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    names: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names += [str(n) for n in san.get_values_for_type(x509.DNSName)]
        names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        names=tuple(names),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        serial=format(cert.serial_number, "x"),
        sha256=cert.fingerprint(hashes.SHA256()).hex(),
        self_signed=cert.subject == cert.issuer,
    )


def hostname_matches(names: Sequence[str], hostname: str) -> bool:
    """True when `hostname` matches one of the certificate's names (RFC 6125 wildcards:
    `*.example.com` covers exactly one label)."""
    host = hostname.lower().rstrip(".")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    for name in names:
        pattern = name.lower().rstrip(".")
        if ip is not None:
            try:
                if ipaddress.ip_address(pattern) == ip:
                    return True
            except ValueError:
                continue
            continue
        if pattern == host:
            return True
        if pattern.startswith("*.") and "." in host:
            first, rest = host.split(".", 1)
            if first and rest == pattern[2:]:
                return True
    return False


def _trust_store(ca_file: str | None, ca_pem: bytes | None = None) -> list[Certificate]:
    from cryptography import x509

    if ca_pem is not None:
        return list(x509.load_pem_x509_certificates(ca_pem))
    path = (
        ca_file
        or ssl.get_default_verify_paths().cafile
        or ssl.get_default_verify_paths().openssl_cafile
    )
    with open(path, "rb") as fh:
        return list(x509.load_pem_x509_certificates(fh.read()))


def verify_file_chain(
    chain: Sequence[Certificate],
    ca_file: str | None,
    now: datetime,
    ca_pem: bytes | None = None,
) -> str | None:
    """None when the chain (leaf first) verifies up to a trusted root, else the reason.
    `ca_pem`, when given, is the content of `ca_file` (read on a host by the caller).

    The name check and the leaf's own expiry are reported separately, so the chain is
    verified for one of the leaf's own names, at a moment inside the leaf's validity."""
    from cryptography import x509
    from cryptography.x509 import verification as v

    leaf = chain[0]
    info = describe(leaf)
    if not info.names:
        return "has no subjectAltName, which clients require"
    try:
        roots = _trust_store(ca_file, ca_pem)
    except (OSError, ValueError) as exc:
        store = ca_file or "(system default)"
        return f"could not be verified: cannot read the trust store {store}: {exc}"
    moment = min(
        max(now, info.not_before + timedelta(seconds=1)), info.not_after - timedelta(seconds=1)
    )
    name = info.names[0]
    subject: x509.GeneralName
    try:
        subject = x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        subject = x509.DNSName(name.replace("*", "wildcard", 1))
    verifier = v.PolicyBuilder().store(v.Store(roots)).time(moment).build_server_verifier(subject)
    try:
        verifier.verify(leaf, list(chain[1:]))
    except (v.VerificationError, ValueError) as exc:
        return f"does not chain to a root trusted by {ca_file or 'the system trust store'}: {exc}"
    return None


@dataclass
class EndpointProbe:
    """A live endpoint's certificate and a client's verdict on it."""

    leaf: Certificate | None = None
    error: str | None = None  # could not connect / no TLS at all
    verify_error: str | None = None  # OpenSSL's verification message, None when valid
    verify_code: int | None = None
    protocol: str | None = None
    cipher: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


async def _handshake(
    host: str, port: int, ctx: ssl.SSLContext, server_name: str, timeout: float
) -> tuple[bytes | None, str | None, str | None]:
    _, writer = await asyncio.wait_for(
        asyncio.open_connection(
            host, port, ssl=ctx, server_hostname=server_name, ssl_handshake_timeout=timeout
        ),
        timeout,
    )
    try:
        sslobj = writer.get_extra_info("ssl_object")
        der = sslobj.getpeercert(binary_form=True) if sslobj is not None else None
        version = sslobj.version() if sslobj is not None else None
        cipher = sslobj.cipher() if sslobj is not None else None
        return der, version, cipher[0] if cipher else None
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError, asyncio.TimeoutError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 2)


async def probe_endpoint(
    host: str,
    port: int,
    *,
    server_name: str,
    ca_file: str | None,
    timeout: float,
    check_hostname: bool = True,
) -> EndpointProbe:
    """Handshake with verification (the client's verdict), then, if that failed, once
    more without it to read the certificate anyway."""
    from cryptography import x509

    out = EndpointProbe()
    verifying = ssl.create_default_context(cafile=ca_file)
    verifying.check_hostname = check_hostname
    der: bytes | None = None
    try:
        der, out.protocol, out.cipher = await _handshake(
            host, port, verifying, server_name, timeout
        )
    except ssl.SSLCertVerificationError as exc:
        out.verify_error = exc.verify_message or str(exc)
        out.verify_code = exc.verify_code
    except (asyncio.TimeoutError, TimeoutError):
        out.error = f"no TLS handshake with {host}:{port} within {timeout:g}s"
        return out
    except ssl.SSLError as exc:
        out.error = f"TLS handshake with {host}:{port} failed: {exc.reason or exc}"
        return out
    except OSError as exc:
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        out.error = f"cannot connect to {host}:{port}: {reason}"
        return out
    if der is None:
        lenient = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        lenient.check_hostname = False
        lenient.verify_mode = ssl.CERT_NONE
        try:
            der, out.protocol, out.cipher = await _handshake(
                host, port, lenient, server_name, timeout
            )
        except (OSError, ssl.SSLError, asyncio.TimeoutError, TimeoutError) as exc:
            out.error = f"cannot read the certificate of {host}:{port}: {exc}"
            return out
    if der:
        out.leaf = x509.load_der_x509_certificate(der)
    else:
        out.error = f"{host}:{port} presented no certificate"
    return out


def judge(
    label: str,
    info: CertInfo,
    *,
    now: datetime,
    warn_days: int,
    fail_days: int,
    chain_error: str | None,
    hostname: str | None,
    hostname_ok: bool | None,
    evidence: dict[str, Any],
) -> Outcome:
    """The outcome for one certificate: expiry, chain and name problems, worst first."""
    days = info.days_left(now)
    evidence = {**evidence, "certificate": info.as_evidence(now)}
    measurements = {"days_left": round(days, 2)}
    fails: list[str] = []
    if days < 0:
        fails.append(f"expired {-days:.0f} days ago ({info.not_after:%Y-%m-%d})")
    elif days < fail_days:
        fails.append(f"expires in {days:.1f} days ({info.not_after:%Y-%m-%d}), under {fail_days}")
    if chain_error:
        fails.append(chain_error)
    if hostname_ok is False:
        shown = ", ".join(info.names) or "none"
        fails.append(f"is not valid for {hostname} (names: {shown})")
    if fails:
        return Outcome.failed(
            f"The certificate of {label} " + "; ".join(fails),
            evidence=evidence,
            measurements=measurements,
        )
    checked = [] if evidence.get("chain") == "not checked" else ["the chain verifies"]
    if hostname_ok:
        checked.append(f"it is valid for {hostname}")
    extra = f"; {' and '.join(checked)}" if checked else ""
    if days < warn_days:
        return Outcome.warn(
            f"The certificate of {label} expires in {days:.0f} days ({info.not_after:%Y-%m-%d}), "
            f"under the {warn_days}-day warning threshold{extra}",
            evidence=evidence,
            measurements=measurements,
        )
    return Outcome.passed(
        f"The certificate of {label} is valid for {days:.0f} more days{extra}",
        evidence=evidence,
        measurements=measurements,
    )


async def evaluate(
    *,
    cert_file: str | None,
    endpoint: str | None,
    hostname: str | None,
    ca_file: str | None,
    warn_days: int,
    fail_days: int,
    verify_chain: bool,
    verify_hostname: bool,
    timeout: float,
    read: Callable[[str], Awaitable[bytes]] | None = None,
) -> Outcome:
    """Inspect a certificate file or an endpoint and judge it (the body of both TLS checks).
    `read` reads `cert_file` and `ca_file` (default: on the machine golive runs on; a
    host-level check passes its host's reader)."""
    now = datetime.now(timezone.utc)
    if endpoint:
        host, sep, port_text = endpoint.rpartition(":")
        if not sep or not port_text.isdigit() or not host:
            return Outcome.error(
                f"endpoint {endpoint!r} is not host:port (e.g. api.example.com:443)"
            )
        host = host.strip("[]")
        name = hostname or host
        probe = await probe_endpoint(
            host,
            int(port_text),
            server_name=name,
            ca_file=ca_file,
            timeout=timeout,
            check_hostname=verify_hostname,
        )
        if probe.error or probe.leaf is None:
            text = probe.error or f"{endpoint} presented no certificate"
            return Outcome.failed(text[:1].upper() + text[1:], evidence={"endpoint": endpoint})
        info = describe(probe.leaf)
        evidence: dict[str, Any] = {
            "endpoint": endpoint,
            "server_name": name,
            "protocol": probe.protocol,
            "cipher": probe.cipher,
        }
        hostname_ok = hostname_matches(info.names, name) if verify_hostname else None
        chain_error: str | None = None
        message = probe.verify_error or ""
        if message and not (
            verify_hostname and "hostname" in message.lower() and hostname_ok is False
        ):
            chain_error = (
                f"does not verify: {message}" if "expired" not in message.lower() else None
            )
        if not verify_chain:
            chain_error = None
            evidence["chain"] = "not checked"
        evidence["verification"] = message or "ok"
        return judge(
            endpoint,
            info,
            now=now,
            warn_days=warn_days,
            fail_days=fail_days,
            chain_error=chain_error,
            hostname=name,
            hostname_ok=hostname_ok,
            evidence=evidence,
        )
    if not cert_file:
        return Outcome.error("Neither cert_file nor endpoint is set")
    try:
        data = (
            await read(cert_file)
            if read is not None
            else await asyncio.to_thread(Path(cert_file).read_bytes)
        )
    except FileNotFoundError:
        return Outcome.failed(
            f"Certificate file {cert_file} does not exist", evidence={"cert_file": cert_file}
        )
    except OSError as exc:
        return Outcome.failed(
            f"Certificate file {cert_file} cannot be read: {exc.strerror}",
            evidence={"cert_file": cert_file},
        )
    try:
        chain = load_chain(data)
    except ValueError as exc:
        return Outcome.failed(
            f"{cert_file} holds no readable certificate: {exc}", evidence={"cert_file": cert_file}
        )
    info = describe(chain[0])
    evidence = {"cert_file": cert_file, "chain_length": len(chain)}
    ca_pem: bytes | None = None
    chain_error = None
    if verify_chain and ca_file and read is not None:
        try:
            ca_pem = await read(ca_file)
        except OSError as exc:
            chain_error = f"could not be verified: cannot read the trust store {ca_file}: {exc}"
    if verify_chain and chain_error is None:
        chain_error = verify_file_chain(chain, ca_file, now, ca_pem)
    if not verify_chain:
        evidence["chain"] = "not checked"
    hostname_ok = hostname_matches(info.names, hostname) if (hostname and verify_hostname) else None
    if hostname is None:
        evidence["hostname"] = "not checked (no hostname given)"
    return judge(
        cert_file,
        info,
        now=now,
        warn_days=warn_days,
        fail_days=fail_days,
        chain_error=chain_error,
        hostname=hostname,
        hostname_ok=hostname_ok,
        evidence=evidence,
    )
