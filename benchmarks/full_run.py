"""Wall time of what `make demo` runs: the whole checklist against the demo stack.

The command is scripts/demo's, word for word: `golive run -c golive.yaml -c demo/golive.yaml
--allow-writes` with its four reports (JSON, HTML, JUnit, Markdown; written to a temporary
directory instead of reports/), from the repository root, with the stack's GOLIVE_*
environment (`python -m demo.stack env`), against a running demo stack (reused when one
runs in the state dir, else started; see _stack.py). Nothing is reset first: the run meets
the stack as `make demo` does. It prints every check's time and status from the JSON
report, the wall time with and without `security.rate_limit_enforced` (which runs alone,
last), and the goal on the last line: the whole run <= 30 s. Exit 1 when it is missed
(whatever the verdict of the run itself).

With `--upstream`, the same command with `demo/upstream.yaml` instead of `demo/golive.yaml`
runs against the real Ordinaut (`python -m demo.upstream up|env|down`, as scripts/upstream
does) and its figures are printed too (before the goal line, which stays the demo's).

    python benchmarks/full_run.py [--state-dir DIR] [--upstream] [--upstream-state-dir DIR]
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
from pathlib import Path
from typing import Any

from _stack import ROOT, add_state_dir, reference_stack

GOAL_S = 30.0
WAITS = "security.rate_limit_enforced"  # bursts the API, then may wait for its window
LAUNCHER = [sys.executable, "-m", "demo.upstream"]


def golive_run(overlay: str, env: dict[str, str], work: Path) -> tuple[float, int, Any, str]:
    """scripts/demo's command with `overlay`: (wall seconds, exit code, JSON report, stderr)."""
    cmd = [
        sys.executable,
        "-m",
        "golive",
        "run",
        "-c",
        "golive.yaml",
        "-c",
        overlay,
        "--allow-writes",
        "-o",
        f"json:{work}/golive.json",
        "-o",
        f"html:{work}/golive.html",
        "-o",
        f"junit:{work}/golive.xml",
        "-o",
        f"markdown:{work}/golive.md",
    ]
    work.mkdir(parents=True, exist_ok=True)
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("GOLIVE_")}
    run_env.pop("GITHUB_STEP_SUMMARY", None)
    run_env.update(env)
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=ROOT, env=run_env, capture_output=True, text=True, timeout=1200, check=False
    )
    wall = time.perf_counter() - t0
    report = work / "golive.json"
    data = json.loads(report.read_text()) if report.is_file() else None
    return wall, proc.returncode, data, proc.stderr


def show(label: str, wall: float, code: int, data: Any, stderr: str) -> float | None:
    """Print one run's figures; the wall time without WAITS (None without a report)."""
    if data is None:
        print(f"{label}: golive exited {code} without a JSON report:\n{stderr[-3000:]}")
        return None
    results = data["results"]
    counts = Counter(r["status"] for r in results)
    print(
        f"{label}: {len(results)} checks, exit {code}, verdict {data['decision']['verdict']}; "
        + ", ".join(f"{n} {s}" for s, n in counts.most_common())
    )
    print("  time    status check")
    for r in sorted(results, key=lambda r: -r["duration"]):
        print(f"  {r['duration']:6.2f}s {r['status']:<6} {r['id']}")
    for r in results:
        if r["status"] in ("FAIL", "ERROR"):
            print(f"  {r['status']}: {r['id']}: {r['summary'][:200]}")
    waits = next((r["duration"] for r in results if r["id"] == WAITS), 0.0)
    print(f"{label}: wall time {wall:.1f}s; {WAITS} {waits:.1f}s; without it {wall - waits:.1f}s")
    return wall - waits


def upstream_env(state_dir: Path) -> tuple[dict[str, str] | None, bool, str]:
    """(GOLIVE_* of a running Ordinaut, whether this started it, why not) via its launcher."""
    launcher = LAUNCHER
    where = ["--state-dir", str(state_dir)]

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*launcher, *args, *where], cwd=ROOT, capture_output=True, text=True, check=False
        )

    started = False
    if call("status").returncode != 0:
        up = call("up")
        if up.returncode != 0:
            return None, False, f"Ordinaut did not start: {(up.stdout + up.stderr)[-2000:]}"
        started = True
    env = call("env", "--json")
    if env.returncode != 0:
        return None, started, f"no environment from the launcher: {env.stderr[-500:]}"
    return json.loads(env.stdout), started, ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_state_dir(parser)
    parser.add_argument("--upstream", action="store_true", help="also run against Ordinaut")
    parser.add_argument(
        "--upstream-state-dir",
        type=Path,
        default=ROOT / ".golive-upstream",
        help="Ordinaut's state dir (default: %(default)s)",
    )
    args = parser.parse_args()
    args.upstream_state_dir = args.upstream_state_dir.resolve()
    with tempfile.TemporaryDirectory(prefix="golive-full-run-") as tmp:
        work = Path(tmp)
        with reference_stack(args.state_dir, containers=True) as stack:
            wall, code, data, stderr = golive_run("demo/golive.yaml", stack.env(), work / "demo")
        net = show("make demo's run", wall, code, data, stderr)
        if args.upstream:
            if not (ROOT / "demo" / "upstream.yaml").is_file():
                print("upstream: demo/upstream.yaml is not in this tree: not measured")
            else:
                env, started, why = upstream_env(args.upstream_state_dir)
                try:
                    if env is None:
                        print(f"upstream: not measured: {why}")
                    else:
                        u = golive_run("demo/upstream.yaml", env, work / "upstream")
                        show("the same run against Ordinaut 2.2.2", *u)
                finally:
                    if started:
                        subprocess.run(
                            [*LAUNCHER, "down", "--state-dir", str(args.upstream_state_dir)],
                            cwd=ROOT,
                            capture_output=True,
                            check=False,
                        )
    ok = data is not None and wall <= GOAL_S
    without = f"; {net:.1f}s without {WAITS}" if net is not None else ""
    print(
        f"goal: make demo's whole checklist <= {GOAL_S:.0f}s -> "
        f"{'met' if ok else 'MISSED'} ({wall:.1f}s{without})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
