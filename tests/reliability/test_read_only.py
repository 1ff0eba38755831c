"""Read-only guarantee: a default `golive run` against the demo stack changes nothing.

Method (PostgreSQL): cumulative statistics cannot be flushed from outside the session that
wrote, so the test compares two kinds of evidence around one full default run:

* the exact content of every application table (row count and a digest of every row,
  minus the heartbeat's `last_seen`), plus roles, relations and their grants - exact and
  without delay;
* the `pg_stat_user_tables` insert/update/delete counters. The stack is first watched for
  a few seconds to learn which counters move by themselves (only the workers' heartbeat
  updates may); after the run the test keeps polling until PostgreSQL's idle flush
  interval (10 s) has surely passed, so that a write made through the API's pooled,
  long-lived connections has been counted. golive's own sessions end with each query,
  which flushes their statistics at once.

Alertmanager's alert list and silences, and a hash of every file of the project tree, the
backup directory, the checklist and the run's working directory (outside the report
paths) must be identical before and after too.

The run is the default checklist without --allow-writes; the only override is
`security.rate_limit_enforced: wait_for_reset: false` (it would otherwise wait up to a
minute for the limiter's window; the test resets the limiter afterwards instead).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.reliability import harness, observe

pytestmark = pytest.mark.integration

STATS_FLUSH_BOUND = 11.0  # PGSTAT_IDLE_INTERVAL (10 s) + 1 s
CALM_WINDOW = 3.0


def _calm_counters(stack: Any, limit: float = 60.0) -> dict[tuple[str, str], int]:
    """Counters after a window in which only the self-moving ones moved."""
    t_end = time.monotonic() + limit
    moving: dict[Any, Any] = {}
    while time.monotonic() < t_end:
        before = observe.db_counters(stack)
        time.sleep(CALM_WINDOW)
        after = observe.db_counters(stack)
        moving = {
            k: v for k, v in observe.diff(before, after).items() if k not in observe.SELF_MOVING
        }
        if not moving:
            return after
    pytest.fail(f"the stack never went idle for {CALM_WINDOW:g}s: {moving}")


def _calm_alerts(stack: Any, limit: float = 60.0) -> dict[str, Any]:
    t_end = time.monotonic() + limit
    while time.monotonic() < t_end:
        before = observe.alerts(stack)
        time.sleep(1.0)
        after = observe.alerts(stack)
        if before == after:
            return after
    pytest.fail("Alertmanager's alert list kept changing by itself")


def test_default_run_changes_nothing(stack: Any, stack_env: dict[str, str], tmp_path: Path) -> None:
    from demo.stack.app import reset_rate_limits

    workdir = tmp_path / "run"
    workdir.mkdir()
    overlay = harness.write_yaml(
        tmp_path / "overlay.yaml",
        {
            "sections": {
                "security": {
                    "checks": [
                        {"id": "security.rate_limit_enforced", "params": {"wait_for_reset": False}}
                    ]
                }
            }
        },
    )
    roots = [
        Path(stack.project_root),
        Path(stack.backup_dir),
        harness.CHECKLIST.resolve(),
        harness.DEMO_OVERLAY,
        workdir,
    ]
    outputs = [workdir / "reports", workdir / "golive.stdout", workdir / "golive.stderr"]

    reset_rate_limits(stack)
    counters_before = _calm_counters(stack)
    content_before = observe.db_content(stack)
    alerts_before = _calm_alerts(stack)
    files_before = observe.file_hashes(roots, exclude=outputs)
    assert len(files_before) > 10, files_before  # the project tree is really there

    run = harness.run(harness.configs(overlay), workdir, stack_env, "--deadline", "150")
    t_done = time.monotonic()
    try:
        assert run.missing_reports() == [], run.describe()
        data = run.data
        assert data["settings"]["allow_writes"] is False
        ran = [r for r in data["results"] if r["status"] not in ("SKIP",)]
        assert len(ran) >= 30, f"only {len(ran)} checks ran: {run.describe()}"
        writers = [r["id"] for r in data["results"] if r["writes"]]
        assert writers and all(run.results[w]["status"] == "SKIP" for w in writers)

        # the counters: every one that was still before must still be still, polled until
        # PostgreSQL's idle flush interval has passed since the run ended
        changed: dict[Any, Any] = {}
        while True:
            counters_after = observe.db_counters(stack)
            changed = {
                k: v
                for k, v in observe.diff(counters_before, counters_after).items()
                if k not in observe.SELF_MOVING
            }
            assert not changed, f"table statistics changed during a read-only run: {changed}"
            if time.monotonic() - t_done >= STATS_FLUSH_BOUND:
                break
            time.sleep(1.0)
        # the self-moving counters moved only where the application moves them
        assert set(observe.diff(counters_before, counters_after)) <= observe.SELF_MOVING

        assert observe.diff(content_before, observe.db_content(stack)) == {}
        assert observe.alerts(stack) == alerts_before
        files_after = observe.file_hashes(roots, exclude=outputs)
        assert observe.diff(files_before, files_after) == {}
        # the only new files in the working directory are the requested reports
        produced = {p.relative_to(workdir) for p in workdir.rglob("*") if p.is_file()}
        expected = {p.relative_to(workdir) for p in run.reports.values()} | {
            Path("golive.stdout"),
            Path("golive.stderr"),
        }
        assert produced == expected
        print(
            f"\nread-only: {len(ran)} checks ran in {run.seconds:.1f}s; "
            f"{len(counters_before)} counters, {sum(k.startswith('table:') for k in content_before)} "
            f"tables, {len(alerts_before['alerts'])} alerts, {len(files_before)} files unchanged"
        )
    finally:
        reset_rate_limits(stack)  # security.rate_limit_enforced exhausted golive's address
