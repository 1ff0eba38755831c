"""Interruption: SIGINT or SIGTERM during a real run against the demo stack.

The run must stop within a few seconds, write every requested report with the results
so far (marked interrupted), and exit 130, without a traceback. Two moments are tried:

* early (SIGINT): as soon as golive's first database session shows up in
  pg_stat_activity, when most checks have not run yet;
* late (SIGTERM): while `security.rate_limit_enforced`, the last check, waits for the
  API's rate limiter to forgive golive's address (an overlay sets its `wait_for_reset`,
  which is off by default; the test's own probe of the same endpoint starts getting 429
  then).
"""

from __future__ import annotations

import signal
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.reliability import harness, observe

pytestmark = pytest.mark.integration

STOP_WITHIN = 60.0  # seconds from the signal to the exit: a guard against a hang only


def _golive_session_seen(stack: Any, started: harness.Started, limit: float) -> bool:
    import psycopg

    t_end = time.monotonic() + limit
    with psycopg.connect(observe.app_admin_dsn(stack), autocommit=True) as conn:
        while time.monotonic() < t_end and started.proc.poll() is None:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'golive'"
            ).fetchone()
            if row and row[0]:
                return True
            time.sleep(0.01)
    return False


def _throttled(stack: Any, started: harness.Started, limit: float) -> bool:
    url = f"{stack.api_url}/tools"
    t_end = time.monotonic() + limit
    while time.monotonic() < t_end and started.proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=5):
                pass
        except urllib.error.HTTPError as exc:
            if exc.code == 429:
                return True
        except OSError:
            pass
        time.sleep(0.25)
    return False


@pytest.mark.parametrize(
    ("sig", "moment"),
    [(signal.SIGINT, "early"), (signal.SIGTERM, "late")],
    ids=["SIGINT-early", "SIGTERM-late"],
)
def test_signal_writes_partial_reports_and_exits_130(
    stack: Any, stack_env: dict[str, str], tmp_path: Path, sig: int, moment: str
) -> None:
    from demo.stack.app import reset_rate_limits

    reset_rate_limits(stack)
    overlays: list[Path | str] = []
    if moment == "late":
        # the last check, told to wait until the limiter lets golive through again, is
        # still running when the test's own probe starts getting 429
        overlay = tmp_path / "wait-for-reset.yaml"
        overlay.write_text(
            "version: 1\nsections:\n  security:\n    checks:\n"
            "      - id: security.rate_limit_enforced\n"
            "        timeout: 90s\n"
            "        params: {wait_for_reset: true}\n"
        )
        overlays.append(overlay)
    cmd = harness.command(harness.configs(*overlays), tmp_path, "--deadline", "150")
    started = harness.start(cmd, tmp_path, stack_env)
    try:
        if moment == "early":
            ready = _golive_session_seen(stack, started, 60)
        else:
            ready = _throttled(stack, started, 120)
        assert ready, f"the run never reached the {moment} moment (exit {started.proc.poll()})"
        t_signal = time.monotonic()
        started.proc.send_signal(sig)
        run = harness.finish(started, t_signal - started.t0 + STOP_WITHIN)
        stopped_after = time.monotonic() - t_signal
    finally:
        harness.kill_group(started.proc)
        reset_rate_limits(stack)
    assert run.returncode == 130, run.describe()
    print(f"\n{moment} {sig!s}: exited {stopped_after:.1f}s after the signal")
    assert not harness.tracebacks([run.stdout, run.stderr]), run.describe()
    assert "the run was interrupted" in run.stdout
    assert run.missing_reports() == [], run.describe()
    data = run.data
    assert data["interrupted"] is True
    assert data["decision"]["exit_code"] == 130
    assert data["decision"]["reasons"][0] == "the run was interrupted; results are partial"
    statuses = Counter(r["status"] for r in data["results"])
    interrupted = [
        r["id"]
        for r in data["results"]
        if r["status"] == "SKIP" and r["summary"].startswith("interrupted")
    ]
    completed = [r["id"] for r in data["results"] if r["status"] in ("PASS", "WARN", "FAIL")]
    assert interrupted, statuses
    assert completed, statuses
    assert all(run.results[i]["incomplete"] for i in interrupted)
    if moment == "late":
        assert interrupted == ["security.rate_limit_enforced"], interrupted
        assert run.results["security.rate_limit_enforced"]["summary"] == "interrupted while running"
    # the other report formats carry the same partial run
    if "junit" in run.reports:
        junit = run.reports["junit"].read_text()
        assert all(check_id in junit for check_id in completed)
    if "markdown" in run.reports:
        assert "interrupted" in run.reports["markdown"].read_text()
    print(
        f"\n{signal.Signals(sig).name} ({moment}): exit {run.returncode} {stopped_after:.1f}s after "
        f"the signal; {len(completed)} completed, {len(interrupted)} interrupted, {dict(statuses)}"
    )
