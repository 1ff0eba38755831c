"""Wall time of `golive run --allow-writes` of the whole default checklist.

Goal: against the demo stack, the default checklist (golive/checklist.yaml, writes allowed)
finishes in <= 30 s of wall time, measured in this run, next to the 70 s that the
production checklist's fixed sleeps alone cost when done by hand (`sleep 60` for task
processing and `sleep 10` after an alert test): ratio <= 0.43. golive polls with
deadlines instead. The run is a real subprocess (`python -m golive run`) in a temporary
directory, with the stack's GOLIVE_* environment; its JSON report gives each check's
status and time. Prints the wall time, the statuses, the slowest checks and the goal on
the last line; exits 1 when it is missed (whatever the verdict of the run itself).

    python benchmarks/full_run.py [--state-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter

from _stack import ROOT, add_state_dir, reference_stack

from demo.stack.app import reset_rate_limits

SLEEPS_S = 70.0  # the checklist's `sleep 60` (task processing) + `sleep 10` (alert test)
GOAL_S = 30.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_state_dir(parser)
    args = parser.parse_args()
    checklist = ROOT / "golive" / "checklist.yaml"
    with (
        reference_stack(args.state_dir, containers=True) as stack,
        tempfile.TemporaryDirectory(prefix="golive-full-run-") as work,
    ):
        reset_rate_limits(stack)  # earlier traffic from this address must not throttle the run
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOLIVE_")}
        env.pop("GITHUB_STEP_SUMMARY", None)
        env.update(stack.env())
        cmd = [
            sys.executable,
            "-m",
            "golive",
            "run",
            "-c",
            str(checklist),
            "--allow-writes",
            "-f",
            "json",
            "-o",
            f"json:{work}/golive.json",
        ]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=work, timeout=1200)
        wall = time.perf_counter() - t0
        try:
            run = json.loads(proc.stdout)
        except json.JSONDecodeError:
            print(
                f"golive run exited {proc.returncode} without a JSON report:\n{proc.stderr[-3000:]}"
            )
            return 1
    results = run["results"]
    counts = Counter(r["status"] for r in results)
    print(
        f"golive run --allow-writes: {len(results)} checks, exit {proc.returncode}, "
        f"verdict {run['decision']['verdict']}"
    )
    print("  " + ", ".join(f"{n} {s}" for s, n in counts.most_common()))
    print("slowest checks:")
    for r in sorted(results, key=lambda r: -r["duration"])[:8]:
        print(f"  {r['duration']:6.1f}s  {r['status']:<5} {r['id']}")
    not_ok = [r for r in results if r["status"] in ("FAIL", "ERROR")]
    for r in not_ok:
        print(f"  {r['status']}: {r['id']}: {r['summary'][:160]}")
    ratio = wall / SLEEPS_S
    print(
        f"wall time {wall:.1f}s; the checklist's fixed sleeps alone: {SLEEPS_S:.0f}s; "
        f"ratio {ratio:.2f}"
    )
    ok = wall <= GOAL_S
    print(
        f"goal: full run <= {GOAL_S:.0f}s (ratio <= {GOAL_S / SLEEPS_S:.2f}) -> "
        f"{'met' if ok else 'MISSED'} ({wall:.1f}s, ratio {ratio:.2f})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
