"""golive/monitor/sampling.py and the baseline lookup: what one sample measures.

Sources are measured against the reference stack (real API, PostgreSQL, Prometheus and
Alertmanager), healthy and broken for real (Alertmanager stopped, a wrong database port,
a bad PromQL query); the log-command source runs real commands; baselines are real
documents in golive.baseline's format.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from golive.baseline import _digest
from golive.config import Config
from golive.monitor.criteria import evaluate
from golive.monitor.cycle import baseline_latency, sample_stack
from golive.monitor.model import Sample, Verdict
from golive.monitor.sampling import command_errors, percentile
from golive.testing import load_dict

from .stackcfg import await_prometheus_traffic, redactor_for, short_windows, stack_targets


def take(cfg: Config) -> Sample:
    return asyncio.run(sample_stack(cfg, redactor_for(cfg), now=time.time(), interval=60.0))


# ----------------------------------------------------------------------------- no services


def test_percentile_nearest_rank() -> None:
    assert percentile([], 95) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50) == 5
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95) == 10
    assert percentile([3, 1, 2], 0) == 1


def _log_source(**kw: Any) -> Any:
    cfg = load_dict({"monitor": {"sources": {"error_log": kw}}})
    assert cfg.monitor.sources.error_log is not None
    return cfg.monitor.sources.error_log


def test_log_command_counts_matching_lines() -> None:
    src = _log_source(command="printf 'ERROR a\\nINFO b\\nERROR c\\nerror d\\n'", covers="1h")
    assert asyncio.run(command_errors(src)) == {"error_lines": 2, "error_span": 3600.0}
    src = _log_source(command=["printf", "x\\ny\\n"], pattern="(?i)^[xy]$")
    assert asyncio.run(command_errors(src))["error_lines"] == 2


def test_log_command_failure_and_timeout() -> None:
    src = _log_source(command="echo 'Error: No such container: api' >&2; exit 1")
    with pytest.raises(RuntimeError) as exc:
        asyncio.run(command_errors(src))
    assert str(exc.value) == "the log command exited with code 1: Error: No such container: api"
    slow = _log_source(command="sleep 30", timeout="0.5s")
    with pytest.raises(RuntimeError, match=r"^the log command timed out$"):
        asyncio.run(command_errors(slow))


def test_a_sample_without_targets_measures_nothing_and_claims_nothing() -> None:
    s = take(load_dict({}))
    assert (s.api_ok, s.error_rate, s.firing_alerts, s.db_connections) == (None, None, None, None)
    assert s.problems == {}


def test_log_command_problem_is_recorded_in_the_sample() -> None:
    cfg = load_dict({"monitor": {"sources": {"error_log": {"command": "exit 7"}}}})
    s = take(cfg)
    assert s.error_lines is None
    assert s.problems == {"error-log lines": "the log command exited with code 7"}


# ----------------------------------------------------------------------------- baselines


def baseline_doc(project: str, api: str, measurements: dict[str, float]) -> dict[str, Any]:
    checks = {
        "performance.api_latency": {
            "title": "t",
            "status": "PASS",
            "summary": "s",
            "params": {},
            "measurements": measurements,
            "samples": {},
        }
    }
    return {
        "kind": "golive-baseline",
        "format": 1,
        "created_at": "2025-01-10T00:00:00+00:00",
        "golive_version": "0.1.0",
        "run_id": "r",
        "host": "h",
        "project": project,
        "environment": "production",
        "config_digest": "",
        "config_files": [],
        "targets": {"api": api},
        "checks": checks,
        "digest": _digest(checks),
    }


def test_baseline_from_a_saved_file(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(
        json.dumps(
            baseline_doc(
                "ordinaut", "http://127.0.0.1:8080", {"p95_ms": 40.0, "/health:p95_ms": 12.5}
            )
        )
    )
    targets = {"api": {"url": "http://127.0.0.1:8080"}}
    cfg = load_dict({"targets": targets, "monitor": {"baseline": {"path": str(path)}}})
    assert baseline_latency(cfg) == (12.5, None)  # the probe path's own figure first
    cfg = load_dict(
        {"targets": targets, "monitor": {"baseline": {"path": str(path), "measurement": "p95_ms"}}}
    )
    assert baseline_latency(cfg) == (40.0, None)
    # baseline.file is used when monitor.baseline.path is not set and the file exists
    cfg = load_dict({"targets": targets, "baseline": {"file": str(path)}})
    assert baseline_latency(cfg) == (12.5, None)
    cfg = load_dict({"targets": targets, "baseline": {"file": str(tmp_path / "none.json")}})
    assert baseline_latency(cfg) == (None, None)  # no baseline saved: nothing to compare
    cfg = load_dict(
        {"targets": targets, "monitor": {"baseline": {"path": str(path), "latency_ms": 99}}}
    )
    assert baseline_latency(cfg) == (99.0, None)


def test_unusable_baselines_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(
        json.dumps(baseline_doc("other-project", "http://127.0.0.1:8080", {"p95_ms": 40.0}))
    )
    cfg = load_dict(
        {
            "targets": {"api": {"url": "http://127.0.0.1:8080"}},
            "monitor": {"baseline": {"path": str(path)}},
        }
    )
    value, problem = baseline_latency(cfg)
    assert value is None and problem is not None
    assert "it was saved for project 'other-project', this configuration is 'ordinaut'" in problem
    missing = load_dict({"monitor": {"baseline": {"path": str(tmp_path / "nope.json")}}})
    assert baseline_latency(missing)[1] == (
        f"baseline file {tmp_path / 'nope.json'} does not exist "
        f"(save one with `golive baseline save -o {tmp_path / 'nope.json'}`)"
    )
    path.write_text(json.dumps(baseline_doc("ordinaut", "http://127.0.0.1:8080", {"p99_ms": 40.0})))
    no_p95 = load_dict(
        {
            "targets": {"api": {"url": "http://127.0.0.1:8080"}},
            "monitor": {"baseline": {"path": str(path)}},
        }
    )
    assert baseline_latency(no_p95)[1] == (
        f"the baseline {path} has no positive performance.api_latency /health:p95_ms or p95_ms"
    )
    # a sample records the problem, and an unreadable baseline needs attention
    s = take(no_p95)
    assert s.problems["the performance baseline"].startswith("the baseline ")


# ----------------------------------------------------------------------------- the stack


@pytest.mark.integration
def test_healthy_sample_of_the_stack(stack: Any, tmp_path: Path) -> None:
    await_prometheus_traffic(stack, "30s")
    cfg = short_windows(
        stack,
        tmp_path,
        sources={
            "probe_requests": 4,
            "error_rate_window": "30s",
            "error_log": {
                "command": ["tail", "-n", "50", str(stack.paths["api_log"])],
                "pattern": "INFO",
            },
        },
    )
    s = take(cfg)
    assert s.problems == {}
    assert s.api_ok is True and s.api_status == 200 and s.api_detail is None
    assert len(s.latencies_ms) == 4 and s.probe_errors == 0
    assert s.latency_p95_ms == max(s.latencies_ms)
    assert s.perf_ratio == pytest.approx(s.latency_p95_ms / 1000, abs=1e-4)  # baseline 1000 ms
    assert (
        s.error_rate_source == "prometheus, derived"  # from the demo's ord_http_requests_total
        and s.error_rate is not None
        and 0 <= s.error_rate < 0.01
    )
    assert s.error_lines is not None and s.error_lines > 0 and s.error_span == 3600
    with psycopg.connect(stack.database_dsn) as conn:
        tasks = conn.execute(
            "SELECT count(*) FROM task_run WHERE finished_at > now() - interval '1 hour'"
        ).fetchone()
        conns = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        ).fetchone()
    assert tasks is not None and conns is not None
    assert abs((s.tasks_last_hour or 0) - tasks[0]) <= 5
    assert s.db_connections is not None and 1 <= s.db_connections <= conns[0] + 5


def _post_alerts(stack: Any, alerts: list[dict[str, Any]]) -> None:
    httpx.post(
        f"{stack.alertmanager_url}/api/v2/alerts", json=alerts, timeout=5, trust_env=False
    ).raise_for_status()


@pytest.mark.integration
def test_firing_alerts_count_critical_ones_and_not_golives_own(stack: Any, tmp_path: Path) -> None:
    cfg = short_windows(stack, tmp_path)
    tag = f"t{time.time_ns()}"
    now = datetime.now(timezone.utc)

    def alert(name: str, severity: str, **labels: str) -> dict[str, Any]:
        return {
            "labels": {"alertname": name, "severity": severity, "test": tag, **labels},
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(minutes=5)).isoformat(),
        }

    before = take(cfg)
    posted = [
        alert("DiskAlmostFull", "critical"),
        alert("QueueSlow", "warning"),
        alert("GoliveMonitorVerdict", "critical", golive_monitor="true"),
    ]
    _post_alerts(stack, posted)
    try:
        after = take(cfg)
    finally:
        for a in posted:
            a["endsAt"] = datetime.now(timezone.utc).isoformat()
        _post_alerts(stack, posted)
    assert before.firing_alerts is not None and after.firing_alerts is not None
    assert after.firing_alerts - before.firing_alerts == 2
    assert (after.critical_alerts or 0) - (before.critical_alerts or 0) == 1
    assert {"DiskAlmostFull", "QueueSlow"} <= set(after.alert_names)
    assert "GoliveMonitorVerdict" not in after.alert_names


@pytest.mark.integration
def test_configurable_error_rate_query(stack: Any, tmp_path: Path) -> None:
    await_prometheus_traffic(stack)
    query = "0.25 + 0 * sum(rate(ord_http_requests_total[{window}]))"
    s = take(
        short_windows(stack, tmp_path, sources={"error_rate_query": query, "probe_requests": 2})
    )
    assert (s.error_rate, s.error_rate_source) == (0.25, "prometheus")
    bad = take(
        short_windows(stack, tmp_path, sources={"error_rate_query": "sum(", "probe_requests": 2})
    )
    assert bad.error_rate == 0.0  # the probe's own errors stand in
    assert bad.error_rate_source is not None
    assert (
        bad.error_rate_source.startswith("probe (Prometheus: ")
        and "400 Bad Request" in bad.error_rate_source
    )


@pytest.mark.integration
def test_stopped_alertmanager_needs_attention(stack: Any, tmp_path: Path) -> None:
    from demo import faults

    cfg = short_windows(stack, tmp_path)
    with faults.stopped_alertmanager(stack):
        s = take(cfg)
    assert s.firing_alerts is None and s.critical_alerts is None
    assert s.problems == {
        "firing alerts in Alertmanager": f"connection refused by {stack.alertmanager_url}"
    }
    assert s.api_ok is True  # the other sources are unaffected
    ev = evaluate([s], [], s.ts + 1, cfg.monitor.criteria)
    assert ev.verdict is Verdict.ATTENTION
    assert ev.reasons == [
        f"Could not measure firing alerts in Alertmanager: connection refused by "
        f"{stack.alertmanager_url}"
    ]


@pytest.mark.integration
def test_unreachable_database_is_a_problem(stack: Any, tmp_path: Path) -> None:
    from tests.golive.monitor.conftest import free_port

    targets = stack_targets(stack)
    port = free_port()
    targets["database"] = {
        "dsn": f"postgresql://orchestrator:not-the-password@127.0.0.1:{port}/orchestrator",
        "connect_timeout": "2s",
    }
    cfg = load_dict(
        {"targets": targets, "monitor": {"history": str(tmp_path / "h.sqlite")}}, str(tmp_path)
    )
    s = take(cfg)
    assert s.db_connections is None and s.tasks_last_hour is None
    problem = s.problems["the database"]
    assert problem == f"connection refused by PostgreSQL at 127.0.0.1:{port}"
    assert "not-the-password" not in json.dumps(s.to_json())  # the redactor masked the DSN
