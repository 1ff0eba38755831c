"""Infrastructure checks over real SSH: each host's certificate files, backup directory and
listening ports give that host its own verdict.

The hosts are real OpenSSH servers on 127.0.0.1 (see conftest.py), each with its own copy
of the deployed project at the same path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.checks.certs import Pki
from tests.golive.hosts.conftest import host_config
from tests.golive.hosts.test_ssh_hosts import run_json, verdicts

pytestmark = pytest.mark.integration


def test_tls_reads_each_hosts_certificate_files(tmp_path: Path, hosts: Any) -> None:
    h1, h2 = hosts.hosts
    pki = Pki(tmp_path)
    good, _ = pki.leaf("good", ["api.example.test"], days_left=200)
    expired, _ = pki.leaf("expired", ["api.example.test"], days_left=-5)
    for h, cert in ((h1, good), (h2, expired)):  # the same paths, another file on each host
        (h.project / "tls").mkdir()
        (h.project / "tls" / "cert.pem").write_bytes(cert.read_bytes())
        (h.project / "tls" / "ca.pem").write_bytes(pki.ca_file.read_bytes())
    check = {
        "id": "infrastructure.tls",
        "params": {
            "cert_file": "tls/cert.pem",
            "ca_file": "tls/ca.pem",
            "hostname": "api.example.test",
        },
    }
    run, _ = run_json(tmp_path, host_config(tmp_path, hosts, {"infrastructure": [check]}))
    v = verdicts(run)
    cert_path = f"{hosts.mount_at}/tls/cert.pem"
    status, summary = v[("infrastructure.tls", "host1")]
    assert status == "PASS", summary
    assert summary.endswith("; the chain verifies and it is valid for api.example.test")
    status, summary = v[("infrastructure.tls", "host2")]
    assert status == "FAIL"
    assert summary.startswith(f"The certificate of {cert_path} expired 5 days ago"), summary

    # a certificate absent from one host: SKIP there (TLS not terminated on that host), or
    # FAIL with required: true; the other host's verdict stands
    (h2.project / "tls" / "cert.pem").unlink()
    run, _ = run_json(tmp_path, host_config(tmp_path, hosts, {"infrastructure": [check]}))
    v = verdicts(run)
    assert v[("infrastructure.tls", "host1")][0] == "PASS"
    assert v[("infrastructure.tls", "host2")] == (
        "SKIP",
        f"No certificate at {cert_path} (set endpoint or cert_file, or required: true to fail)",
    )
    required = {**check, "params": {**check["params"], "required": True}}
    run, _ = run_json(tmp_path, host_config(tmp_path, hosts, {"infrastructure": [required]}))
    assert verdicts(run)[("infrastructure.tls", "host2")] == (
        "FAIL",
        f"Certificate file {cert_path} does not exist",
    )
    # the trust store is read on the host too: host1's CA file replaced by another CA
    (tmp_path / "other").mkdir()
    other = Pki(tmp_path / "other")
    (h1.project / "tls" / "ca.pem").write_bytes(other.ca_file.read_bytes())
    run, _ = run_json(tmp_path, host_config(tmp_path, hosts, {"infrastructure": [check]}))
    status, summary = verdicts(run)[("infrastructure.tls", "host1")]
    assert status == "FAIL" and "does not chain to a root trusted by" in summary, summary


def test_backup_storage_is_judged_on_each_host(tmp_path: Path, hosts: Any) -> None:
    import pwd

    h1, h2 = hosts.hosts
    nobody = pwd.getpwnam("nobody")
    for h in (h1, h2):
        (h.project / "backups").mkdir(mode=0o750)
    os.chown(h1.project / "backups", nobody.pw_uid, nobody.pw_gid)  # host1: nobody's own
    check = {
        "id": "infrastructure.backup_storage",
        "params": {"path": "backups", "user": "nobody", "min_free_gb": 0, "min_free_pct": 0},
    }
    base = hosts.mount_at.parent  # a private temporary directory: let nobody enter it
    base_mode = base.stat().st_mode & 0o7777
    base.chmod(0o755)
    try:
        run, _ = run_json(tmp_path, host_config(tmp_path, hosts, {"infrastructure": [check]}))
    finally:
        base.chmod(base_mode)
    v = verdicts(run)
    backups = f"{hosts.mount_at}/backups"
    status, summary = v[("infrastructure.backup_storage", "host1")]
    assert status == "PASS", summary
    assert summary.startswith(f"Backup directory {backups} is writable by nobody with ")
    host1 = next(r for r in run["results"] if r["host"] == "host1")
    assert host1["evidence"]["owner"] == "nobody"  # named from host1's /etc/passwd
    assert host1["evidence"]["mode"] == "0750"
    assert v[("infrastructure.backup_storage", "host2")] == (
        "FAIL",
        f"Backup directory {backups}: user nobody cannot write to {backups} "
        "(mode 0750, owner uid 0 gid 0)",
    )

    # host2 without a backup directory, host1 world-writable; the login user (root) by default
    (h2.project / "backups").rmdir()
    (h1.project / "backups").chmod(0o777)
    default_user = {**check, "params": {k: v for k, v in check["params"].items() if k != "user"}}
    run, _ = run_json(tmp_path, host_config(tmp_path, hosts, {"infrastructure": [default_user]}))
    v = verdicts(run)
    status, summary = v[("infrastructure.backup_storage", "host1")]
    assert status == "WARN", summary
    assert summary.startswith(f"Backup directory {backups} is writable by root with ")
    assert summary.endswith("but it is world-writable (mode 0777)")
    assert v[("infrastructure.backup_storage", "host2")] == (
        "FAIL",
        f"Backup directory {backups} does not exist",
    )

    unknown = {**check, "params": {**check["params"], "user": "golive-no-such-user"}}
    run, _ = run_json(tmp_path, host_config(tmp_path, hosts, {"infrastructure": [unknown]}))
    assert verdicts(run)[("infrastructure.backup_storage", "host2")] == (
        "ERROR",
        "Backup user 'golive-no-such-user' does not exist on host host2",
    )
