"""The reference stack really works: API, auth, workers, limits, metrics, monitoring."""

from __future__ import annotations

import json
import stat
import subprocess
import time
import uuid

import httpx
import jwt
import psycopg
import pytest
import redis

from demo.config import EVENT_STREAM
from demo.stack import Stack
from demo.stack.postgres import BIN
from tests.demo.conftest import new_task, poll, query

pytestmark = pytest.mark.integration


def test_health_is_healthy_with_all_components(stack: Stack, anon: httpx.Client) -> None:
    body = anon.get("/health").json()
    assert body["status"] == "healthy", body
    assert set(body["checks"]) == {"database", "redis", "workers", "scheduler"}
    assert all(c["status"] == "healthy" for c in body["checks"].values())
    assert body["checks"]["workers"]["active"] == 2
    assert anon.get("/health/ready").status_code == 200
    assert anon.get("/health/live").json() == {"status": "alive"}
    assert "/tasks/" in anon.get("/openapi.json").json()["paths"]


def test_token_endpoint_issues_a_working_jwt(stack: Stack, anon: httpx.Client) -> None:
    resp = anon.post("/agents/auth/token", json={"agent_id": stack.agent_id})
    assert resp.status_code == 200
    data = resp.json()
    assert data["token_type"] == "bearer" and data["expires_in"] == 3600
    claims = jwt.decode(data["access_token"], stack.secrets["jwt_secret_key"], algorithms=["HS256"])
    assert claims["sub"] == stack.agent_id
    agents = anon.get("/agents/", headers={"Authorization": f"Bearer {data['access_token']}"})
    assert agents.status_code == 200
    assert "system" in {a["name"] for a in agents.json()}
    unknown = anon.post("/agents/auth/token", json={"agent_id": str(uuid.uuid4())})
    assert unknown.status_code == 401


