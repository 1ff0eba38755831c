"""Prometheus text format for node-exporter's textfile collector, checked with `promtool check metrics`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from golive.reports.prometheus import render

from golive.models import Status
from tests.reports.runs import HOSTILE, hostile_run, make_run, result, sample_run, waited_run


def promtool(text: str) -> tuple[int, str]:
    from tests.conftest import tool

    binary = tool("promtool")
    proc = subprocess.run(
        [binary, "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            out[series] = float(value)
    return out


def test_promtool_accepts_sample_and_hostile_runs() -> None:
    for run in (sample_run(), hostile_run()):
        code, output = promtool(render(run))
        assert (code, output) == (0, "")


def test_promtool_catches_what_it_should() -> None:
    assert promtool('golive_x{id="a} 1\n')[0] != 0
    code, output = promtool(
        "# HELP golive_x_total x\n# TYPE golive_x_total gauge\ngolive_x_total 1\n"
    )
    assert code != 0 and "_total" in output


def test_check_status_decision_and_run_metrics() -> None:
    text = render(sample_run())
    s = samples(text)
    assert (
        s['golive_check_status{id="security.jwt_secret",section="security",severity="critical"}']
        == 5
    )
    assert s['golive_check_status{id="database.backups",section="database",severity="high"}'] == 4
    assert (
        s['golive_check_status{id="database.connections",section="database",severity="high"}'] == 3
    )
    assert (
        s[
            'golive_check_status{id="security.file_permissions",section="security",severity="medium"}'
        ]
        == 2
    )
    assert (
        s['golive_check_status{id="monitoring.alertmanager",section="monitoring",severity="high"}']
        == 1
    )
    assert (
        s['golive_check_status{id="database.migrations",section="database",severity="high"}'] == 0
    )
    assert s['golive_decision{verdict="NO-GO"}'] == 3
    assert s["golive_run_timestamp_seconds"] == 1777888812  # 2026-05-04T10:00:12Z
    assert s["golive_run_duration_seconds"] == 12.345
    assert s["golive_run_interrupted"] == 0
    assert s['golive_checks{status="FAIL"}'] == 2 and s['golive_checks{status="PASS"}'] == 3
    assert s['golive_gate_signed_off{gate="monitoring"}'] == 1
    assert s['golive_gate_signed_off{gate="security"}'] == 0  # only an unverified name
    assert s['golive_gate_verified_signers{gate="monitoring"}'] == 1
    assert s['golive_gate_signatures_needed{gate="security"}'] == 2
    assert s['golive_gate_status{gate="security"}'] == 5
    assert (
        'golive_run_info{run_id="20260504T100000-abc123",project="ordinaut",environment="production",'
        'golive_version="0.1.0",config_digest="sha256:' + "ab" * 32 + '"}'
    ) in s
    families = re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M)
    assert all(kind == "gauge" for _, kind in families)
    assert len({name for name, _ in families}) == len(families)


def test_label_values_are_escaped() -> None:
    text = render(hostile_run())
    assert "\\n" not in HOSTILE
    run = make_run([result("security.x", Status.PASS, "ok")], project='a"b\\c\nd')
    line = next(x for x in render(run).splitlines() if x.startswith("golive_run_info"))
    assert 'project="a\\"b\\\\c\\nd"' in line
    assert promtool(text)[0] == 0


def test_the_decision_values() -> None:
    ok = make_run([result("security.x", Status.PASS, "ok")])
    warn = make_run([result("security.x", Status.WARN, "hm")])
    assert samples(render(ok))['golive_decision{verdict="GO"}'] == 0
    assert samples(render(warn))['golive_decision{verdict="CONDITIONAL"}'] == 1


def test_rounds_of_a_run_that_waited(tmp_path: Path) -> None:
    text = render(waited_run(tmp_path))
    assert samples(text)["golive_run_rounds"] == 2
    assert promtool(text) == (0, "")
    assert samples(render(sample_run()))["golive_run_rounds"] == 1
