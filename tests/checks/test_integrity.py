"""checks/integrity.py against the reference stack's real PostgreSQL.

Failing states are real and undone: the seeded system agent deleted with foreign-key
triggers bypassed (``demo.faults.deleted_system_agent``), every foreign key dropped and
orphan rows inserted (``demo.faults.orphans``), and a foreign key re-added NOT VALID.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from checks.integrity import DEFAULT_RELATIONS, parse_relation
from golive.models import Status
from tests.checks.pgutil import admin_app, q, run

if TYPE_CHECKING:
    from demo.stack import Stack


def test_relations_parse_and_reject_malformed_text() -> None:
    assert parse_relation("task_run.task_id -> task.id") == ("task_run", "task_id", "task", "id")
    assert parse_relation("app.task.created_by->app.agent.id") == (
        "app.task",
        "created_by",
        "app.agent",
        "id",
    )
    for bad in ("task_run.task_id", "task_id -> task.id", "task_run. -> task.id"):
        with pytest.raises(ValueError, match=r"table\.column -> table\.column"):
            parse_relation(bad)
    assert len(DEFAULT_RELATIONS) == 4


# ---------------------------------------------------------------------------------------------
# integrity.system_agent


@pytest.mark.integration
def test_system_agent_passes(stack: Stack) -> None:
    r = run(stack, "integrity.system_agent", params={"required_scopes": ["admin"]})
    assert r.status is Status.PASS, r.summary
    assert r.summary == f"agent 'system' exists (id {stack.agent_id})"
    assert "admin" in r.evidence["scopes"]


@pytest.mark.integration
def test_system_agent_fails_when_deleted(stack: Stack) -> None:
    from demo import faults

    (task,) = q(
        stack.database_dsn,
        "INSERT INTO task (title, created_by, schedule_kind, schedule_expr)"
        " VALUES ('golive-test:system-task', %s, 'event', 'golive.test') RETURNING id",
        (stack.agent_id,),
    )
    try:
        with faults.deleted_system_agent(stack):
            r = run(stack, "integrity.system_agent")
            orphans = run(stack, "integrity.orphans")
    finally:
        q(stack.database_dsn, "DELETE FROM task WHERE id = %s", (task[0],))
    assert r.status is Status.FAIL
    assert r.summary == "no agent named 'system' in agent"
    # the agent's task now points nowhere: the orphan check sees it too
    assert orphans.status is Status.FAIL
    by = {e["relation"]: e for e in orphans.evidence["relations"]}
    assert str(task[0]) in by["task.created_by -> agent.id"]["sample_ids"]
    assert stack.agent_id in by["task.created_by -> agent.id"]["sample_missing_parents"]
    assert run(stack, "integrity.system_agent").status is Status.PASS


@pytest.mark.integration
def test_system_agent_fails_without_a_required_scope(stack: Stack) -> None:
    r = run(stack, "integrity.system_agent", params={"required_scopes": ["admin", "root"]})
    assert r.status is Status.FAIL
    assert r.summary == "agent 'system' exists but lacks scope(s) root"


# ---------------------------------------------------------------------------------------------
# integrity.orphans and integrity.constraints


@pytest.mark.integration
def test_orphans_and_constraints_pass_on_the_demo(stack: Stack) -> None:
    r = run(stack, "integrity.orphans")
    assert r.status is Status.PASS, r.summary
    assert r.summary == "no orphan rows in 4 relation(s)"
    assert [e["orphans"] for e in r.evidence["relations"]] == [0, 0, 0, 0]
    c = run(stack, "integrity.constraints")
    assert c.status is Status.PASS, c.summary
    assert c.summary == "4 foreign keys exist and are validated"
    assert {e["constraint"] for e in c.evidence["relations"]} == {
        "task_created_by_fkey",
        "task_run_task_id_fkey",
        "due_work_task_id_fkey",
        "audit_log_actor_agent_id_fkey",
    }


@pytest.mark.integration
def test_orphans_and_missing_constraints_fail_with_sample_ids(stack: Stack) -> None:
    from demo import faults

    with faults.orphans(stack) as fault:
        r = run(stack, "integrity.orphans")
        c = run(stack, "integrity.constraints")
    assert r.status is Status.FAIL
    by = {e["relation"]: e for e in r.evidence["relations"]}
    rows = fault["rows"]
    assert str(rows["task"]) in by["task.created_by -> agent.id"]["sample_ids"]
    assert str(rows["task_run"]) in by["task_run.task_id -> task.id"]["sample_ids"]
    assert str(rows["due_work"]) in by["due_work.task_id -> task.id"]["sample_ids"]
    assert str(rows["audit_log"]) in by["audit_log.actor_agent_id -> agent.id"]["sample_ids"]
    assert all(e["orphans"] >= 1 for e in by.values())
    assert r.summary.startswith(f"{int(r.measurements['orphans'])} orphan row(s): ")
    assert "in task_run.task_id -> task.id" in r.summary

    assert c.status is Status.FAIL
    assert c.summary == ("4 foreign key(s) missing: " + ", ".join(DEFAULT_RELATIONS))
    assert all(e["problem"] == "no foreign key" for e in c.evidence["relations"])
    # restored on exit
    assert run(stack, "integrity.orphans").status is Status.PASS
    assert run(stack, "integrity.constraints").status is Status.PASS


@pytest.mark.integration
def test_constraints_warn_on_a_foreign_key_that_is_not_validated(stack: Stack) -> None:
    dsn = admin_app(stack)
    q(dsn, "ALTER TABLE audit_log DROP CONSTRAINT audit_log_actor_agent_id_fkey")
    try:
        q(
            dsn,
            "ALTER TABLE audit_log ADD CONSTRAINT audit_log_actor_agent_id_fkey"
            " FOREIGN KEY (actor_agent_id) REFERENCES agent(id) NOT VALID",
        )
        r = run(stack, "integrity.constraints")
    finally:
        q(dsn, "ALTER TABLE audit_log VALIDATE CONSTRAINT audit_log_actor_agent_id_fkey")
    assert r.status is Status.WARN
    assert r.summary == (
        "1 foreign key(s) are NOT VALID (old rows unchecked): "
        "audit_log.audit_log_actor_agent_id_fkey"
    )
    by = {e["relation"]: e for e in r.evidence["relations"]}
    assert by["audit_log.actor_agent_id -> agent.id"]["validated"] is False


@pytest.mark.integration
def test_orphans_report_a_missing_table_and_a_malformed_relation(stack: Stack) -> None:
    r = run(stack, "integrity.orphans", params={"relations": ["nosuch.task_id -> task.id"]})
    assert r.status is Status.FAIL
    assert r.summary == "nosuch.task_id -> task.id: table nosuch does not exist"
    r = run(stack, "integrity.orphans", params={"relations": ["task_run.nocol -> task.id"]})
    assert r.status is Status.FAIL
    assert "column c.nocol does not exist" in r.summary
    r = run(stack, "integrity.constraints", params={"relations": ["task_run -> task"]})
    assert r.status is Status.ERROR
    assert "table.column -> table.column" in r.summary
