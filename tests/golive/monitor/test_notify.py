"""golive/monitor/notify.py: the alerts, messages and e-mails a notice becomes.

E-mail goes through real SMTP servers: the aiosmtpd command-line sink, and an aiosmtpd
server (in a thread) that requires STARTTLS before AUTH.
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
from golive.monitor.notify import AlertmanagerNotifier, EmailNotifier, Notice
from golive.testing import load_dict

from .conftest import SmtpSink, free_port, wait_for


def make_config(tmp_path: Path, **monitor: Any) -> Config:
    data: dict[str, Any] = {"monitor": {"history": str(tmp_path / "history.sqlite"), **monitor}}
    return load_dict(data, directory=str(tmp_path))


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


@pytest.mark.parametrize("password", ["s3cret-smtp-pass", "wrong-password"])
def test_email_with_starttls_and_login(tmp_path: Path, password: str) -> None:
    """A real aiosmtpd server (Controller, in a thread) that requires STARTTLS before AUTH."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    from tests.checks.certs import self_signed

    cert, key = self_signed(tmp_path, "smtp", ["127.0.0.1"], days_left=1)
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
