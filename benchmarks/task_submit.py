"""How fast golive's task probe submits tasks, next to `hey` posting the same task.

Goal: `performance.task_throughput` submits at >= 0.8x the rate `hey` gets from the same
API (200 tasks, 10 at a time), so that the probe is never the bottleneck of a task
throughput SLA. The reference is `hey` POSTing the same task body to the same endpoint
with the same concurrency, in the same run (three rounds each, interleaved): it shows
what the API itself can take on this machine, which sets the absolute figure. The goal is
therefore the ratio; 200 tasks/s is printed as information (on a busy or small machine
the API itself may take less than that from hey). hey's
tasks are due in 2099 and deleted through the API afterwards; golive's are due 3 s
ahead, run, and are deleted by the check itself. The rate limiter's counters are reset
before every round (200 creates and 200 deletes fit in its 600/min). Prints every
round, the medians, the ratio, and the goal on the last line; exits 1 when it is missed.

    python benchmarks/task_submit.py [--state-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys

import httpx
import psycopg
from _stack import add_state_dir, reference_stack

from demo.stack import Stack, prereq
from demo.stack.app import reset_rate_limits
from golive.models import Status
from golive.testing import run_check

N, C, ROUNDS = 200, 10, 3
GOAL_RATIO = 0.8  # golive / hey, measured in the same run
INFO_RATE = 200.0  # tasks/s: information only, the API sets it
HEY_TITLE = "golive-bench-hey task_submit"


def remove_hey_tasks(stack: Stack) -> None:
    """Delete hey's tasks through the API (audited, like any delete), then check."""
    with psycopg.connect(stack.database_dsn, autocommit=True) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM task WHERE title = %s", (HEY_TITLE,))]
    auth = {"Authorization": f"Bearer {stack.api_token}"}
    with httpx.Client(base_url=stack.api_url, headers=auth, timeout=30, trust_env=False) as c:
        for task_id in ids:
            c.delete(f"/tasks/{task_id}").raise_for_status()


def hey(stack: Stack) -> float:
    """Tasks/s that hey gets created (every answer must be 201)."""
    body = json.dumps(
        {
            "title": HEY_TITLE,
            "created_by": stack.agent_id,
            "schedule_kind": "once",
            "schedule_expr": "2099-01-01T00:00:00+00:00",
            "timezone": "UTC",
            "payload": {"pipeline": [{"id": "s1", "uses": "noop"}]},
            "max_retries": 0,
        }
    )
    cmd = [
        prereq.path("hey"),
        "-n",
        str(N),
        "-c",
        str(C),
        "-m",
        "POST",
        "-T",
        "application/json",
        "-H",
        f"Authorization: Bearer {stack.api_token}",
        "-d",
        body,
        f"{stack.api_url}/tasks/",
    ]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=300).stdout
    finally:
        remove_hey_tasks(stack)
    if not re.search(rf"\[201\]\s+{N} responses", out):
        raise RuntimeError(f"hey: not every create answered 201:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def golive(stack: Stack) -> float:
    """Tasks/s the throughput check measured while submitting its tasks."""
    targets = {
        "api": {
            "url": stack.api_url,
            "token": stack.api_token,
            "agent_id": stack.agent_id,
            "timeout": 30,
        },
        "database": {"dsn": stack.database_dsn},
    }
    r = run_check(
        "performance.task_throughput",
        targets=targets,
        allow_writes=True,
        params={"tasks": N, "submit_concurrency": C},
        timeout=120,
    )
    if r.status is not Status.PASS or "submit_per_second" not in r.measurements:
        raise RuntimeError(f"golive's task probe: {r.status.value}: {r.summary}")
    return r.measurements["submit_per_second"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_state_dir(parser)
    args = parser.parse_args()
    if prereq.tool("hey").find() is None:
        print("not installed: hey (Debian package hey)")
        return 1
    with reference_stack(args.state_dir, containers=False) as stack:
        runs: dict[str, list[float]] = {"hey": [], "golive": []}
        tools = {"hey": hey, "golive": golive}
        order = list(tools)
        print(f"POST {stack.api_url}/tasks/: {N} tasks, concurrency {C}, {ROUNDS} rounds each")
        for rnd in range(1, ROUNDS + 1):
            for name in order:
                reset_rate_limits(stack)
                rate = tools[name](stack)
                runs[name].append(rate)
                print(f"  round {rnd} {name:<7} {rate:7.1f} tasks/s", flush=True)
            order.reverse()
        reset_rate_limits(stack)
    g, h = statistics.median(runs["golive"]), statistics.median(runs["hey"])
    print(f"medians: hey {h:.1f} tasks/s, golive {g:.1f} tasks/s; golive/hey {g / h:.2f}")
    ratio = g / h
    print(
        f"information: golive {g:.0f} tasks/s "
        f"({'at or above' if g >= INFO_RATE else 'below'} {INFO_RATE:.0f}/s; "
        f"the API took {h:.0f}/s from hey)"
    )
    ok = ratio >= GOAL_RATIO
    print(
        f"goal: golive submits >= {GOAL_RATIO:.1f}x hey's rate -> {'met' if ok else 'MISSED'} "
        f"({ratio:.2f}x: golive {g:.0f} tasks/s, hey {h:.0f} tasks/s)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
