"""checks/monitoring.py against real Prometheus and Alertmanager.

The healthy cases run against the reference stack (``stack`` fixture): Prometheus scraping
the demo API every second and Alertmanager routing to the demo's webhook sink. The failing
cases are built for real and undone:

* a stopped scrape target: the demo API is killed (``demo.faults.stopped_api``);
* a broken rule and always-firing rules: an extra rule file is added to the stack
  Prometheus's ``rule_files`` and Prometheus is reloaded (``POST /-/reload``), then restored;
* a renamed metric and a high-cardinality label: a small loopback app counts its real
  requests as ``ord_http_requests_total{path=<raw path>}`` (the classic mistake) and a
  test-only Prometheus (same binary, own temp dir) scrapes it; the stack's Prometheus is not
  polluted with thousands of series that would linger in its head block for hours;
* zero ingestion, a failed configuration reload and a stopped Prometheus: a test-only
  Prometheus scraping nothing / a dead loopback port, reloaded with a broken file, killed;
* Alertmanager stopped (``demo.faults.stopped_alertmanager``) and an Alertmanager without
  any receiver integration (a second, test-only Alertmanager).

Two servers are stand-ins, documented where they are defined: Grafana (not packaged for
Debian) is a small loopback HTTP server answering ``/api/health``, ``/api/datasources``,
``/api/datasources/uid/<uid>/health`` and ``/api/search`` as Grafana's HTTP API documents
them (its datasource health check really queries the stack's Prometheus, as Grafana's
does); and an "Alertmanager" that answers ``/api/v2/status`` but rejects every POST with
HTTP 500, which a real Alertmanager cannot be made to do on demand.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml

from golive.models import CheckResult, Status
from golive.testing import run_check

if TYPE_CHECKING:
    from demo.stack import Stack

from checks import _monitoring as mon

# ---------------------------------------------------------------------------------------------
# helpers


def _need(binary: str) -> str:
    """The binary's path; skip without it (fail under CI=true, like the stack fixture)."""
    from tests.conftest import tool

    return tool(binary)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dead_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    return f"http://127.0.0.1:{_free_port()}"


