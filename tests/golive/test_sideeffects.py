"""Side effects: what checks record in their evidence reaches the run, masked; the HTML and
JSON reports show them (escaped)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import pytest
from golive.reports.html import render as render_html
from golive.reports.json import from_dict
from golive.reports.json import render as render_json

from golive.models import SideEffect, Status
from golive.redact import Redactor
from golive.sideeffects import AUDIT_QUERY, collect, from_results
from tests.reports.runs import SCRIPT, result, sample_run

if TYPE_CHECKING:
    from demo.stack import Stack


def _with_effects() -> list:  # type: ignore[type-arg]
    return [
        result(
            "monitoring.alert_pipeline",
            Status.PASS,
            "ok",
            evidence={
                "side_effects": [
                    {"target": "alertmanager", "what": f"notified {SCRIPT}", "records": [{"a": 1}]},
                    {"target": "x"},  # no `what`: not a side effect
                ]
            },
        ),
        result("database.version", Status.PASS, "ok"),
    ]


def test_checks_side_effects_reach_the_run_with_their_check() -> None:
    effects = from_results(_with_effects())
    assert effects == [
        SideEffect("alertmanager", f"notified {SCRIPT}", "monitoring.alert_pipeline", [{"a": 1}])
    ]


def test_collect_masks_secrets_and_needs_no_target() -> None:
    class NoTargets:
        def built(self, kind: str) -> None:
            return None

    secret = "s3cr3t-T0ken-4711"
    results = _with_effects()
    results[0].evidence["side_effects"][0]["what"] = f"notified {secret} {SCRIPT}"
    redactor = Redactor()
    redactor.add(secret)
    redactor.add("notified")  # a weak secret is masked as a value, not as a word of prose
    effects = asyncio.run(
        collect(NoTargets(), results, datetime.now(timezone.utc), redactor)  # type: ignore[arg-type]
    )
    assert [e.what for e in effects] == [f"notified *** {SCRIPT}"]


def test_reports_show_side_effects_escaped() -> None:
    run = dataclasses.replace(sample_run(), side_effects=tuple(from_results(_with_effects())))
    page = render_html(run)
    assert 'id="side-effects"' in page and SCRIPT not in page
    assert "&lt;script&gt;" in page
    back = from_dict(json.loads(render_json(run)))
    assert back.side_effects[0].check == "monitoring.alert_pipeline"
    none = render_html(sample_run())
    assert "None recorded" in none


def test_console_banner_counts_side_effects() -> None:
    from golive.reports.console import render as render_console

    run = dataclasses.replace(sample_run(), side_effects=tuple(from_results(_with_effects())))
    assert "Side effects: 1 record(s)" in render_console(run)
    assert "Side effects" not in render_console(sample_run())


@pytest.mark.integration
def test_audit_rows_come_in_numeric_id_order(stack: Stack) -> None:
    """The query orders by the bigserial id, not by its text form ('10' before '9')."""
    import psycopg

    marker = f"golive-test-order-{datetime.now(timezone.utc).timestamp()}"
    with psycopg.connect(stack.database_dsn, autocommit=True) as conn:
        agent = conn.execute("SELECT id FROM agent WHERE name = 'system'").fetchone()
        assert agent is not None
        started = conn.execute("SELECT now()").fetchone()
        assert started is not None
        try:
            for _ in range(12):
                conn.execute(
                    "INSERT INTO audit_log (actor_agent_id, action, details) VALUES (%s, %s, '{}')",
                    (agent[0], marker),
                )
            rows = conn.execute(AUDIT_QUERY, (str(agent[0]), started[0])).fetchall()
        finally:
            conn.execute("DELETE FROM audit_log WHERE action = %s", (marker,))
    ids = [int(r[0]) for r in rows if r[1] == marker]
    assert len(ids) == 12
    assert ids == sorted(ids)
