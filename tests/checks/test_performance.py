"""checks/performance.py against the reference stack: its real API, database and containers.

Failing states are built for real and undone:

* a slow endpoint: an admin session repeatedly takes an ACCESS EXCLUSIVE lock on
  ``worker_heartbeat`` (which every /health reads), the lock contention that makes real
  health endpoints slow; an endpoint that answers 404; a rate-limited endpoint (429);
* tasks that are accepted but never run: every worker is stopped
  (``demo.faults.stopped_workers``);
* an API that answers 500 to a create but stores the task, and one that refuses to delete
  or cancel: a small loopback proxy in front of the real API (it forwards every request
  to the demo API and only rewrites those answers - the demo API itself cannot be made to
  misbehave like that on demand);
* containers: a container of the compose project without a memory limit
  (``demo.faults.container_without_no_new_privileges``) and one whose memory use is close
  to its limit (it fills a tmpfs inside a 16 MiB cgroup).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from golive.models import CheckResult, Status
from golive.testing import run_check
from tests.loopback import Handler, LoopbackServer, serving

if TYPE_CHECKING:
    from demo.stack import Stack


def _targets(stack: Stack, api_url: str | None = None, **api: Any) -> dict[str, Any]:
    return {
        "api": {
            "url": api_url or stack.api_url,
            "token": stack.api_token,
            "agent_id": stack.agent_id,
            "timeout": 10,
            **api,
        },
        "database": {"dsn": stack.database_dsn},
    }


def _probe_tasks(stack: Stack) -> list[tuple[str, str]]:
    """Tasks any throughput probe created that are still in the database."""
    with psycopg.connect(stack.database_dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT id::text, status FROM task WHERE title LIKE 'golive-%% throughput %%'"
        ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def _purge_probe_tasks(stack: Stack) -> None:
    with psycopg.connect(stack.database_dsn, autocommit=True) as conn, conn.transaction():
        ids = "SELECT id FROM task WHERE title LIKE 'golive-%% throughput %%'"
        conn.execute(f"DELETE FROM due_work WHERE task_id IN ({ids})")
        conn.execute(f"DELETE FROM task_run WHERE task_id IN ({ids})")
        conn.execute(f"DELETE FROM task WHERE id IN ({ids})")


@pytest.fixture
def clean_api(stack: Stack) -> Iterator[Stack]:
    """No rate-limit history and no probe task before and after the test."""
    from demo.stack.app import reset_rate_limits

    reset_rate_limits(stack)
    _purge_probe_tasks(stack)
    yield stack
    reset_rate_limits(stack)
    _purge_probe_tasks(stack)


def _throughput(
    stack: Stack, api_url: str | None = None, api: dict[str, Any] | None = None, **params: Any
) -> CheckResult:
    return run_check(
        "performance.task_throughput",
        targets=_targets(stack, api_url, **(api or {})),
        params={"tasks": 20, **params},
        allow_writes=True,
        timeout=60,
    )


# ---------------------------------------------------------------------------------------------
# api_latency


@contextmanager
def contended_health(stack: Stack, hold: float = 0.35, gap: float = 0.05) -> Iterator[None]:
    """Every /health reads worker_heartbeat: lock it (ACCESS EXCLUSIVE) again and again."""
    from demo.faults import _admin_app_db

    stop = threading.Event()
    locked = threading.Event()

    def contend() -> None:
        with psycopg.connect(_admin_app_db(stack), autocommit=True) as conn:
            while not stop.is_set():
                with conn.transaction():
                    conn.execute("LOCK TABLE worker_heartbeat IN ACCESS EXCLUSIVE MODE")
                    locked.set()
                    stop.wait(hold)
                stop.wait(gap)

    thread = threading.Thread(target=contend, daemon=True)
    thread.start()
    assert locked.wait(10), "could not lock worker_heartbeat"
    try:
        yield
    finally:
        stop.set()
        thread.join(10)


@pytest.mark.integration
def test_latency_passes_on_the_healthy_api(stack: Stack) -> None:
    # thresholds no busy machine reaches (requests time out at 10 s); the SLA logic is
    # tested below with an endpoint made slow for real
    sla = {"p95_ms": 9000, "p99_ms": 9500}
    r = run_check(
        "performance.api_latency", targets=_targets(stack), params={"requests": 60, **sla}
    )
    assert r.status is Status.PASS, r.summary
    assert r.summary.startswith("60 requests at concurrency 10 to /health: p50 ")
    assert "SLA p95 <= 9000 ms, p99 <= 9500 ms, errors <= 1.0%" in r.summary
    row = r.evidence["endpoints"][0]
    assert row["endpoint"] == "/health" and row["requests"] == "60/60" and row["errors"] == 0
    assert 0 < r.measurements["p50_ms"] <= r.measurements["p95_ms"] <= r.measurements["max_ms"]
    assert r.measurements["error_rate"] == 0 and r.measurements["rps"] > 0
    assert len(r.samples["/health"]) == 60
    assert sum(b["count"] for b in r.evidence["histogram"]) == 60


@pytest.mark.integration
def test_latency_fails_when_the_endpoint_is_slow(stack: Stack) -> None:
    with contended_health(stack):
        r = run_check(
            "performance.api_latency",
            targets=_targets(stack),
            params={"requests": 40, "concurrency": 4},
        )
    assert r.status is Status.FAIL, r.summary
    assert "/health p95 " in r.summary and "> 200 ms" in r.summary
    assert r.measurements["p95_ms"] > 200
    assert any(b["latency"] in ("200-500 ms", "500-1000 ms") for b in r.evidence["histogram"])


@pytest.mark.integration
def test_latency_errors_when_every_request_is_refused(stack: Stack) -> None:
    """A 4xx to every request is golive's request refused, not a latency verdict."""
    r = run_check(
        "performance.api_latency",
        targets=_targets(stack),
        params={"endpoints": ["/health/live", "/no-such-endpoint"], "requests": 30},
    )
    assert r.status is Status.ERROR
    assert r.summary == (
        "GET /no-such-endpoint answered 404 to every one of golive's requests, so its "
        "latency was not measured (not an endpoint the API serves: set `endpoints`)"
    )
    assert r.evidence["statuses"]["/health/live"] == {"200": 30}


