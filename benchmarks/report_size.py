"""Benchmark: a run of 1,000 results renders to HTML in <= 1 s and <= 2 MB.

    python benchmarks/report_size.py [--results 1000] [--repeat 5]

The results are realistic: every status, a few evidence values and a 5-row table each,
findings on the failures, a baseline comparison on every tenth. Reported: the median and
worst render time over the repeats (the first render, which compiles the templates, is
timed separately), the size, and as a reference the JSON rendering of the same run measured
in the same process. The goal is on the last line; the exit code is 1 when it is missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from golive.decision import DEFAULT_GATES, decide, gate_results
from golive.models import CheckResult, Finding, Run, Severity, Status
from golive.registry import SECTION_ORDER

SECTIONS = list(SECTION_ORDER)
STATUSES = [Status.PASS] * 6 + [Status.WARN, Status.FAIL, Status.SKIP, Status.ERROR]
LIMIT_SECONDS = 1.0
LIMIT_BYTES = 2_000_000


def build_run(n: int) -> Run:
    """A run of `n` results."""
    results = []
    for i in range(n):
        section = SECTIONS[i % len(SECTIONS)]
        status = STATUSES[i % len(STATUSES)]
        evidence: dict[str, object] = {
            "checked": f"/srv/app/ops/file_{i}.yml",
            "threshold": 80,
            "observed": round(50 + (i % 40) * 1.37, 2),
            "rows": [
                {"name": f"item_{i}_{j}", "value": j * 3, "state": "ok" if j % 2 else "degraded"}
                for j in range(5)
            ],
        }
        measurements = {"latency_ms": 10.0 + i % 17}
        if i % 10 == 0:
            evidence["baseline_comparison"] = [
                {
                    "measurement": "latency_ms",
                    "baseline": f"{9 + i % 13} ms",
                    "now": f"{10 + i % 17} ms",
                    "change": "+5.0%",
                    "verdict": "ok",
                }
            ]
        findings = (
            [Finding(f"ops/file_{i}.yml", "world-writable (mode 0666)", 3)]
            if status is Status.FAIL
            else []
        )
        results.append(
            CheckResult(
                id=f"{section}.check_{i:04d}",
                section=section,
                title=f"Check {i} of the {section} section holds its healthy condition",
                severity=list(Severity)[i % 5],
                status=status,
                summary=f"Observed {evidence['observed']} against a threshold of 80 on item {i}.",
                remediation="Fix the configuration named in the evidence, then run golive again.",
                evidence=evidence,
                measurements=measurements,
                findings=findings,
                duration=0.01 * (i % 50),
                started_at="2026-05-04T10:00:00+00:00",
            )
        )
    gates = gate_results(results, DEFAULT_GATES)
    return Run(
        run_id="20260504T100000-bench0",
        golive_version="0.1.0",
        started_at="2026-05-04T10:00:00+00:00",
        finished_at="2026-05-04T10:05:00+00:00",
        duration=300.0,
        project="ordinaut",
        environment="production",
        config_digest="sha256:" + "0" * 64,
        config_files=["golive.yaml"],
        targets={"api": "http://127.0.0.1:8080"},
        settings={"fail_on": "high"},
        results=results,
        decision=decide(results, Severity.HIGH, gates=gates),
        gates=gates,
        sections={s: s.title() for s in SECTIONS},
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from golive.reports import html, json

    run = build_run(args.results)
    t0 = time.perf_counter()
    page = html.render(run)
    first = time.perf_counter() - t0
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        page = html.render(run)
        times.append(time.perf_counter() - t0)
    json_times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        json.render(run)
        json_times.append(time.perf_counter() - t0)
    size = len(page.encode("utf-8"))
    median, worst = statistics.median(times), max([*times, first])
    ref = statistics.median(json_times)
    print(f"results:                 {args.results}")
    print(f"html render, first:      {first:.3f} s (templates compiled)")
    print(f"html render, median:     {median:.3f} s over {args.repeat} (worst {max(times):.3f} s)")
    print(f"html size:               {size:,} bytes ({size / args.results:,.0f} per result)")
    print(f"reference (json render): {ref:.3f} s; html/json time ratio {median / ref:.1f}x")
    ok = worst <= LIMIT_SECONDS and size <= LIMIT_BYTES
    print(
        f"goal: {args.results} results in <= {LIMIT_SECONDS:g} s and <= {LIMIT_BYTES / 1e6:g} MB: "
        f"{'met' if ok else 'MISSED'} (worst {worst:.3f} s, {size / 1e6:.2f} MB)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
