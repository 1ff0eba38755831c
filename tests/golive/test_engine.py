"""golive/engine.py: a blocking call stuck in a worker thread cannot hold the run or the exit."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import yaml

from golive.models import Status
from golive.testing import load_dict, run_config

PLUGIN = Path(__file__).parent / "fixtures" / "blocking_checks.py"


def _checks(timeout: float, seconds: float = 30.0) -> dict[str, object]:
    entry = {"id": "lab.blocked_thread", "timeout": timeout, "params": {"seconds": seconds}}
    return {"plugin_paths": [str(PLUGIN)], "sections": {"lab": {"checks": [entry]}}}


def test_run_returns_while_a_worker_thread_is_still_blocked() -> None:
    t0 = time.monotonic()
    run = run_config(load_dict(_checks(timeout=0.5)))
    elapsed = time.monotonic() - t0
    (result,) = run.results
    assert result.status is Status.ERROR
    assert result.summary == "did not finish within 0.5s (its 0.5s timeout)"
    assert elapsed < 3, f"execute() waited {elapsed:.1f}s for the abandoned thread"


def test_process_exits_without_joining_the_blocked_thread(tmp_path: Path) -> None:
    config = tmp_path / "golive.yaml"
    config.write_text(yaml.safe_dump({"version": 1, **_checks(timeout=0.5, seconds=60)}))
    report = tmp_path / "run.json"
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "golive", "run", "-c", str(config), "-o", f"json:{report}"],
        capture_output=True,
        text=True,
        timeout=50,
    )
    elapsed = time.monotonic() - t0
    assert proc.returncode == 3, proc.stderr  # the high-severity check could not be evaluated
    assert report.is_file()
    assert "Traceback" not in proc.stderr
    assert elapsed < 20, f"golive exited {elapsed:.1f}s after start: it joined the thread"