@pytest.mark.integration
def test_latency_of_an_endpoint_behind_auth(clean_api: Stack) -> None:
    params = {"endpoints": ["/agents/"], "requests": 20, "p95_ms": 5000, "p99_ms": 5000}
    anonymous = run_check("performance.api_latency", targets=_targets(clean_api), params=params)
    assert anonymous.status is Status.ERROR
    assert anonymous.summary == (
        "GET /agents/ answered 401 to every one of golive's requests, so its latency was not "
        "measured (it needs credentials: set `authenticated: true`)"
    )
    signed = run_check(
        "performance.api_latency",
        targets=_targets(clean_api),
        params={**params, "authenticated": True},
    )
    assert signed.status is Status.PASS, signed.summary
    assert clean_api.api_token not in json.dumps(signed.evidence)


@pytest.mark.integration
def test_latency_explains_a_rate_limited_endpoint(clean_api: Stack) -> None:
    r = run_check(
        "performance.api_latency",
        targets=_targets(clean_api),
        params={"endpoints": ["/tools"], "requests": 700, "concurrency": 10},
    )
    assert r.status is Status.FAIL
    assert "x HTTP 429" in r.summary
    assert any("the rate limiter counts the probe" in p for p in r.evidence["problems"])


@pytest.mark.integration
def test_latency_rejects_nonsense_parameters(stack: Stack) -> None:
    r = run_check("performance.api_latency", targets=_targets(stack), params={"requests": 0})
    assert r.status is Status.ERROR
    assert "requests and concurrency must be at least 1" in r.summary


# ---------------------------------------------------------------------------------------------
# task_throughput


