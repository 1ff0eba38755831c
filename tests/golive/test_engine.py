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


def _checks(timeout: float, seconds: float = 30.0, done_flag: str = "") -> dict[str, object]:
    params = {"seconds": seconds, "done_flag": done_flag}
    entry = {"id": "lab.blocked_thread", "timeout": timeout, "params": params}
    return {"plugin_paths": [str(PLUGIN)], "sections": {"lab": {"checks": [entry]}}}


def test_run_returns_while_a_worker_thread_is_still_blocked(tmp_path: Path) -> None:
    returned = tmp_path / "returned"
    run = run_config(load_dict(_checks(timeout=0.5, done_flag=str(returned))))
    (result,) = run.results
    assert result.status is Status.ERROR
    assert result.summary == "did not finish within 0.5s (its 0.5s timeout)"
    # the blocking call (30 s) has not returned: execute() did not wait for its thread
    assert not returned.exists()


def test_process_exits_without_joining_the_blocked_thread(tmp_path: Path) -> None:
    config = tmp_path / "golive.yaml"
    returned = tmp_path / "returned"
    checks = _checks(timeout=0.5, seconds=600, done_flag=str(returned))
    config.write_text(yaml.safe_dump({"version": 1, **checks}))
    report = tmp_path / "run.json"
    # a process that joined the thread would live 600 s: the timeout only guards the suite
    proc = subprocess.run(
        [sys.executable, "-m", "golive", "run", "-c", str(config), "-o", f"json:{report}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 3, proc.stderr  # the high-severity check could not be evaluated
    assert report.is_file()
    assert "Traceback" not in proc.stderr
    assert not returned.exists()  # it exited while the blocking call was still blocked


def test_program_left_running_by_a_cancelled_check_is_killed(tmp_path: Path) -> None:
    """A plugin that runs a program and ignores its own cancellation: when its timeout
    cancels it, the run kills the program and exits cleanly."""
    import os

    pidfile = tmp_path / "child.pid"
    entry = {"id": "lab.stray_child", "timeout": 0.5, "params": {"pidfile": str(pidfile)}}
    config = tmp_path / "golive.yaml"
    data = {"version": 1, "plugin_paths": [str(PLUGIN)], "sections": {"lab": {"checks": [entry]}}}
    config.write_text(yaml.safe_dump(data))
    proc = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", "-m", "golive", "run", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert proc.returncode == 3, proc.stderr
    assert "did not finish within 0.5s" in proc.stdout
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
    pid = int(pidfile.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        pass
    else:
        os.kill(pid, 9)
        raise AssertionError(f"the check's child {pid} outlived the run")


def test_interrupted_checks_say_whether_they_had_started(tmp_path: Path) -> None:
    import json
    import signal

    flag = tmp_path / "started"
    checks = [
        {"id": "lab.flag_then_sleep", "params": {"flag": str(flag)}},
        {"id": "lab.sleepy", "params": {"seconds": 0}},
    ]
    data = {
        "version": 1,
        "plugin_paths": [str(Path(__file__).parent / "fixtures" / "runner_checks.py")],
        "defaults": {"concurrency": 1},
        "sections": {"lab": {"checks": checks}},
    }
    config = tmp_path / "golive.yaml"
    config.write_text(yaml.safe_dump(data))
    report = tmp_path / "run.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "golive", "run", "-c", str(config), "-o", f"json:{report}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    t_end = time.monotonic() + 30
    while not flag.exists() and time.monotonic() < t_end:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    results = {r["id"]: r["summary"] for r in json.loads(report.read_text())["results"]}
    assert results == {
        "lab.flag_then_sleep": "interrupted while running",
        "lab.sleepy": "interrupted before it ran",
    }
