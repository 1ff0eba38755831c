"""Each fault helper puts the live stack into a real failing state and restores it."""

from __future__ import annotations

import datetime as dt
import stat
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from demo import faults
from demo.stack import Stack, procs
from tests.demo.conftest import new_task, poll, query, stays

pytestmark = pytest.mark.integration


def _health(stack: Stack) -> dict[str, object]:
    try:
        return httpx.get(f"{stack.api_url}/health", timeout=5).json()  # type: ignore[no-any-return]
    except httpx.HTTPError as exc:
        return {"status": f"unreachable: {type(exc).__name__}"}


def _healthy(stack: Stack) -> None:
    poll(lambda: _health(stack)["status"], lambda s: s == "healthy", what="healthy stack")


def test_superuser_app_role(stack: Stack) -> None:
    sql = "SELECT rolsuper FROM pg_roles WHERE rolname = 'orchestrator'"
    with faults.superuser_app_role(stack):
        assert query(stack.admin_dsn, sql) == [(True,)]
    assert query(stack.admin_dsn, sql) == [(False,)]


def test_world_writable(tmp_path: Path) -> None:
    target = tmp_path / "script.sh"
    target.write_text("#!/bin/sh\n")
    target.chmod(0o750)
    with faults.world_writable(target):
        assert target.stat().st_mode & stat.S_IWOTH
    assert stat.S_IMODE(target.stat().st_mode) == 0o750


def test_stopped_alertmanager(stack: Stack) -> None:
    url = f"{stack.alertmanager_url}/api/v2/status"
    with faults.stopped_alertmanager(stack):
        assert not procs.http_ok(url)
        assert "alertmanager" not in stack.pids
    assert procs.http_ok(url)
    assert procs.alive(stack.pids["alertmanager"])


def test_stopped_api(stack: Stack) -> None:
    with faults.stopped_api(stack):
        assert _health(stack)["status"].startswith("unreachable")  # type: ignore[union-attr]
        poll(
            lambda: httpx.get(
                f"{stack.prometheus_url}/api/v1/query",
                params={"query": 'up{job="orchestrator-api"}'},
            ).json(),
            lambda r: r["data"]["result"] and r["data"]["result"][0]["value"][1] == "0",
            what="Prometheus sees the API down",
        )
    _healthy(stack)


def test_stopped_workers_leave_work_queued(stack: Stack, api: httpx.Client) -> None:
    with faults.stopped_workers(stack):
        assert not any(n.startswith("worker-") for n in stack.pids)
        task = new_task(api, stack, "golive-fault-test-stopped-workers")
        stays(
            lambda: api.get("/runs/", params={"task_id": task["id"]}).json(),
            lambda r: r == [],
            duration=2,
        )
    try:
        poll(
            lambda: api.get("/runs/", params={"task_id": task["id"]}).json(),
            lambda r: len(r) == 1,
            what="queued task runs once workers are back",
        )
        assert _health(stack)["checks"]["workers"]["active"] == 2  # type: ignore[index]
    finally:
        api.delete(f"/tasks/{task['id']}")


def test_dead_heartbeats(stack: Stack) -> None:
    with faults.dead_heartbeats(stack):
        body = _health(stack)
        assert body["status"] == "degraded"
        assert body["checks"]["workers"]["status"] == "unhealthy"  # type: ignore[index]
        assert body["checks"]["workers"]["active"] == 0  # type: ignore[index]
    _healthy(stack)


def test_flooded_due_work(stack: Stack) -> None:
    count = "SELECT count(*) FROM due_work WHERE run_at <= now()"
    before = query(stack.database_dsn, count)[0][0]
    with faults.flooded_due_work(stack, 300) as task_id:
        assert query(stack.database_dsn, count)[0][0] >= before + 300
        stays(
            lambda: query(
                stack.database_dsn, "SELECT count(*) FROM due_work WHERE task_id = %s", (task_id,)
            )[0][0],
            lambda n: n == 300,
            duration=1,
        )  # workers cannot take the stuck items
        metrics = httpx.get(f"{stack.api_url}/metrics").text
        backlog = [ln for ln in metrics.splitlines() if ln.startswith("due_work_backlog ")]
        assert float(backlog[0].split()[1]) >= 300
    assert (
        query(stack.database_dsn, "SELECT count(*) FROM task WHERE id = %s", (task_id,))[0][0] == 0
    )
    assert query(stack.database_dsn, count)[0][0] <= before