@pytest.mark.integration
def test_throughput_skips_without_allow_writes(stack: Stack) -> None:
    r = run_check("performance.task_throughput", targets=_targets(stack))
    assert r.status is Status.SKIP
    assert "--allow-writes" in r.summary


@pytest.mark.integration
def test_throughput_passes_and_cleans_up(clean_api: Stack) -> None:
    # a rate any machine reaches: the rate bar itself is tested below with one none reaches
    r = _throughput(clean_api, min_per_minute=1)
    assert r.status is Status.PASS, r.summary
    assert r.summary.startswith("20 of 20 tasks finished at ")
    assert r.evidence["tasks"]["accepted_in_database"] == 20
    assert r.evidence["submissions"] == [{"answer": "HTTP 201 Created", "count": 20}]
    assert r.evidence["cleanup"] == {"tasks": 20, "deleted": 20}
    assert r.measurements["per_minute"] > 0 and r.measurements["finished"] == 20
    assert r.evidence["marker"].startswith("golive-")
    # the body came from the API's request schema, which wants an Area/City time zone
    request = r.evidence["request"]
    assert request["operation"] == "POST /tasks/"
    assert request["source"].startswith("GET /openapi.json: body validated")
    assert request["adjusted_to_schema"] == {"timezone": "Etc/UTC"}
    assert request["removal"] == "DELETE then cancel"
    assert _probe_tasks(clean_api) == []


@pytest.mark.integration
def test_throughput_takes_the_documented_path_of_tasks_without_slash(clean_api: Stack) -> None:
    r = _throughput(clean_api, tasks=5, tasks_path="/tasks")
    assert r.status is Status.PASS, r.summary
    assert r.evidence["request"]["operation"] == "POST /tasks/"
    assert "redirects" not in r.evidence
    assert _probe_tasks(clean_api) == []


@pytest.mark.integration
def test_throughput_without_openapi_follows_the_307_and_quotes_a_refusal(
    clean_api: Stack,
) -> None:
    """No OpenAPI document: golive's own body goes to `tasks_path` unvalidated. Its
    `timezone: UTC` breaks the API's Area/City pattern: the first create is answered 422,
    nothing more is sent, and the check is an ERROR quoting the API, not a FAIL."""
    r = _throughput(clean_api, api={"openapi_path": None}, tasks=5, tasks_path="/tasks")
    assert r.status is Status.ERROR, r.summary
    assert r.summary.startswith(
        "POST /tasks answered HTTP 422 to golive's probe request, so throughput was not "
        "measured: timezone: String should match pattern '^[A-Za-z]+/[A-Za-z_]+$'"
    ), r.summary
    assert r.evidence["redirects"] == {"POST /tasks -> /tasks/ (307)": 1}
    assert r.evidence["submissions"][0]["count"] == 1
    assert "no OpenAPI document" in r.evidence["request"]["source"]
    assert _probe_tasks(clean_api) == []
    # with the API's own value for the field, the same run measures throughput
    r = _throughput(
        clean_api,
        api={"openapi_path": None},
        tasks=5,
        tasks_path="/tasks",
        task_fields={"timezone": "Europe/London"},
    )
    assert r.status is Status.PASS, r.summary
    assert r.evidence["redirects"] == {"POST /tasks -> /tasks/ (307)": 5}
    assert _probe_tasks(clean_api) == []


@pytest.mark.integration
def test_throughput_errors_before_sending_when_the_schema_cannot_be_met(
    clean_api: Stack,
) -> None:
    with psycopg.connect(clean_api.database_dsn, autocommit=True) as conn:
        before = conn.execute("SELECT count(*) FROM audit_log").fetchone()
    r = _throughput(clean_api, task_fields={"timezone": "UTC"})
    assert r.status is Status.ERROR
    assert r.summary == (
        "operation POST /tasks/: cannot satisfy field `timezone`: 'UTC' does not match "
        "'^[A-Za-z]+/[A-Za-z_]+$' (nothing was sent; `task_fields` sets a field's value)"
    )
    assert r.evidence["field"] == "timezone"
    r = _throughput(clean_api, task_fields={"priority": 42})
    assert r.status is Status.ERROR
    assert r.summary.startswith("operation POST /tasks/: cannot satisfy field `priority`: ")
    with psycopg.connect(clean_api.database_dsn, autocommit=True) as conn:
        after = conn.execute("SELECT count(*) FROM audit_log").fetchone()
    assert after == before  # not one request reached the API's write path
    assert _probe_tasks(clean_api) == []


