"""golive/monitor/cycle.py and notify.py: decisions over a history, notifications that are
deduplicated and retried, the rollback hook, and e-mail through real SMTP servers.

Samples are synthetic (recorded straight into the history) and the clock is injected;
the webhook and SMTP servers are real loopback servers (see conftest.py).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
from pathlib import Path
from typing import Any

import pytest

from golive.config import DEFAULT_ROLLBACK_PROCEDURE, Config
from golive.monitor.cycle import decide, record_trigger, run_once
from golive.monitor.history import History
from golive.monitor.model import Sample, Verdict
from golive.monitor.notify import AlertmanagerNotifier, EmailNotifier, Notice
from golive.redact import Redactor
from golive.testing import load_dict

from .conftest import SmtpSink, Webhook, free_port, wait_for


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


# ----------------------------------------------------------------------------- Alertmanager


def test_alertmanager_alerts_resolve_the_previous_verdict() -> None:
    cfg = load_dict(
        {
            "targets": {"alertmanager": {"url": "http://127.0.0.1:1"}},
            "monitor": {"notify": {"alertmanager": {"labels": {"team": "ops"}, "ttl": "2h"}}},
        }
    )
    assert cfg.monitor.notify.alertmanager is not None
    n = AlertmanagerNotifier(cfg.monitor.notify.alertmanager, None, "ordinaut", "production")  # type: ignore[arg-type]
    notice = Notice(
        kind="verdict",
        project="ordinaut",
        environment="production",
        verdict="ROLLBACK",
        previous="ATTENTION",
        at=7200.0,
        reasons=["The API has been unavailable for 11m."],
        procedure=["Stop all services", "Restore"],
    )
    resolved, fired = n.alerts(notice, {"verdict": "ATTENTION", "at": 3600.0})
    assert (
        resolved["labels"]["verdict"] == "ATTENTION" and resolved["labels"]["severity"] == "warning"
    )
    assert (resolved["startsAt"], resolved["endsAt"]) == (
        "1970-01-01T01:00:00+00:00",
        "1970-01-01T02:00:00+00:00",
    )
    assert fired["labels"] == {
        "project": "ordinaut",
        "environment": "production",
        "golive_monitor": "true",
        "team": "ops",
        "alertname": "GoliveMonitorVerdict",
        "verdict": "ROLLBACK",
        "severity": "critical",
    }
    assert fired["endsAt"] == "1970-01-01T04:00:00+00:00"
    assert fired["annotations"]["rollback_procedure"] == "1. Stop all services\n2. Restore"
    watching = Notice(
        kind="verdict",
        project="o",
        environment="p",
        verdict="WATCHING",
        previous="ROLLBACK",
        at=9000.0,
    )
    [only] = n.alerts(watching, {"verdict": "ROLLBACK", "at": 7200.0})
    assert only["labels"]["verdict"] == "ROLLBACK" and only["endsAt"] == "1970-01-01T02:30:00+00:00"


def test_alertmanager_notifier_needs_the_target(tmp_path: Path) -> None:
    from golive.errors import ConfigError

    with pytest.raises(ConfigError) as exc:
        load_dict({"monitor": {"notify": {"alertmanager": {}}}}, directory=str(tmp_path))
    assert str(exc.value).endswith(
        "monitor.notify.alertmanager: the Alertmanager notifier posts to targets.alertmanager, "
        "which is not configured"
    )


# ----------------------------------------------------------------------------- e-mail


def notice(verdict: str = "ROLLBACK") -> Notice:
    return Notice(
        kind="verdict",
        project="ordinaut",
        environment="production",
        verdict=verdict,
        previous="WATCHING",
        at=1_700_000_000.0,
        reasons=["The API has been unavailable for 11m."],
        procedure=list(DEFAULT_ROLLBACK_PROCEDURE),
        latest_sample={"api": "DOWN"},
    )


def test_email_reaches_the_aiosmtpd_sink(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    cfg = make_config(
        tmp_path,
        notify={
            "email": {
                "host": smtp_sink.host,
                "port": smtp_sink.port,
                "sender": "golive@example.org",
                "to": ["oncall@example.org", "sre@example.org"],
            }
        },
    )
    assert cfg.monitor.notify.email is not None
    asyncio.run(EmailNotifier(cfg.monitor.notify.email).send(notice(), None))
    text = wait_for(
        lambda: "END MESSAGE" in smtp_sink.text() and smtp_sink.text(), 10, "the e-mail"
    )
    [msg] = smtp_sink.messages()
    assert (
        msg["Subject"].strip()
        == "[golive] ordinaut (production): post-go-live verdict ROLLBACK (was WATCHING)"
    )
    assert msg["To"] == "oncall@example.org, sre@example.org"
    assert msg["X-Golive-Verdict"] == "ROLLBACK"
    body = msg.get_content()
    assert "  1. Stop all services: docker-compose -f ops/docker-compose.yml down" in body
    assert "Why:\n  - The API has been unavailable for 11m.\n" in body
    assert text.count("END MESSAGE") == 1


def test_email_to_a_closed_port_fails_with_the_reason(tmp_path: Path) -> None:
    port = free_port()
    cfg = make_config(
        tmp_path,
        notify={"email": {"host": "127.0.0.1", "port": port, "to": ["a@b.c"], "timeout": "2s"}},
    )
    assert cfg.monitor.notify.email is not None
    with pytest.raises(RuntimeError, match=rf"^SMTP 127\.0\.0\.1:{port}: ConnectionRefusedError: "):
        asyncio.run(EmailNotifier(cfg.monitor.notify.email).send(notice(), None))


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "smtp.crt", tmp_path / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.mark.parametrize("password", ["s3cret-smtp-pass", "wrong-password"])
def test_email_with_starttls_and_login(tmp_path: Path, password: str) -> None:
    """A real aiosmtpd server (Controller, in a thread) that requires STARTTLS before AUTH."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = _self_signed(tmp_path)
    received: list[tuple[bool, bytes]] = []
    logins: list[tuple[str, str]] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append((session.authenticated, envelope.content))
            return "250 OK"

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login.decode(), "tls" if session.ssl else "plain"))
        ok = data.login == b"golive" and data.password == b"s3cret-smtp-pass"
        return AuthResult(success=ok, handled=False)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    port = free_port()
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    try:
        cfg = make_config(
            tmp_path,
            notify={
                "email": {
                    "host": "127.0.0.1",
                    "port": port,
                    "starttls": True,
                    "verify_tls": str(cert),
                    "username": "golive",
                    "password": password,
                    "to": ["oncall@example.org"],
                }
            },
        )
        assert cfg.monitor.notify.email is not None
        assert password in cfg.secrets  # never printed: the redactor masks it
        send = EmailNotifier(cfg.monitor.notify.email).send(notice(), None)
        if password == "wrong-password":
            with pytest.raises(RuntimeError, match=r"SMTPAuthenticationError: \(535"):
                asyncio.run(send)
            assert received == []
        else:
            asyncio.run(send)
            [(authenticated, content)] = received
            assert authenticated is True
            parsed = email.message_from_bytes(content, policy=email.policy.default)
            assert str(parsed["Subject"]).strip() == (
                "[golive] ordinaut (production): post-go-live verdict ROLLBACK (was WATCHING)"
            )
        assert logins and set(logins) == {("golive", "tls")}  # credentials only crossed TLS
    finally:
        controller.stop()


def test_notice_text_carries_the_checklist_procedure() -> None:
    text = notice().text()
    assert text.startswith(
        "ordinaut (production): post-go-live verdict ROLLBACK (was WATCHING)\n\nAt: 2023-11-14T22:13:20+00:00\n"
    )
    assert "Rollback procedure (from the production checklist):\n  1. Stop all services" in text
