"""Secrets: canary values registered with the redactor appear in no report format, whether
the report is written by `golive run --output` or re-rendered by `golive report`."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
from golive.reports import BUILTIN
from typer.testing import CliRunner

from golive.cli import app
from golive.decision import DEFAULT_GATES, decide, gate_results
from golive.models import Finding, Run, Severity, SignOff, Status, Waiver
from golive.output import render
from golive.redact import Redactor
from tests.reports.runs import make_run, result

PLAIN = "cAnArY7f3a9-pa55w0rd"
SPECIAL = "cAnArY8b1c2<&>\"'_|*`{{x}}"
CANARIES = (PLAIN, SPECIAL)
FORMATS = sorted(BUILTIN)


def leaks(text: str) -> list[str]:
    """Every trace of a canary: the value, escaped forms, or its distinctive core."""
    low = text.lower()
    return [core for core in ("canary7f3a9", "canary8b1c2") if core in low]


def canary_run() -> Run:
    s = f"{PLAIN} and {SPECIAL}"
    results = [
        result(
            "security.jwt_secret",
            status,
            f"summary {s}",
            Severity.CRITICAL,
            title=f"title {s}",
            remediation=f"fix {s}",
            note=f"note {s}",
            detail=f"trace {s}",
            evidence={
                f"key {s}": f"value {s}",
                "nested": {"dsn": f"postgresql://app:{PLAIN}@db/x"},
                "rows": [{"env": "JWT_SECRET_KEY", "value": SPECIAL}],
                "baseline": {f"m {s}": 1.0},
            },
            measurements={f"m {s}": 2.0},
            samples={f"lat {s}": [1.0, 2.0]},
            findings=[Finding(f"ops/{PLAIN}.env", f"secret {s}", 3, f"rule {s}")],
            tags=[f"tag {s}"],
            waiver=Waiver(f"why {s}", f"who {SPECIAL}", "2099-01-01")
            if status is Status.WAIVED
            else None,
        )
        for status in (Status.FAIL, Status.WAIVED)
    ]
    results[1] = results[1].with_status(Status.WAIVED, id="security.db_roles")
    signoffs = [SignOff("security", f"by {s}", "2026-05-04T12:00:00+00:00", f"note {s}")]
    run = make_run(
        results,
        signoffs=signoffs,
        project=f"p {s}",
        environment=f"e {s}",
        sections={"security": f"Security {s}"},
        run_id=f"run-{PLAIN}",
    )
    gates = gate_results(results, DEFAULT_GATES, signoffs)
    from dataclasses import replace

    decision = decide(results, Severity.HIGH, gates=gates)
    decision = replace(decision, reasons=[*decision.reasons, f"reason {s}"])
    return replace(
        run,
        decision=decision,
        config_files=[f"/etc/{PLAIN}.yaml"],
        targets={"api": f"http://127.0.0.1:8080/?token={PLAIN}", "project": f"/srv/{PLAIN}"},
        settings={**run.settings, "selection": {"checks": [PLAIN]}},
    )


def redactor() -> Redactor:
    r = Redactor()
    r.add_all(CANARIES)
    return r


def test_the_canary_run_does_carry_the_canaries_into_every_format_unredacted() -> None:
    """Control: without the redactor every format would leak (so the test below means something)."""
    from golive.reports import get

    run = canary_run()
    for fmt in FORMATS:
        out = get(fmt)(run)
        text = out.decode() if isinstance(out, bytes) else out
        assert leaks(text), fmt


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_format_shows_a_registered_secret(fmt: str) -> None:
    out = render(canary_run(), fmt, redactor())
    text = out.decode() if isinstance(out, bytes) else out
    assert leaks(text) == []
    for value in CANARIES:
        assert (
            value not in text
            and html.escape(value) not in text
            and json.dumps(value)[1:-1] not in text
        )
    assert "***" in text


def test_golive_report_redacts_secrets_of_the_configuration(tmp_path: Path) -> None:
    """A saved run that still holds a secret (written by an older golive or a plugin) is
    re-rendered with every secret of golive.yaml masked, in every format."""
    from golive.reports.json import render as render_json

    run_file = tmp_path / "run.json"
    run_file.write_text(render_json(canary_run()), encoding="utf-8")
    assert leaks(run_file.read_text())
    cfg = tmp_path / "golive.yaml"
    cfg.write_text(
        json.dumps(
            {
                "version": 1,
                "targets": {
                    "api": {"url": "http://127.0.0.1:9", "token": PLAIN},
                    "grafana": {"url": "http://127.0.0.1:9", "token": SPECIAL},
                },
            }
        ),
        encoding="utf-8",
    )
    runner = CliRunner()
    for fmt in FORMATS:
        out = tmp_path / f"report.{fmt}"
        res = runner.invoke(
            app, ["report", str(run_file), "--format", fmt, "-o", str(out), "-c", str(cfg)]
        )
        assert res.exit_code == 0, res.output
        assert leaks(out.read_text(encoding="utf-8")) == [], fmt
