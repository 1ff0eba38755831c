"""Runs built from the model for the report tests: every status, evidence shape and gate state.

`sample_run()` is a realistic NO-GO run; `hostile_run()` puts payloads in every text field.
Both go through `golive.decision` so that gates and decision are computed, not invented.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from golive.decision import DEFAULT_GATES, SignoffPolicy, decide, gate_results
from golive.models import (
    CheckResult,
    Finding,
    Run,
    Severity,
    SignOff,
    Status,
    Waiver,
)

SECTIONS = {
    "security": "Security validation and hardening",
    "database": "Database readiness",
    "performance": "Performance validation",
    "monitoring": "Monitoring and observability",
    "operations": "Operations readiness",
}


def result(
    id: str,
    status: Status,
    summary: str,
    severity: Severity = Severity.HIGH,
    **kw: object,
) -> CheckResult:
    """A result with sensible defaults (title, remediation, duration)."""
    kw.setdefault("title", f"{id.split('.', 1)[1].replace('_', ' ').capitalize()} is healthy")
    kw.setdefault("remediation", f"Fix {id} and run golive again.")
    kw.setdefault("duration", 0.123)
    kw.setdefault("started_at", "2026-05-04T10:00:01+00:00")
    return CheckResult(
        id=id, section=id.split(".", 1)[0], severity=severity, status=status, summary=summary, **kw
    )  # type: ignore[arg-type]


def sample_results() -> list[CheckResult]:
    """One result of each status, with tables, findings, a waiver and a baseline comparison."""
    return [
        result(
            "security.jwt_secret",
            Status.FAIL,
            "JWT_SECRET_KEY falls back to the default 'dev-secret-key-change-in-production'.",
            Severity.CRITICAL,
            evidence={"variable": "JWT_SECRET_KEY", "source": "ops/docker-compose.yml"},
            findings=[
                Finding(
                    "ops/docker-compose.yml",
                    "JWT_SECRET_KEY has an insecure default",
                    14,
                    "default-secret",
                )
            ],
        ),
        result(
            "security.file_permissions",
            Status.WAIVED,
            "2 files are world-writable.",
            Severity.MEDIUM,
            evidence={
                "files": [
                    {"path": "ops/backup.sh", "mode": "0777"},
                    {"path": "ops/restore.sh", "mode": "0666"},
                ]
            },
            findings=[
                Finding("ops/backup.sh", "world-writable (mode 0777)"),
                Finding("/srv/app/ops/restore.sh", "world-writable (mode 0666)"),
            ],
            waiver=Waiver(
                "Fixed by the release image; the host copy is not used", "Dana Ops", "2099-01-01"
            ),
        ),
        result(
            "security.secrets_scan",
            Status.PASS,
            "No secrets found in 412 files.",
            evidence={"files_scanned": 412, "plugins": ["AWSKeyDetector", "PrivateKeyDetector"]},
        ),
        result(
            "database.connections",
            Status.WARN,
            "82 of 100 connections in use (82 %), above the 80 % warning threshold.",
            evidence={
                "by_state": [{"state": "active", "count": 12}, {"state": "idle", "count": 70}],
                "max_connections": 100,
            },
            measurements={"used_fraction": 0.82},
        ),
        result(
            "database.backups",
            Status.ERROR,
            "PermissionError: [Errno 13] Permission denied: '/backups/postgres'",
            Severity.HIGH,
            incomplete=True,
        ),
        result(
            "database.migrations",
            Status.PASS,
            "All 12 migrations are applied.",
            evidence={"applied": 12},
        ),
        result(
            "performance.api_latency",
            Status.WARN,
            "p95 latency 48 ms is 21 % above the baseline (40 ms).",
            Severity.HIGH,
            evidence={
                "baseline": {"p95_ms": 40.0, "p50_ms": 11.0, "rps": 900.0},
                "histogram": [
                    {"le_ms": 10, "count": 40},
                    {"le_ms": 50, "count": 58},
                    {"le_ms": 100, "count": 2},
                ],
            },
            measurements={"p95_ms": 48.4, "p50_ms": 10.2, "rps": 812.0},
            samples={"latency_ms": [9.0, 10.2, 11.5, 48.4, 52.0]},
        ),
        result(
            "monitoring.alertmanager",
            Status.SKIP,
            "alertmanager unreachable: connection refused",
            incomplete=False,
        ),
        result("operations.runbooks", Status.PASS, "5 runbooks found.", Severity.MEDIUM),
        result(
            "operations.cron",
            Status.FAIL,
            "The daily backup job is not scheduled.",
            Severity.LOW,
            evidence={"crontab": "(empty)"},
        ),
    ]


def make_run(
    results: Sequence[CheckResult],
    *,
    signoffs: Sequence[SignOff] = (),
    require_signoff: bool = False,
    run_id: str = "20260504T100000-abc123",
    project: str = "ordinaut",
    environment: str = "production",
    sections: dict[str, str] | None = None,
    started_at: str = "2026-05-04T10:00:00+00:00",
    policy: SignoffPolicy | None = None,
) -> Run:
    """A run whose gates and decision come from golive.decision."""
    policy = policy or SignoffPolicy(require_signoff=require_signoff)
    gates = gate_results(results, DEFAULT_GATES, signoffs, policy=policy)
    decision = decide(results, Severity.HIGH, gates=gates)
    return Run(
        run_id=run_id,
        golive_version="0.1.0",
        started_at=started_at,
        finished_at="2026-05-04T10:00:12+00:00",
        duration=12.345,
        project=project,
        environment=environment,
        config_digest="sha256:" + "ab" * 32,
        config_files=["/etc/golive/golive.yaml"],
        targets={
            "api": "http://127.0.0.1:8080",
            "database": "postgresql://orchestrator:***@127.0.0.1:5432/orchestrator",
        },
        settings={
            "fail_on": "high",
            "strict": False,
            "allow_writes": False,
            "selection": {"sections": [], "checks": [], "tags": [], "exclude": []},
            "require_signoff": policy.require_signoff,
            "approvals": policy.settings(),
        },
        results=list(results),
        decision=decision,
        gates=gates,
        sections=dict(sections or SECTIONS),
    )


SAM_KEY = "SHA256:QfZ0wIEr1B0lqHkN8A3Nn2v9pQm5e0xLr7tY4uWkS6c"
UNSIGNED = "not signed: a name typed with --by proves nothing"


def sample_run(**kw: object) -> Run:
    """A realistic NO-GO run: a verified sign-off on the monitoring gate, an unverified one on
    the security gate, which needs two verified signers."""
    signoffs = [
        SignOff(
            "monitoring",
            "Sam Approver",
            "2026-05-04T11:00:00+00:00",
            "Dashboards reviewed",
            verified=True,
            key=SAM_KEY,
        ),
        SignOff("security", "Lee Reviewer", "2026-05-04T11:05:00+00:00", problem=UNSIGNED),
    ]
    policy = SignoffPolicy(
        require_signoff=bool(kw.pop("require_signoff", False)),
        signed=True,
        minimum={"security": 2},
    )
    return make_run(sample_results(), signoffs=signoffs, policy=policy, **kw)  # type: ignore[arg-type]


SCRIPT = "<script>document.documentElement.setAttribute('data-pwned','script')</script>"
IMG = "<img src=x onerror=\"document.documentElement.setAttribute('data-pwned','img')\">"
LINK = "<a href=\"javascript:document.documentElement.setAttribute('data-pwned','link')\">click</a>"
TEMPLATE = "{{ 7*7 }}{% raw %}x{% endraw %}${7*7}"
PAYLOADS = (SCRIPT, IMG, LINK, TEMPLATE, "javascript:alert(1)")
HOSTILE = " ".join(PAYLOADS)


def hostile_run() -> Run:
    """A run with payloads in every text field a report shows."""
    results = [
        result(
            f"security.hostile_{i}",
            status,
            HOSTILE,
            Severity.CRITICAL,
            title=HOSTILE,
            remediation=HOSTILE,
            note=HOSTILE,
            evidence={
                HOSTILE: HOSTILE,
                "url": "javascript:alert(1)",
                "rows": [{HOSTILE: HOSTILE, "href": "javascript:alert(1)"}],
                "baseline": {HOSTILE: 1.0},
            },
            measurements={HOSTILE: 2.0},
            findings=[Finding(HOSTILE, HOSTILE, 3, HOSTILE)],
            waiver=Waiver(HOSTILE, HOSTILE, "2099-01-01") if status is Status.WAIVED else None,
            tags=[HOSTILE],
            detail=HOSTILE,
        )
        for i, status in enumerate(Status)
    ]
    signoffs = [SignOff("security", HOSTILE, "2026-05-04T11:00:00+00:00", HOSTILE)]
    return make_run(
        results,
        signoffs=signoffs,
        project=HOSTILE,
        environment=HOSTILE,
        sections={"security": HOSTILE},
        run_id=HOSTILE,
    )


def waited_run(directory: Path) -> Run:
    """A real `golive run --wait` (through the engine): the file a generic `file` check wants
    is created after round 1, so round 2 turns it FAIL -> PASS and the run ends in GO."""
    from golive.engine import Options, execute, make_redactor
    from golive.plan import resolve
    from golive.registry import build_registry
    from golive.runner import Events
    from golive.testing import load_dict

    flag = directory / "flag"
    entry = {
        "id": "lab.appears",
        "uses": "file",
        "title": "The flag file exists",
        "severity": "high",
        "params": {"path": str(flag)},
    }
    config = load_dict({"sections": {"lab": {"checks": [entry]}}})

    def after(run: Run) -> None:
        flag.touch()

    planned = resolve(config, build_registry())
    options = Options(wait=600.0, interval=0.01)
    return execute(config, planned, options, make_redactor(config), Events(round_finished=after))