def wait_for(probe: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `probe` until it returns something truthy; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def eventually(
    check_id: str, want: Status, timeout: float = 20.0, containing: str = "", **kwargs: Any
) -> CheckResult:
    """Run a check until it reports `want` with `containing` in its summary (Prometheus needs
    a scrape or an evaluation to notice a change); returns that result, or fails the test
    with the last one."""
    last: list[CheckResult] = []

    def attempt() -> CheckResult | None:
        result = run_check(check_id, **kwargs)
        last[:] = [result]
        return result if result.status is want and containing in result.summary else None

    deadline = time.monotonic() + timeout
    while True:
        found = attempt()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            r = last[0]
            pytest.fail(f"{check_id} stayed {r.status.value} ({r.summary}), expected {want.value}")
        time.sleep(0.5)


def targets_of(stack: Stack, **extra: Any) -> dict[str, Any]:
    """golive targets for the stack's Prometheus and Alertmanager."""
    return {
        "prometheus": {"url": stack.prometheus_url},
        "alertmanager": {"url": stack.alertmanager_url},
        **extra,
    }


def _get_json(url: str, **params: Any) -> Any:
    resp = httpx.get(url, params=params or None, timeout=5, trust_env=False)
    resp.raise_for_status()
    return resp.json()


def wait_stack_monitored(stack: Stack) -> None:
    """Wait until the stack's Prometheus scrapes every target and has the API's metrics."""

    def ready() -> bool:
        data = _get_json(f"{stack.prometheus_url}/api/v1/targets", state="active")["data"]
        active = data["activeTargets"]
        if not active or any(t["health"] != "up" for t in active):
            return False
        found = _get_json(f"{stack.prometheus_url}/api/v1/query", query="worker_active_count")
        return bool(found["data"]["result"])

    wait_for(ready, 60, "the stack's Prometheus to scrape every target")


def _reload(url: str) -> int:
    return httpx.post(f"{url}/-/reload", timeout=10, trust_env=False).status_code


class _Http:
    """A loopback HTTP server in a thread, for the test-only apps and stand-ins below."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Http:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class _Handler(BaseHTTPRequestHandler):
    def reply(self, code: int, body: Any, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def raw_path_app(delay: float = 0.0) -> _Http:
    """A badly instrumented app: it counts each real request it serves under its RAW path
    (`ord_http_requests_total{path="/orders/17"}`) and exposes the counter on /metrics,
    `delay` seconds slow. Its metric also carries the `ord_` prefix of a renamed metric."""
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    class App(_Handler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                time.sleep(delay)
                with lock:
                    lines = [
                        "# HELP ord_http_requests_total Requests by raw path.",
                        "# TYPE ord_http_requests_total counter",
                        *(
                            f'ord_http_requests_total{{method="GET",path="{p}",status="200"}} {n}'
                            for p, n in sorted(counts.items())
                        ),
                    ]
                self.reply(200, ("\n".join(lines) + "\n").encode(), "text/plain; version=0.0.4")
                return
            with lock:
                counts[self.path] += 1
            self.reply(200, {"ok": True})

    return _Http(App)


class ScratchPrometheus:
    """A test-only Prometheus (the Debian binary) on a free loopback port, own temp dir."""

    def __init__(self, directory: Path, config: dict[str, Any]) -> None:
        self.binary = _need("prometheus")
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.dir / "prometheus.yml"
        self.write(config)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def write(self, config: dict[str, Any] | str) -> None:
        text = config if isinstance(config, str) else yaml.safe_dump(config, sort_keys=False)
        self.config_path.write_text(text)

    def start(self) -> None:
        log = (self.dir / "prometheus.log").open("wb")
        self.proc = subprocess.Popen(
            [
                self.binary,
                f"--config.file={self.config_path}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                f"--storage.tsdb.path={self.dir / 'data'}",
                "--web.enable-lifecycle",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                pytest.fail(
                    f"prometheus exited: {(self.dir / 'prometheus.log').read_text()[-500:]}"
                )
            try:
                return (
                    httpx.get(f"{self.url}/-/ready", timeout=1, trust_env=False).status_code == 200
                )
            except httpx.HTTPError:
                return False

        wait_for(ready, 30, "the test-only Prometheus to be ready")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None

    def reload(self, config: dict[str, Any] | str) -> int:
        self.write(config)
        return _reload(self.url)

    def targets(self) -> dict[str, Any]:
        return {"prometheus": {"url": self.url}}


def prom_config(*jobs: tuple[str, str], interval: str = "1s") -> dict[str, Any]:
    """A Prometheus config scraping `(job, host:port)` pairs."""
    scrape = [{"job_name": job, "static_configs": [{"targets": [addr]}]} for job, addr in jobs]
    return {
        "global": {
            "scrape_interval": interval,
            "scrape_timeout": interval,
            "evaluation_interval": interval,
        },
        "scrape_configs": scrape,
    }


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Callable[..., ScratchPrometheus]]:
    """Start test-only Prometheus servers: `scratch(*jobs, self_scrape=False)`."""
    started: list[ScratchPrometheus] = []

    def make(
        *jobs: tuple[str, str], self_scrape: bool = False, interval: str = "1s"
    ) -> ScratchPrometheus:
        prom = ScratchPrometheus(tmp_path / f"prom{len(started)}", {})
        if self_scrape:
            jobs = (("prometheus", f"127.0.0.1:{prom.port}"), *jobs)
        prom.write(prom_config(*jobs, interval=interval))
        started.append(prom)
        prom.start()
        return prom

    yield make
    for p in started:
        p.stop()


# ---------------------------------------------------------------------------------------------
# unit tests: parsing helpers (no server)


def test_times_from_prometheus_and_alertmanager_parse_with_nanoseconds() -> None:
    t = mon._parse_time("2026-11-28T20:21:25.649591068Z")
    assert t == datetime(2026, 11, 28, 20, 21, 25, 649591, tzinfo=timezone.utc)
    assert mon._parse_time("2026-11-28T20:21:25Z") == datetime(
        2026, 11, 28, 20, 21, 25, tzinfo=timezone.utc
    )
    assert mon._parse_time("2026-11-28T21:21:25.5+01:00") == datetime(
        2026, 11, 28, 20, 21, 25, 500000, tzinfo=timezone.utc
    )
    assert mon._parse_time("0001-01-01T00:00:00Z") is None  # Go's zero time: "never"
    assert mon._parse_time("") is None
    assert mon._parse_time(None) is None


def test_prometheus_durations() -> None:
    assert mon._duration_seconds("15s") == 15
    assert mon._duration_seconds("1m30s") == 90
    assert mon._duration_seconds("500ms") == 0.5
    assert mon._duration_seconds("soon") is None
    assert mon._duration_seconds("") is None


def test_nan_and_garbage_sample_values_are_none() -> None:
    assert mon._number("NaN") is None
    assert mon._number(float("nan")) is None
    assert mon._number(None) is None
    assert mon._number("x") is None
    assert mon._number("+Inf") == math.inf
    assert mon._number("0.25") == 0.25


def test_closest_names_find_a_prefixed_or_misspelt_metric() -> None:
    existing = ["ord_http_requests_total", "up", "worker_active_count", "process_cpu_seconds_total"]
    assert mon._closest("http_requests_total", existing)[0] == "ord_http_requests_total"
    assert mon._closest("worker_active_counts", existing) == ["worker_active_count"]
    assert mon._closest("task_processing_rate", existing) == []


def test_id_like_label_values() -> None:
    for value in (
        "/orders/17",
        "/tasks/3f2b8c1e-0000-4000-8000-000000000001",
        "12345",
        "/u/deadbeefcafebabe1234",
    ):
        assert mon._ID_LIKE.search(value), value
    for value in ("/tasks/{task_id}", "/health", "GET", "orchestrator-api", "v2", "node-1"):
        assert not mon._ID_LIKE.search(value), value


def test_errors_lose_url_credentials_and_query_strings() -> None:
    text = (
        'Get "http://scraper:s3cret@10.0.0.1:9100/metrics?token=abc": dial tcp: connection refused'
    )
    out = mon._plain_error(text)
    assert "s3cret" not in out and "token=abc" not in out
    assert "connection refused" in out


def test_receivers_are_read_from_the_reported_configuration() -> None:
    text = yaml.safe_dump(
        {
            "route": {"receiver": "blackhole"},
            "receivers": [
                {"name": "blackhole"},
                {
                    "name": "ops",
                    "webhook_configs": [{"url": "http://relay/alerts"}],
                    "email_configs": [],
                },
            ],
        }
    )
    receivers, root = mon._receivers(text)
    assert root == "blackhole"
    assert receivers == [
        {"receiver": "blackhole", "integrations": "none (drops alerts)"},
        {"receiver": "ops", "integrations": "webhook"},
    ]


def test_sink_deliveries_read_only_new_lines_about_the_marked_alert(tmp_path: Path) -> None:
    sink = tmp_path / "received.jsonl"
    old = {
        "payload": {
            "receiver": "r",
            "alerts": [{"status": "firing", "labels": {"golive_marker": "m1"}}],
        }
    }
    sink.write_text(json.dumps(old) + "\n")
    offset = sink.stat().st_size
    with sink.open("a") as fh:
        fh.write("not json\n")
        fh.write(
            json.dumps(
                {
                    "receiver": "other",
                    "alerts": [{"status": "firing", "labels": {"golive_marker": "m2"}}],
                }
            )
            + "\n"
        )
        fh.write(
            json.dumps(
                {
                    "payload": {
                        "receiver": "r",
                        "alerts": [{"status": "resolved", "labels": {"golive_marker": "m1"}}],
                    }
                }
            )
            + "\n"
        )
    assert mon._sink_deliveries(sink, offset, "m1") == {"resolved": "r"}
    assert mon._sink_deliveries(sink, 0, "m1") == {"firing": "r", "resolved": "r"}
    assert mon._sink_deliveries(sink, offset, "m2") == {"firing": "other"}
    assert mon._sink_deliveries(tmp_path / "missing", 0, "m1") == {}


# ---------------------------------------------------------------------------------------------
# servers that are down or not configured (no stack needed)


def test_health_checks_skip_when_their_server_is_not_configured() -> None:
    for check_id, kind in (
        ("monitoring.prometheus_health", "prometheus"),
        ("monitoring.alertmanager_health", "alertmanager"),
        ("monitoring.grafana", "grafana"),
    ):
        r = run_check(check_id, targets={})
        assert r.status is Status.SKIP
        assert f"no {kind} target is configured" in r.summary


def test_unreachable_alertmanager_fails_its_health_check_and_skips_the_pipeline() -> None:
    url = _dead_url()
    r = run_check("monitoring.alertmanager_health", targets={"alertmanager": {"url": url}})
    assert r.status is Status.FAIL
    assert r.summary == f"Alertmanager does not answer: connection refused by {url}"
    r = run_check(
        "monitoring.alert_pipeline", targets={"alertmanager": {"url": url}}, allow_writes=True
    )
    assert r.status is Status.SKIP
    assert r.summary.startswith("alertmanager unreachable: connection refused")


def test_alert_pipeline_is_skipped_without_allow_writes() -> None:
    r = run_check("monitoring.alert_pipeline", targets={"alertmanager": {"url": _dead_url()}})
    assert r.status is Status.SKIP
    assert "--allow-writes" in r.summary


# ---------------------------------------------------------------------------------------------
# the healthy stack: every check passes


READ_ONLY = (
    "monitoring.prometheus_health",
    "monitoring.targets",
    "monitoring.rules",
    "monitoring.firing_alerts",
    "monitoring.key_metrics",
    "monitoring.ingestion",
    "monitoring.cardinality",
    "monitoring.alertmanager_health",
)


@pytest.mark.integration
@pytest.mark.parametrize("check_id", READ_ONLY)
def test_healthy_stack_passes(stack: Stack, check_id: str) -> None:
    wait_stack_monitored(stack)
    r = run_check(check_id, targets=targets_of(stack))
    assert r.status is Status.PASS, r.summary
    assert r.summary


@pytest.mark.integration
def test_healthy_stack_evidence(stack: Stack) -> None:
    wait_stack_monitored(stack)
    t = targets_of(stack)
    r = run_check("monitoring.prometheus_health", targets=t)
    assert r.evidence["version"].startswith("2.")
    assert r.evidence["last_reload_ok"] is True
    assert r.measurements["uptime_seconds"] > 0
    assert r.summary.startswith(f"Prometheus {r.evidence['version']} is healthy and ready (up ")

    r = run_check("monitoring.targets", targets=t)
    jobs = {row["job"] for row in r.evidence["targets"]}
    assert {"orchestrator-api", "alertmanager"} <= jobs
    assert r.measurements["targets_down"] == 0

    r = run_check("monitoring.rules", targets=t)
    groups = {g["group"]: g for g in r.evidence["groups"]}
    assert groups["orchestrator-availability"]["alerting"] == 2
    assert r.measurements["failing_rules"] == 0

    r = run_check("monitoring.key_metrics", targets=t)
    assert [m["metric"] for m in r.evidence["metrics"]] == [
        "up",
        "http_requests_total",
        "database_connections",
        "task_processing_rate",
        "worker_active_count",
    ]
    assert all(m["state"] == "ok" and m["series"] >= 1 for m in r.evidence["metrics"])

    r = run_check("monitoring.ingestion", targets=t)
    assert r.measurements["samples_per_second"] > 0
    assert r.evidence["method"].startswith("sum_over_time(scrape_samples_post_metric_relabeling")
    assert {j["job"] for j in r.evidence["scrape_durations"]} == jobs

    r = run_check("monitoring.cardinality", targets=t)
    assert r.evidence["head_series"] > 0
    assert r.evidence["top_metrics"] and r.evidence["top_labels"]

    r = run_check("monitoring.alertmanager_health", targets=t)
    assert r.evidence["version"].startswith("0.")
    assert r.evidence["cluster"] == "disabled"
    assert r.evidence["receivers"] == [{"receiver": "webhook-sink", "integrations": "webhook"}]
    assert r.evidence["prometheus_alertmanagers"] == [f"{stack.alertmanager_url}/api/v2/alerts"]
    assert "single instance" in r.summary and "webhook-sink (webhook)" in r.summary


@pytest.mark.integration
def test_alert_pipeline_delivers_to_the_webhook_sink_and_resolves(stack: Stack) -> None:
    r = run_check(
        "monitoring.alert_pipeline",
        targets=targets_of(stack),
        params={"webhook_sink": str(stack.webhook_sink)},
        allow_writes=True,
    )
    assert r.status is Status.PASS, r.summary
    assert "delivered to receiver webhook-sink" in r.summary and r.summary.endswith("then resolved")
    assert [s["step"] for s in r.evidence["steps"]] == [
        "post",
        "listed",
        "delivered",
        "resolve",
        "resolved",
    ]
    marker = r.evidence["labels"]["golive_marker"]
    assert marker.startswith("golive-")
    # cleaned up: Alertmanager no longer lists it, and the receiver is told it is resolved
    active = _get_json(
        f"{stack.alertmanager_url}/api/v2/alerts", filter=f'golive_marker="{marker}"'
    )
    assert active == []
    wait_for(
        lambda: "resolved" in mon._sink_deliveries(stack.webhook_sink, 0, marker),
        20,
        "the resolved notification of the test alert",
    )


@pytest.mark.integration
def test_alert_pipeline_without_sink_still_proves_listing_and_resolution(stack: Stack) -> None:
    r = run_check("monitoring.alert_pipeline", targets=targets_of(stack), allow_writes=True)
    assert r.status is Status.PASS, r.summary
    assert "delivered" not in r.summary
    assert r.evidence["labels"]["severity"] == "info"
    assert [s["step"] for s in r.evidence["steps"]] == ["post", "listed", "resolve", "resolved"]


# ---------------------------------------------------------------------------------------------
# real failures on the stack


@pytest.mark.integration
def test_stopped_api_is_a_down_target_and_its_metrics_stop(stack: Stack) -> None:
    from demo import faults

    wait_stack_monitored(stack)
    api = stack.api_url.removeprefix("http://")
    with faults.stopped_api(stack):
        r = eventually("monitoring.targets", Status.FAIL, targets=targets_of(stack))
        assert r.summary.startswith(
            "1 of 2 targets up; 1 scrape target down: orchestrator-api " + api
        )
        (down,) = r.evidence["down"]
        assert down["job"] == "orchestrator-api" and down["instance"] == api
        assert "connection refused" in down["last_error"]
        assert down["last_scrape"] != "never"

        r = run_check(
            "monitoring.targets",
            targets=targets_of(stack),
            params={"required_jobs": ["alertmanager"]},
        )
        assert r.status is Status.WARN
        assert "outside the required jobs down: orchestrator-api" in r.summary

        r = run_check("monitoring.key_metrics", targets=targets_of(stack))
        assert r.status is Status.FAIL
        states = {m["metric"]: m["state"] for m in r.evidence["metrics"]}
        assert states["up"] == "ok"  # up is 0, but it has fresh samples
        assert states["http_requests_total"].startswith("stopped reporting")
        assert "worker_active_count (stopped reporting" in r.summary
    wait_stack_monitored(stack)
    assert run_check("monitoring.targets", targets=targets_of(stack)).status is Status.PASS


@contextmanager
def extra_rules(stack: Stack, directory: Path, groups: list[dict[str, Any]]) -> Iterator[None]:
    """Add a rule file to the stack Prometheus's rule_files and reload; restore on exit.

    Alerts the extra rules fired are resolved in Alertmanager afterwards (Prometheus does
    not send a resolution for alerts of a rule group that a reload removed)."""
    conf = Path(stack.paths["prometheus_config"])
    original = conf.read_text()
    rules_file = directory / "golive-test-rules.yml"
    rules_file.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    config = yaml.safe_load(original)
    config["rule_files"] = [*config.get("rule_files", []), str(rules_file)]
    names = {g["name"] for g in groups}

    def loaded() -> set[str]:
        data = _get_json(f"{stack.prometheus_url}/api/v1/rules")["data"]
        return {g["name"] for g in data["groups"]}

    conf.write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        assert _reload(stack.prometheus_url) == 200
        wait_for(lambda: names <= loaded(), 10, "the extra rules to load")
        yield
    finally:
        conf.write_text(original)
        assert _reload(stack.prometheus_url) == 200
        wait_for(lambda: not names & loaded(), 10, "the extra rules to unload")
        _resolve_in_alertmanager(
            stack, [r["alert"] for g in groups for r in g["rules"] if "alert" in r]
        )


def _resolve_in_alertmanager(stack: Stack, alertnames: list[str]) -> None:
    if not alertnames:
        return
    now = datetime.now(timezone.utc).isoformat()
    matcher = 'alertname=~"' + "|".join(alertnames) + '"'
    found = _get_json(f"{stack.alertmanager_url}/api/v2/alerts", filter=matcher)
    if found:
        body = [{"labels": a["labels"], "startsAt": a["startsAt"], "endsAt": now} for a in found]
        httpx.post(
            f"{stack.alertmanager_url}/api/v2/alerts", json=body, timeout=5, trust_env=False
        ).raise_for_status()


@pytest.mark.integration
def test_a_rule_whose_evaluation_fails_is_named(stack: Stack, tmp_path: Path) -> None:
    group = {
        "name": "golive-test-broken",
        "rules": [
            {
                "alert": "GoliveTestBrokenRule",
                "expr": "up + on() up > 0",
                "labels": {"severity": "warning"},
            },
            {"record": "golive_test:up:ok", "expr": "sum(up)"},
        ],
    }
    with extra_rules(stack, tmp_path, [group]):
        r = eventually("monitoring.rules", Status.FAIL, targets=targets_of(stack))
        assert r.summary.startswith(
            "1 rule fails to evaluate: GoliveTestBrokenRule (GoliveTestBrokenRule in group golive-test-broken: "
        )
        assert "many-to-many matching not allowed" in r.summary
        (bad,) = r.evidence["failing"]
        assert bad["group"] == "golive-test-broken" and bad["type"] == "alerting"
        row = next(g for g in r.evidence["groups"] if g["group"] == "golive-test-broken")
        assert row == {
            "group": "golive-test-broken",
            "file": "golive-test-rules.yml",
            "alerting": 1,
            "recording": 1,
            "failing": 1,
            "interval_s": 1,
        }
    assert run_check("monitoring.rules", targets=targets_of(stack)).status is Status.PASS


@pytest.mark.integration
def test_missing_rule_groups_and_too_few_alerting_rules_fail(stack: Stack) -> None:
    r = run_check(
        "monitoring.rules",
        targets=targets_of(stack),
        params={
            "min_alerting_rules": 50,
            "required_groups": ["orchestrator-processing", "slo-burn-rate"],
        },
    )
    assert r.status is Status.FAIL
    assert r.summary == (
        "Only 6 alerting rules loaded (at least 50 expected); rule group(s) not loaded: slo-burn-rate"
    )


def _always_firing(name: str, severity: str) -> dict[str, Any]:
    return {
        "name": f"golive-test-{severity}",
        "rules": [
            {
                "alert": name,
                "expr": "vector(1)",
                "labels": {"severity": severity, "team": "golive-test"},
                "annotations": {"summary": f"always fires ({severity}); loaded by a golive test"},
            }
        ],
    }


@pytest.mark.integration
def test_a_firing_critical_alert_fails(stack: Stack, tmp_path: Path) -> None:
    with extra_rules(stack, tmp_path, [_always_firing("GoliveTestAlwaysCritical", "critical")]):
        r = eventually("monitoring.firing_alerts", Status.FAIL, targets=targets_of(stack))
        assert r.summary.startswith("1 critical alert firing: GoliveTestAlwaysCritical (for ")
        (row,) = r.evidence["firing"]
        assert row["alert"] == "GoliveTestAlwaysCritical" and row["severity"] == "critical"
        assert "team=golive-test" in row["labels"]
        assert mon._parse_time(row["since"]) is not None
        assert row["summary"] == "always fires (critical); loaded by a golive test"
        # the same alert, declared accepted, no longer counts
        r = run_check(
            "monitoring.firing_alerts",
            targets=targets_of(stack),
            params={"ignore_alerts": ["GoliveTestAlwaysCritical"]},
        )
        assert r.status is Status.PASS
    wait_for(
        lambda: (
            run_check("monitoring.firing_alerts", targets=targets_of(stack)).status is Status.PASS
        ),
        15,
        "the critical alert to stop firing",
    )


@pytest.mark.integration
def test_a_firing_warning_alert_warns(stack: Stack, tmp_path: Path) -> None:
    with extra_rules(stack, tmp_path, [_always_firing("GoliveTestAlwaysWarning", "warning")]):
        r = eventually("monitoring.firing_alerts", Status.WARN, targets=targets_of(stack))
        assert r.summary.startswith("1 warning alert firing: GoliveTestAlwaysWarning (for ")
        r = run_check(
            "monitoring.firing_alerts", targets=targets_of(stack), params={"warn_severities": []}
        )
        assert r.status is Status.PASS
        assert r.summary.startswith(
            "No critical alert is firing (1 lower-severity alert firing: GoliveTestAlwaysWarning"
        )


@pytest.mark.integration
def test_renamed_metrics_are_missing_with_the_closest_existing_names(stack: Stack) -> None:
    wait_stack_monitored(stack)
    r = run_check(
        "monitoring.key_metrics",
        targets=targets_of(stack),
        params={
            "metrics": [
                "up",
                "orchestrator_http_requests_total",
                "worker_active_counts",
                "golive_nothing_like_it",
            ]
        },
    )
    assert r.status is Status.FAIL
    assert r.summary == (
        "3 of 4 key metrics have no recent samples: "
        "orchestrator_http_requests_total (missing; closest existing: http_requests_total), "
        "worker_active_counts (missing; closest existing: worker_active_count), "
        "golive_nothing_like_it (missing; no similar metric exists)"
    )
    assert r.measurements["metrics_missing"] == 3


@pytest.mark.integration
def test_key_metric_selectors_and_stale_threshold(stack: Stack) -> None:
    wait_stack_monitored(stack)
    t = targets_of(stack)
    r = run_check(
        "monitoring.key_metrics", targets=t, params={"metrics": ['up{job="orchestrator-api"}']}
    )
    assert r.status is Status.PASS
    assert r.evidence["metrics"][0]["series"] == 1
    r = run_check(
        "monitoring.key_metrics", targets=t, params={"metrics": ['up{job="no-such-job"}']}
    )
    assert r.status is Status.FAIL
    assert r.evidence["metrics"][0]["state"] == "missing"
    r = run_check(
        "monitoring.key_metrics", targets=t, params={"metrics": ["up"], "max_age_seconds": 0.0001}
    )
    assert r.status is Status.FAIL and "up (stale (" in r.summary
    r = run_check("monitoring.key_metrics", targets=t, params={"metrics": ["up; drop"]})
    assert r.status is Status.ERROR
    assert "'up; drop' is neither a metric name nor a PromQL selector" in r.summary


@pytest.mark.integration
def test_ingestion_rejects_a_bad_window(stack: Stack) -> None:
    r = run_check(
        "monitoring.ingestion", targets=targets_of(stack), params={"window": "five minutes"}
    )
    assert r.status is Status.ERROR
    assert r.summary == "window 'five minutes' is not a PromQL duration such as '5m' or '30s'"


@pytest.mark.integration
def test_nan_from_a_real_query_is_treated_as_no_value(stack: Stack) -> None:
    """PromQL `0/0` is NaN: the Prometheus target (which the checks use) reports None."""
    import asyncio

    from golive.config import PrometheusTarget as Cfg
    from golive.targets.prometheus import PrometheusTarget

    async def ask() -> tuple[Any, Any, Any]:
        prom = PrometheusTarget(Cfg(url=stack.prometheus_url))
        try:
            return (
                await prom.scalar("0/0"),
                await prom.scalar("golive_no_such_metric"),
                await prom.query("golive_no_such_metric"),
            )
        finally:
            await prom.close()

    assert asyncio.run(ask()) == (None, None, [])


@pytest.mark.integration
def test_stopped_alertmanager_fails_and_the_pipeline_is_skipped(stack: Stack) -> None:
    from demo import faults

    with faults.stopped_alertmanager(stack):
        url = stack.alertmanager_url
        r = run_check("monitoring.alertmanager_health", targets=targets_of(stack))
        assert r.status is Status.FAIL
        assert r.summary == f"Alertmanager does not answer: connection refused by {url}"
        r = run_check("monitoring.alert_pipeline", targets=targets_of(stack), allow_writes=True)
        assert r.status is Status.SKIP
        assert r.summary.startswith("alertmanager unreachable: connection refused")
    wait_for(
        lambda: (
            run_check("monitoring.alertmanager_health", targets=targets_of(stack)).status
            is Status.PASS
        ),
        30,
        "Alertmanager to be back",
    )


@pytest.mark.integration
def test_pipeline_fails_when_the_alert_never_reaches_the_observed_receiver(
    stack: Stack, tmp_path: Path
) -> None:
    """The real Alertmanager delivers to its webhook, but not to the file golive watches:
    the receiver golive is told to observe never gets the alert (a misrouted receiver)."""
    elsewhere = tmp_path / "other-receiver.jsonl"
    elsewhere.touch()
    r = run_check(
        "monitoring.alert_pipeline",
        targets=targets_of(stack),
        params={"webhook_sink": str(elsewhere)},
        allow_writes=True,
        timeout=3,
    )
    assert r.status is Status.FAIL
    assert r.summary.startswith(
        "The test alert was listed by Alertmanager but not delivered to the webhook sink within "
    )
    steps = {s["step"]: s for s in r.evidence["steps"]}
    assert steps["delivered"]["ok"] is False
    assert steps["cleanup"] == {**steps["cleanup"], "ok": True, "detail": "resolved the test alert"}
    marker = r.evidence["labels"]["golive_marker"]
    assert (
        _get_json(f"{stack.alertmanager_url}/api/v2/alerts", filter=f'golive_marker="{marker}"')
        == []
    )


@pytest.mark.integration
def test_missing_sink_file_is_an_error(stack: Stack, tmp_path: Path) -> None:
    r = run_check(
        "monitoring.alert_pipeline",
        targets=targets_of(stack),
        params={"webhook_sink": str(tmp_path / "nope.jsonl")},
        allow_writes=True,
    )
    assert r.status is Status.ERROR
    assert (
        r.summary
        == f"webhook sink file {tmp_path / 'nope.jsonl'} does not exist (params.webhook_sink)"
    )


def rejecting_alertmanager() -> _Http:
    """STAND-IN, not Alertmanager: answers GET /api/v2/status and /api/v2/alerts like
    Alertmanager 0.25 does, but every POST /api/v2/alerts with HTTP 500, as an Alertmanager
    failing to store alerts (or a broken proxy in front of it) would. A real Alertmanager
    cannot be made to reject valid alerts on demand."""
    status = {
        "cluster": {"peers": [], "status": "disabled"},
        "config": {
            "original": yaml.safe_dump(
                {
                    "route": {"receiver": "ops"},
                    "receivers": [{"name": "ops", "webhook_configs": [{"url": "http://relay/"}]}],
                }
            )
        },
        "uptime": "2026-01-01T00:00:00.000Z",
        "versionInfo": {"version": "0.25.0"},
    }

    class Rejecting(_Handler):
        def do_GET(self) -> None:
            if self.path.startswith("/api/v2/status"):
                self.reply(200, status)
            elif self.path.startswith("/api/v2/alerts"):
                self.reply(200, [])
            else:
                self.reply(404, {"code": 404})

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.reply(500, {"code": 500, "message": "failed to store alerts"})

    return _Http(Rejecting)


def test_alertmanager_rejecting_posts_fails_the_pipeline() -> None:
    with rejecting_alertmanager() as am:
        r = run_check(
            "monitoring.alert_pipeline",
            targets={"alertmanager": {"url": am.url}},
            allow_writes=True,
        )
        assert r.status is Status.FAIL
        assert r.summary == (
            "Alertmanager rejected the test alert: POST /api/v2/alerts answered HTTP 500 "
            '(\'{"code": 500, "message": "failed to store alerts"}\')'
        )
        assert r.evidence["steps"] == [
            {**r.evidence["steps"][0], "step": "post", "ok": False, "detail": "HTTP 500"}
        ]
        # its status endpoint alone looks healthy: only the write path proves alerting works
        r = run_check("monitoring.alertmanager_health", targets={"alertmanager": {"url": am.url}})
        assert r.status is Status.PASS


@pytest.mark.integration
def test_alertmanager_without_a_receiver_integration_fails(tmp_path: Path) -> None:
    binary = _need("prometheus-alertmanager")
    conf = tmp_path / "alertmanager.yml"
    conf.write_text(
        yaml.safe_dump({"route": {"receiver": "blackhole"}, "receivers": [{"name": "blackhole"}]})
    )
    port = _free_port()
    with (tmp_path / "am.log").open("wb") as log:
        proc = subprocess.Popen(
            [binary, f"--config.file={conf}", f"--web.listen-address=127.0.0.1:{port}",
             f"--storage.path={tmp_path / 'data'}", "--cluster.listen-address="],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"alertmanager exited: {(tmp_path / 'am.log').read_text()[-400:]}")
            try:
                return httpx.get(f"{url}/-/ready", timeout=1, trust_env=False).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, 30, "the test-only Alertmanager")
        r = run_check("monitoring.alertmanager_health", targets={"alertmanager": {"url": url}})
        assert r.status is Status.FAIL
        assert r.summary.endswith(
            "answers, but no receiver with an integration is configured: alerts are delivered nowhere"
        )
        assert r.evidence["receivers"] == [
            {"receiver": "blackhole", "integrations": "none (drops alerts)"}
        ]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


# ---------------------------------------------------------------------------------------------
# test-only Prometheus servers


@pytest.mark.integration
def test_empty_prometheus_results_are_handled(scratch: Callable[..., ScratchPrometheus]) -> None:
    """A Prometheus that scrapes nothing: every query is empty; no check crashes."""
    prom = scratch()
    t = prom.targets()
    r = run_check("monitoring.targets", targets=t)
    assert (r.status, r.summary) == (
        Status.FAIL,
        "Prometheus has no active scrape target: nothing is being monitored",
    )
    r = run_check("monitoring.ingestion", targets=t)
    assert r.status is Status.WARN
    assert (
        r.summary == "Prometheus ingested no samples in the last 5m: it has no scrape data at all"
    )
    assert r.evidence["scrape_durations"] == []
    r = run_check("monitoring.key_metrics", targets=t, params={"metrics": ["http_requests_total"]})
    assert (r.status, r.summary) == (
        Status.FAIL,
        "1 of 1 key metric has no recent samples: http_requests_total (missing; no similar metric exists)",
    )
    r = run_check("monitoring.rules", targets=t)
    assert (r.status, r.summary) == (
        Status.FAIL,
        "Only 0 alerting rules loaded (at least 1 expected)",
    )
    r = run_check("monitoring.firing_alerts", targets=t)
    assert (r.status, r.summary) == (Status.PASS, "No alert is firing")
    r = run_check("monitoring.cardinality", targets=t)
    assert r.status is Status.PASS


@pytest.mark.integration
def test_prometheus_sending_to_no_alertmanager_warns(
    stack: Stack, scratch: Callable[..., ScratchPrometheus]
) -> None:
    prom = scratch()  # no `alerting:` section
    r = run_check(
        "monitoring.alertmanager_health",
        targets={"alertmanager": {"url": stack.alertmanager_url}, "prometheus": {"url": prom.url}},
    )
    assert r.status is Status.WARN
    assert r.summary.endswith(
        "answers, but Prometheus lists no active Alertmanager: its alerts go nowhere"
    )
    assert r.evidence["prometheus_alertmanagers"] == []


@pytest.mark.integration
def test_renamed_metric_and_raw_path_label_from_real_requests(
    scratch: Callable[..., ScratchPrometheus],
) -> None:
    with raw_path_app() as app:
        prom = scratch(("shop", app.url.removeprefix("http://")), self_scrape=True)
        t = prom.targets()
        with httpx.Client(base_url=app.url, trust_env=False) as client:
            for n in range(620):  # real requests, each to its own object's URL
                client.get(f"/orders/{n}")

        def scraped_all() -> bool:
            found = _get_json(f"{prom.url}/api/v1/query", query="count(ord_http_requests_total)")
            result = found["data"]["result"]
            return bool(result) and float(result[0]["value"][1]) >= 620

        wait_for(scraped_all, 20, "Prometheus to scrape every path series")

        r = run_check("monitoring.cardinality", targets=t)
        assert r.status is Status.WARN
        assert r.summary.startswith(
            "High cardinality: label 'path' has 620 values, over 500; its values look like ids (e.g. /orders/"
        )
        (over,) = r.evidence["over_threshold"]
        assert over["kind"] == "label" and over["label"] == "path" and over["id_like"] is True
        r = run_check("monitoring.cardinality", targets=t, params={"max_series_per_metric": 600})
        assert "metric ord_http_requests_total has 620 series, over 600" in r.summary

        r = run_check(
            "monitoring.key_metrics", targets=t, params={"metrics": ["up", "http_requests_total"]}
        )
        assert r.status is Status.FAIL
        # the renamed metric comes first (nearest in length); Prometheus's own
        # prometheus_http_requests_total may follow once it has served a request
        assert r.summary.startswith(
            "1 of 2 key metrics has no recent samples: "
            "http_requests_total (missing; closest existing: ord_http_requests_total"
        )

        self_rate = "rate(prometheus_tsdb_head_samples_appended_total[10s])"
        wait_for(
            lambda: _get_json(f"{prom.url}/api/v1/query", query=self_rate)["data"]["result"],
            20,
            "two samples of Prometheus's own ingestion counter",
        )
        r = run_check("monitoring.ingestion", targets=t, params={"window": "10s"})
        assert r.status is Status.PASS, r.summary
        assert r.evidence["method"] == "rate(prometheus_tsdb_head_samples_appended_total[10s])"
        assert r.measurements["samples_per_second"] > 0  # a young series: rate() underestimates


@pytest.mark.integration
def test_slow_scrapes_warn(scratch: Callable[..., ScratchPrometheus]) -> None:
    with raw_path_app(delay=0.9) as app:
        httpx.get(f"{app.url}/orders/1", trust_env=False).raise_for_status()  # one sample
        prom = scratch(("slow-exporter", app.url.removeprefix("http://")))
        r = eventually(
            "monitoring.ingestion",
            Status.WARN,
            containing="close to their timeout",
            targets=prom.targets(),
            params={"window": "5s"},
        )
        assert "scrapes come close to their timeout: slow-exporter (" in r.summary
        (row,) = r.evidence["scrape_durations"]
        assert (
            row["job"] == "slow-exporter"
            and row["timeout_s"] == 1
            and row["share_of_timeout"] > 0.8
        )


@pytest.mark.integration
def test_zero_ingestion_failed_reload_and_stopped_prometheus(
    scratch: Callable[..., ScratchPrometheus],
) -> None:
    dead = _dead_url().removeprefix("http://")
    prom = scratch(("gone", dead))
    t = prom.targets()
    r = eventually(
        "monitoring.ingestion",
        Status.WARN,
        containing="nothing",
        targets=t,
        params={"window": "10s"},
    )
    assert r.summary == "Prometheus ingests nothing: 0 samples/s over the last 10s"
    r = eventually("monitoring.targets", Status.FAIL, targets=t)
    assert r.summary.startswith(f"0 of 1 targets up; 1 scrape target down: gone {dead} (")

    assert run_check("monitoring.prometheus_health", targets=t).status is Status.PASS
    assert prom.reload("scrape_configs: [this is not: valid") == 500
    r = run_check("monitoring.prometheus_health", targets=t)
    assert r.status is Status.WARN
    assert (
        "its last configuration reload failed: it still runs the configuration loaded at "
        in r.summary
    )
    assert r.evidence["last_reload_ok"] is False

    prom.stop()
    r = run_check("monitoring.prometheus_health", targets=t)
    assert (r.status, r.summary) == (
        Status.FAIL,
        f"Prometheus does not answer: connection refused by {prom.url}",
    )
    r = run_check("monitoring.targets", targets=t)
    assert r.status is Status.SKIP and r.summary.startswith(
        "prometheus unreachable: connection refused"
    )


# ---------------------------------------------------------------------------------------------
# Grafana


TOKEN = "glsa_golive_test_token_0123456789"


def grafana_standin(prometheus_url: str, *, database: str = "ok") -> tuple[_Http, dict[str, Any]]:
    """STAND-IN for Grafana (not packaged for Debian): serves the documented shapes of
    GET /api/health, /api/datasources, /api/datasources/uid/<uid>/health and /api/search
    (https://grafana.com/docs/grafana/latest/developers/http_api/). The datasource health
    check really queries the datasource's URL (`/api/v1/query?query=1+1`), as Grafana's
    Prometheus plugin does, so a datasource pointing at a dead Prometheus really fails.
    Returns the server and its mutable state."""
    state: dict[str, Any] = {
        "database": database,
        "datasources": [
            {
                "id": 1,
                "uid": "prom-main",
                "orgId": 1,
                "name": "Prometheus",
                "type": "prometheus",
                "typeName": "Prometheus",
                "access": "proxy",
                "url": prometheus_url,
                "isDefault": True,
                "jsonData": {"httpMethod": "POST"},
                "readOnly": True,
            },
            {
                "id": 2,
                "uid": "loki",
                "orgId": 1,
                "name": "Loki",
                "type": "loki",
                "typeName": "Loki",
                "access": "proxy",
                "url": "http://127.0.0.1:1",
                "isDefault": False,
                "jsonData": {},
                "readOnly": True,
            },
        ],
        "dashboards": [
            {
                "id": 3,
                "uid": "orch-overview",
                "title": "Orchestrator Overview",
                "uri": "db/orchestrator-overview",
                "url": "/d/orch-overview/orchestrator-overview",
                "type": "dash-db",
                "tags": ["ordinaut"],
                "isStarred": False,
                "folderTitle": "Ordinaut",
            },
        ],
        "requests": [],
    }

    class Grafana(_Handler):
        def do_GET(self) -> None:
            path, _, _query = self.path.partition("?")
            state["requests"].append((path, self.headers.get("Authorization")))
            if path == "/api/health":
                ok = state["database"] == "ok"
                body = {"commit": "5a3b2c1", "database": state["database"], "version": "10.4.2"}
                self.reply(200 if ok else 503, body)
                return
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self.reply(401, {"message": "invalid API key"})
                return
            if path == "/api/datasources":
                self.reply(200, state["datasources"])
            elif path.startswith("/api/datasources/uid/") and path.endswith("/health"):
                uid = path.split("/")[4]
                ds = next((d for d in state["datasources"] if d["uid"] == uid), None)
                if ds is None:
                    self.reply(404, {"message": "Data source not found"})
                    return
                try:
                    url = ds["url"] + "/api/v1/query?query=1%2B1"
                    with urllib.request.urlopen(url, timeout=2) as resp:
                        resp.read()
                    self.reply(
                        200, {"status": "OK", "message": "Successfully queried the Prometheus API."}
                    )
                except OSError as exc:
                    self.reply(
                        400,
                        {"status": "ERROR", "message": f'Post "{ds["url"]}/api/v1/query": {exc}'},
                    )
            elif path == "/api/search":
                self.reply(200, state["dashboards"])
            else:
                self.reply(404, {"message": "Not found"})

    return _Http(Grafana), state


@pytest.mark.integration
def test_grafana_with_token_verifies_datasource_and_dashboards(stack: Stack) -> None:
    server, state = grafana_standin(stack.prometheus_url)
    with server as g:
        r = run_check(
            "monitoring.grafana",
            targets={"grafana": {"url": g.url, "token": TOKEN}},
            params={"dashboards": ["Orchestrator Overview", "orch-overview"]},
        )
        assert r.status is Status.PASS, r.summary
        assert r.summary == (
            "Grafana 10.4.2 is healthy (database ok); prometheus datasource 'Prometheus' "
            "(Successfully queried the Prometheus API.) answers; all 2 expected dashboards provisioned"
        )
        assert r.evidence["datasource_health"] == [
            {
                "datasource": "Prometheus",
                "http": 200,
                "status": "OK",
                "message": "Successfully queried the Prometheus API.",
            }
        ]
        assert TOKEN not in json.dumps(r.evidence) and TOKEN not in r.summary
        assert ("/api/datasources", f"Bearer {TOKEN}") in state["requests"]

        # the datasource points at a Prometheus that is gone
        state["datasources"][0]["url"] = _dead_url()
        r = run_check("monitoring.grafana", targets={"grafana": {"url": g.url, "token": TOKEN}})
        assert r.status is Status.FAIL
        assert r.summary.startswith(
            "Grafana 10.4.2 is up, but datasource 'Prometheus' fails its health check: Post "
        )
        assert "Connection refused" in r.summary

        # a dashboard that was never provisioned, and a datasource name that does not exist
        state["datasources"][0]["url"] = stack.prometheus_url
        r = run_check(
            "monitoring.grafana",
            targets={"grafana": {"url": g.url, "token": TOKEN}},
            params={
                "dashboards": ["Orchestrator Overview", "Worker Fleet"],
                "datasource_name": "Thanos",
            },
        )
        assert r.status is Status.FAIL
        assert r.summary == (
            "Grafana 10.4.2 is up, but no prometheus datasource named 'Thanos' exists "
            "(found: Prometheus (prometheus), Loki (loki)); 1 expected dashboard not found: Worker Fleet"
        )


def test_grafana_failures_without_prometheus() -> None:
    server, state = grafana_standin(_dead_url())
    with server as g:
        r = run_check("monitoring.grafana", targets={"grafana": {"url": g.url}})
        assert r.status is Status.WARN
        assert r.summary == (
            "Grafana 10.4.2 is healthy (database ok), but without a token (targets.grafana.token) "
            "golive cannot verify its Prometheus datasource and dashboards"
        )
        r = run_check(
            "monitoring.grafana", targets={"grafana": {"url": g.url, "token": "wrong-token-value"}}
        )
        assert (r.status, r.summary) == (
            Status.FAIL,
            "Grafana rejected golive's token (HTTP 401 on /api/datasources)",
        )
        state["database"] = "failing"
        r = run_check("monitoring.grafana", targets={"grafana": {"url": g.url, "token": TOKEN}})
        assert (r.status, r.summary) == (
            Status.FAIL,
            "Grafana 10.4.2 is unhealthy: /api/health answered HTTP 503 with database 'failing'",
        )
    dead = _dead_url()
    r = run_check("monitoring.grafana", targets={"grafana": {"url": dead}})
    assert (r.status, r.summary) == (
        Status.FAIL,
        f"Grafana does not answer: connection refused by {dead}",
    )


def test_every_monitoring_check_is_in_the_checklist() -> None:
    from golive.config import load_config
    from golive.registry import build_registry

    registry = build_registry()
    ids = {s.id for s in registry.sorted() if s.section == "monitoring"}
    config = load_config([str(Path(__file__).parents[2] / "golive" / "checklist.yaml")], env={})
    listed = [e.id for e in config.sections["monitoring"].checks]
    assert sorted(listed) == sorted(ids)
    assert len(ids) == 10
    entry = next(
        e for e in config.sections["monitoring"].checks if e.id == "monitoring.alert_pipeline"
    )
    assert entry.timeout == 90 and entry.params == {"webhook_sink": ""}


def test_empty_webhook_sink_param_means_no_sink() -> None:
    """golive.yaml passes `${GOLIVE_WEBHOOK_SINK:-}`: an empty value must not be a path."""
    with rejecting_alertmanager() as am:
        r = run_check(
            "monitoring.alert_pipeline",
            targets={"alertmanager": {"url": am.url}},
            params={"webhook_sink": ""},
            allow_writes=True,
        )
    assert r.status is Status.FAIL and r.summary.startswith("Alertmanager rejected the test alert")
