"""Benchmark: the host-level checks against 8 SSH hosts take <= 1.5x their time against 1.

    python benchmarks/hosts.py [--repeat 3]

Starts 8 real SSH hosts on 127.0.0.1 (`demo.stack.sshhosts`: sshd in its own mount
namespace per host, key authentication, pinned host keys), each holding a copy of the
demo's deployed project (ops/, migrations/, the application and its tests, .env) and root's
crontab from ops/crontab. Then runs `python -m golive run` of the host-level checks
(security.file_permissions, security.secrets_scan, infrastructure.disk, operations.cron,
operations.runbooks) with `targets.hosts` listing the first host only, then all 8,
alternating, `--repeat` times each. The time measured is the run's own duration from its
JSON report (interpreter start-up excluded). The goal compares the medians of the runs of
each (the best runs are printed too): the 8 SSH servers share this machine's cores with
golive and with whatever else runs. Prints each figure and, on the last line, the ratio
against its goal; exits 1 when the goal is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from demo.stack import sshhosts  # noqa: E402

GOAL = 1.5
HOSTS = 8
CHECKS = [
    {"id": "security.file_permissions", "params": {"extra_paths": []}},
    {"id": "security.secrets_scan"},
    {"id": "infrastructure.disk", "params": {"paths": ["/", "."]}},
    {"id": "operations.cron", "params": {"check_daemon": False}},
    {"id": "operations.runbooks"},
]


if os.environ.get("GOLIVE_BENCH_CHECKS"):  # e.g. to see one check's share of the time
    CHECKS = [c for c in CHECKS if c["id"] in os.environ["GOLIVE_BENCH_CHECKS"].split(",")]


def deployed_project(root: Path) -> None:
    """A copy of the demo's deployed tree, as `demo.stack.project` lays it out."""
    demo = ROOT / "demo"
    shutil.copytree(demo / "ops", root / "ops")
    shutil.copytree(demo / "migrations", root / "migrations")
    (root / "demo").mkdir()
    for module in sorted(demo.glob("*.py")):
        shutil.copy2(module, root / "demo" / module.name)
    shutil.copytree(demo / "project_tests", root / "tests")
    env = root / ".env"
    env.write_text("JWT_SECRET_KEY=" + os.urandom(24).hex() + "\n")
    env.chmod(0o600)


def config(path: Path, hosts: sshhosts.HostSet, n: int) -> Path:
    data = {
        "version": 1,
        "targets": {
            "project": {
                "root": str(hosts.mount_at),
                "compose_files": ["ops/docker-compose.yml", "ops/docker-compose.prod.yml"],
                "env_files": [".env"],
            },
            "hosts": hosts.golive_block()[:n],
        },
        "defaults": {"timeout": "120s"},
        "sections": {
            section: {"checks": [c for c in CHECKS if c["id"].startswith(section + ".")]}
            for section in ("security", "infrastructure", "operations")
        },
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def timed_run(cfg: Path, out: Path) -> tuple[float, dict[str, int]]:
    before = os.times()
    subprocess.run(
        [sys.executable, "-m", "golive", "run", "--config", str(cfg), "-o", f"json:{out}"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    run = json.loads(out.read_text())
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    if os.environ.get("GOLIVE_BENCH_DETAIL"):
        print(f"    golive process CPU {cpu:.2f}s")
        for r in run["results"]:
            print(f"    {r['id']}@{r['host']}: {r['duration']:.2f}s")
    statuses: dict[str, int] = {}
    for r in run["results"]:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        if r["status"] in ("ERROR", "SKIP"):
            print(f"    {r['status']} {r['id']}@{r['host']}: {r['summary']}")
    return float(run["duration"]), statuses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    missing = sshhosts.missing_binaries()
    if missing:
        print("cannot start SSH hosts: missing " + ", ".join(missing))
        return 1
    base = Path(tempfile.mkdtemp(prefix="golive-bench-hosts-"))
    try:
        src = base / "src"
        deployed_project(src)
        crontab = (ROOT / "demo" / "ops" / "crontab").read_text()
        hosts = sshhosts.start(
            base / "hosts", HOSTS, project_src=src, mount_at=base / "deployed", crontab=crontab
        )
        try:
            files = sum(1 for p in src.rglob("*") if p.is_file())
            print(f"{HOSTS} SSH hosts up, each with a deployed tree of {files} files")
            cfg1 = config(base / "one.yaml", hosts, 1)
            cfg8 = config(base / "eight.yaml", hosts, HOSTS)
            one: list[float] = []
            eight: list[float] = []
            for i in range(args.repeat):
                t1, s1 = timed_run(cfg1, base / "one.json")
                t8, s8 = timed_run(cfg8, base / "eight.json")
                one.append(t1)
                eight.append(t8)
                print(f"round {i + 1}: 1 host {t1:.2f}s {s1}; {HOSTS} hosts {t8:.2f}s {s8}")
        finally:
            hosts.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    m1, m8 = statistics.median(one), statistics.median(eight)
    b1, b8 = min(one), min(eight)
    print(f"best:   1 host {b1:.2f}s, {HOSTS} hosts {b8:.2f}s ({b8 / b1:.2f}x)")
    print(f"median: 1 host {m1:.2f}s, {HOSTS} hosts {m8:.2f}s")
    ratio = m8 / m1 if m1 else float("inf")
    ok = ratio <= GOAL
    print(
        f"{'OK' if ok else 'MISSED'}: {HOSTS} hosts take {ratio:.2f}x the time of 1 host "
        f"(goal <= {GOAL}x)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
