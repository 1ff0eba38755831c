"""`golive run --check security.secrets_scan` next to `detect-secrets scan --all-files`.

Goal: on the same project tree (by default the released Ordinaut source in
/work/shared/upstream/ordinaut-2.2.2, copied to a temporary directory), the median wall time
of the golive command users run - `golive run -c golive.yaml --check security.secrets_scan`
with a configuration whose project root is that tree - is <= 1.0 x the median of
detect-secrets' own command line run in that tree. Both are real subprocesses, measured
here, in this run, interleaved (so that load on the machine affects both alike), `--runs`
times each after one warm-up of each. Prints both medians, what each found, the ratio, and
the goal on the last line; exits 1 when it is missed.

    python benchmarks/secrets_scan.py [--tree DIR] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

UPSTREAM = Path("/work/shared/upstream/ordinaut-2.2.2")
GOAL = 1.0


def timed(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900)
    return time.perf_counter() - t0, proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=UPSTREAM, help="default: %(default)s")
    parser.add_argument("--runs", type=int, default=3, help="default: %(default)s")
    args = parser.parse_args()
    if not args.tree.is_dir():
        print(f"secrets_scan benchmark: {args.tree} is not a directory")
        return 2
    detect_secrets = Path(sys.executable).parent / "detect-secrets"
    with tempfile.TemporaryDirectory(prefix="golive-bench-secrets-") as tmp:
        work = Path(tmp)
        tree = work / "tree"
        shutil.copytree(args.tree, tree, symlinks=True)
        for p in [tree, *tree.rglob("*")]:  # the shared copy may be read-only
            if not p.is_symlink():
                p.chmod(p.stat().st_mode | 0o200)
        files = sum(1 for p in tree.rglob("*") if p.is_file())
        config = work / "golive.yaml"
        # a timeout no machine reaches: a scan cut short by it would measure nothing
        config.write_text(
            f"version: 1\ntargets:\n  project:\n    root: {json.dumps(str(tree))}\n"
            "sections:\n  security:\n    checks:\n"
            "      - {id: security.secrets_scan, timeout: 15m}\n"
        )
        report = work / "run.json"
        golive_cmd = [
            sys.executable,
            "-m",
            "golive",
            "run",
            "-c",
            str(config),
            "--check",
            "security.secrets_scan",
            "-o",
            f"json:{report}",
        ]
        cli_cmd = [str(detect_secrets), "scan", "--all-files"]
        golive_times: list[float] = []
        cli_times: list[float] = []
        for i in range(args.runs + 1):  # the first round warms caches and is not counted
            report.unlink(missing_ok=True)
            g, g_proc = timed(golive_cmd, work)
            c, c_proc = timed(cli_cmd, tree)
            if c_proc.returncode != 0:
                print(f"detect-secrets exited {c_proc.returncode}: {c_proc.stderr[-2000:]}")
                return 1
            if not report.is_file():
                print(f"golive exited {g_proc.returncode}, no report: {g_proc.stderr[-2000:]}")
                return 1
            if i:
                golive_times.append(g)
                cli_times.append(c)
            result = json.loads(report.read_text())["results"][0]
            if result["status"] == "ERROR":
                print(f"golive's scan did not finish: {result['summary']}")
                return 1
        cli_results = json.loads(c_proc.stdout)["results"]
    found = len(result["evidence"].get("findings", []))
    print(f"tree: {args.tree} ({files} files), copied to a temporary directory")
    print(
        f"golive run --check security.secrets_scan: median {statistics.median(golive_times):.2f}s "
        f"over {args.runs} runs ({', '.join(f'{t:.2f}' for t in golive_times)}); "
        f"{result['status']}, {found} finding(s) after its placeholder filter, "
        f"{result['evidence'].get('files_scanned')} files scanned"
    )
    print(
        f"detect-secrets scan --all-files:          median {statistics.median(cli_times):.2f}s "
        f"over {args.runs} runs ({', '.join(f'{t:.2f}' for t in cli_times)}); "
        f"{sum(len(v) for v in cli_results.values())} secret(s) in {len(cli_results)} file(s)"
    )
    ratio = statistics.median(golive_times) / statistics.median(cli_times)
    ok = ratio <= GOAL
    print(
        f"goal: golive <= {GOAL:.1f}x detect-secrets' CLI -> {'met' if ok else 'MISSED'} "
        f"(ratio {ratio:.2f})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