def test_writes_need_a_valid_token(stack: Stack, anon: httpx.Client) -> None:
    body = {
        "title": "x",
        "description": "must not be stored",
        "created_by": stack.agent_id,
        "schedule_kind": "event",
        "schedule_expr": "t",
        "payload": {"pipeline": []},
    }
    assert anon.post("/tasks/", json=body).status_code == 401
    forged = jwt.encode(
        {"sub": stack.agent_id, "exp": int(time.time()) + 600},
        "not-the-secret-but-long-enough-for-hs256-keys",
        algorithm="HS256",
    )
    for token in (forged, "garbage", str(uuid.uuid4())):
        resp = anon.post("/tasks/", json=body, headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 401, (token, resp.text)
    assert anon.get("/agents/").status_code == 401


def test_created_task_is_run_by_a_worker(stack: Stack, api: httpx.Client) -> None:
    title = f"golive-test-run-{uuid.uuid4().hex[:8]}"
    redirect = api.post("/tasks", json={}, follow_redirects=False)
    assert redirect.status_code == 307 and redirect.headers["location"].endswith("/tasks/")
    task = new_task(api, stack, title)
    try:
        runs = poll(
            lambda: api.get("/runs/", params={"task_id": task["id"]}).json(),
            lambda r: len(r) == 1 and r[0]["finished_at"] is not None,
            what="task_run of the new task",
        )
        run = runs[0]
        assert run["success"] is True and run["attempt"] == 1
        assert run["lease_owner"] in {"w1", "w2"}
        assert run["output"] == {"steps": {"s1": {"ok": True}}}
        assert api.get(f"/runs/{run['id']}").json()["id"] == run["id"]
        listed = api.get("/tasks/", params={"title_prefix": title}).json()
        assert [t["id"] for t in listed] == [task["id"]]
        audit = query(
            stack.database_dsn, "SELECT action FROM audit_log WHERE subject_id = %s", (task["id"],)
        )
        assert ("task.created",) in audit
        events = redis.Redis.from_url(stack.redis_url).xrevrange(EVENT_STREAM, count=50)
        assert any(f[b"task_id"].decode() == task["id"] for _, f in events)
        assert api.post(f"/tasks/{task['id']}/cancel").json()["status"] == "canceled"
        audit = query(
            stack.database_dsn, "SELECT action FROM audit_log WHERE subject_id = %s", (task["id"],)
        )
        assert ("task.canceled",) in audit
    finally:
        assert api.delete(f"/tasks/{task['id']}").status_code == 204
    assert api.get(f"/tasks/{task['id']}").status_code == 404


def test_task_actions_pause_resume_run_now(stack: Stack, api: httpx.Client) -> None:
    task = new_task(
        api,
        stack,
        f"golive-test-actions-{uuid.uuid4().hex[:8]}",
        schedule_kind="event",
        schedule_expr="golive.test",
    )
    try:
        assert api.post(f"/tasks/{task['id']}/pause").json()["status"] == "paused"
        assert api.post(f"/tasks/{task['id']}/resume").json()["status"] == "active"
        queued = api.post(f"/tasks/{task['id']}/run_now")
        assert queued.status_code == 202
        poll(
            lambda: api.get("/runs/", params={"task_id": task["id"]}).json(),
            lambda r: len(r) == 1 and r[0]["success"],
            what="run_now executed",
        )
        actions = query(
            stack.database_dsn,
            "SELECT action FROM audit_log WHERE subject_id = %s ORDER BY id",
            (task["id"],),
        )
        assert [a[0] for a in actions] == [
            "task.created",
            "task.paused",
            "task.resumed",
            "task.run_now",
        ]
    finally:
        api.delete(f"/tasks/{task['id']}")


def test_cron_task_is_queued_once_per_occurrence(stack: Stack, api: httpx.Client) -> None:
    task = new_task(
        api,
        stack,
        f"golive-test-cron-{uuid.uuid4().hex[:8]}",
        schedule_kind="cron",
        schedule_expr="* * * * * */1",
    )  # every second
    try:
        runs = poll(
            lambda: api.get("/runs/", params={"task_id": task["id"]}).json(),
            lambda r: len(r) >= 3,
            what="three cron runs",
        )
        starts = sorted(r["started_at"] for r in runs)
        assert len(set(starts)) == len(starts)
    finally:
        api.delete(f"/tasks/{task['id']}")


def test_two_workers_share_the_queue(stack: Stack, api: httpx.Client) -> None:
    """150 due tasks are all run, by both workers. How fast is a figure of the machine, not
    a property of the code: it is printed, not asserted."""
    prefix = f"golive-test-load-{uuid.uuid4().hex[:8]}"
    n = 150
    with psycopg.connect(stack.database_dsn, autocommit=True) as conn:
        ids = [
            r[0]
            for r in conn.execute(
                "INSERT INTO task (title, created_by, schedule_kind, schedule_expr, payload)"
                " SELECT %s || '-' || g, %s, 'event', 't', '{\"pipeline\":[{\"uses\":\"noop\"}]}'"
                " FROM generate_series(1, %s) g RETURNING id",
                (prefix, stack.agent_id, n),
            )
        ]
        began = time.monotonic()
        conn.execute(
            "INSERT INTO due_work (task_id, run_at) SELECT unnest(%s::uuid[]), now()", (ids,)
        )
        poll(
            lambda: query(
                stack.database_dsn, "SELECT count(*) FROM task_run WHERE task_id = ANY(%s)", (ids,)
            )[0][0],
            lambda c: c == n,
            timeout=300,  # a wait, not a bound: it ends as soon as the runs are there
            what=f"{n} runs",
        )
        elapsed = time.monotonic() - began
        per_minute = n / elapsed * 60
        workers = {
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT lease_owner FROM task_run WHERE task_id = ANY(%s)", (ids,)
            )
        }
        conn.execute("DELETE FROM task_run WHERE task_id = ANY(%s)", (ids,))
        conn.execute("DELETE FROM task WHERE id = ANY(%s)", (ids,))
    print(f"\ntwo workers ran {n} tasks in {elapsed:.1f}s ({per_minute:.0f}/min)")
    assert workers == {"w1", "w2"}


