"""checks/capacity.py against the reference stack's real PostgreSQL.

Failing states are real and undone: a flooded work queue stuck under a dead worker's lease
(``demo.faults.flooded_due_work``), every worker stopped with hour-old heartbeats
(``demo.faults.dead_heartbeats``), and a heartbeat row of a worker that stopped minutes
ago. Growth is measured on rows seeded with known creation times in a scratch database
built from ``demo/migrations``; the data directory is the stack's own (its free space is
real, so the failing headroom case asks for more days than any disk here can hold).
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

import pytest

from golive.models import Status
from tests.checks.pgutil import admin_app, on_db, q, run, scratch_database

if TYPE_CHECKING:
    from demo.stack import Stack

pytestmark = pytest.mark.integration


# ---------------------------------------------------------------------------------------------
# capacity.database_growth


def test_growth_measures_headroom_on_the_local_data_directory(stack: Stack) -> None:
    data = str(stack.path("pg_data"))
    r = run(stack, "capacity.database_growth", params={"data_directory": data})
    assert r.status is Status.PASS, r.summary
    assert r.evidence["data_directory"] == data
    assert r.measurements["disk_free_bytes"] == pytest.approx(
        shutil.disk_usage(data).free, rel=0.05
    )
    assert r.measurements["database_bytes"] > 1_000_000
    assert "free on the data disk" in r.summary


def test_growth_reads_the_data_directory_when_the_role_may(stack: Stack) -> None:
    """A superuser may read data_directory; the app role may not (and is told so)."""
    r = run(stack, "capacity.database_growth", dsn=admin_app(stack))
    assert r.status is Status.PASS, r.summary
    assert r.evidence["data_directory"] == str(stack.path("pg_data"))
    app = run(stack, "capacity.database_growth")
    assert app.status is Status.PASS
    assert app.summary.endswith(
        "disk headroom not measured: the role may not read data_directory (needs "
        "pg_read_all_settings); set params.data_directory"
    )


def test_growth_is_measured_from_recent_rows_not_total_size(stack: Stack) -> None:
    with scratch_database(stack, "golive_growth") as db:
        q(
            db.dsn,
            """
            INSERT INTO task (title, created_by, schedule_kind, schedule_expr, created_at)
            SELECT 'old ' || g, (SELECT id FROM agent WHERE name = 'system'), 'event', 'x',
                   now() - interval '60 days'
            FROM generate_series(1, 3000) g""",
        )
        q(
            db.dsn,
            """
            INSERT INTO task_run (task_id, started_at, finished_at, success, created_at)
            SELECT t.id, now(), now(), true,
                   CASE WHEN g <= 7000 THEN now() - (g % 7) * interval '1 day'
                        ELSE now() - interval '30 days' END
            FROM generate_series(1, 21000) g
            JOIN LATERAL (SELECT id FROM task ORDER BY id LIMIT 1) t ON true""",
        )
        q(db.admin_dsn, "ANALYZE")
        params: dict[str, Any] = {"data_directory": str(stack.path("pg_data"))}
        r = run(stack, "capacity.database_growth", dsn=db.dsn, params=params)
        assert r.status is Status.PASS, r.summary
        by = {t["table"]: t for t in r.evidence["tables"]}
        assert by["task"]["rows_last_7d"] == 0
        assert by["task_run"]["rows_last_7d"] == 7000
        per_row = by["task_run"]["bytes_per_row"]
        assert by["task_run"]["bytes_per_day"] == pytest.approx(7000 * per_row / 7, rel=0.01)
        growth = r.measurements["growth_bytes_per_day"]
        # old rows take space but do not grow the database (size / 30 would count them)
        assert by["task"]["bytes_per_day"] == 0
        assert growth == pytest.approx(by["task_run"]["bytes_per_day"], abs=5000)
        headroom = r.measurements["headroom_days"]
        assert headroom == pytest.approx(r.measurements["disk_free_bytes"] / growth, rel=0.01)

        params.update(fail_headroom_days=headroom * 2, warn_headroom_days=headroom * 4)
        r = run(stack, "capacity.database_growth", dsn=db.dsn, params=params)
        assert r.status is Status.FAIL
        assert f"under {headroom * 2:g} days" in r.summary
        params.update(fail_headroom_days=1, warn_headroom_days=headroom * 4)
        r = run(stack, "capacity.database_growth", dsn=db.dsn, params=params)
        assert r.status is Status.WARN


def test_growth_reports_a_missing_table(stack: Stack) -> None:
    r = run(stack, "capacity.database_growth", params={"tables": {"events": "created_at"}})
    assert r.status is Status.ERROR
    assert r.summary.endswith("cannot measure: table events does not exist")


# ---------------------------------------------------------------------------------------------
# capacity.work_queue


def test_work_queue_passes_when_workers_keep_up(stack: Stack) -> None:
    r = run(stack, "capacity.work_queue")
    assert r.status is Status.PASS, r.summary
    assert r.summary.endswith("under 10, workers are sufficient")
    assert r.evidence["due"] < 10


def test_work_queue_warns_on_a_growing_backlog(stack: Stack) -> None:
    from demo import faults

    with faults.flooded_due_work(stack, 500):
        r = run(stack, "capacity.work_queue")
    assert r.status is Status.WARN
    assert "not under 10, workers are falling behind" in r.summary
    assert r.evidence["due"] >= 500
    assert r.evidence["leased"] >= 500
    assert r.evidence["oldest_overdue_seconds"] >= 590


def test_work_queue_fails_above_a_thousand_and_says_scale_up(stack: Stack) -> None:
    from demo import faults

    with faults.flooded_due_work(stack, 1500):
        r = run(stack, "capacity.work_queue")
    assert r.status is Status.FAIL
    assert r.summary.endswith("more than 1000, scale up workers")
    assert r.measurements["queue_backlog"] >= 1500
    assert r.measurements["average_wait_seconds"] > 500


def test_work_queue_warns_on_an_old_overdue_item(stack: Stack) -> None:
    from demo import faults

    with faults.flooded_due_work(stack, 3):
        r = run(stack, "capacity.work_queue", params={"max_oldest_seconds": 300})
    assert r.status is Status.WARN
    assert r.summary.endswith("an item waits longer than 300s")


# ---------------------------------------------------------------------------------------------
# capacity.workers


def test_workers_pass_with_the_stacks_two_workers(stack: Stack) -> None:
    r = run(stack, "capacity.workers")
    assert r.status is Status.PASS, r.summary
    assert r.summary == "2 live worker(s), at least the minimum 2"
    assert {w["worker"] for w in r.evidence["live"]} == {"w1", "w2"}


def test_workers_fail_when_every_heartbeat_is_dead(stack: Stack) -> None:
    from demo import faults

    with faults.dead_heartbeats(stack):
        r = run(stack, "capacity.workers")
    assert r.status is Status.FAIL
    assert r.summary == (
        "0 live worker(s) (heartbeat within 30s), fewer than the minimum 2; stale: w1, w2"
    )
    assert {w["worker"] for w in r.evidence["stale"]} == {"w1", "w2"}


def test_workers_warn_on_a_recently_stopped_worker_and_ignore_departed_ones(
    stack: Stack,
) -> None:
    dsn = on_db(stack.admin_dsn, "orchestrator")
    q(
        dsn,
        "INSERT INTO worker_heartbeat (worker_id, last_seen) VALUES"
        " ('golive-test-stopped', now() - interval '5 minutes'),"
        " ('golive-test-departed', now() - interval '3 days')",
    )
    try:
        r = run(stack, "capacity.workers")
        q(dsn, "DELETE FROM worker_heartbeat WHERE worker_id = 'golive-test-stopped'")
        departed = run(stack, "capacity.workers")
    finally:
        q(dsn, "DELETE FROM worker_heartbeat WHERE worker_id LIKE 'golive-test-%'")
    assert r.status is Status.WARN
    assert r.summary == "2 live worker(s); 1 stopped beating recently: golive-test-stopped"
    assert departed.status is Status.PASS
    assert [w["worker"] for w in departed.evidence["departed"]] == ["golive-test-departed"]
