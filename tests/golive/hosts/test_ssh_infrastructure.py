"""Infrastructure checks over real SSH: each host's certificate files, backup directory and
listening ports give that host its own verdict.

The hosts are real OpenSSH servers on 127.0.0.1 (see conftest.py), each with its own copy
of the deployed project at the same path.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.checks.certs import Pki
from tests.conftest import tool
from tests.golive.hosts.conftest import host_config
from tests.golive.hosts.test_ssh_hosts import golive, run_json, verdicts

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


LISTEN = (
    "import socket, sys, time\n"
    "s = socket.socket()\n"
    "s.bind(('127.0.0.1', int(sys.argv[1])))\n"
    "s.listen()\n"
    "print('listening', flush=True)\n"
    "time.sleep(600)\n"
)


@pytest.fixture
def host2_own_network(hosts: Any) -> Iterator[tuple[Any, list[str]]]:
    """host2's SFTP server in a network namespace of its own (`unshare --net`, held by a
    process of this fixture), so that its /proc/net/tcp shows other sockets than host1's;
    yields host2 and the argv prefix that runs a program in that namespace. host2 gets its
    default sshd back afterwards."""
    h2 = hosts.hosts[1]
    holder = subprocess.Popen([tool("unshare"), "--net", "sleep", "600"], stdin=subprocess.DEVNULL)
    try:
        netns = f"--net=/proc/{holder.pid}/ns/net"
        for _ in range(100):  # unshare has made the namespace once it runs sleep
            if os.readlink(f"/proc/{holder.pid}/ns/net") != os.readlink("/proc/self/ns/net"):
                break
            time.sleep(0.05)
        sftp = f"{tool('nsenter')} {netns} {tool('sftp-server')}"
        hosts.restart(h2, {"Subsystem": f"sftp {sftp}"})
        yield h2, [tool("nsenter"), netns]
    finally:
        holder.kill()
        holder.wait()
        hosts.restart(h2, {})


def _listen(prefix: list[str], port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [*prefix, sys.executable, "-c", LISTEN, str(port)],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "listening\n"
    return proc


def test_ports_are_those_listening_on_each_host(
    tmp_path: Path, hosts: Any, host2_own_network: tuple[Any, list[str]]
) -> None:
    from demo.stack import procs

    _, in_host2 = host2_own_network
    api, worker = procs.free_port(), procs.free_port()
    listeners = [_listen([], api), _listen(in_host2, worker)]  # api on host1, worker on host2
    try:

        def ports(mapping: dict[str, int]) -> dict[tuple[str, str | None], tuple[str, str]]:
            check = {"id": "infrastructure.ports", "params": {"ports": mapping}}
            cfg = host_config(tmp_path, hosts, {"infrastructure": [check]})
            run, _ = run_json(tmp_path, cfg)
            return verdicts(run)

        v = ports({"api": api})
        assert v[("infrastructure.ports", "host1")] == (
            "PASS",
            "All 1 service ports are listening on host host1",
        )
        assert v[("infrastructure.ports", "host2")] == (
            "FAIL",
            f"1 of 1 service ports are not listening on host host2: api ({api}: not listening)",
        )
        v = ports({"api": api, "worker": worker})
        assert v[("infrastructure.ports", "host1")] == (
            "FAIL",
            f"1 of 2 service ports are not listening on host host1: "
            f"worker ({worker}: not listening)",
        )
        assert v[("infrastructure.ports", "host2")] == (
            "FAIL",
            f"1 of 2 service ports are not listening on host host2: api ({api}: not listening)",
        )
    finally:
        for p in listeners:
            p.kill()
            p.wait()


# ---------------------------------------------------------------------------------------------
# the container engine on a host: its socket forwarded over that host's SSH connection


def _engine_config(
    tmp_path: Path, hosts: Any, docker: dict[str, Any], checks: list[dict[str, Any]]
) -> str:
    return host_config(
        tmp_path,
        hosts,
        {
            section: picked
            for section in ("security", "infrastructure")
            if (picked := [c for c in checks if c["id"].startswith(section + ".")])
        },
        targets_extra={"docker": docker},
    )


def test_the_engine_on_a_host_is_reached_over_its_ssh_connection(
    tmp_path: Path, hosts: Any, stack_containers: Any
) -> None:
    """The stack's podman socket, reached through host1's SSH connection (pinned key): the
    engine check reads the engine's version and the host's resources through the forwarded
    socket and looks for the compose CLI on host1; container_hardening lists and inspects
    the stack's containers through it."""
    sock = stack_containers.docker_host.removeprefix("unix://")
    engine = {
        "id": "infrastructure.engine",
        "params": {"compose_commands": [f"{sys.executable} -m podman_compose"], "min_cpus": 1},
    }
    docker = {"host": "host1", "socket": sock, "compose_project": stack_containers.compose_project}
    cfg = _engine_config(tmp_path, hosts, docker, [engine, {"id": "security.container_hardening"}])
    run, _ = run_json(tmp_path, cfg)
    v = verdicts(run)
    status, summary = v[("infrastructure.engine", None)]
    assert status == "PASS", summary
    assert summary.startswith("podman ") and " on host host1 with " in summary, summary
    assert "compose CLI: " in summary and "podman_compose" in summary
    status, summary = v[("security.container_hardening", None)]
    assert status == "PASS", summary
    assert summary.startswith("9 containers run unprivileged"), summary
    assert run["targets"]["docker"].startswith(f"{sock} on host host1 (ssh://")
    # the forwarded socket golive made is gone after the run
    assert not list(Path(tempfile.gettempdir()).glob("golive-ssh-*/forward.sock"))

    # a real failure through the same path: the engine is older than a minimum
    engine["params"]["min_versions"] = {"podman": "99.0"}
    cfg = _engine_config(tmp_path, hosts, docker, [engine])
    run, _ = run_json(tmp_path, cfg)
    status, summary = verdicts(run)[("infrastructure.engine", None)]
    assert status == "FAIL" and "is older than the minimum 99.0" in summary, summary

    # base_url: ssh://... naming host2's address takes the same path, with host2's keys
    ssh_url = hosts.golive_block()[1]["ssh"]
    by_url = {"base_url": ssh_url, "socket": sock}
    cfg = _engine_config(tmp_path, hosts, by_url, [{**engine, "params": {"min_cpus": 1}}])
    run, _ = run_json(tmp_path, cfg)
    status, summary = verdicts(run)[("infrastructure.engine", None)]
    assert status == "PASS" and " on host host2 with " in summary, summary
    assert run["targets"]["docker"] == f"{sock} on host host2 ({ssh_url})"

    # no compose CLI on host1: looked for there, and named so
    engine["params"] = {"compose_commands": ["golive-no-such-compose"], "min_cpus": 1}
    cfg = _engine_config(tmp_path, hosts, docker, [engine])
    run, _ = run_json(tmp_path, cfg)
    status, summary = verdicts(run)[("infrastructure.engine", None)]
    assert status == "PASS", summary
    assert summary.endswith(
        "compose CLI check skipped: none of golive-no-such-compose answers on PATH on host host1"
    )