def test_rate_limit_answers_429_past_the_limit(stack: Stack, anon: httpx.Client) -> None:
    limit = 600
    first = anon.get("/tools")
    # the headers slowapi sends with headers_enabled=True, on every limited answer
    assert first.headers["x-ratelimit-limit"] == str(limit)
    assert int(first.headers["x-ratelimit-remaining"]) < limit
    assert int(first.headers["x-ratelimit-reset"]) > time.time()
    codes = [anon.get("/tools").status_code for _ in range(limit + 20)]
    assert codes[: limit - 5].count(200) == limit - 5
    assert codes[-1] == 429
    last = anon.get("/tools")
    assert last.status_code == 429 and int(last.headers["retry-after"]) > 0
    assert last.headers["x-ratelimit-remaining"] == "0"
    health = anon.get("/health")
    assert health.status_code == 200  # probes are exempt
    assert "x-ratelimit-limit" not in health.headers


def test_metrics_expose_the_four_checklist_metrics(stack: Stack, anon: httpx.Client) -> None:
    anon.get("/health")
    text = anon.get("/metrics").text
    for name in (
        "ord_http_requests_total",
        "database_connections",
        "task_processing_rate",
        "worker_active_count",
    ):
        assert f"\n{name}" in text, name
    assert 'ord_http_requests_total{method="GET",path="/health",status="200"}' in text
    anon.get(f"/tasks/{uuid.uuid4()}")
    text = anon.get("/metrics").text
    assert 'path="/tasks/{task_id}"' in text  # route template, not the raw path
    active = [line for line in text.splitlines() if line.startswith("worker_active_count ")]
    assert float(active[0].split()[1]) == 2


def test_prometheus_scrapes_the_api_and_loads_the_rules(stack: Stack) -> None:
    with httpx.Client(base_url=stack.prometheus_url, timeout=5) as prom:
        assert prom.get("/-/healthy").status_code == 200
        targets = poll(
            lambda: prom.get("/api/v1/targets").json()["data"]["activeTargets"],
            lambda ts: any(
                t["labels"]["job"] == "orchestrator-api" and t["health"] == "up" for t in ts
            ),
            what="orchestrator-api target up",
        )
        assert targets
        result = poll(
            lambda: prom.get("/api/v1/query", params={"query": "worker_active_count"}).json()[
                "data"
            ]["result"],
            lambda r: bool(r),
            what="worker_active_count in Prometheus",
        )
        assert float(result[0]["value"][1]) == 2
        rules = prom.get("/api/v1/rules").json()["data"]["groups"]
        names = {r["name"] for g in rules for r in g["rules"]}
        assert {
            "OrchestratorAPIDown",
            "OrchestratorHighErrorRate",
            "OrchestratorWorkersDown",
            "OrchestratorQueueBacklog",
        } <= names
        assert all(g["interval"] == 1 for g in rules)


def test_alertmanager_v2_delivers_to_the_webhook_sink(stack: Stack) -> None:
    marker = f"GoliveTest{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=stack.alertmanager_url, timeout=5) as am:
        status = am.get("/api/v2/status").json()
        assert status["cluster"]["status"] == "disabled"
        resp = am.post(
            "/api/v2/alerts", json=[{"labels": {"alertname": marker, "severity": "info"}}]
        )
        assert resp.status_code == 200

    def received() -> list[dict[str, object]]:
        lines = stack.webhook_sink.read_text().splitlines()
        return [json.loads(x) for x in lines if marker in x]

    deliveries = poll(received, bool, what="webhook delivery")
    assert deliveries[0]["payload"]["alerts"][0]["labels"]["alertname"] == marker  # type: ignore[index]