def test_container_without_no_new_privileges(stack_containers: Stack) -> None:
    import docker

    client = docker.DockerClient(base_url=stack_containers.docker_host)
    label = f"com.docker.compose.project={stack_containers.compose_project}"

    def unhardened() -> list[str]:
        return [
            c.name
            for c in client.containers.list(filters={"label": label})
            if not any(
                o.startswith("no-new-privileges")
                for o in (c.attrs["HostConfig"].get("SecurityOpt") or [])
            )
        ]

    try:
        assert unhardened() == []
        with faults.container_without_no_new_privileges(stack_containers) as name:
            assert unhardened() == [name]
        assert unhardened() == []
    finally:
        client.close()


def test_deleted_system_agent(stack: Stack, api: httpx.Client) -> None:
    sql = "SELECT id FROM agent WHERE name = 'system'"
    with faults.deleted_system_agent(stack) as row:
        assert query(stack.database_dsn, sql) == []
        assert api.get("/agents/").status_code == 401
    assert [str(r[0]) for r in query(stack.database_dsn, sql)] == [str(row["id"])]
    assert api.get("/agents/").status_code == 200


ORPHANS = """
SELECT (SELECT count(*) FROM task t WHERE NOT EXISTS (SELECT 1 FROM agent a WHERE a.id = t.created_by))
     + (SELECT count(*) FROM task_run r WHERE NOT EXISTS (SELECT 1 FROM task t WHERE t.id = r.task_id))
     + (SELECT count(*) FROM due_work d WHERE NOT EXISTS (SELECT 1 FROM task t WHERE t.id = d.task_id))
     + (SELECT count(*) FROM audit_log l WHERE l.actor_agent_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM agent a WHERE a.id = l.actor_agent_id))
"""
FK_COUNT = "SELECT count(*) FROM pg_constraint WHERE contype = 'f'"


def test_orphans(stack: Stack) -> None:
    fks_before = query(stack.database_dsn, FK_COUNT)[0][0]
    with faults.orphans(stack) as info:
        assert query(stack.database_dsn, FK_COUNT) == [(0,)]
        assert query(stack.database_dsn, ORPHANS)[0][0] == 4
        assert len(info["constraints"]) == fks_before
    assert query(stack.database_dsn, FK_COUNT)[0][0] == fks_before
    assert query(stack.database_dsn, ORPHANS)[0][0] == 0


def test_expired_tls_cert(tmp_path: Path) -> None:
    with faults.expired_tls_cert(tmp_path) as files:
        cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
        assert cert.not_valid_after_utc < dt.datetime.now(dt.timezone.utc)
        assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    assert not files.cert.exists() and not files.key.exists()


def test_stale_backups(stack: Stack) -> None:
    dumps = sorted(stack.backup_dir.glob("*.dump"))
    before = {p: p.stat().st_mtime for p in dumps}
    with faults.stale_backups(stack):
        assert all(time.time() - p.stat().st_mtime > 2 * 86400 for p in dumps)
    assert {p: p.stat().st_mtime for p in dumps} == before


def test_saturated_connections(stack: Stack) -> None:
    sql = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
    before = query(stack.admin_dsn, sql)[0][0]
    with faults.saturated_connections(stack, 0.9) as opened:
        assert opened > 50
        assert query(stack.admin_dsn, sql)[0][0] >= 89
        metrics = httpx.get(f"{stack.api_url}/metrics").text
        gauge = [ln for ln in metrics.splitlines() if ln.startswith("database_connections ")]
        assert float(gauge[0].split()[1]) >= 80
    assert query(stack.admin_dsn, sql)[0][0] <= before + 2
    _healthy(stack)


def test_unreadable_agents(stack: Stack) -> None:
    """Authenticated requests answer 500 and are counted as such; /health stays 200."""
    headers = {"Authorization": f"Bearer {stack.api_token}"}

    def counted_500() -> float:
        text = httpx.get(f"{stack.api_url}/metrics", timeout=5).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("ord_http_requests_total{")
            and 'path="/tasks/"' in line
            and 'status="500"' in line
        )

    before = counted_500()
    with faults.unreadable_agents(stack):
        r = httpx.get(f"{stack.api_url}/tasks/", headers=headers, timeout=5)
        assert r.status_code == 500
        assert httpx.get(f"{stack.api_url}/health", timeout=5).status_code == 200
        assert counted_500() == before + 1
    assert httpx.get(f"{stack.api_url}/tasks/", headers=headers, timeout=5).status_code == 200
