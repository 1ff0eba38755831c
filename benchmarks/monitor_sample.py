"""One `golive monitor` sample against the reference stack: wall time and peak memory.

Goal: one sample — the whole `golive monitor` process (interpreter start, configuration,
probing the API, Prometheus, PostgreSQL, Alertmanager and the error-log file, storing
the sample, deciding) — takes <= 1.5 s wall (median of 7 runs after one warm-up run) and
<= 80 MB peak RSS (the largest of the runs, from the kernel's rusage of each process).

The reference stack is reused when it runs (`--state-dir`, else $GOLIVE_TEST_STACK_DIR,
else .golive-stack), or started without containers and stopped afterwards. Everything
talks to 127.0.0.1 only. Prints each run, the medians, the host's load, and the goal on
the last line; exits 1 when the goal is missed.

    python benchmarks/monitor_sample.py [--state-dir DIR] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from demo.stack import DEFAULT_STATE_DIR, Stack, is_up, start, stop  # noqa: E402

GOAL_SECONDS = 1.5
GOAL_MB = 80.0


def stack_for(state_dir: Path | None) -> tuple[Stack, bool]:
    """A running stack and whether this script started it."""
    for candidate in (state_dir, os.environ.get("GOLIVE_TEST_STACK_DIR"), ROOT / DEFAULT_STATE_DIR):
        if candidate:
            found = Stack.load(Path(candidate))
            if found is not None and is_up(found):
                return found, False
    return start(Path(tempfile.mkdtemp(prefix="golive-bench-stack-")), with_containers=False), True


def write_config(stack: Stack, work: Path) -> Path:
    data = {
        "version": 1,
        "targets": {
            "api": {"url": stack.api_url},
            "database": {"dsn": stack.database_dsn},
            "prometheus": {"url": stack.prometheus_url},
            "alertmanager": {"url": stack.alertmanager_url},
        },
        "monitor": {
            "history": str(work / "history.sqlite"),
            "every": "1m",
            "baseline": {"latency_ms": 50},
            "sources": {"error_log": {"file": str(stack.paths["api_log"])}},
        },
    }
    path = work / "golive.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def one(config: Path, work: Path) -> tuple[float, float, float, float, int]:
    """(wall s, peak RSS MB, CPU s, in-process sample s, exit code) of one `golive monitor`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLIVE_")}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "golive", "monitor", "-c", str(config), "--json"],
            stdout=out,
            stderr=err,
            cwd=work,
            env=env,
        )
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
        wall = time.perf_counter() - t0
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    try:
        sample_s = float(json.loads(stdout)["sample"]["duration"])
    except (ValueError, KeyError, TypeError):
        sys.stderr.write(stderr.decode(errors="replace")[-2000:])
        raise SystemExit(f"golive monitor failed with exit code {code}") from None
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, sample_s, code


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--state-dir", type=Path)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    stack, started = stack_for(args.state_dir)
    work = Path(tempfile.mkdtemp(prefix="golive-bench-monitor-"))
    try:
        config = write_config(stack, work)
        print(
            f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
            f"on {os.cpu_count()} CPUs"
        )
        warm = one(config, work)
        print(f"warm-up: {warm[0]:.3f} s wall, {warm[1]:.1f} MB (not counted)")
        walls, rss, cpu, inner = [], [], [], []
        for i in range(args.runs):
            wall, mb, cpu_s, sample_s, code = one(config, work)
            walls.append(wall)
            rss.append(mb)
            cpu.append(cpu_s)
            inner.append(sample_s)
            print(
                f"run {i + 1}: {wall:.3f} s wall, {cpu_s:.3f} s CPU, {mb:.1f} MB peak RSS, "
                f"sampling {sample_s:.3f} s, exit {code}"
            )
        wall_median, rss_max = statistics.median(walls), max(rss)
        print(
            f"wall: median {wall_median:.3f} s, max {max(walls):.3f} s; CPU: median "
            f"{statistics.median(cpu):.3f} s; sampling itself: median "
            f"{statistics.median(inner):.3f} s; peak RSS: max {rss_max:.1f} MB"
        )
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        ok = wall_median <= GOAL_SECONDS and rss_max <= GOAL_MB
        print(
            f"goal: one sample <= {GOAL_SECONDS} s wall (median) and <= {GOAL_MB:.0f} MB peak RSS"
            f" -> {'met' if ok else 'MISSED'} ({wall_median:.3f} s, {rss_max:.1f} MB)"
        )
        return 0 if ok else 1
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
        if started:
            stop(stack, purge=True)


if __name__ == "__main__":
    sys.exit(main())
