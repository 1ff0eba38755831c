"""golive/monitor/cycle.py: decisions over a history, notifications that are
deduplicated and retried, the manual trigger and the rollback hook.

Samples are synthetic (recorded straight into the history) and the clock is injected;
the webhooks are real loopback HTTP servers (see conftest.py).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from golive.config import DEFAULT_ROLLBACK_PROCEDURE, Config
from golive.monitor.cycle import decide, record_trigger, run_once
from golive.monitor.history import History
from golive.monitor.model import Sample, Verdict
from golive.redact import Redactor
from golive.testing import load_dict

from .conftest import Webhook, free_port


def make_config(tmp_path: Path, **monitor: Any) -> Config:
    data: dict[str, Any] = {
        "monitor": {"history": str(tmp_path / "history.sqlite"), "every": "1m", **monitor}
    }
    return load_dict(data, directory=str(tmp_path))


def redactor_for(cfg: Config) -> Redactor:
    r = Redactor()
    r.add_all(cfg.secrets)
    return r


def up(ts: float) -> Sample:
    return Sample(
        id=f"up-{ts}",
        ts=ts,
        interval=60.0,
        api_ok=True,
        error_rate=0.0,
        critical_alerts=0,
        firing_alerts=0,
        latency_p95_ms=10.0,
    )


def down(ts: float) -> Sample:
    return Sample(
        id=f"down-{ts}",
        ts=ts,
        interval=60.0,
        api_ok=False,
        api_detail="connection refused by http://127.0.0.1:1",
        error_rate=1.0,
    )


def run_decide(cfg: Config, now: float) -> Any:
    with History.open(cfg.monitor.history) as h, h.locked():
        return asyncio.run(decide(cfg, h, redactor_for(cfg), clock=lambda: now))


def record(cfg: Config, *samples: Sample) -> None:
    with History.open(cfg.monitor.history) as h:
        for s in samples:
            h.record(s)


def outage(cfg: Config, start: float = 1000.0) -> float:
    """Eleven minutes of a dead API after a healthy start; returns the time of the last sample."""
    record(cfg, up(start), *[down(start + 60 * i) for i in range(1, 13)])
    return start + 60 * 12


def test_verdict_changes_are_notified_once_each(tmp_path: Path, webhook: Webhook) -> None:
    cfg = make_config(tmp_path, notify={"webhooks": [{"url": webhook.url}]})
    last = outage(cfg)
    first = run_decide(cfg, last + 1)
    assert first.evaluation.verdict is Verdict.ROLLBACK
    assert [(d.notifier.startswith("webhook:"), d.ok) for d in first.deliveries] == [(True, True)]
    again = run_decide(cfg, last + 2)  # same verdict: nothing sent
    assert again.deliveries == []
    [payload] = webhook.payloads()
    assert payload["verdict"] == "ROLLBACK" and payload["previous"] is None
    assert payload["title"] == "ordinaut (production): post-go-live verdict ROLLBACK"
    assert (
        payload["reasons"][0]
        == "The API has been unavailable for 11m (rollback after more than 10m)."
    )
    assert payload["procedure"] == DEFAULT_ROLLBACK_PROCEDURE  # no automatic rollback configured
    assert payload["latest_sample"]["api"] == "DOWN (connection refused by http://127.0.0.1:1)"

    record(cfg, up(last + 60))
    recovered = run_decide(cfg, last + 61)
    assert recovered.evaluation.verdict is Verdict.ATTENTION  # it failed within the hour
    assert [p["verdict"] for p in webhook.payloads()] == ["ROLLBACK", "ATTENTION"]
    assert webhook.payloads()[1]["previous"] == "ROLLBACK"
    with History.open(cfg.monitor.history) as h:
        changes = [(e.detail["from"], e.detail["to"]) for e in h.events(("verdict",))]
    assert changes == [(None, "ROLLBACK"), ("ROLLBACK", "ATTENTION")]


def test_first_watching_verdict_is_not_notified(tmp_path: Path, webhook: Webhook) -> None:
    cfg = make_config(tmp_path, notify={"webhooks": [{"url": webhook.url}]})
    record(cfg, up(0), up(60))
    assert run_decide(cfg, 61).evaluation.verdict is Verdict.WATCHING
    assert webhook.payloads() == []


def test_a_failing_notifier_is_retried_next_run(tmp_path: Path, webhook: Webhook) -> None:
    cfg = make_config(
        tmp_path,
        notify={
            "webhooks": [{"url": webhook.url}, {"url": f"http://127.0.0.1:{free_port()}/dead"}]
        },
    )
    last = outage(cfg)
    webhook.fail_next = 1
    first = run_decide(cfg, last + 1)
    # webhook URLs often hold a token: they are secrets, masked in every message
    assert sorted((d.ok, d.error) for d in first.deliveries) == [
        (False, "connection refused by ***"),
        (False, "the webhook answered HTTP 500"),
    ]
    assert webhook.payloads() == []
    second = run_decide(
        cfg, last + 2
    )  # retried: the live webhook gets it now, the dead one still fails
    assert sorted(d.ok for d in second.deliveries) == [False, True]
    assert [p["verdict"] for p in webhook.payloads()] == ["ROLLBACK"]
    third = run_decide(cfg, last + 3)
    assert [d.ok for d in third.deliveries] == [False]  # only the dead one is still pending
    with History.open(cfg.monitor.history) as h:
        assert h.count() == 13  # deciding never touches the samples
        failures = [e for e in h.events(("notify",)) if not e.detail["ok"]]
        assert len(failures) == 4


def test_a_failing_notifier_never_loses_the_sample(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, notify={"webhooks": [{"url": f"http://127.0.0.1:{free_port()}/x"}]})
    with History.open(cfg.monitor.history) as h:
        h.add_event("trigger", 5.0, {"reason": "security breach"})
    result = run_once(cfg, redactor_for(cfg), clock=lambda: 10.0)
    assert result.evaluation.verdict is Verdict.ROLLBACK
    assert [d.ok for d in result.deliveries] == [False]
    assert result.sample is not None
    with History.open(cfg.monitor.history) as h:
        assert [s.id for s in h.samples()] == [result.sample.id]


def test_rollback_command_runs_once_with_auto(tmp_path: Path, webhook: Webhook) -> None:
    marker = tmp_path / "rolled-back"
    command = f"echo rolling back; echo run >> {marker}; echo 'failed: database busy' >&2; exit 3"
    cfg = make_config(
        tmp_path,
        notify={"webhooks": [{"url": webhook.url}]},
        rollback={"command": command, "auto": True},
    )
    last = outage(cfg)
    first = run_decide(cfg, last + 1)
    assert first.rollback is not None
    assert first.rollback["exit_code"] == 3
    assert first.rollback["output"] == "rolling back\nfailed: database busy\n"
    run_decide(cfg, last + 2)
    record(cfg, down(last + 60))
    run_decide(cfg, last + 61)
    assert marker.read_text() == "run\n"  # once, however many runs see ROLLBACK
    kinds = [(p["kind"], p["verdict"]) for p in webhook.payloads()]
    assert kinds == [("verdict", "ROLLBACK"), ("rollback", "ROLLBACK")]
    verdict_notice, result_notice = webhook.payloads()
    assert verdict_notice["procedure"] == []
    assert verdict_notice["notes"][-1] == f"golive runs the rollback command now: {command}"
    assert (
        result_notice["title"]
        == "ordinaut (production): the automatic rollback command FAILED (exit code 3)"
    )
    assert result_notice["rollback"]["output"] == "rolling back\nfailed: database busy\n"
    with History.open(cfg.monitor.history) as h:
        state = h.get_state("rollback")
        runs = [e.detail for e in h.events(("rollback",))]
    assert (
        state["status"] == "done"
        and state["exit_code"] == 3
        and state["notified"] == [webhook_id(cfg)]
    )
    assert [r["status"] for r in runs] == ["started", "done"]


def webhook_id(cfg: Config) -> str:
    from golive.monitor.notify import WebhookNotifier

    return WebhookNotifier(cfg.monitor.notify.webhooks[0]).id


def test_rollback_command_is_not_run_without_auto(tmp_path: Path) -> None:
    marker = tmp_path / "rolled-back"
    cfg = make_config(tmp_path, rollback={"command": f"touch {marker}"})
    last = outage(cfg)
    assert run_decide(cfg, last + 1).rollback is None
    assert not marker.exists()


def test_rollback_command_timeout_is_recorded(tmp_path: Path) -> None:
    cfg = make_config(
        tmp_path, rollback={"command": ["sleep", "30"], "auto": True, "timeout": "1s"}
    )
    last = outage(cfg)
    result = run_decide(cfg, last + 1)
    assert result.rollback is not None
    assert result.rollback["exit_code"] == -9 and result.rollback["timed_out"] is True


def test_manual_trigger_and_clear(tmp_path: Path, webhook: Webhook) -> None:
    cfg = make_config(tmp_path, notify={"webhooks": [{"url": webhook.url}]})
    record(cfg, up(0), up(60))
    result = record_trigger(cfg, redactor_for(cfg), "security breach", clock=lambda: 61.0)
    assert result.evaluation.verdict is Verdict.ROLLBACK
    assert result.evaluation.reasons == [
        "Manual rollback trigger at 1970-01-01 00:01:01Z: security breach."
    ]
    cleared = record_trigger(cfg, redactor_for(cfg), "false alarm", clear=True, clock=lambda: 62.0)
    assert cleared.evaluation.verdict is Verdict.WATCHING
    assert [p["verdict"] for p in webhook.payloads()] == ["ROLLBACK", "WATCHING"]