@pytest.mark.integration
def test_throughput_fails_below_the_required_rate(clean_api: Stack) -> None:
    r = _throughput(clean_api, tasks=5, min_per_minute=1e9)
    assert r.status is Status.FAIL
    assert "tasks/min is below the required 1e+09/min" in r.summary
    assert _probe_tasks(clean_api) == []


@pytest.mark.integration
def test_throughput_concludes_early_when_nothing_runs(clean_api: Stack) -> None:
    from demo import faults

    with faults.stopped_workers(clean_api):
        r = _throughput(clean_api, tasks=5, due_in=1, grace=2)
    assert r.status is Status.FAIL
    # the grace reason, not the deadline's: it concluded without waiting for its deadline
    assert "5 probe tasks are stored but none started within 2s of their due time" in r.summary
    assert r.evidence["tasks"]["started"] == 0
    assert r.evidence["cleanup"]["deleted"] == 5
    assert _probe_tasks(clean_api) == []


class _MisbehavingApi(LoopbackServer):
    """A loopback proxy in front of the real demo API that rewrites some answers.

    Every request is forwarded to the real API first; then every `fail_every`-th task
    create is answered with 500 (the task *was* stored upstream), and, with
    `refuse_removal`, DELETE and cancel are refused with 403 without forwarding.
    """

    def __init__(self, upstream: str, fail_every: int = 0, refuse_removal: bool = False) -> None:
        self.fail_every = fail_every
        self.refuse_removal = refuse_removal
        self.creates = 0
        super().__init__(_Misbehaving, upstream)


class _Misbehaving(Handler):
    server: _MisbehavingApi

    def respond(self, body: bytes) -> None:
        srv = self.server
        removal = self.command == "DELETE" or self.path.endswith("/cancel")
        if srv.refuse_removal and removal:
            return self.answer(403, {"detail": "forbidden by the test proxy"})
        status, headers, data = self.forward(body)
        if self.command == "POST" and self.path == "/tasks/" and status == 201:
            with srv.lock:
                srv.creates += 1
                fail = srv.fail_every and srv.creates % srv.fail_every == 0
            if fail:
                return self.answer(500, {"detail": "Internal Server Error"})
        self.send_back(status, headers, data)


def misbehaving_api(stack: Stack, **kw: Any) -> AbstractContextManager[_MisbehavingApi]:
    return serving(_MisbehavingApi(stack.api_url, **kw))


@pytest.mark.integration
def test_throughput_counts_tasks_stored_despite_a_500(clean_api: Stack) -> None:
    with misbehaving_api(clean_api, fail_every=3) as proxy:
        r = _throughput(clean_api, api_url=proxy.url, tasks=12)
    assert r.status is Status.PASS, r.summary
    assert r.summary.startswith("12 of 12 tasks finished")
    answers = {row["answer"]: row["count"] for row in r.evidence["submissions"]}
    assert answers == {"HTTP 201 Created": 8, "HTTP 500": 4}
    assert r.evidence["tasks"]["stored_despite_error_answer"] == 4
    assert r.evidence["cleanup"] == {"tasks": 12, "deleted": 12}
    assert "4 creates were answered with an error but the task was stored" in r.evidence["note"]
    assert _probe_tasks(clean_api) == []