def test_project_tree_backup_and_secrets(stack: Stack) -> None:
    root = stack.project_root
    env = root / ".env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert stack.secrets["jwt_secret_key"] in env.read_text()
    for name in ("daily_backup.sh", "health_check.sh", "service_restart.sh"):
        assert stat.S_IMODE((root / "ops" / "scripts" / name).stat().st_mode) == 0o755
    dumps = sorted(stack.backup_dir.glob("orchestrator_*.dump"))
    assert dumps
    listing = subprocess.run(
        [str(BIN / "pg_restore"), "--list", str(dumps[-1])],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "TABLE public task_run" in listing


def test_app_role_is_not_superuser_and_owns_its_database(stack: Stack) -> None:
    rows = query(
        stack.admin_dsn,
        "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = 'orchestrator'",
    )
    assert rows == [(False, False, False)]
    owner = query(
        stack.admin_dsn,
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'orchestrator'",
    )
    assert owner == [("orchestrator",)]
    create = query(
        stack.admin_dsn.rsplit("/", 1)[0] + "/orchestrator",
        "SELECT has_schema_privilege('public', 'public', 'CREATE')",
    )
    assert create == [(False,)]
    fks = query(stack.database_dsn, "SELECT count(*) FROM pg_constraint WHERE contype = 'f'")
    assert fks[0][0] == 4  # task.created_by, task_run/due_work.task_id, audit_log.actor


def test_containers_carry_compose_labels_and_hardening(stack_containers: Stack) -> None:
    import docker

    client = docker.DockerClient(base_url=stack_containers.docker_host)
    try:
        found = client.containers.list(
            filters={"label": f"com.docker.compose.project={stack_containers.compose_project}"}
        )
        services = {c.labels["com.docker.compose.service"] for c in found}
        assert {"postgres", "redis", "api", "scheduler", "worker"} <= services
        workers = [c for c in found if c.labels["com.docker.compose.service"] == "worker"]
        assert len(workers) == 2
        for container in found:
            attrs = container.attrs
            opts = attrs["HostConfig"].get("SecurityOpt") or []
            assert any(o.startswith("no-new-privileges") for o in opts), container.name
            assert attrs["Config"]["User"] not in ("", "root", "0"), container.name
            assert not attrs["HostConfig"].get("PortBindings"), container.name
            assert "ordinaut-network" in attrs["NetworkSettings"]["Networks"]
        network = client.networks.get("ordinaut-network")
        assert network.name == "ordinaut-network"
    finally:
        client.close()


def test_delete_removes_an_occurrence_queued_while_it_ran(stack: Stack, api: httpx.Client) -> None:
    """The scheduler queues an occurrence (here: a transaction that inserts one and holds)
    between the delete's removal of the task's queued work and of the task: the task's
    delete waits for it, violates the new row's foreign key, and the whole delete is tried
    again, removing both. 204, nothing left, never a 500."""
    import threading

    title = f"golive-test-delete-race-{uuid.uuid4().hex[:8]}"
    task = new_task(api, stack, title, schedule_expr="2099-01-01T00:00:00Z")
    answer: dict[str, httpx.Response] = {}
    headers = {"Authorization": f"Bearer {stack.api_token}"}

    def delete() -> None:
        with httpx.Client(base_url=stack.api_url, timeout=30, headers=headers) as client:
            answer["delete"] = client.delete(f"/tasks/{task['id']}")

    with psycopg.connect(stack.database_dsn) as held:
        held.execute(
            "INSERT INTO due_work (task_id, run_at) VALUES (%s, '2099-01-01')", (task["id"],)
        )
        thread = threading.Thread(target=delete, daemon=True)
        thread.start()
        poll(
            lambda: query(
                stack.database_dsn,
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE 'DELETE FROM task WHERE%%'",
            ),
            lambda rows: rows[0][0] >= 1,
            what="the API's delete of the task waiting on the queued occurrence",
        )
        held.commit()
    thread.join(30)
    assert answer["delete"].status_code == 204, answer["delete"].text
    left = query(
        stack.database_dsn,
        "SELECT (SELECT count(*) FROM task WHERE id = %(t)s),"
        " (SELECT count(*) FROM due_work WHERE task_id = %(t)s)",
        {"t": task["id"]},
    )
    assert left == [(0, 0)]
