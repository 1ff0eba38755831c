"""Clean writes: after `--allow-writes`, nothing golive created is left behind (queried).

The three checks that change the target run against the demo stack: `audit.write_path`
(inserts a marked audit row), `performance.task_throughput` (creates marked tasks) and
`monitoring.alert_pipeline` (posts a marked test alert). Afterwards the test queries, by
the run's marker `golive-<run id>`: tasks, their runs and queued work, golive's audit rows
(`details.golive_marker`) and active alerts with the `golive_marker` label: all must be 0.

The application's own audit trail of the probe (`task.created` / `task.deleted` rows the
API writes for every task, titled with the marker) is kept on purpose: deleting audit
records would defeat the audit log. The test asserts that it shows every created task
deleted. The statistics counters moved - proof that the writes happened and that the
read-only test's method would have seen them.

Two more runs are interrupted (SIGINT) while the throughput probe's tasks exist: after it
submitted all of them (the cancelled check still cleans up), and during the submissions,
where creates still in flight are committed by the API after the clean-up listed the
marked tasks (the clean-up settles until no new marked task appears); the test deletes
any leftovers itself after asserting there are none.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.reliability import harness, observe

pytestmark = pytest.mark.integration

WRITERS = ("audit.write_path", "performance.task_throughput", "monitoring.alert_pipeline")


def _leftovers(stack: Any, marker: str) -> dict[str, Any]:
    """Everything still present that carries the marker, counted in the database and
    Alertmanager."""
    import psycopg

    like = marker.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    with psycopg.connect(observe.app_admin_dsn(stack), autocommit=True) as conn:

        def count(query: str, *args: Any) -> int:
            row = conn.execute(query, args).fetchone()
            return int(row[0]) if row else 0

        found = {
            "tasks": count("SELECT count(*) FROM task WHERE title LIKE %s", like),
            "task_runs": count(
                "SELECT count(*) FROM task_run r JOIN task t ON t.id = r.task_id"
                " WHERE t.title LIKE %s",
                like,
            ),
            "due_work": count(
                "SELECT count(*) FROM due_work w JOIN task t ON t.id = w.task_id"
                " WHERE t.title LIKE %s",
                like,
            ),
            "golive_audit_rows": count(
                "SELECT count(*) FROM audit_log WHERE details->>'golive_marker' = %s", marker
            ),
            "audit_created": count(
                "SELECT count(*) FROM audit_log WHERE action = 'task.created'"
                " AND details->>'title' LIKE %s",
                like,
            ),
            "audit_deleted": count(
                "SELECT count(*) FROM audit_log WHERE action = 'task.deleted'"
                " AND details->>'title' LIKE %s",
                like,
            ),
        }
    found["alerts"] = len(
        [a for a in observe.marked_alerts(stack) if a["labels"].get("golive_marker") == marker]
    )
    return found


def _assert_clean(found: dict[str, Any]) -> None:
    left = {k: found[k] for k in ("tasks", "task_runs", "due_work", "golive_audit_rows", "alerts")}
    assert left == dict.fromkeys(left, 0), f"left behind: {left}"
    # the application's audit trail records every probe task as created, then deleted
    assert found["audit_created"] == found["audit_deleted"], found


def _writer_args() -> list[str]:
    return ["--allow-writes", *(a for w in WRITERS for a in ("--check", w))]


def test_allow_writes_leaves_nothing_behind(
    stack: Any, stack_env: dict[str, str], tmp_path: Path
) -> None:
    from demo.stack.app import reset_rate_limits

    reset_rate_limits(stack)
    counters_before = observe.db_counters(stack)
    run = harness.run(harness.configs(), tmp_path, stack_env, *_writer_args(), "--deadline", "150")
    assert run.missing_reports() == [], run.describe()
    data = run.data
    assert data["settings"]["allow_writes"] is True
    results = run.results
    assert set(results) == set(WRITERS)
    for check_id in WRITERS:
        assert results[check_id]["status"] != "SKIP", (check_id, results[check_id]["summary"])
    marker = f"golive-{data['run_id']}"
    found = _leftovers(stack, marker)
    _assert_clean(found)
    assert found["audit_created"] > 0, "the throughput probe created no task"
    # the writes really happened (and the read-only test's counters would have seen them)
    # (polled: the API's pooled sessions flush their statistics within 10 s when idle; the
    # wait ends as soon as they are counted, its limit is for a busy machine)
    t_end = time.monotonic() + 60
    while True:
        moved = observe.diff(counters_before, observe.db_counters(stack))
        if {("task", "n_tup_ins"), ("task", "n_tup_del")} <= set(moved):
            break
        assert time.monotonic() < t_end, f"the probe's writes were never counted: {moved}"
        time.sleep(0.5)
    statuses = {c: (r["status"], r["summary"]) for c, r in results.items()}
    print(f"\nclean writes: {statuses}; probe tasks created and deleted: {found['audit_created']}")


def _purge(stack: Any, marker: str) -> int:
    """The test's own safety net: delete what an interrupted probe left (the stack is
    shared with the tests that follow)."""
    import psycopg

    like = marker + "%"
    with psycopg.connect(observe.app_admin_dsn(stack), autocommit=True) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM task WHERE title LIKE %s", (like,))]
        conn.execute("DELETE FROM due_work WHERE task_id = ANY(%s)", (ids,))
        conn.execute("DELETE FROM task_run WHERE task_id = ANY(%s)", (ids,))
        conn.execute("DELETE FROM task WHERE id = ANY(%s)", (ids,))
    return len(ids)


TASKS = 50  # performance.task_throughput's default number of probe tasks


@pytest.mark.parametrize("moment", ["after_submission", "during_submission"])
def test_interrupted_writing_run_still_cleans_up(
    stack: Any, stack_env: dict[str, str], tmp_path: Path, moment: str
) -> None:
    """SIGINT while the throughput probe's tasks exist: the run exits 130, cleaned up."""
    import psycopg

    from demo.stack.app import reset_rate_limits

    reset_rate_limits(stack)
    cmd = harness.command(
        harness.configs(),
        tmp_path,
        "--allow-writes",
        "--check",
        "performance.task_throughput",
        "--deadline",
        "150",
    )
    want = TASKS if moment == "after_submission" else 1
    started = harness.start(cmd, tmp_path, stack_env)
    marker = ""
    try:
        t_end = time.monotonic() + 60
        seen = 0
        with psycopg.connect(observe.app_admin_dsn(stack), autocommit=True) as conn:
            while time.monotonic() < t_end and started.proc.poll() is None:
                row = conn.execute(
                    "SELECT count(*), min(split_part(title, ' ', 1)) FROM task"
                    " WHERE title LIKE 'golive-%% throughput %%'"
                ).fetchone()
                seen, marker = (int(row[0]), row[1]) if row else (0, "")
                if seen >= want:
                    break
                time.sleep(0.05)
        assert seen >= want, f"only {seen} probe tasks appeared"
        started.proc.send_signal(signal.SIGINT)
        run = harness.finish(started, 60)
        assert run.returncode == 130, run.describe()
        assert not harness.tracebacks([run.stdout, run.stderr])
        data = run.data
        assert data["interrupted"] is True
        assert marker == f"golive-{data['run_id']}"
        result = run.results["performance.task_throughput"]
        assert result["status"] == "SKIP" and result["summary"] == "interrupted while running"
        found = _leftovers(stack, marker)
        print(f"\ninterrupted write ({moment}): {seen} probe tasks at SIGINT; found after: {found}")
        _assert_clean(found)
    finally:
        harness.kill_group(started.proc)
        if marker:
            _purge(stack, marker)
