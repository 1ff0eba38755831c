"""End to end against the reference stack, with windows shortened to seconds.

Stop the API -> ROLLBACK, and the notice arrives at a real loopback webhook, at the real
Alertmanager (which routes it on to the stack's webhook sink) and, by e-mail, at an
aiosmtpd SMTP sink; restore the API -> the verdict recovers; healthy for the (shortened)
success window -> SUCCESS, notified too.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from golive.monitor.cycle import CycleResult, run_once
from golive.monitor.history import History
from golive.monitor.model import Verdict

from .conftest import SmtpSink, Webhook, wait_for
from .stackcfg import redactor_for, short_windows

pytestmark = pytest.mark.integration


def until(cfg: Any, wanted: set[Verdict], timeout: float, seen: list[CycleResult]) -> CycleResult:
    """Sample every `monitor.every` seconds until the verdict is one of `wanted`."""
    deadline = time.monotonic() + timeout
    redactor = redactor_for(cfg)
    while True:
        started = time.monotonic()
        result = run_once(cfg, redactor)
        seen.append(result)
        if result.evaluation.verdict in wanted:
            return result
        if time.monotonic() > deadline:
            trail = [(r.evaluation.verdict.value, list(r.evaluation.reasons)) for r in seen[-5:]]
            raise AssertionError(
                f"no {sorted(v.value for v in wanted)} within {timeout:g}s: {trail}"
            )
        time.sleep(max(0.0, cfg.monitor.every - (time.monotonic() - started)))


def am_alerts(stack: Any, project: str) -> list[dict[str, Any]]:
    resp = httpx.get(
        f"{stack.alertmanager_url}/api/v2/alerts",
        params={"filter": f'project="{project}"'},
        timeout=5,
        trust_env=False,
    )
    resp.raise_for_status()
    return list(resp.json())


def sink_alerts(stack: Any, project: str) -> list[dict[str, Any]]:
    """Alerts Alertmanager delivered to the stack's webhook sink for this project."""
    out = []
    for line in Path(stack.webhook_sink).read_text().splitlines():
        record = json.loads(line)
        payload = record.get("payload") or {}
        for alert in payload.get("alerts", []) if isinstance(payload, dict) else []:
            if alert.get("labels", {}).get("project") == project:
                out.append(alert)
    return out


