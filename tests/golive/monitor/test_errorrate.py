"""golive/monitor/errorrate.py: the API's error rate from what Prometheus really holds.

Against the reference stack, whose API names its request counter as Ordinaut does
(`ord_http_requests_total{method,path,status}`): the checklist's default query finds no
series and is derived from that counter; a query on an existing metric without traffic is
"no request counted", a query whose value is 0 is a measured 0 %. A test-only Prometheus
that scrapes only itself holds no request counter of an API: the error rate is unknown,
the closest metrics are named, and golive's own probe figure is labelled as such. A real
5xx rate (the application role loses SELECT on `agent`: every authenticated request
answers 500 while /health stays 200) makes the error-rate rollback trigger fire.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from golive.monitor.cycle import CycleResult, sample_stack
from golive.monitor.errorrate import _candidates, derived_query
from golive.monitor.model import Sample, Verdict
from golive.targets.prometheus import referenced_metrics
from tests.checks.test_monitoring import ScratchPrometheus

from .stackcfg import await_prometheus_traffic, redactor_for, short_windows
from .test_e2e import until

DEFAULT_METRIC = "http_requests_total"


def take(cfg: Any) -> Sample:
    return asyncio.run(sample_stack(cfg, redactor_for(cfg), now=time.time(), interval=60.0))


# ----------------------------------------------------------------------------- no services


def test_referenced_metrics() -> None:
    from golive.config import DEFAULT_ERROR_RATE_QUERY

    assert referenced_metrics(DEFAULT_ERROR_RATE_QUERY) == [DEFAULT_METRIC]
    query = (
        'sum by (path) (rate(a_total{job="x{y}",status=~"5.."}[5m])) / on(path) '
        "sum by (path) (rate(b_total[5m])) > bool 0.1 + up"
    )
    assert referenced_metrics(query) == ["a_total", "b_total", "up"]
    assert referenced_metrics("golive_no_such_metric_total") == ["golive_no_such_metric_total"]
    assert referenced_metrics("sum(rate(x[5m] offset 1h)) * 1e3 > bool inf") == ["x"]
    assert referenced_metrics('label_replace(up, "a", "$1", "job", "(.*)")') == ["up"]
    assert referenced_metrics("vector(1)") == []


def test_derived_query() -> None:
    assert derived_query("ord_http_requests_total", "status", "5m") == (
        '(sum(rate(ord_http_requests_total{status=~"5.."}[5m])) or vector(0))'
        " / sum(rate(ord_http_requests_total[5m]))"
    )


def test_candidates_skip_the_monitoring_stacks_own_counters() -> None:
    existing = [
        "prometheus_http_requests_total",
        "promhttp_metric_handler_requests_total",
        "ord_plugin_http_requests_total",
        "ord_http_requests_total",
        "up",
    ]
    assert _candidates(existing, DEFAULT_METRIC) == [
        "ord_http_requests_total",
        "ord_plugin_http_requests_total",
    ]
    assert _candidates(["promhttp_metric_handler_requests_total", "up"], DEFAULT_METRIC) == []
    # no *http_requests_total at all: any *_requests_total
    assert _candidates(["shop_requests_total", "up"], DEFAULT_METRIC) == ["shop_requests_total"]


def _sample(**kw: Any) -> Sample:
    return Sample(id="x", ts=0.0, interval=60.0, probe_requests=5, **kw)


def test_error_rate_as_people_read_it() -> None:
    assert _sample(error_rate=0.089, error_rate_source="prometheus").describe_error_rate() == (
        "8.90% (Prometheus)"
    )
    derived = _sample(
        error_rate=0.089,
        error_rate_source="prometheus, derived",
        error_rate_query=derived_query("ord_http_requests_total", "status", "5m"),
    )
    assert derived.describe_error_rate() == "8.90% (Prometheus, derived: ord_http_requests_total)"
    fallback = _sample(
        error_rate=0.0,
        probe_errors=0,
        error_rate_source="probe (Prometheus: no request-count metric in Prometheus (...))",
        error_rate_note="no request-count metric in Prometheus (http_requests_total has no "
        "series; closest: ord_http_request_seconds)",
    )
    assert fallback.describe_error_rate() == (
        "unknown (no request-count metric in Prometheus (http_requests_total has no series; "
        "closest: ord_http_request_seconds)); golive's own 5 probes: 0/5 failed"
    )
    down = _sample(
        error_rate=1.0, probe_errors=5, error_rate_source="probe (the API answered no request)"
    )
    assert down.describe_error_rate() == (
        "unknown (the API answered no request); golive's own 5 probes: 5/5 failed"
    )
    assert _sample().describe_error_rate() == "unknown"


# ----------------------------------------------------------------------------- the stack


@pytest.mark.integration
def test_the_default_query_is_derived_from_the_apis_own_counter(stack: Any, tmp_path: Path) -> None:
    await_prometheus_traffic(stack)
    s = take(short_windows(stack, tmp_path))
    assert s.error_rate_source == "prometheus, derived"
    assert s.error_rate is not None and 0 <= s.error_rate <= 1
    assert s.error_rate_query == derived_query("ord_http_requests_total", "status", "15s")
    assert s.error_rate_note == (
        "http_requests_total has no series in Prometheus; "
        "derived from ord_http_requests_total by its 'status' label"
    )


@pytest.mark.integration
def test_absent_no_traffic_and_zero_are_told_apart(stack: Any, tmp_path: Path) -> None:
    await_prometheus_traffic(stack)

    def with_query(query: str) -> Sample:
        sources = {"error_rate_query": query, "probe_requests": 2, "error_rate_window": "15s"}
        return take(short_windows(stack, tmp_path, sources=sources))

    zero = with_query("0 * sum(rate(ord_http_requests_total[{window}]))")
    assert (zero.error_rate, zero.error_rate_source) == (0.0, "prometheus")
    assert zero.describe_error_rate() == "0.00% (Prometheus)"

    quiet = with_query('sum(rate(ord_http_requests_total{path="/golive-never"}[{window}]))')
    assert quiet.error_rate_note == "no request counted in the last 15s"
    assert quiet.error_rate_source == "probe (Prometheus: no request counted in the last 15s)"
    assert quiet.describe_error_rate() == (
        "unknown (no request counted in the last 15s); golive's own 2 probes: 0/2 failed"
    )

    # the configured metric exists but counts nothing here (another service's, on a shared
    # Prometheus): the API's own counter is used
    elsewhere = with_query("sum(rate(due_work_backlog[{window}])) > 1")
    assert elsewhere.error_rate_source == "prometheus, derived"
    assert elsewhere.error_rate_note == (
        "due_work_backlog counted no request in the last 15s; "
        "derived from ord_http_requests_total by its 'status' label"
    )

    absent = with_query("sum(rate(golive_absent_requests_total[{window}]))")
    assert absent.error_rate_source == "prometheus, derived"
    assert absent.error_rate_note == (
        "golive_absent_requests_total has no series in Prometheus; "
        "derived from ord_http_requests_total by its 'status' label"
    )


@pytest.mark.integration
def test_no_request_counter_is_unknown_with_the_closest_metrics(
    stack: Any, tmp_path: Path, scratch: Callable[..., ScratchPrometheus]
) -> None:
    """A Prometheus that scrapes only itself: its own prometheus_http_requests_total is not
    the API's, so the error rate is unknown and the human output says so."""
    prom = scratch(self_scrape=True)
    # Prometheus has served requests and scraped its own counter of them
    deadline = time.monotonic() + 30
    while True:
        body = httpx.get(
            f"{prom.url}/api/v1/query",
            params={"query": "prometheus_http_requests_total"},
            timeout=5,
            trust_env=False,
        ).json()
        if body["data"]["result"]:
            break
        assert time.monotonic() < deadline, "Prometheus never scraped itself"
        time.sleep(0.2)
    s = take(short_windows(stack, tmp_path, targets={"prometheus": {"url": prom.url}}))
    assert s.error_rate_note == (
        "no request-count metric in Prometheus (http_requests_total has no series; "
        "closest: prometheus_http_requests_total)"
    )
    assert s.error_rate_source is not None and s.error_rate_source.startswith("probe (")
    # a source that cannot be measured: ATTENTION, not a silent fallback
    assert s.problems == {"the error rate in Prometheus": s.error_rate_note}
    assert s.describe_error_rate() == (
        f"unknown ({s.error_rate_note}); golive's own 3 probes: 0/3 failed"
    )


