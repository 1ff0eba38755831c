"""Running the real `golive` executable for the reliability tests, and reading what it wrote.

Every run is `python -m golive run -c golive.yaml -c demo/golive.yaml [-c overlay] ...`
(the checklist, then the demo's own overlay, which only says where the demo keeps what
production keeps in fixed places, so that a healthy demo is a GO) in a subprocess with its
own working directory, the stack's `GOLIVE_*` environment, every report format that has a
renderer (`-o FORMAT:PATH`), and a wide, colourless console so that nothing of the output
is wrapped or elided.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHECKLIST = ROOT / "golive.yaml"
DEMO_OVERLAY = ROOT / "demo" / "golive.yaml"


def configs(*overlays: Path | str) -> list[Path | str]:
    """The checklist, the demo's overlay, then `overlays`."""
    return [CHECKLIST, DEMO_OVERLAY, *overlays]


SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s*File \".*\", line \d+", re.M)


def report_formats() -> list[str]:
    """Every report format golive can write (as far as renderers exist)."""
    from golive.reports import formats

    return list(formats())


def report_paths(workdir: Path) -> dict[str, Path]:
    """Where each format's report goes inside a run's working directory."""
    from golive.reports import EXTENSIONS

    return {
        fmt: workdir / "reports" / f"golive.{EXTENSIONS.get(fmt, fmt)}" for fmt in report_formats()
    }


def stack_env(stack: Any) -> dict[str, str]:
    """The process environment for a run against `stack` (no CI step summary, no colour)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLIVE_")}
    env.pop("GITHUB_STEP_SUMMARY", None)
    env.pop("DOCKER_HOST", None)
    if stack is not None:
        env.update(stack.env())
    env.update({"NO_COLOR": "1", "COLUMNS": "2000", "LINES": "200", "TERM": "dumb"})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def write_yaml(path: Path, data: Mapping[str, Any]) -> Path:
    """Write an overlay (or any YAML document) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(data), sort_keys=False), encoding="utf-8")
    return path


def command(
    configs: Sequence[Path | str],
    workdir: Path,
    *extra: str,
    outputs: bool = True,
) -> list[str]:
    """The `golive run` command line: configs, one report per format, extra arguments."""
    cmd = [sys.executable, "-m", "golive", "run", "--no-color"]
    for c in configs:
        cmd += ["-c", str(c)]
    if outputs:
        for fmt, path in report_paths(workdir).items():
            cmd += ["-o", f"{fmt}:{path}"]
    return cmd + list(extra)


@dataclass
class GoliveRun:
    """A finished `golive run`: exit code, output, wall time and the reports it wrote."""

    cmd: list[str]
    workdir: Path
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    reports: dict[str, Path] = field(default_factory=dict)

    @property
    def data(self) -> dict[str, Any]:
        """The JSON report."""
        return json.loads(self.reports["json"].read_text(encoding="utf-8"))  # type: ignore[no-any-return]

    @property
    def results(self) -> dict[str, dict[str, Any]]:
        """JSON results by check id."""
        return {r["id"]: r for r in self.data["results"]}

    def statuses(self) -> dict[str, str]:
        """Check id -> status."""
        return {i: r["status"] for i, r in self.results.items()}

    def missing_reports(self) -> list[str]:
        """Formats whose report file was not written (or is empty)."""
        return [f for f, p in self.reports.items() if not p.is_file() or p.stat().st_size == 0]

    def texts(self) -> dict[str, str]:
        """Everything the run printed or wrote: stdout, stderr and every report."""
        out = {"stdout": self.stdout, "stderr": self.stderr}
        for fmt, path in self.reports.items():
            if path.is_file():
                out[f"report:{fmt}"] = path.read_bytes().decode("utf-8", "replace")
        return out

    def describe(self) -> str:
        """A short description for assertion messages."""
        tail = "\n".join(self.stderr.strip().splitlines()[-15:])
        return f"exit {self.returncode} after {self.seconds:.1f}s: {' '.join(self.cmd[2:6])}...\n{tail}"


@dataclass
class Started:
    """A golive process that is running."""

    proc: subprocess.Popen[bytes]
    cmd: list[str]
    workdir: Path
    t0: float
    reports: dict[str, Path]


def start(cmd: list[str], workdir: Path, env: Mapping[str, str]) -> Started:
    """Start golive in its working directory, in its own process group (for clean kills).

    stdout and stderr go to files in the working directory, not pipes: a run whose pipe
    nobody reads yet would block on a full pipe and look slow.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / "golive.stdout", "wb") as out, open(workdir / "golive.stderr", "wb") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(
            cmd, cwd=workdir, env=dict(env), stdout=out, stderr=err, start_new_session=True
        )
    return Started(proc, cmd, workdir, t0, report_paths(workdir))


def finish(started: Started, timeout: float) -> GoliveRun:
    """Wait for a started run (killing its process group after `timeout`) and collect it.

    The wall time is taken when the process exits, so call this from a thread per run
    (`finish_all`) when several run at once.
    """
    killed = ""
    try:
        started.proc.wait(timeout=max(0.0, started.t0 + timeout - time.monotonic()))
    except subprocess.TimeoutExpired:
        kill_group(started.proc)
        started.proc.wait()
        killed = f"\n[harness] killed after {timeout:g}s"
    seconds = time.monotonic() - started.t0
    workdir = started.workdir
    return GoliveRun(
        cmd=started.cmd,
        workdir=workdir,
        returncode=started.proc.returncode,
        stdout=(workdir / "golive.stdout").read_bytes().decode("utf-8", "replace"),
        stderr=(workdir / "golive.stderr").read_bytes().decode("utf-8", "replace") + killed,
        seconds=seconds,
        reports=started.reports,
    )


def finish_all(runs: Mapping[str, Started], timeout: float) -> dict[str, GoliveRun]:
    """Wait for several runs at once, each timed when it exits."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, len(runs))) as pool:
        futures = {name: pool.submit(finish, s, timeout) for name, s in runs.items()}
        return {name: f.result() for name, f in futures.items()}


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill a started run and everything it spawned."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run(
    configs: Sequence[Path | str],
    workdir: Path,
    env: Mapping[str, str],
    *extra: str,
    timeout: float = 300.0,
) -> GoliveRun:
    """Run golive to completion."""
    return finish(start(command(configs, workdir, *extra), workdir, env), timeout)


def documented_exit_code(data: Mapping[str, Any]) -> int:
    """The exit code the documented decision table (golive/decision.py) gives a JSON report.

    Written independently of golive.decision, from its docstring: 130 when interrupted; 1
    when a FAIL is at or above fail_on; 3 when such a check is ERROR or an incomplete SKIP;
    otherwise 0 (GO or CONDITIONAL without --strict).
    """
    if data.get("interrupted"):
        return 130
    bar = SEVERITY_RANK[data["settings"]["fail_on"]]
    results = data["results"]
    severe = [r for r in results if SEVERITY_RANK[r["severity"]] >= bar]
    if any(r["status"] == "FAIL" for r in severe):
        return 1
    if any(r["status"] == "ERROR" or (r["status"] == "SKIP" and r["incomplete"]) for r in severe):
        return 3
    if data["settings"].get("strict") and any(
        r["status"] in ("FAIL", "ERROR", "WARN") for r in results
    ):
        return 1
    return 0


def tracebacks(texts: Iterable[str]) -> list[str]:
    """Lines that look like a Python traceback, from any of the texts."""
    found = []
    for text in texts:
        found += [m.group(0) for m in TRACEBACK.finditer(text)]
    return found
