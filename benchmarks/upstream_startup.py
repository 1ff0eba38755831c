"""Start-up time of the real Ordinaut 2.2.2 (`python -m demo.upstream up`), warm environment.

Goal: `up` (PostgreSQL, Redis, API, scheduler, 2 workers, Prometheus, Alertmanager, all
ready) in <= 90 s on 2 cores once its Python environment is built. For scale, the demo
stack without containers is started in the same run as the reference and the ratio is
printed. The environment is built first (not timed) when it is missing. Exit 1 when the
goal is missed.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from demo import stack as demo_stack  # noqa: E402
from demo import upstream  # noqa: E402
from demo.upstream import pyenv  # noqa: E402

GOAL_S = 90.0


def timed_upstream() -> float:
    state = Path(tempfile.mkdtemp(prefix="golive-bench-up-"))
    t0 = time.perf_counter()
    started = upstream.start(state)
    elapsed = time.perf_counter() - t0
    upstream.stop(started, purge=True)
    return elapsed


def timed_demo() -> float:
    state = Path(tempfile.mkdtemp(prefix="golive-bench-demo-"))
    t0 = time.perf_counter()
    started = demo_stack.start(state, with_containers=False)
    elapsed = time.perf_counter() - t0
    demo_stack.stop(started, purge=True)
    return elapsed


def main() -> int:
    source = upstream.find_source()
    if source is None:
        print("Ordinaut's release tree not found (set GOLIVE_UPSTREAM_SOURCE)")
        return 2
    t0 = time.perf_counter()
    env = pyenv.ensure(source / "requirements.txt")
    print(f"python environment {env} ready in {time.perf_counter() - t0:.1f}s (not timed)")
    up = timed_upstream()
    ref = timed_demo()
    print(f"demo stack (no containers) up: {ref:.1f}s (reference)")
    print(f"Ordinaut 2.2.2 up:             {up:.1f}s (ratio {up / ref:.2f} x the demo)")
    ok = up <= GOAL_S
    print(
        f"goal: Ordinaut up <= {GOAL_S:.0f}s with a warm environment -> {'met' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
