"""checks/infrastructure.py against real state: the podman engine of the reference stack,
tmpfs filesystems filled to a known level, listening and closed loopback ports, compose
files on disk, certificates generated with cryptography (files and a loopback TLS
server), and directories with real owners and modes."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from golive.models import Status
from golive.testing import run_check
from tests.checks.certs import Pki, tls_server

if TYPE_CHECKING:
    from demo.stack import Stack


def _ci_or_skip(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true)")
    pytest.skip(reason)


# ---------------------------------------------------------------------------------------------
# infrastructure.engine


@pytest.mark.integration
def test_engine_passes_on_the_stacks_podman(stack_containers: Stack) -> None:
    compose = [f"{sys.executable} -m podman_compose"]
    result = run_check(
        "infrastructure.engine",
        targets={"docker": {"base_url": stack_containers.docker_host}},
        params={"compose_commands": compose, "min_cpus": 1, "min_memory_gb": 0.5},
    )
    assert result.status is Status.PASS, result.summary
    assert result.summary.startswith("podman ")
    assert "compose CLI: " in result.summary and "podman_compose" in result.summary
    assert result.evidence["engine"] == "podman"
    assert result.evidence["cpus"] == os.cpu_count()
    assert result.measurements["memory_gb"] > 0


@pytest.mark.integration
def test_engine_fails_below_minimum_version_and_resources(stack_containers: Stack) -> None:
    result = run_check(
        "infrastructure.engine",
        targets={"docker": {"base_url": stack_containers.docker_host}},
        params={"min_versions": {"podman": "99.0"}, "min_cpus": 4096, "min_memory_gb": 1e6},
    )
    assert result.status is Status.FAIL
    version = result.evidence["version"]
    assert f"Podman {version} is older than the minimum 99.0" in result.summary
    assert f"the host has {os.cpu_count()} CPUs, fewer than 4096" in result.summary
    assert "GB of memory, less than 1e+06 GB" in result.summary


@pytest.mark.integration
def test_engine_skips_the_compose_part_without_a_compose_cli(stack_containers: Stack) -> None:
    target = {"docker": {"base_url": stack_containers.docker_host}}
    params: dict[str, Any] = {"compose_commands": ["golive-no-such-compose"], "min_cpus": 1}
    result = run_check("infrastructure.engine", targets=target, params=params)
    assert result.status is Status.PASS
    assert (
        "compose CLI check skipped: none of golive-no-such-compose answers on PATH"
        in result.summary
    )
    assert result.evidence["compose_cli"] == [
        {"command": "golive-no-such-compose", "result": "golive-no-such-compose not on PATH"}
    ]
    result = run_check(
        "infrastructure.engine", targets=target, params={**params, "require_compose": True}
    )
    assert result.status is Status.FAIL
    assert result.summary == "No compose CLI answers on PATH (tried golive-no-such-compose)"


def test_engine_is_skipped_when_the_engine_is_unreachable(tmp_path: Path) -> None:
    result = run_check(
        "infrastructure.engine", targets={"docker": {"base_url": f"unix://{tmp_path}/none.sock"}}
    )
    assert result.status is Status.SKIP
    assert result.summary.startswith("docker unreachable: container engine socket not found")


# ---------------------------------------------------------------------------------------------
# infrastructure.disk


@pytest.fixture
def tmpfs() -> Iterator[Any]:
    """Mount 4 MiB tmpfs filesystems on demand; each is filled to `used` MiB."""
    mounts: list[str] = []

    def make(used_kib: int) -> str:
        where = tempfile.mkdtemp(prefix="golive-disk-")
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", where],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            os.rmdir(where)
            _ci_or_skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounts.append(where)
        with open(os.path.join(where, "fill"), "wb") as fh:
            fh.write(b"\0" * used_kib * 1024)
        return where

    yield make
    for where in mounts:
        subprocess.run(["umount", where], check=True)
        os.rmdir(where)


def test_disk_passes_warns_and_fails_on_real_filesystems(tmpfs: Any) -> None:
    empty, tight, full = tmpfs(0), tmpfs(3400), tmpfs(3800)  # of 4096 KiB
    result = run_check("infrastructure.disk", params={"paths": [empty]})
    assert result.status is Status.PASS
    assert (
        result.summary
        == f"All 1 paths have at least 20% free disk space (lowest: {empty} with 100%)"
    )

    result = run_check("infrastructure.disk", params={"paths": [empty, tight]})
    assert result.status is Status.WARN
    assert result.summary.startswith(f"Free disk space is under 20% on {tight} (")
    rows = {r["path"]: r for r in result.evidence["paths"]}
    assert rows[tight]["result"] == "WARN" and rows[tight]["mount"] == tight
    assert 10 <= rows[tight]["free_pct"] < 20

    result = run_check("infrastructure.disk", params={"paths": [empty, tight, full]})
    assert result.status is Status.FAIL
    assert result.summary.startswith(f"Free disk space is under 10% on {full} (")
    assert f"free disk space is under 20% on {tight}" in result.summary
    assert result.measurements[f"free_pct[{full}]"] < 10


def test_disk_reports_missing_paths(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")
    result = run_check(
        "infrastructure.disk",
        params={"paths": [str(tmp_path), missing], "warn_below_pct": 0, "fail_below_pct": 0},
    )
    assert result.status is Status.WARN
    assert result.summary == f"{missing} does not exist; the other path has at least 0% free"
    result = run_check("infrastructure.disk", params={"paths": [missing], "missing": "fail"})
    assert result.status is Status.FAIL
    assert result.evidence["paths"] == [{"path": missing, "result": "missing"}]


# ---------------------------------------------------------------------------------------------
# infrastructure.ports


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def test_ports_pass_when_listening_and_fail_when_refused() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    open_port = listener.getsockname()[1]
    closed = _closed_port()
    try:
        result = run_check("infrastructure.ports", params={"ports": {"api": open_port}})
        assert result.status is Status.PASS
        assert result.summary == "All 1 service ports on 127.0.0.1 accept TCP connections"
        result = run_check(
            "infrastructure.ports", params={"ports": {"api": open_port, "redis": closed}}
        )
    finally:
        listener.close()
    assert result.status is Status.FAIL
    assert result.summary == (
        f"1 of 2 service ports on 127.0.0.1 do not accept connections: "
        f"redis ({closed}: connection refused)"
    )
    assert [r["result"] for r in result.evidence["ports"]] == ["open", "connection refused"]


@pytest.fixture
def listeners() -> Iterator[list[int]]:
    """Three listening loopback ports (closed again after the test)."""
    socks = []
    for _ in range(3):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        socks.append(s)
    try:
        yield [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def test_ports_are_derived_from_the_configured_targets(listeners: list[int]) -> None:
    api, prom, am = listeners
    closed = _closed_port()
    targets: dict[str, Any] = {
        "api": {"url": f"http://127.0.0.1:{api}"},
        "prometheus": {"url": f"http://127.0.0.1:{prom}/"},
        "alertmanager": {"url": f"http://127.0.0.1:{am}"},
    }
    result = run_check("infrastructure.ports", targets=targets)
    assert result.status is Status.PASS, result.summary
    assert result.summary == (
        "All 3 service ports on 127.0.0.1 accept TCP connections (from the configured targets)"
    )
    assert [(r["service"], r["port"], r["from"]) for r in result.evidence["ports"]] == [
        ("api", api, "targets.api.url"),
        ("prometheus", prom, "targets.prometheus.url"),
        ("alertmanager", am, "targets.alertmanager.url"),
    ]
    # the database's port comes from its DSN (whose password never reaches the evidence)
    targets["database"] = {"dsn": f"postgresql://app:pw-s3cret@127.0.0.1:{closed}/orchestrator"}
    targets["redis"] = {"url": f"redis://127.0.0.1:{api}/0"}
    result = run_check("infrastructure.ports", targets=targets)
    assert result.status is Status.FAIL
    assert result.summary == (
        "1 of 5 service ports on 127.0.0.1 do not accept connections: "
        f"postgres ({closed}: connection refused)"
    )
    assert [r["service"] for r in result.evidence["ports"]] == [
        "api",
        "postgres",
        "redis",
        "prometheus",
        "alertmanager",
    ]
    assert "pw-s3cret" not in str(result.evidence)


def test_ports_of_targets_on_several_hosts_and_sockets(listeners: list[int]) -> None:
    api, second, _ = listeners
    closed = _closed_port()
    result = run_check(
        "infrastructure.ports",
        targets={
            "api": {"url": f"http://localhost:{api}"},
            "database": {"dsn": f"postgresql://app@127.0.0.1:{second},127.0.0.2:{closed}/db"},
            "redis": {"url": "unix:///run/redis/redis.sock"},
        },
    )
    assert result.status is Status.FAIL
    assert result.summary == (
        "1 of 3 service ports do not accept connections: "
        f"postgres-2 (127.0.0.2:{closed}: connection refused)"
    )
    assert result.evidence["not_probed"] == ["redis: not probed, it connects through a unix socket"]
    # `host` overrides every target's host
    result = run_check(
        "infrastructure.ports",
        targets={"api": {"url": f"http://api.example.test:{api}"}},
        params={"host": "127.0.0.1"},
    )
    assert result.status is Status.PASS, result.summary
    # a database reached only through a unix socket leaves nothing to probe
    result = run_check(
        "infrastructure.ports",
        targets={"database": {"dsn": "host=/var/run/postgresql dbname=orchestrator"}},
    )
    assert result.status is Status.SKIP
    assert result.summary == (
        "No service port to probe: postgres: not probed, it connects through a unix socket"
    )


def test_explicit_ports_win_over_the_targets(listeners: list[int]) -> None:
    closed = _closed_port()
    result = run_check(
        "infrastructure.ports",
        targets={"api": {"url": f"http://127.0.0.1:{closed}"}},
        params={"ports": {"api": listeners[0]}},
    )
    assert result.status is Status.PASS, result.summary
    assert result.evidence["source"] == "params.ports"


@pytest.mark.integration
def test_ports_of_the_running_stack(stack: Stack) -> None:
    ports = {k: stack.ports[k] for k in ("api", "postgres", "redis", "prometheus", "alertmanager")}
    result = run_check("infrastructure.ports", params={"ports": ports})
    assert result.status is Status.PASS, result.summary
    # the same ports, derived from the stack's targets
    result = run_check(
        "infrastructure.ports",
        targets={
            "api": {"url": stack.api_url},
            "database": {"dsn": stack.database_dsn},
            "redis": {"url": stack.redis_url},
            "prometheus": {"url": stack.prometheus_url},
            "alertmanager": {"url": stack.alertmanager_url},
        },
    )
    assert result.status is Status.PASS, result.summary
    assert {r["service"]: r["port"] for r in result.evidence["ports"]} == ports


# ---------------------------------------------------------------------------------------------
# infrastructure.compose

BASE = {
    "services": {
        "db": {
            "image": "postgres:15",
            "restart": "always",
            "environment": {
                "POSTGRES_PASSWORD": "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
            },
            "healthcheck": {"test": ["CMD", "pg_isready"]},
        },
        "api": {
            "image": "app:${VERSION:-1.0}",
            "depends_on": {"db": {"condition": "service_healthy"}},
            "deploy": {"restart_policy": {"condition": "on-failure"}},
            "healthcheck": {"test": ["CMD", "true"]},
        },
    }
}


def _project(
    root: Path, files: dict[str, Any], env: str | None = "POSTGRES_PASSWORD=s3cret-value\n"
) -> dict[str, Any]:
    for name, data in files.items():
        (root / name).write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    if env is not None:
        (root / ".env").write_text(env)
    return {"project": {"root": str(root), "compose_files": list(files), "env_files": [".env"]}}


def test_compose_passes_on_valid_files(tmp_path: Path) -> None:
    result = run_check("infrastructure.compose", targets=_project(tmp_path, {"compose.yml": BASE}))
    assert result.status is Status.PASS, result.summary
    assert (
        result.summary
        == "1 compose files are valid; all 2 services have a healthcheck and a restart policy"
    )
    assert {r["service"]: r["restart"] for r in result.evidence["services"]} == {
        "api": "on-failure",
        "db": "always",
    }
    assert "s3cret-value" not in repr(result)


def test_compose_fails_on_a_missing_required_variable(tmp_path: Path) -> None:
    result = run_check(
        "infrastructure.compose", targets=_project(tmp_path, {"compose.yml": BASE}, env=None)
    )
    assert result.status is Status.FAIL
    assert result.summary == (
        "Compose configuration is invalid: POSTGRES_PASSWORD: POSTGRES_PASSWORD must be set "
        "(at compose.yml:services.db.environment.POSTGRES_PASSWORD)"
    )


def test_compose_fails_on_unknown_depends_on_and_missing_image(tmp_path: Path) -> None:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data["services"]["api"]["depends_on"] = ["db", "cache"]
    data["services"]["worker"] = {"restart": "always", "healthcheck": {"test": ["CMD", "true"]}}
    result = run_check("infrastructure.compose", targets=_project(tmp_path, {"compose.yml": data}))
    assert result.status is Status.FAIL
    assert "service api depends_on unknown service(s) cache" in result.summary
    assert "service worker has neither image nor build" in result.summary


def test_compose_warns_without_healthcheck_or_restart_and_merges_overlays(tmp_path: Path) -> None:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    del data["services"]["api"]["healthcheck"]
    data["services"]["migrate"] = {"image": "app", "command": "migrate"}
    overlay = {"services": {"db": {"restart": "no"}}}
    files = {"compose.yml": data, "compose.prod.yml": overlay, "compose.extra.yml": None}
    targets = _project(tmp_path, {"compose.yml": data, "compose.prod.yml": overlay})
    targets["project"]["compose_files"] = list(files)
    result = run_check("infrastructure.compose", targets=targets)
    assert result.status is Status.WARN
    assert result.summary == (
        "Compose files are valid (3 services) but api has no healthcheck; db has no restart "
        "policy; migrate has no healthcheck; migrate has no restart policy; configured compose "
        "file(s) missing: compose.extra.yml"
    )
    result = run_check(
        "infrastructure.compose", targets=targets, params={"exempt": ["migrate", "api", "db"]}
    )
    assert result.status is Status.WARN
    assert result.summary.endswith("but configured compose file(s) missing: compose.extra.yml")


def test_compose_warns_on_a_bare_unset_variable_and_fails_on_bad_yaml(tmp_path: Path) -> None:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data["services"]["api"]["environment"] = {
        "LOG_LEVEL": "${GOLIVE_TEST_UNSET_VAR}",
        "COST": "$$5",
    }
    result = run_check("infrastructure.compose", targets=_project(tmp_path, {"compose.yml": data}))
    assert result.status is Status.WARN
    assert result.summary.endswith(
        "unset variable(s) Compose would replace by an empty string: GOLIVE_TEST_UNSET_VAR"
    )
    result = run_check(
        "infrastructure.compose", targets=_project(tmp_path, {"compose.yml": "services: [\n"})
    )
    assert result.status is Status.FAIL
    assert result.summary.startswith("Compose configuration is invalid: compose.yml cannot parse:")


def test_compose_fails_when_no_file_exists(tmp_path: Path) -> None:
    targets = {"project": {"root": str(tmp_path), "compose_files": ["ops/docker-compose.yml"]}}
    result = run_check("infrastructure.compose", targets=targets)
    assert result.status is Status.FAIL
    assert "none of the configured compose files exists (ops/docker-compose.yml)" in result.summary


@pytest.mark.integration
def test_compose_of_the_reference_project_interpolates_its_env_file(stack: Stack) -> None:
    result = run_check(
        "infrastructure.compose", targets={"project": {"root": str(stack.project_root)}}
    )
    assert result.status in (Status.PASS, Status.WARN), result.summary
    assert {r["service"] for r in result.evidence["services"]} >= {
        "postgres",
        "redis",
        "api",
        "scheduler",
        "worker",
    }
    env = (stack.project_root / ".env").read_text()
    os.rename(stack.project_root / ".env", stack.project_root / ".env.saved")
    try:
        result = run_check(
            "infrastructure.compose", targets={"project": {"root": str(stack.project_root)}}
        )
    finally:
        os.rename(stack.project_root / ".env.saved", stack.project_root / ".env")
    assert result.status is Status.FAIL
    assert "POSTGRES_PASSWORD must be set" in result.summary
    assert "JWT_SECRET_KEY must be set" in result.summary
    assert env  # the stack's .env was restored unchanged


# ---------------------------------------------------------------------------------------------
# infrastructure.tls


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


def _tls(**params: Any) -> Any:
    return run_check("infrastructure.tls", params=params)


def test_tls_file_valid_expiring_and_expired(pki: Pki) -> None:
    good, _ = pki.leaf("good", ["api.example.test", "127.0.0.1"], days_left=200)
    result = _tls(cert_file=str(good), ca_file=str(pki.ca_file), hostname="api.example.test")
    assert result.status is Status.PASS, result.summary
    assert result.summary.startswith(
        f"The certificate of {good} is valid for 199 more days"
    ) or result.summary.startswith(f"The certificate of {good} is valid for 200 more days")
    assert result.summary.endswith("; the chain verifies and it is valid for api.example.test")
    assert result.evidence["certificate"]["names"] == ["api.example.test", "127.0.0.1"]

    soon, _ = pki.leaf("soon", ["api.example.test"], days_left=20)
    result = _tls(cert_file=str(soon), ca_file=str(pki.ca_file))
    assert result.status is Status.WARN
    assert "under the 30-day warning threshold" in result.summary
    assert result.evidence["hostname"] == "not checked (no hostname given)"

    nearly, _ = pki.leaf("nearly", ["api.example.test"], days_left=3)
    result = _tls(cert_file=str(nearly), ca_file=str(pki.ca_file))
    assert result.status is Status.FAIL
    assert "expires in 3.0 days" in result.summary and "under 7" in result.summary

    expired, _ = pki.leaf("expired", ["api.example.test"], days_left=-5)
    result = _tls(cert_file=str(expired), ca_file=str(pki.ca_file))
    assert result.status is Status.FAIL
    assert result.summary.startswith(f"The certificate of {expired} expired 5 days ago")
    assert result.measurements["days_left"] < -4.9


def test_tls_file_wrong_hostname_and_untrusted_chain(pki: Pki) -> None:
    good, _ = pki.leaf("named", ["api.example.test"], days_left=200)
    result = _tls(cert_file=str(good), ca_file=str(pki.ca_file), hostname="other.example.test")
    assert result.status is Status.FAIL
    assert result.summary.endswith("is not valid for other.example.test (names: api.example.test)")

    selfsigned, _ = pki.leaf("selfsigned", ["api.example.test"], days_left=200, issuer_signed=False)
    result = _tls(cert_file=str(selfsigned), ca_file=str(pki.ca_file))
    assert result.status is Status.FAIL
    assert f"does not chain to a root trusted by {pki.ca_file}: " in result.summary
    assert result.evidence["certificate"]["self_signed"] is True
    # the same certificate is fine when chain verification is off
    result = _tls(cert_file=str(selfsigned), verify_chain=False)
    assert result.status is Status.PASS
    assert result.evidence["chain"] == "not checked"


def test_tls_missing_file_is_skip_unless_required(tmp_path: Path) -> None:
    missing = str(tmp_path / "cert.pem")
    result = _tls(cert_file=missing)
    assert result.status is Status.SKIP
    assert (
        result.summary
        == f"No certificate at {missing} (set endpoint or cert_file, or required: true to fail)"
    )
    result = _tls(cert_file=missing, required=True)
    assert result.status is Status.FAIL
    assert result.summary == f"Certificate file {missing} does not exist"
    (tmp_path / "junk.pem").write_text("not a certificate")
    result = _tls(cert_file=str(tmp_path / "junk.pem"))
    assert result.status is Status.FAIL
    assert "holds no readable certificate" in result.summary


def test_tls_endpoint_on_loopback(pki: Pki) -> None:
    cert, key = pki.leaf("served", ["localhost", "127.0.0.1"], days_left=100)
    with tls_server(cert, key) as port:
        endpoint = f"127.0.0.1:{port}"
        result = _tls(endpoint=endpoint, ca_file=str(pki.ca_file))
        assert result.status is Status.PASS, result.summary
        assert result.summary.endswith("; the chain verifies and it is valid for 127.0.0.1")
        assert result.evidence["protocol"].startswith("TLS")
        assert result.evidence["verification"] == "ok"

        result = _tls(endpoint=endpoint, ca_file=str(pki.ca_file), hostname="wrong.example.test")
        assert result.status is Status.FAIL
        assert "is not valid for wrong.example.test (names: localhost, 127.0.0.1)" in result.summary

        result = _tls(endpoint=endpoint)  # the system trust store does not know the test CA
        assert result.status is Status.FAIL
        assert "does not verify: unable to get local issuer certificate" in result.summary


def test_tls_endpoint_expired_and_closed(pki: Pki) -> None:
    cert, key = pki.leaf("served-expired", ["localhost"], days_left=-2)
    with tls_server(cert, key) as port:
        result = _tls(endpoint=f"127.0.0.1:{port}", hostname="localhost", ca_file=str(pki.ca_file))
    assert result.status is Status.FAIL
    assert result.summary.startswith(f"The certificate of 127.0.0.1:{port} expired 2 days ago")
    assert result.evidence["verification"] == "certificate has expired"
    closed = _closed_port()
    result = _tls(endpoint=f"127.0.0.1:{closed}")
    assert result.status is Status.FAIL
    assert result.summary == f"Cannot connect to 127.0.0.1:{closed}: connection refused"


# ---------------------------------------------------------------------------------------------
# infrastructure.backup_storage


@pytest.fixture
def backup_dir() -> Iterator[Path]:
    """A directory under /tmp that other users can reach (pytest's tmp_path is 0700)."""
    parent = Path(tempfile.mkdtemp(prefix="golive-backups-"))
    parent.chmod(0o755)
    target = parent / "postgres"
    target.mkdir(mode=0o750)
    yield target
    shutil.rmtree(parent)


def test_backup_storage_writable_by_the_backup_user(backup_dir: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    result = run_check(
        "infrastructure.backup_storage",
        params={"path": str(backup_dir), "user": "nobody", "min_free_gb": 0},
    )
    assert result.status is Status.FAIL
    assert result.summary == (
        f"Backup directory {backup_dir}: user nobody cannot write to {backup_dir} "
        "(mode 0750, owner uid 0 gid 0)"
    )
    os.chown(backup_dir, nobody.pw_uid, nobody.pw_gid)
    result = run_check(
        "infrastructure.backup_storage",
        params={"path": str(backup_dir), "user": "nobody", "min_free_gb": 0},
    )
    assert result.status is Status.PASS, result.summary
    assert result.summary.startswith(f"Backup directory {backup_dir} is writable by nobody with ")
    assert result.evidence["owner"] == "nobody" and result.evidence["mode"] == "0750"


def test_backup_storage_missing_full_world_writable_and_unknown_user(backup_dir: Path) -> None:
    missing = backup_dir / "nope"
    result = run_check("infrastructure.backup_storage", params={"path": str(missing)})
    assert result.status is Status.FAIL
    assert result.summary == f"Backup directory {missing} does not exist"

    result = run_check(
        "infrastructure.backup_storage", params={"path": str(backup_dir), "min_free_gb": 1e9}
    )
    assert result.status is Status.FAIL
    assert "free, under 1e+09 GB / 10%" in result.summary

    backup_dir.chmod(0o777)
    result = run_check(
        "infrastructure.backup_storage", params={"path": str(backup_dir), "min_free_gb": 0}
    )
    assert result.status is Status.WARN
    assert result.summary.endswith("but it is world-writable (mode 0777)")

    result = run_check(
        "infrastructure.backup_storage",
        params={"path": str(backup_dir), "user": "golive-no-such-user"},
    )
    assert result.status is Status.ERROR
    assert result.summary == "Backup user 'golive-no-such-user' does not exist on this host"


@pytest.mark.integration
def test_backup_storage_of_the_stack(stack: Stack) -> None:
    result = run_check(
        "infrastructure.backup_storage", params={"path": str(stack.backup_dir), "min_free_gb": 0.1}
    )
    assert result.status is Status.PASS, result.summary


def test_tcp_probe_names_an_unresolvable_host() -> None:
    """A resolver failure is said as such, not as 'unknown error -2'. The leading hyphen
    makes the name invalid, so the resolver refuses it without asking any nameserver."""
    import asyncio

    from golive.checks._infrastructure import _tcp

    ok, reason, _ = asyncio.run(_tcp("-golive-fault.invalid", 80, 3))
    assert not ok
    assert reason.startswith("host name -golive-fault.invalid does not resolve (")
