"""checks/audit.py against the reference stack's real PostgreSQL and API.

The healthy audit log is produced by the application itself: a task created through the
demo API writes its ``task.created`` row. An audit log that receives nothing, or keeps rows
past retention, lives in a scratch database built from ``demo/migrations`` (the demo's own
audit history is left alone). The write path fails for real when the application role loses
its INSERT (or DELETE) privilege on audit_log, granted back afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

from golive.models import Status
from tests.checks.pgutil import admin_app, q, run, scratch_database

if TYPE_CHECKING:
    from demo.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture
def api_task(stack: Stack) -> Iterator[str]:
    """A task created through the API (which writes its audit row); canceled afterwards."""
    headers = {"Authorization": f"Bearer {stack.api_token}"}
    with httpx.Client(base_url=stack.api_url, headers=headers, timeout=10) as client:
        resp = client.post(
            "/tasks/",
            json={
                "title": f"golive-test:audit:{uuid.uuid4().hex[:8]}",
                "description": "golive audit test task",
                "created_by": stack.agent_id,
                "schedule_kind": "event",
                "schedule_expr": "golive.test",
                "payload": {"pipeline": []},
            },
        )
        assert resp.status_code == 201, resp.text
        task_id = resp.json()["id"]
        yield task_id
        client.post(f"/tasks/{task_id}/cancel")


def test_activity_passes_when_the_application_writes_audit_rows(
    stack: Stack, api_task: str
) -> None:
    r = run(stack, "audit.activity", params={"expected_actions": ["task.created"]})
    assert r.status is Status.PASS, r.summary
    assert r.evidence["rows_in_window"] >= 1
    actions = {a["action"]: a["rows"] for a in r.evidence["actions"]}
    assert actions["task.created"] >= 1
    assert r.summary.startswith(f"{r.evidence['rows_in_window']} audit row(s) in the last 24 h")
    assert r.evidence["newest"] is not None


def test_activity_fails_on_an_audit_log_that_receives_nothing(stack: Stack) -> None:
    with scratch_database(stack, "golive_audit") as db:
        r = run(stack, "audit.activity", dsn=db.dsn)
        assert r.status is Status.FAIL
        assert (
            r.summary == "0 audit row(s) in the last 24 h (need 1); the table holds no audit rows"
        )
        q(
            db.dsn,
            "INSERT INTO audit_log (action, at) VALUES ('task.created',"
            " '2026-01-01T00:00:00Z'), ('task.created', now() - interval '3 days')",
        )
        r = run(stack, "audit.activity", dsn=db.dsn)
    assert r.status is Status.FAIL
    assert r.summary.startswith("0 audit row(s) in the last 24 h (need 1); newest row at ")
    assert r.evidence["retention_days"] > 3


def test_activity_does_not_count_golives_own_probe_rows(stack: Stack) -> None:
    with scratch_database(stack, "golive_audit") as db:
        q(
            db.dsn,
            "INSERT INTO audit_log (action, details) VALUES ('golive.write_path',"
            ' \'{"golive_marker": "golive-test"}\')',
        )
        r = run(stack, "audit.activity", dsn=db.dsn)
        assert r.status is Status.FAIL
        assert (
            r.summary == "0 audit row(s) in the last 24 h (need 1); the table holds no audit rows"
        )
        r = run(stack, "audit.activity", dsn=db.dsn, params={"ignore_actions": []})
    assert r.status is Status.PASS
    assert r.evidence["actions"][0]["action"] == "golive.write_path"


def test_activity_warns_on_missing_actions_and_rows_past_retention(stack: Stack) -> None:
    with scratch_database(stack, "golive_audit") as db:
        q(
            db.dsn,
            "INSERT INTO audit_log (action, at) VALUES ('task.created', now()),"
            " ('task.created', now() - interval '40 days')",
        )
        r = run(
            stack,
            "audit.activity",
            dsn=db.dsn,
            params={"expected_actions": ["task.created", "task.canceled"], "retention_days": 30},
        )
    assert r.status is Status.WARN
    assert "no task.canceled action in the window" in r.summary
    assert "rows are kept 40 days, beyond the 30-day retention" in r.summary


def test_activity_fails_when_the_table_is_missing(stack: Stack) -> None:
    r = run(stack, "audit.activity", params={"table": "audit_trail"})
    assert r.status is Status.FAIL
    assert r.summary == "table audit_trail does not exist"


def _marked(stack: Stack, marker: str) -> int:
    rows = q(
        admin_app(stack),
        "SELECT count(*) FROM audit_log WHERE details->>'golive_marker' = %s",
        (marker,),
    )
    return int(rows[0][0])


def test_write_path_writes_reads_back_and_deletes(stack: Stack) -> None:
    r = run(stack, "audit.write_path", allow_writes=True)
    assert r.status is Status.PASS, r.summary
    assert r.summary.startswith("orchestrator wrote audit row ")
    assert r.evidence["read_back"] is True
    assert r.evidence["deleted"] == 1
    assert r.evidence["superuser"] is False
    assert _marked(stack, r.evidence["marker"]) == 0


def test_write_path_warns_when_the_app_role_is_a_superuser(stack: Stack) -> None:
    from demo import faults

    with faults.superuser_app_role(stack):
        r = run(stack, "audit.write_path", allow_writes=True)
    assert r.status is Status.WARN
    assert r.evidence["superuser"] is True
    assert r.summary.endswith(
        "but orchestrator is a superuser, which bypasses privileges: this proves nothing "
        "about what a non-superuser application role may do"
    )
    assert _marked(stack, r.evidence["marker"]) == 0


def test_write_path_is_skipped_without_allow_writes(stack: Stack) -> None:
    r = run(stack, "audit.write_path")
    assert r.status is Status.SKIP
    assert "--allow-writes" in r.summary


def test_write_path_fails_when_the_role_cannot_insert(stack: Stack) -> None:
    q(admin_app(stack), "REVOKE INSERT ON audit_log FROM orchestrator")
    try:
        r = run(stack, "audit.write_path", allow_writes=True)
    finally:
        q(admin_app(stack), "GRANT INSERT ON audit_log TO orchestrator")
    assert r.status is Status.FAIL
    assert r.summary == (
        "role orchestrator cannot insert into audit_log: permission denied for table audit_log"
    )
    assert "inserted_id" not in r.evidence


def test_write_path_reports_a_row_it_could_not_delete(stack: Stack) -> None:
    q(admin_app(stack), "REVOKE DELETE ON audit_log FROM orchestrator")
    try:
        r = run(stack, "audit.write_path", allow_writes=True)
    finally:
        q(admin_app(stack), "GRANT DELETE ON audit_log TO orchestrator")
        left = r.evidence.get("left_behind_ids", [])
        q(admin_app(stack), "DELETE FROM audit_log WHERE id = ANY(%s)", (left,))
    assert r.status is Status.WARN
    assert left == [r.evidence["inserted_id"]]
    assert r.summary == (
        f"orchestrator wrote and read back an audit row, but audit row(s) {left[0]} marked "
        f"{r.evidence['marker']} could not be deleted (permission denied for table audit_log)"
    )
    assert _marked(stack, r.evidence["marker"]) == 0
