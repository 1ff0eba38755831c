"""Startup cost of `golive --help` against the floor of `python -c "import typer"`.

Goal: median wall time of `golive --help` <= 1.5 x the median of `python -c "import typer"`,
both measured here, in this run, 10 times each (interleaved so load affects both alike).
Exit 1 when the goal is missed.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RUNS = 10
GOAL = 1.5


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def main() -> int:
    golive_cmd = [sys.executable, "-m", "golive", "--help"]
    typer_cmd = [sys.executable, "-c", "import typer"]
    timed(golive_cmd)  # warm the page cache and .pyc files
    timed(typer_cmd)
    golive_times, typer_times = [], []
    for _ in range(RUNS):
        golive_times.append(timed(golive_cmd))
        typer_times.append(timed(typer_cmd))
    g, t = statistics.median(golive_times), statistics.median(typer_times)
    ratio = g / t
    print(f"python -c 'import typer': median {t * 1000:.1f} ms over {RUNS} runs")
    print(f"golive --help:            median {g * 1000:.1f} ms over {RUNS} runs")
    print(f"ratio: {ratio:.2f}")
    ok = ratio <= GOAL
    print(
        f"goal: golive --help <= {GOAL} x import typer -> {'met' if ok else 'MISSED'} ({ratio:.2f})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
