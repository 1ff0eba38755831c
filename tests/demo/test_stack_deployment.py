"""What the launcher adds around the services, as a deployment would have it: TLS in front
of the API (demo/stack/tls.py, demo/tls_proxy.py), the post-deploy smoke test
(demo/stack/smoke.py), the project copy with its code and test suites, the monitoring
pipeline wired before ``up`` returns, and the variables ``env`` gives golive."""

from __future__ import annotations

import ssl
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from demo.stack import Stack, observability, procs, smoke
from tests.demo.conftest import query

pytestmark = pytest.mark.integration


def test_the_api_is_served_over_tls_with_a_certificate_of_the_stacks_ca(stack: Stack) -> None:
    url = f"https://127.0.0.1:{stack.ports['tls']}/health/live"
    ca = stack.paths["tls_ca"]
    r = httpx.get(url, verify=ssl.create_default_context(cafile=ca), timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "alive"}
    by_name = httpx.get(
        url.replace("127.0.0.1", "localhost"),
        verify=ssl.create_default_context(cafile=ca),
        timeout=10,
    )
    assert by_name.status_code == 200
    # the system trust store does not know the demo CA
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(url, timeout=10)
    chain = Path(stack.paths["tls_cert"]).read_text()
    assert chain.count("BEGIN CERTIFICATE") == 2  # leaf, then the CA
    key = Path(stack.paths["tls_cert"]).with_name("server.key")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_the_proxy_speaks_only_tls(stack: Stack) -> None:
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{stack.ports['tls']}/health/live", timeout=5)


def test_the_smoke_test_left_only_its_audit_rows(stack: Stack) -> None:
    rows = query(
        stack.database_dsn,
        "SELECT action FROM audit_log WHERE details->>'title' = %s ORDER BY id",
        (smoke.TITLE,),
    )
    assert [r[0] for r in rows[:2]] == ["task.created", "task.deleted"]
    left = query(stack.database_dsn, "SELECT count(*) FROM task WHERE title = %s", (smoke.TITLE,))
    assert left == [(0,)]


def test_the_smoke_test_fails_when_no_worker_runs_the_task(stack: Stack) -> None:
    from demo import faults

    with faults.stopped_workers(stack), pytest.raises(procs.ServiceFailed, match="no run in 2s"):
        smoke.run(stack, timeout=2)
    left = query(stack.database_dsn, "SELECT count(*) FROM task WHERE title = %s", (smoke.TITLE,))
    assert left == [(0,)]  # deleted even when it never ran


def test_monitoring_is_wired_when_up_returns(stack: Stack) -> None:
    assert observability.monitoring_ready(stack)


def test_the_project_copy_holds_the_application_and_its_test_suites(stack: Stack) -> None:
    root = stack.project_root
    shipped = {p.name for p in (root / "demo").glob("*.py")}
    assert {"api.py", "worker.py", "scheduler.py", "schedules.py"} <= shipped
    assert not shipped & {"faults.py", "webhook_sink.py", "tls_proxy.py"}
    assert not (root / "demo" / "stack").exists()
    assert (root / "tests" / "pytest.ini").is_file()
    assert (root / "tests" / "test_api.py").is_file()
    # the unit suite runs from the project root against the copied package alone
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/unit", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout


def test_env_points_golive_at_the_demos_places(stack: Stack) -> None:
    env = stack.env()
    for name in ("GOLIVE_SCRIPTS_DIR", "GOLIVE_PG_DATA", "GOLIVE_TLS_ENDPOINT", "GOLIVE_TLS_CA"):
        assert env[name], name
    assert Path(env["GOLIVE_SCRIPTS_DIR"], "daily_backup.sh").is_file()
    assert Path(env["GOLIVE_CRONTAB"]).is_file()
    assert Path(env["GOLIVE_PG_DATA"], "PG_VERSION").is_file()
    assert Path(env["GOLIVE_TLS_CA"]).is_file()
    assert env["GOLIVE_TLS_ENDPOINT"] == f"127.0.0.1:{stack.ports['tls']}"
    if stack.docker_host:
        assert Path(env["GOLIVE_CONTAINER_STORAGE"]).is_dir()
