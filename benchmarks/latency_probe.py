"""golive's latency probe against `hey` and `ab` on the same loopback endpoint.

Goal: against the demo API's /health (n=2000 requests, concurrency 10, three rounds per
tool, interleaved so that load on the machine affects every tool alike), golive's median
p50 is within 25 % of hey's, and golive's median throughput is at least 40 % of hey's.
golive's figures are the `performance.api_latency` check's own measurements (its warm-up
requests excluded); hey's and ab's are what they print. ab opens a new connection per
request (uvicorn does not keep HTTP/1.0 connections alive), so it is shown for reference
only. Prints every round, the medians, the ratios, and the goal on the last line; exits 1
when it is missed.

    python benchmarks/latency_probe.py [--state-dir DIR]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys

from _stack import add_state_dir, reference_stack

from demo.stack import prereq
from golive.models import Status
from golive.testing import run_check

N, C, ROUNDS = 2000, 10, 3
P50_WITHIN, MIN_THROUGHPUT = 0.25, 0.40


def hey(url: str) -> tuple[float, float]:
    """(p50 ms, requests/s) as hey reports them."""
    out = subprocess.run(
        [prereq.path("hey"), "-n", str(N), "-c", str(C), url],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = float(re.search(r"50%+ in ([\d.]+) secs", out).group(1)) * 1000  # type: ignore[union-attr]
    if not re.search(rf"\[200\]\s+{N} responses", out):
        raise RuntimeError(f"hey saw errors:\n{out}")
    return p50, rps


def ab(url: str) -> tuple[float, float]:
    """(p50 ms, requests/s) as ab reports them (ab's percentiles are whole milliseconds)."""
    out = subprocess.run(
        [prereq.path("ab"), "-q", "-l", "-n", str(N), "-c", str(C), url],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    rps = float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = float(re.search(r"^\s+50%\s+(\d+)", out, re.M).group(1))  # type: ignore[union-attr]
    if not re.search(r"Failed requests:\s+0\b", out) or "Non-2xx" in out:
        raise RuntimeError(f"ab saw failed requests:\n{out}")
    return p50, rps


def golive(api_url: str) -> tuple[float, float]:
    """(p50 ms, requests/s) measured by the performance.api_latency check."""
    r = run_check(
        "performance.api_latency",
        targets={"api": {"url": api_url, "timeout": 30}},
        params={
            "requests": N,
            "concurrency": C,
            "p95_ms": None,
            "p99_ms": None,
            "max_error_rate": 0.0,
        },
        timeout=300,
    )
    if r.status is not Status.PASS:
        raise RuntimeError(f"golive's probe: {r.status.value}: {r.summary}")
    return r.measurements["p50_ms"], r.measurements["rps"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_state_dir(parser)
    args = parser.parse_args()
    missing = [t for t in prereq.missing(["benchmarks"]) if t.name in ("hey", "ab")]
    if missing:
        print(
            f"not installed: {', '.join(t.name for t in missing)} (apt-get install -y "
            f"{' '.join(prereq.packages(missing))})"
        )
        return 1
    with reference_stack(args.state_dir, containers=False) as stack:
        url = f"{stack.api_url}/health"
        tools = {
            "hey": lambda: hey(url),
            "ab": lambda: ab(url),
            "golive": lambda: golive(stack.api_url),
        }
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in tools}
        print(f"GET {url}: n={N}, c={C}, {ROUNDS} rounds per tool (interleaved)")
        order = list(tools)
        for rnd in range(1, ROUNDS + 1):
            for name in order:
                p50, rps = tools[name]()
                results[name].append((p50, rps))
                print(f"  round {rnd} {name:<7} p50 {p50:7.2f} ms  {rps:8.1f} req/s", flush=True)
            order = order[1:] + order[:1]  # rotate, so no tool always runs first
    med = {
        name: (statistics.median(p for p, _ in rs), statistics.median(r for _, r in rs))
        for name, rs in results.items()
    }
    print("medians:")
    for name, (p50, rps) in med.items():
        print(f"  {name:<7} p50 {p50:7.2f} ms  {rps:8.1f} req/s")
    p50_ratio = med["golive"][0] / med["hey"][0]
    rps_ratio = med["golive"][1] / med["hey"][1]
    print(f"golive/hey: p50 ratio {p50_ratio:.2f}, throughput ratio {rps_ratio:.2f}")
    ok = abs(p50_ratio - 1) <= P50_WITHIN and rps_ratio >= MIN_THROUGHPUT
    print(
        f"goal: golive p50 within {P50_WITHIN:.0%} of hey's and throughput >= "
        f"{MIN_THROUGHPUT:.0%} of hey's -> {'met' if ok else 'MISSED'} "
        f"(p50 {p50_ratio - 1:+.0%}, throughput {rps_ratio:.0%})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
