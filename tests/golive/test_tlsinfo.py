"""golive/tlsinfo.py: name matching and certificate reading (the checks' tests cover the
verdicts against real files and a real TLS server)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from golive.tlsinfo import describe, hostname_matches, load_chain
from tests.checks.certs import Pki


@pytest.mark.parametrize(
    ("names", "host", "ok"),
    [
        (["api.example.test"], "api.example.test", True),
        (["API.example.test."], "api.EXAMPLE.test", True),
        (["*.example.test"], "api.example.test", True),
        (["*.example.test"], "a.b.example.test", False),  # a wildcard covers one label
        (["*.example.test"], "example.test", False),
        (["127.0.0.1"], "127.0.0.1", True),
        (["::1"], "0:0:0:0:0:0:0:1", True),
        (["localhost"], "127.0.0.1", False),
        ([], "anything", False),
    ],
)
def test_hostname_matches(names: list[str], host: str, ok: bool) -> None:
    assert hostname_matches(names, host) is ok


def test_load_chain_pem_and_der_and_describe(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    pki = Pki(tmp_path)
    cert_path, _ = pki.leaf("leaf", ["api.example.test", "10.0.0.1"], days_left=10)
    chain = load_chain(cert_path.read_bytes() + pki.ca_file.read_bytes())
    assert len(chain) == 2
    der = chain[0].public_bytes(serialization.Encoding.DER)
    assert load_chain(der)[0] == chain[0]
    info = describe(chain[0])
    assert info.names == ("api.example.test", "10.0.0.1")
    assert info.issuer == "CN=golive test CA" and not info.self_signed
    assert 9.9 < info.days_left(datetime.now(timezone.utc)) <= 10
    with pytest.raises(ValueError):
        load_chain(b"not a certificate")