@pytest.mark.integration
def test_throughput_reports_what_it_could_not_clean_up(clean_api: Stack) -> None:
    with misbehaving_api(clean_api, refuse_removal=True) as proxy:
        r = _throughput(clean_api, api_url=proxy.url, tasks=3)
    try:
        assert r.status is Status.FAIL
        assert "3 probe tasks could not be removed (see cleanup)" in r.summary
        cleanup = r.evidence["cleanup"]
        assert cleanup["failed"] == 3
        assert len(cleanup["leftovers"]) == 3
        assert cleanup["leftovers"][0]["why"] == (
            "DELETE answered HTTP 403, cancel answered HTTP 403"
        )
        assert "throughput" in cleanup["remove_with"]
        assert len(_probe_tasks(clean_api)) == 3
    finally:
        _purge_probe_tasks(clean_api)


@pytest.mark.integration
def test_throughput_errors_without_credentials(stack: Stack) -> None:
    targets = _targets(stack)
    targets["api"] = {"url": stack.api_url}
    r = run_check("performance.task_throughput", targets=targets, allow_writes=True)
    assert r.status is Status.ERROR
    assert "no API credentials" in r.summary


# ---------------------------------------------------------------------------------------------
# container_resources


def _docker(stack: Stack) -> dict[str, Any]:
    return {"docker": {"base_url": stack.docker_host, "compose_project": stack.compose_project}}