def test_an_engine_socket_missing_on_the_host_skips_with_the_reason(
    tmp_path: Path, hosts: Any
) -> None:
    missing = f"{hosts.mount_at}/no-engine.sock"
    docker = {"host": "host2", "socket": missing}
    cfg = _engine_config(tmp_path, hosts, docker, [{"id": "infrastructure.engine"}])
    run, _ = run_json(tmp_path, cfg)
    assert verdicts(run)[("infrastructure.engine", None)] == (
        "SKIP",
        f"docker unreachable: container engine at {missing} on host host2: "
        f"no socket at {missing} on host host2",
    )
    # a path that exists but is not a socket
    docker["socket"] = f"{hosts.mount_at}/.env"
    cfg = _engine_config(tmp_path, hosts, docker, [{"id": "infrastructure.engine"}])
    run, _ = run_json(tmp_path, cfg)
    status, summary = verdicts(run)[("infrastructure.engine", None)]
    assert status == "SKIP" and summary.endswith(
        f"{hosts.mount_at}/.env on host host2 is not a socket"
    )

    # a socket there, but host2's sshd refuses stream-local forwarding
    h2 = hosts.hosts[1]
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(tmp_path / "engine.sock"))
    listener.listen(1)
    hosts.restart(h2, {"AllowStreamLocalForwarding": "no"})
    try:
        docker["socket"] = str(tmp_path / "engine.sock")
        cfg = _engine_config(tmp_path, hosts, docker, [{"id": "infrastructure.engine"}])
        run, _ = run_json(tmp_path, cfg)
    finally:
        hosts.restart(h2, {})
        listener.close()
    status, summary = verdicts(run)[("infrastructure.engine", None)]
    assert status == "SKIP", summary
    assert f"did not connect to {tmp_path / 'engine.sock'}" in summary, summary
    assert "AllowStreamLocalForwarding" in summary


def test_an_engine_on_an_unknown_host_is_a_located_config_error(tmp_path: Path, hosts: Any) -> None:
    cfg = _engine_config(tmp_path, hosts, {"host": "hots1"}, [{"id": "infrastructure.engine"}])
    done = golive("validate", "--config", cfg)
    assert done.returncode == 2
    assert "targets.docker.host" in done.stderr + done.stdout
    assert "no host is named 'hots1'" in done.stderr + done.stdout