def test_outage_rollback_recovery_success(
    stack: Any, tmp_path: Path, webhook: Webhook, smtp_sink: SmtpSink
) -> None:
    from demo import faults

    notify = {
        "alertmanager": {"labels": {"team": "sre"}, "ttl": "10m"},
        "webhooks": [{"url": webhook.url}],
        "email": {"host": smtp_sink.host, "port": smtp_sink.port, "to": ["oncall@example.org"]},
    }
    cfg = short_windows(stack, tmp_path, notify=notify)
    project = cfg.project
    seen: list[CycleResult] = []

    healthy = until(cfg, {Verdict.WATCHING}, 30, seen)
    assert healthy.sample is not None and healthy.sample.api_ok is True
    # the demo names its counter as Ordinaut does: the default query is derived from it
    assert healthy.sample.error_rate_source == "prometheus, derived"
    assert "ord_http_requests_total" in (healthy.sample.error_rate_query or "")
    assert healthy.sample.db_connections and healthy.sample.db_connections > 0
    assert healthy.sample.firing_alerts is not None
    assert webhook.payloads() == []  # the first WATCHING is not news

    with faults.stopped_api(stack):
        rollback = until(cfg, {Verdict.ROLLBACK}, 60, seen)
        reason = rollback.evaluation.reasons[0]
        assert (
            reason.startswith("The API has been unavailable for ")
            and "(rollback after more than 2s)" in reason
        )
        assert rollback.sample is not None and rollback.sample.api_ok is False
        assert (
            rollback.sample.api_detail is not None
            and "connection refused" in rollback.sample.api_detail
        )
        assert rollback.sample.error_rate == 1.0  # no answer: the probe's own errors count

        # the JSON webhook
        payloads = wait_for(
            lambda: [p for p in webhook.payloads() if p["verdict"] == "ROLLBACK"],
            10,
            "the ROLLBACK webhook",
        )
        assert payloads[0]["project"] == project and payloads[0]["procedure"][0].startswith(
            "Stop all services"
        )
        # the real Alertmanager holds the alert ...
        fired = wait_for(
            lambda: [
                a for a in am_alerts(stack, project) if a["labels"].get("verdict") == "ROLLBACK"
            ],
            10,
            "the alert in Alertmanager",
        )
        assert fired[0]["labels"]["alertname"] == "GoliveMonitorVerdict"
        assert fired[0]["labels"]["severity"] == "critical" and fired[0]["labels"]["team"] == "sre"
        assert fired[0]["status"]["state"] == "active"
        assert "1. Stop all services" in fired[0]["annotations"]["rollback_procedure"]
        # ... and routes it to the on-call receiver (the stack's webhook sink)
        routed = wait_for(
            lambda: [
                a for a in sink_alerts(stack, project) if a["labels"].get("verdict") == "ROLLBACK"
            ],
            30,
            "Alertmanager to deliver the alert to its receiver",
        )
        assert routed[0]["status"] == "firing"
        # the e-mail
        mails = wait_for(
            lambda: [m for m in smtp_sink.messages() if m["X-Golive-Verdict"] == "ROLLBACK"],
            10,
            "the ROLLBACK e-mail",
        )
        assert "The API has been unavailable for" in mails[0].get_content()

    recovered = until(cfg, {Verdict.ATTENTION, Verdict.WATCHING, Verdict.SUCCESS}, 60, seen)
    assert recovered.sample is not None and recovered.sample.api_ok is True
    success = until(cfg, {Verdict.SUCCESS}, 90, seen)
    assert success.evaluation.reasons[0].startswith("Stable for ")
    assert "(success window 5s)" in success.evaluation.reasons[0]

    verdicts = [p["verdict"] for p in webhook.payloads()]
    assert verdicts[-1] == "SUCCESS" and "ROLLBACK" in verdicts
    after = verdicts[verdicts.index("ROLLBACK") + 1 :]
    assert after and after[0] in ("ATTENTION", "WATCHING")  # recovery was notified
    assert webhook.payloads()[-1]["previous"] in ("ATTENTION", "WATCHING")
    # Alertmanager: the ROLLBACK alert was resolved, the SUCCESS one is there (severity info)
    alerts = {a["labels"]["verdict"]: a for a in am_alerts(stack, project)}
    assert "ROLLBACK" not in alerts
    assert alerts["SUCCESS"]["labels"]["severity"] == "info"
    wait_for(
        lambda: [m for m in smtp_sink.messages() if m["X-Golive-Verdict"] == "SUCCESS"],
        10,
        "the SUCCESS e-mail",
    )

    with History.open(cfg.monitor.history) as h:
        changes = [e.detail["to"] for e in h.events(("verdict",))]
        failed = [e.detail for e in h.events(("notify",)) if not e.detail["ok"]]
        assert h.count() == len(seen)
        assert h.integrity() == "ok"
    assert changes[0] == "WATCHING" and "ROLLBACK" in changes and changes[-1] == "SUCCESS"
    assert failed == []


def test_performance_degradation_against_the_baseline(stack: Any, tmp_path: Path) -> None:
    """A baseline far faster than the stack really is: p95 stays > 50 % above it -> ROLLBACK."""
    cfg = short_windows(stack, tmp_path, baseline={"latency_ms": 0.01})
    seen: list[CycleResult] = []
    result = until(cfg, {Verdict.ROLLBACK}, 60, seen)
    assert result.evaluation.reasons[0].startswith(
        "p95 latency has been more than 50% above the baseline for "
    )
    assert result.sample is not None and result.sample.perf_ratio is not None
    assert result.sample.perf_ratio > 1.5
    assert result.sample.api_ok is True  # nothing else is wrong
    assert len(seen) >= 2  # never from one sample: the window is 3 s
