"""Notifiers: what reaches the on-call path when the verdict changes.

Three kinds, each configured under `monitor.notify`: an alert posted to Alertmanager's v2
API (through `targets.alertmanager`), a JSON POST to a webhook, and an e-mail over SMTP
(STARTTLS or implicit TLS, optional login). A notifier raises on failure; the caller
records the failure and tries again on the next run, so a broken notifier never costs a
sample and never stops the others.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol

from golive.monitor.model import Verdict
from golive.monitor.sampling import MONITOR_LABEL

if TYPE_CHECKING:
    from golive.config import AlertmanagerNotifier as AlertmanagerConfig
    from golive.config import Config
    from golive.config import EmailNotifier as EmailConfig
    from golive.config import WebhookNotifier as WebhookConfig
    from golive.targets import Targets

SEVERITY = {
    Verdict.ROLLBACK: "critical",
    Verdict.ATTENTION: "warning",
    Verdict.SUCCESS: "info",
    Verdict.WATCHING: "info",
}


@dataclass(frozen=True)
class Notice:
    """One message: a verdict change, or the result of the rollback command."""

    kind: str  # "verdict" | "rollback"
    project: str
    environment: str
    verdict: str
    previous: str | None
    at: float
    reasons: Sequence[str] = ()
    notes: Sequence[str] = ()
    latest_sample: Mapping[str, Any] = field(default_factory=dict)
    procedure: Sequence[str] = ()  # the checklist's rollback procedure (manual rollback)
    rollback: Mapping[str, Any] | None = None  # the rollback command, its exit code and output
    history: str = ""

    @property
    def title(self) -> str:
        """One line: what happened."""
        where = f"{self.project} ({self.environment})"
        if self.kind == "rollback" and self.rollback is not None:
            code = self.rollback.get("exit_code")
            result = "succeeded" if code == 0 else f"FAILED (exit code {code})"
            return f"{where}: the automatic rollback command {result}"
        was = f" (was {self.previous})" if self.previous else ""
        return f"{where}: post-go-live verdict {self.verdict}{was}"

    def text(self) -> str:
        """The plain-text body (e-mail)."""
        lines = [self.title, "", f"At: {_iso(self.at)}"]
        if self.reasons:
            lines += ["", "Why:"] + [f"  - {r}" for r in self.reasons]
        if self.notes:
            lines += ["", "Notes:"] + [f"  - {n}" for n in self.notes]
        if self.rollback is not None:
            lines += [
                "",
                f"Rollback command: {self.rollback.get('command')}",
                f"Exit code: {self.rollback.get('exit_code')}",
                "Output (tail):",
                str(self.rollback.get("output") or "(none)"),
            ]
        if self.procedure:
            lines += ["", "Rollback procedure (from the production checklist):"]
            lines += [f"  {i}. {step}" for i, step in enumerate(self.procedure, 1)]
        if self.latest_sample:
            lines += ["", "Latest sample:"]
            lines += [f"  {k}: {v}" for k, v in self.latest_sample.items()]
        if self.history:
            lines += [
                "",
                f"History: {self.history} (`golive monitor status`, `golive monitor report`)",
            ]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        """The webhook payload."""
        data = asdict(self)
        data["title"] = self.title
        data["at_iso"] = _iso(self.at)
        data["source"] = "golive monitor"
        return data


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


class Notifier(Protocol):
    """Something that delivers notices; `id` is stable across runs (its delivery state)."""

    id: str
    name: str

    async def send(self, notice: Notice, delivered: Mapping[str, Any] | None) -> None:
        """Deliver the notice (`delivered`: what it last delivered); raise on failure."""


class AlertmanagerNotifier:
    """Posts `GoliveMonitorVerdict` alerts to Alertmanager v2 and resolves the previous one."""

    id = "alertmanager"
    name = "Alertmanager"

    def __init__(
        self, cfg: AlertmanagerConfig, targets: Targets, project: str, environment: str
    ) -> None:
        self.cfg = cfg
        self.targets = targets
        self.base = {"project": project, "environment": environment, MONITOR_LABEL: "true"}

    def alerts(self, notice: Notice, delivered: Mapping[str, Any] | None) -> list[dict[str, Any]]:
        """The alerts to post for a notice (pure; tested directly)."""
        now = datetime.fromtimestamp(notice.at, timezone.utc)
        out: list[dict[str, Any]] = []
        annotations = {
            "summary": notice.title,
            "description": " ".join(notice.reasons) or notice.title,
        }
        if notice.kind == "rollback":
            code = (notice.rollback or {}).get("exit_code")
            labels = {
                **self.base,
                **self.cfg.labels,
                "alertname": "GoliveRollbackCommand",
                "severity": "info" if code == 0 else "critical",
                "exit_code": str(code),
            }
            annotations["output"] = str((notice.rollback or {}).get("output") or "")[-2000:]
            out.append(self._alert(labels, annotations, now, now + timedelta(seconds=self.cfg.ttl)))
            return out
        old = (delivered or {}).get("verdict")
        if old and old != Verdict.WATCHING.value and old != notice.verdict:
            started = datetime.fromtimestamp(
                float((delivered or {}).get("at", notice.at)), timezone.utc
            )
            out.append(
                self._alert(
                    self._labels(old),
                    {"summary": f"resolved: now {notice.verdict}"},
                    min(started, now),
                    now,
                )
            )
        if notice.verdict != Verdict.WATCHING.value:
            if notice.procedure:
                annotations["rollback_procedure"] = "\n".join(
                    f"{i}. {s}" for i, s in enumerate(notice.procedure, 1)
                )
            out.append(
                self._alert(
                    self._labels(notice.verdict),
                    annotations,
                    now,
                    now + timedelta(seconds=self.cfg.ttl),
                )
            )
        return out

    def _labels(self, verdict: str) -> dict[str, str]:
        severity = (
            SEVERITY.get(Verdict(verdict), "info") if verdict in Verdict.__members__ else "info"
        )
        return {
            **self.base,
            **self.cfg.labels,
            "alertname": "GoliveMonitorVerdict",
            "verdict": verdict,
            "severity": severity,
        }

    @staticmethod
    def _alert(
        labels: dict[str, str], annotations: dict[str, str], start: datetime, end: datetime
    ) -> dict[str, Any]:
        return {
            "labels": labels,
            "annotations": annotations,
            "startsAt": start.isoformat(),
            "endsAt": end.isoformat(),
        }

    async def send(self, notice: Notice, delivered: Mapping[str, Any] | None) -> None:
        """POST the alerts to `/api/v2/alerts`."""
        alerts = self.alerts(notice, delivered)
        if alerts:
            await self.targets.alertmanager.post_alerts(alerts)


class WebhookNotifier:
    """POSTs the notice as JSON; any non-2xx answer is a failure."""

    name = "webhook"

    def __init__(self, cfg: WebhookConfig) -> None:
        self.cfg = cfg
        self.id = "webhook:" + hashlib.sha256(cfg.url.encode()).hexdigest()[:12]

    async def send(self, notice: Notice, delivered: Mapping[str, Any] | None) -> None:
        """POST the JSON payload to the URL."""
        from golive.targets.http import HttpService

        service = HttpService(self.cfg)
        try:
            resp = await service.client.post(self.cfg.url, json=notice.to_json())
        except Exception as exc:
            raise RuntimeError(service.describe(exc)) from None
        finally:
            await service.close()
        if not 200 <= resp.status_code < 300:
            raise RuntimeError(f"the webhook answered HTTP {resp.status_code}")


class EmailNotifier:
    """Sends the notice as a plain-text e-mail with smtplib (in a worker thread)."""

    id = "email"
    name = "e-mail"

    def __init__(self, cfg: EmailConfig) -> None:
        self.cfg = cfg

    def message(self, notice: Notice) -> Any:
        """The e-mail (pure; tested directly)."""
        from email.message import EmailMessage
        from email.utils import formatdate, make_msgid

        msg = EmailMessage()
        msg["Subject"] = f"{self.cfg.subject_prefix} {notice.title}".strip()
        msg["From"] = self.cfg.sender
        msg["To"] = ", ".join(self.cfg.to)
        msg["Date"] = formatdate(notice.at, localtime=False)
        msg["Message-ID"] = make_msgid(domain="golive.monitor")
        msg["X-Golive-Verdict"] = notice.verdict
        msg.set_content(notice.text())
        return msg

    def _send_sync(self, notice: Notice) -> None:
        import smtplib
        import ssl

        c = self.cfg
        context = ssl.create_default_context(
            cafile=c.verify_tls if isinstance(c.verify_tls, str) else None
        )
        if c.verify_tls is False:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        smtp: smtplib.SMTP
        if c.ssl:
            smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=context)
        else:
            smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
        with smtp:
            smtp.ehlo()
            if c.starttls and not c.ssl:
                smtp.starttls(context=context)
                smtp.ehlo()
            if c.username:
                smtp.login(c.username, c.password or "")
            smtp.send_message(self.message(notice))

    async def send(self, notice: Notice, delivered: Mapping[str, Any] | None) -> None:
        """Send the e-mail; SMTP and TLS errors propagate as RuntimeError with the reason."""
        try:
            await asyncio.wait_for(asyncio.to_thread(self._send_sync, notice), self.cfg.timeout * 3)
        except (asyncio.TimeoutError, TimeoutError):
            raise RuntimeError(
                f"SMTP {self.cfg.host}:{self.cfg.port} did not finish within "
                f"{self.cfg.timeout * 3:g}s"
            ) from None
        except Exception as exc:
            text = " ".join(str(exc).split()) or type(exc).__name__
            raise RuntimeError(
                f"SMTP {self.cfg.host}:{self.cfg.port}: {type(exc).__name__}: {text}"
            ) from None


def build_notifiers(cfg: Config, targets: Targets) -> list[Notifier]:
    """Every configured notifier, in a stable order."""
    n = cfg.monitor.notify
    out: list[Notifier] = []
    if n.alertmanager is not None:
        out.append(AlertmanagerNotifier(n.alertmanager, targets, cfg.project, cfg.environment))
    out.extend(WebhookNotifier(w) for w in n.webhooks)
    if n.email is not None:
        out.append(EmailNotifier(n.email))
    return out


@dataclass(frozen=True)
class Delivery:
    """The outcome of one notifier for one notice."""

    notifier: str
    kind: str
    verdict: str
    ok: bool
    error: str | None = None


async def deliver(
    pending: Sequence[tuple[Notifier, Notice, Mapping[str, Any] | None]], timeout: float
) -> list[Delivery]:
    """Send every (notifier, notice, delivered) concurrently; failures are returned, not raised."""

    async def one(n: Notifier, notice: Notice, delivered: Mapping[str, Any] | None) -> Delivery:
        try:
            await asyncio.wait_for(n.send(notice, delivered), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            return Delivery(
                n.id, notice.kind, notice.verdict, False, f"no answer within {timeout:g}s"
            )
        except Exception as exc:
            text = " ".join(str(exc).split()) or type(exc).__name__
            return Delivery(n.id, notice.kind, notice.verdict, False, text)
        return Delivery(n.id, notice.kind, notice.verdict, True)

    return list(await asyncio.gather(*(one(n, x, d) for n, x, d in pending)))