@pytest.mark.integration
def test_monitor_output_never_shows_the_probe_figure_as_the_apis(
    stack: Any, tmp_path: Path, scratch: Callable[..., ScratchPrometheus]
) -> None:
    from golive.cli import app
    from golive.testing import write_config

    prom = scratch(self_scrape=False)
    cfg = short_windows(stack, tmp_path)
    data = {
        "project": cfg.project,
        "targets": {"api": {"url": stack.api_url}, "prometheus": {"url": prom.url}},
        "monitor": {"history": str(tmp_path / "h.sqlite"), "sources": {"probe_requests": 2}},
    }
    path = write_config(data, str(tmp_path))
    out = CliRunner().invoke(app, ["monitor", "-c", path])
    assert out.exit_code == 11, out.output  # ATTENTION: the error rate cannot be measured
    assert (
        "  error rate: unknown (no request-count metric in Prometheus (http_requests_total has "
        "no series; no similar metric exists)); golive's own 2 probes: 0/2 failed"
    ) in out.output, out.output
    assert "error rate 0.00%" not in out.output and "0.00%" not in out.output


@pytest.fixture
def private_api(stack: Any, tmp_path: Path) -> Iterator[str]:
    """A second process of the demo API on the stack's database (rate limit off), that only
    this test's Prometheus scrapes: its 5xx never reach the shared Prometheus's alert rules,
    which later tests of the session expect to be quiet."""
    import sys
    from functools import partial

    from demo.stack import app, procs

    port = procs.free_port()
    env = {**app.app_env(stack), "RATE_LIMIT_ENABLED": "false"}
    argv = [sys.executable, "-m", "uvicorn", "demo.api:app", "--host", "127.0.0.1"]
    pid = procs.spawn([*argv, "--port", str(port)], tmp_path / "api.log", env=env, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        procs.wait_until(
            partial(procs.http_ok, f"{url}/health/live"),
            30,
            "the second API",
            alive=partial(procs.alive, pid),
        )
        yield url
    finally:
        procs.kill_group(pid)


@pytest.fixture
def failing_requests(stack: Any, private_api: str) -> Iterator[Callable[[], int]]:
    """Authenticated requests to the private API in a loop (each answers 500 under
    `unreadable_agents`); returns how many answered 5xx so far."""
    stop = threading.Event()
    count = [0]

    def loop() -> None:
        headers = {"Authorization": f"Bearer {stack.api_token}"}
        with httpx.Client(base_url=private_api, headers=headers, trust_env=False) as c:
            while not stop.is_set():
                try:
                    if c.get("/tasks/", params={"limit": 1}, timeout=5).status_code >= 500:
                        count[0] += 1
                except httpx.HTTPError:
                    pass
                stop.wait(0.05)  # a steady rate, not a flood

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield lambda: count[0]
    stop.set()
    thread.join(10)


@pytest.mark.integration
def test_a_real_5xx_rate_triggers_the_rollback(
    stack: Any,
    tmp_path: Path,
    private_api: str,
    failing_requests: Callable[[], int],
    scratch: Callable[..., ScratchPrometheus],
) -> None:
    """The demo API (a private process of it) answers 500 to every authenticated request:
    Prometheus scrapes the counter, the monitor derives the error rate from it, and the
    error-rate trigger (alone: /health stays up) rolls back."""
    from demo import faults
    from golive.cli import app
    from golive.testing import write_config

    prom = scratch(("orchestrator-api", private_api.removeprefix("http://")))
    targets = {"api": {"url": private_api}, "prometheus": {"url": prom.url}}
    cfg = short_windows(stack, tmp_path, targets=targets)
    seen: list[CycleResult] = []
    with faults.unreadable_agents(stack):
        rollback = until(cfg, {Verdict.ROLLBACK}, 90, seen)
        assert failing_requests() > 0
        # the human output, while the fault holds
        data = {
            "project": cfg.project,
            "targets": targets,
            "monitor": {"history": str(tmp_path / "cli.sqlite"), "sources": {"probe_requests": 2}},
        }
        out = CliRunner().invoke(app, ["monitor", "-c", write_config(data, str(tmp_path))])
    reasons = rollback.evaluation.reasons
    assert len(reasons) == 1, reasons  # the API stayed up: only the error rate triggers
    assert reasons[0].startswith("The error rate has stayed above 20% for ")
    assert "measured by the API's requests in Prometheus" in reasons[0]
    s = rollback.sample
    assert s is not None and s.api_ok is True
    assert s.error_rate_source == "prometheus, derived" and (s.error_rate or 0) > 0.2
    assert "(Prometheus, derived: ord_http_requests_total)" in out.output, out.output