@contextmanager
def filled_container(stack: Stack, limit: str = "16m", fill_mib: int = 14) -> Iterator[str]:
    """A container of the compose project that fills `fill_mib` MiB of tmpfs under `limit`."""
    from demo.stack import containers

    name = f"{stack.compose_project}_perffill_{uuid.uuid4().hex[:6]}"
    script = (
        f"/bin/busybox dd if=/dev/zero of=/dev/shm/fill bs=1M count={fill_mib} 2>/dev/null;"
        " exec /bin/sleep 3600"
    )
    containers.podman(
        stack, "run", "-d", "--name", name, "--memory", limit,
        "--label", f"com.docker.compose.project={stack.compose_project}",
        "--label", "com.docker.compose.service=perffill",
        containers.IMAGE, "/bin/sh", "-c", script,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # wait until the fill is done
            out = containers.podman(stack, "stats", "--no-stream", "--format", "{{.MemPerc}}", name)
            if float(out.strip().rstrip("%") or 0) > 70:
                break
            time.sleep(0.2)
        yield name
    finally:
        containers.podman(stack, "rm", "--force", "--time", "0", name, check=False)


@pytest.mark.integration
def test_resources_pass_when_every_container_is_limited(stack_containers: Stack) -> None:
    limited = ["api", "postgres", "redis", "scheduler", "worker"]
    r = run_check(
        "performance.container_resources",
        targets=_docker(stack_containers),
        params={"services": limited},
    )
    assert r.status is Status.PASS, r.summary
    assert "containers within their limits" in r.summary
    rows = r.evidence["containers"]
    assert {row["service"] for row in rows} == set(limited)
    assert all(row["limit"] != "none" and row["memory_%"] is not None for row in rows)
    assert all(row["cpu_%"] is not None for row in rows)
    api = next(row["container"] for row in rows if row["service"] == "api")
    assert r.measurements[f"{api}:memory_mib"] > 0


@pytest.mark.integration
def test_resources_warn_about_a_container_without_limit(stack_containers: Stack) -> None:
    from demo import faults

    with faults.container_without_no_new_privileges(stack_containers, service="unlimited") as name:
        r = run_check(
            "performance.container_resources",
            targets=_docker(stack_containers),
            params={"services": ["unlimited", "api"]},
        )
    assert r.status is Status.WARN
    assert r.summary == f"no memory limit on {name}"


@pytest.mark.integration
def test_resources_warn_and_fail_near_the_memory_limit(stack_containers: Stack) -> None:
    with filled_container(stack_containers) as name:
        warn = run_check(
            "performance.container_resources",
            targets=_docker(stack_containers),
            params={"services": ["perffill"]},
        )
        fail = run_check(
            "performance.container_resources",
            targets=_docker(stack_containers),
            params={"services": ["perffill"], "warn_pct": 50, "fail_pct": 75},
        )
    assert warn.status is Status.WARN, warn.summary
    # filled to about 89 %; the kernel's accounting (page cache, slab) adds a little
    assert re.fullmatch(rf"{name} uses (8\d|9[0-4]) % of its 16 MiB memory limit", warn.summary)
    assert 80 <= warn.measurements[f"{name}:memory_pct"] < 95
    assert fail.status is Status.FAIL
    assert fail.summary.startswith(f"{name} uses ")


@pytest.mark.integration
def test_resources_error_when_no_container_matches(stack_containers: Stack) -> None:
    r = run_check(
        "performance.container_resources",
        targets={"docker": {"base_url": stack_containers.docker_host, "compose_project": "nope"}},
    )
    assert r.status is Status.ERROR
    assert r.summary == "no running container found for compose project 'nope'"


@pytest.mark.integration
def test_load_checks_take_turns(clean_api: Stack) -> None:
    """In one run, the two load checks run one after the other, each alone."""
    from golive.engine import Options
    from golive.testing import load_dict, run_config

    cfg = load_dict(
        {
            "targets": _targets(clean_api),
            "defaults": {"concurrency": 4},
            "sections": {
                "performance": {
                    "checks": [
                        {
                            "id": "performance.api_latency",
                            "params": {"requests": 1500, "p95_ms": 5000, "p99_ms": 5000},
                            "timeout": "60s",
                        },
                        {
                            "id": "performance.task_throughput",
                            "params": {"tasks": 5, "min_per_minute": 1},
                            "timeout": "60s",
                        },
                    ]
                }
            },
        }
    )
    latency, tasks = run_config(cfg, options=Options(allow_writes=True)).results
    assert latency.status is Status.PASS, latency.summary
    assert tasks.status is Status.PASS, tasks.summary
    # both run in the runner's exclusive phase: one at a time, nothing else running
    # (the phase mechanism itself is tested in tests/golive/test_runner.py)
    from golive.registry import build_registry

    registry = build_registry(entry_points=False)
    assert registry.checks["performance.api_latency"].isolation == "exclusive"
    assert registry.checks["performance.task_throughput"].isolation == "exclusive"
    assert latency.started_at is not None and tasks.started_at is not None
    assert tasks.started_at >= latency.started_at


def test_docker_stats_arithmetic() -> None:
    """Memory as `docker stats` shows it, CPU from two readings, CPU limits from HostConfig."""
    from checks._perf import _cpu_limit, _cpu_percent, _memory_used

    v1 = {"memory_stats": {"usage": 300 * 2**20, "stats": {"total_inactive_file": 100 * 2**20}}}
    v2 = {"memory_stats": {"usage": 300 * 2**20, "stats": {"inactive_file": 50 * 2**20}}}
    assert _memory_used(v1) == 200 * 2**20 and _memory_used(v2) == 250 * 2**20
    assert _memory_used({"memory_stats": {}}) is None
    first = {
        "cpu_stats": {
            "cpu_usage": {"total_usage": 1_000_000_000},
            "system_cpu_usage": 10_000_000_000,
            "online_cpus": 2,
        }
    }
    second = {
        "cpu_stats": {
            "cpu_usage": {"total_usage": 1_500_000_000},
            "system_cpu_usage": 12_000_000_000,
            "online_cpus": 2,
        }
    }
    assert _cpu_percent(first, second, 1.0) == pytest.approx(50.0)  # 0.5 s of 1 s on 2 cpus
    no_system = {"cpu_stats": {"cpu_usage": {"total_usage": 1_250_000_000}}}
    assert _cpu_percent({"cpu_stats": {"cpu_usage": {"total_usage": 10**9}}}, no_system, 0.5) == (
        pytest.approx(50.0)
    )
    assert _cpu_limit({"NanoCpus": 1_500_000_000}) == 1.5
    assert _cpu_limit({"CpuQuota": 50_000, "CpuPeriod": 100_000}) == 0.5
    assert _cpu_limit({}) is None
