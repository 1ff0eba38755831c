"""Checks of the testing section: the target project's own test suites."""

from __future__ import annotations

import asyncio
import os
import posixpath
import re
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from golive.api import Context, Finding, Outcome, Severity, check
from golive.hosts.interface import Host

if TYPE_CHECKING:
    from golive.subproc import Completed

DEFAULT_SUITES = [
    "tests/unit",
    "tests/integration",
    "tests/load",
    "tests/chaos",
    "tests/test_api.py",
]
MAX_FAILING_LISTED = 100
# pytest exit codes: 0 all passed, 1 some failed, 2 interrupted (e.g. collection errors),
# 3 internal error, 4 usage error, 5 no tests collected
_ERROR_LINE = re.compile(
    r"^(ERROR\b.*|E\s+\w*(Error|Exception)\b.*|\w*(Error|Exception): .*|pytest: error: .*)$"
)


@dataclass
class SuiteResult:
    """One suite's run: counts from its JUnit XML, or why it could not run."""

    suite: str
    result: str = "ran"  # ran | missing | could not start | timed out | no tests
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    seconds: float = 0.0
    reason: str = ""
    output: list[str] = field(default_factory=list)
    failing: list[dict[str, Any]] = field(default_factory=list)

    @property
    def executed(self) -> int:
        """Tests that ran to a verdict (skipped ones excluded)."""
        return self.passed + self.failed + self.errors

    @property
    def pass_rate(self) -> float | None:
        """Percentage of executed tests that passed, None when none ran."""
        return 100.0 * self.passed / self.executed if self.executed else None

    def row(self) -> dict[str, Any]:
        """A row of the report's suites table."""
        rate = self.pass_rate
        return {
            "suite": self.suite,
            "result": self.result,
            "tests": self.executed + self.skipped,
            "passed": self.passed,
            "failed": self.failed,
            "errors": self.errors,
            "skipped": self.skipped,
            "pass_rate": None if rate is None else round(rate, 2),
            "seconds": round(self.seconds, 1),
        }


def _interpreter(root: Path, python: str | None) -> str:
    if python:
        if os.sep in python:
            p = Path(python)
            return str(p if p.is_absolute() else root / p)
        return shutil.which(python) or python
    for venv in (".venv", "venv"):
        candidate = root / venv / "bin" / "python"
        if candidate.exists():
            return str(candidate)
    return sys.executable


def _nodeid(case: Any) -> str:
    file = case.get("file") or ""
    classname = case.get("classname") or ""
    name = case.get("name") or ""
    if file:
        module = file[:-3].replace("/", ".") if file.endswith(".py") else file
        inner = classname[len(module) + 1 :] if classname.startswith(module + ".") else ""
        return "::".join(p for p in (file, *inner.split("."), name) if p)
    return f"{classname}::{name}" if classname else name


def _read_junit(junit: Path | str, res: SuiteResult, stdout: str) -> int:
    """Fill the counts from pytest's JUnit XML, a file or the document itself; when it did
    not come back whole (a remote run's report cut short), from pytest's own summary in
    `stdout`. Returns the number of tests."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(junit).getroot() if isinstance(junit, Path) else ET.fromstring(junit)
    except ET.ParseError:
        res.passed = res.failed = res.errors = res.skipped = 0
        res.failing.clear()
        return _counts_from_summary(stdout, res)
    return _count_cases(root, res)


async def _suite_result(
    res: SuiteResult, done: Completed, stderr: str, junit: Path | str | None, timeout: float
) -> SuiteResult:
    """A suite's result from its finished pytest run (`stderr`: the run's, without the
    JUnit XML when that came back on it) and its JUnit XML (a file, the document, or None
    when pytest wrote none); the same for a local and a remote run."""
    res.seconds = done.duration
    text = done.stdout + "\n" + stderr
    res.output = _tail(text)
    if done.timed_out:
        res.result, res.reason = "timed out", f"did not finish within {timeout:.0f}s"
        return res
    cases = await asyncio.to_thread(_read_junit, junit, res, done.stdout) if junit else 0
    return _classify(res, done.returncode, cases, text)


def _count_cases(root: Any, res: SuiteResult) -> int:
    """Fill the counts from a parsed JUnit XML document; returns its number of test cases."""
    cases = 0
    for case in root.iter("testcase"):
        cases += 1
        failure = case.find("failure")
        error = case.find("error")
        if case.find("skipped") is not None:
            res.skipped += 1
            continue
        bad = failure if failure is not None else error
        if bad is None:
            res.passed += 1
            continue
        if failure is not None:
            res.failed += 1
        else:
            res.errors += 1
        message = " ".join((bad.get("message") or bad.text or "").split())[:300]
        line = case.get("line")
        res.failing.append(
            {
                "suite": res.suite,
                "test": _nodeid(case),
                "outcome": "failed" if failure is not None else "error",
                "message": message,
                "file": case.get("file") or "",
                "line": int(line) + 1 if line and line.isdigit() else None,
            }
        )
    return cases


def _why_not_started(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if _ERROR_LINE.match(line):
            return re.sub(r"^E\s+", "", line)[:300]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def _pytest_args(suite: str, junitxml: str, extra: list[str]) -> list[str]:
    """The interpreter's arguments that run one suite with pytest: quiet, failing ids in
    its short summary, no cache written, its JUnit XML (xunit1, with file and line) to
    `junitxml`, then the check's `args`."""
    return [
        "-m",
        "pytest",
        suite,
        "-q",
        "-rfE",
        "-p",
        "no:cacheprovider",
        f"--junitxml={junitxml}",
        "-o",
        "junit_family=xunit1",
        *extra,
    ]


async def _run_suite(
    argv_head: list[str],
    suite: str,
    root: Path,
    workdir: Path,
    index: int,
    timeout: float,
    extra: list[str],
    env: dict[str, str],
) -> SuiteResult:
    from golive import subproc

    res = SuiteResult(suite)
    target = suite.split("::", 1)[0]
    if not (root / target).exists():
        res.result, res.reason = "missing", f"{target} does not exist under {root}"
        return res
    xml = workdir / f"suite{index}.xml"
    argv = [*argv_head, *_pytest_args(suite, str(xml), extra)]
    try:
        done = await subproc.run(argv, timeout=timeout, cwd=root, env=env)
    except OSError as exc:
        res.result = "could not start"
        res.reason = f"cannot run {argv[0]}: {exc.strerror or exc}"
        return res
    return await _suite_result(res, done, done.stderr, xml if xml.exists() else None, timeout)


_SUMMARY_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped)\b")
_SHORT_LINE = re.compile(r"^(FAILED|ERROR) (\S+)(?: - (.*))?$")
#: Runs the suite from the project root on a host, with no file of golive's on the host:
#: `cd ROOT && exec env NAME=VALUE... PYTHON -m pytest ...` (POSIX sh; exec, so that the
#: signal sent at the deadline reaches pytest itself).
_IN_ROOT = 'cd -- "$1" && shift && exec "$@"'


def _split_junit(stderr: str) -> tuple[str, str]:
    """(JUnit XML document, the rest of stderr) from a remote pytest's stderr."""
    start = stderr.find("<?xml")
    if start < 0:
        return "", stderr
    end = stderr.rfind("</testsuites>", start)
    end = end + len("</testsuites>") if end >= 0 else len(stderr)
    return stderr[start:end], stderr[:start] + stderr[end:]


def _counts_from_summary(text: str, res: SuiteResult) -> int:
    """Counts from pytest's last summary line and failing ids from its short test summary
    (`-rfE`), when the JUnit XML did not come back whole; returns the number of tests."""
    summary = next(
        (ln for ln in reversed(text.splitlines()) if ln.strip().startswith("=") or " in " in ln),
        "",
    )
    for number, word in _SUMMARY_COUNT.findall(summary):
        n = int(number)
        if word == "passed":
            res.passed += n
        elif word == "failed":
            res.failed += n
        elif word.startswith("error"):
            res.errors += n
        else:
            res.skipped += n
    for line in text.splitlines():
        m = _SHORT_LINE.match(line.strip())
        if m:
            res.failing.append(
                {
                    "suite": res.suite,
                    "test": m.group(2),
                    "outcome": "failed" if m.group(1) == "FAILED" else "error",
                    "message": " ".join((m.group(3) or "").split())[:300],
                    "file": m.group(2).split("::", 1)[0],
                    "line": None,
                }
            )
    return res.executed + res.skipped


async def _run_suite_on(
    host: Host,
    py: str,
    suite: str,
    root: str,
    timeout: float,
    extra: list[str],
    env: dict[str, str],
) -> SuiteResult:
    """One suite on a remote host: pytest's JUnit XML goes to its stderr (read back over
    the channel), nothing is written on the host by golive."""
    res = SuiteResult(suite)
    target = suite.split("::", 1)[0]
    if await host.stat(posixpath.join(root, target)) is None:
        res.result, res.reason = "missing", f"{target} does not exist under {root}"
        return res
    argv = [
        "sh",
        "-c",
        _IN_ROOT,
        "golive-suite",
        root,
        "env",
        *(f"{k}={v}" for k, v in env.items()),
        py,
        *_pytest_args(suite, "/dev/stderr", extra),
    ]
    if "/" in py and await host.stat(py) is None:
        res.result, res.reason = "could not start", f"cannot run {py}: No such file or directory"
        return res
    try:
        done = await host.run(argv, timeout=timeout)
    except OSError as exc:
        res.result, res.reason = "could not start", f"cannot run {py}: {exc.strerror or exc}"
        return res
    xml, stderr = _split_junit(done.stderr)
    return await _suite_result(res, done, stderr, xml or None, timeout)


def _tail(text: str) -> list[str]:
    from golive import subproc

    return subproc.tail(text, 15)


def _classify(res: SuiteResult, returncode: int | None, cases: int, text: str) -> SuiteResult:
    """The suite's result from pytest's exit code and what its report held."""
    if returncode == 5:
        res.result, res.reason = "no tests", "pytest collected no tests"
    elif returncode != 0 and (
        cases == 0 or (returncode != 1 and res.passed + res.failed + res.skipped == 0)
    ):
        # nothing ran: collection/import errors, a usage error, or no pytest at all
        res.result, res.reason = "could not start", _why_not_started(text)
        res.passed = res.failed = res.errors = res.skipped = 0
        res.failing.clear()
    elif res.executed == 0:
        res.result, res.reason = "no tests", f"all {res.skipped} tests were skipped"
    return res


async def _coverage_percent(
    argv_head: list[str], root: Path, data: Path, env: dict[str, str]
) -> float | str:
    from golive import subproc

    py = argv_head[0]
    out = data.parent / "coverage.json"
    await subproc.run(
        [py, "-m", "coverage", "combine", f"--data-file={data}"], timeout=120, cwd=root, env=env
    )
    done = await subproc.run(
        [py, "-m", "coverage", "json", f"--data-file={data}", "-o", str(out)],
        timeout=120,
        cwd=root,
        env=env,
    )
    if not out.exists():
        return "coverage.py wrote no report: " + " ".join(
            subproc.tail(done.stdout + done.stderr, 3)
        )
    import json

    report = json.loads(await asyncio.to_thread(out.read_text))
    return float(report["totals"]["percent_covered"])


@check(
    id="testing.suites",
    title="The project's test suites pass (at least 95% of tests in every suite)",
    severity=Severity.HIGH,
    needs=("project", "host"),
    tags=("technical-validation",),
    remediation=(
        "Fix or quarantine the failing tests listed in the evidence; a suite that could not "
        "start needs its path, interpreter (`python:`) or imports fixed. Give the check a "
        "timeout (e.g. `timeout: 1h`) long enough for every suite."
    ),
)
async def suites(
    ctx: Context,
    suites: list[str] = DEFAULT_SUITES,
    python: str | None = None,
    min_pass_rate: float = 95.0,
    suite_timeout: float = 900.0,
    timeouts: dict[str, float] = {},  # noqa: B006
    args: list[str] = [],  # noqa: B006
    env: dict[str, str] = {},  # noqa: B006
    coverage: list[str] = [],  # noqa: B006
    min_coverage: float | None = None,
    parallel: int = 1,
) -> Outcome:
    """Runs each configured pytest suite of the target project (paths relative to the
    project root, run from it) with its own timeout (`suite_timeout`, or `timeouts` per
    suite, never beyond the check's own timeout), and reads each suite's JUnit XML. The
    pass rate is passed / (passed + failed + errors), per suite and overall; skipped tests
    do not count. FAIL when a suite or the whole falls below `min_pass_rate`, or when a
    suite is missing, could not start (import errors, bad interpreter: reported as such,
    never as 0 %), ran no test, or timed out. `python` is the interpreter (default: the
    project's .venv/venv, else golive's own). With `coverage: [package, ...]` the suites run
    under coverage.py and the total is reported (FAIL below `min_coverage`; WARN when
    coverage.py is not installed for that interpreter). `parallel` suites run at the same time
    (default 1: one after the other; more only for suites that share no state, e.g. no
    database they both write). Evidence lists every failing test id.
    Runs on every host of `targets.hosts`: there the suites run over SSH from the host's
    project root (`cd ROOT && exec env NAME=VALUE... PYTHON -m pytest SUITE ...`, with
    only `env` and PYTHONDONTWRITEBYTECODE=1 added to the login environment; default
    interpreter: the project's .venv/venv on the host, else `python3`), pytest's JUnit XML
    comes back on its stderr, and each suite is killed at its deadline; coverage is not
    measured there (coverage.py would write its data file on the host)."""
    if parallel < 1:
        return Outcome.error(f"parallel must be at least 1 (got {parallel})")
    if not ctx.host.is_local:
        return await _suites_on_host(
            ctx,
            suites,
            python,
            min_pass_rate,
            suite_timeout,
            timeouts,
            args,
            env,
            coverage,
            parallel,
        )
    from golive import subproc

    root = ctx.project.root
    py = _interpreter(root, python)
    ctx.record("interpreter", py)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ctx.timeout - 2.0
    run_env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **env}
    for name, value in env.items():
        if any(w in name.upper() for w in ("PASS", "SECRET", "TOKEN", "KEY", "DSN")):
            ctx.secret(value)
    results: list[SuiteResult] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="golive-tests-") as tmp:
        workdir = Path(tmp)
        head = [py]
        cov_data = workdir / ".coverage"
        if coverage:
            probe = await subproc.run(
                [py, "-c", "import coverage"], timeout=30, cwd=root, env=run_env
            )
            if probe.ok:
                head = [py, "-m", "coverage", "run", "--parallel-mode", f"--data-file={cov_data}"]
                head += [f"--source={','.join(coverage)}"]
            else:
                notes.append(f"coverage.py is not installed for {py}, coverage not measured")

        async def run(i: int, suite: str, limit: float) -> SuiteResult:
            return await _run_suite(head, suite, root, workdir, i, limit, list(args), run_env)

        results.extend(
            await _run_all(ctx, suites, parallel, timeouts, suite_timeout, deadline, run)
        )
        cov: float | str | None = None
        if coverage and len(head) > 1:
            cov = await _coverage_percent(head, root, cov_data, run_env)
    return _verdict(results, min_pass_rate, cov, min_coverage, notes)


async def _suites_on_host(
    ctx: Context,
    suites: list[str],
    python: str | None,
    min_pass_rate: float,
    suite_timeout: float,
    timeouts: dict[str, float],
    args: list[str],
    env: dict[str, str],
    coverage: list[str],
    parallel: int,
) -> Outcome:
    """testing.suites on a remote host (see the check's docstring)."""
    host = ctx.host
    root = ctx.project_root
    py = await _interpreter_on(host, root, python)
    ctx.record("interpreter", py)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ctx.timeout - 2.0
    run_env = {"PYTHONDONTWRITEBYTECODE": "1", **env}
    for name, value in env.items():
        if any(w in name.upper() for w in ("PASS", "SECRET", "TOKEN", "KEY", "DSN")):
            ctx.secret(value)
    notes: list[str] = []
    if coverage:
        notes.append(
            f"coverage is not measured on host {host.name} (coverage.py would write its data "
            "file there)"
        )

    async def run(i: int, suite: str, limit: float) -> SuiteResult:
        return await _run_suite_on(host, py, suite, root, limit, list(args), run_env)

    results = await _run_all(ctx, suites, parallel, timeouts, suite_timeout, deadline, run)
    return _verdict(results, min_pass_rate, None, None, notes)


async def _run_all(
    ctx: Context,
    suites: list[str],
    parallel: int,
    timeouts: dict[str, float],
    suite_timeout: float,
    deadline: float,
    run: Callable[[int, str, float], Awaitable[SuiteResult]],
) -> list[SuiteResult]:
    """Run every suite, `parallel` at a time, with `run(index, suite, time limit)`: its
    own timeout, never beyond `deadline` (loop time); a suite whose turn comes after that
    is timed out without running. Progress is reported and the suites' rows recorded as
    each ends. The results come in the order of `suites`."""
    loop = asyncio.get_running_loop()
    slots = asyncio.Semaphore(parallel)
    finished: dict[int, SuiteResult] = {}

    async def one(i: int, suite: str) -> None:
        async with slots:
            remaining = deadline - loop.time()
            if remaining <= 1:
                res = SuiteResult(
                    suite, "timed out", reason="the check's own timeout was used up before it ran"
                )
            else:
                ctx.progress(len(finished), len(suites), suite)
                limit = min(timeouts.get(suite, suite_timeout), remaining)
                res = await run(i, suite, limit)
        finished[i] = res
        ctx.record("suites", [finished[k].row() for k in sorted(finished)])

    await asyncio.gather(*(one(i, suite) for i, suite in enumerate(suites)))
    ctx.progress(len(suites), len(suites), "done")
    return [finished[i] for i in range(len(suites))]


async def _interpreter_on(host: Host, root: str, python: str | None) -> str:
    """The interpreter on a remote host: `python` (a relative path starts at the project
    root, a bare name is found on the host's PATH), else the project's .venv/venv, else
    python3."""
    if python:
        return posixpath.join(root, python) if "/" in python else python
    for venv in (".venv", "venv"):
        candidate = posixpath.join(root, venv, "bin", "python")
        if await host.stat(candidate) is not None:
            return candidate
    return "python3"


def _verdict(
    results: list[SuiteResult],
    min_rate: float,
    cov: float | str | None,
    min_cov: float | None,
    notes: list[str],
) -> Outcome:
    passed = sum(r.passed for r in results)
    executed = sum(r.executed for r in results)
    overall = 100.0 * passed / executed if executed else None
    failing = [f for r in results for f in r.failing]
    evidence: dict[str, Any] = {"suites": [r.row() for r in results]}
    problems_rows = [
        {"suite": r.suite, "result": r.result, "reason": r.reason, "output": r.output}
        for r in results
        if r.result != "ran"
    ]
    if problems_rows:
        evidence["not_run"] = problems_rows
    if failing:
        evidence["failing_tests"] = [
            {k: f[k] for k in ("suite", "test", "outcome", "message")}
            for f in failing[:MAX_FAILING_LISTED]
        ]
        if len(failing) > MAX_FAILING_LISTED:
            evidence["failing_tests_not_listed"] = len(failing) - MAX_FAILING_LISTED
    measurements: dict[str, float] = {}
    if overall is not None:
        measurements["pass_rate"] = round(overall, 2)
    for r in results:
        if r.pass_rate is not None:
            measurements[f"pass_rate[{r.suite}]"] = round(r.pass_rate, 2)
    findings = [
        Finding(
            f["file"] or f["suite"],
            f"{f['test']} {f['outcome']}: {f['message']}",
            f["line"],
            "testing.suites",
        )
        for f in failing[:MAX_FAILING_LISTED]
    ]
    short: list[str] = []
    for r in results:
        if r.result == "missing":
            short.append(f"{r.suite} is missing")
        elif r.result != "ran":
            short.append(f"{r.suite} {r.result} ({r.reason})")
        elif r.pass_rate is not None and r.pass_rate < min_rate:
            short.append(
                f"{r.suite} {r.pass_rate:.1f}% ({r.failed + r.errors} of {r.executed} failed)"
            )
    bad = (
        [
            f"{len(short)} of {len(results)} test suites fail the {min_rate:g}% bar: "
            + "; ".join(short)
        ]
        if short
        else []
    )
    cov_text = ""
    if isinstance(cov, float):
        measurements["coverage_percent"] = round(cov, 2)
        evidence["coverage_percent"] = round(cov, 2)
        cov_text = f", coverage {cov:.1f}%"
        if min_cov is not None and cov < min_cov:
            bad.append(f"coverage {cov:.1f}% is under {min_cov:g}%")
    elif isinstance(cov, str):
        notes.append(cov)
    if notes:
        evidence["notes"] = notes
    overall_text = (
        f"{passed} of {executed} tests passed ({overall:.1f}%)"
        if overall is not None
        else "no test ran"
    )
    if overall is not None and overall < min_rate and not short:
        bad.append(f"overall {overall:.1f}% is under {min_rate:g}%")
    if bad:
        summary = "; ".join(bad) + f" (overall: {overall_text})"
        summary = summary[:1].upper() + summary[1:]
        return Outcome.failed(
            summary, evidence=evidence, measurements=measurements, findings=findings
        )
    summary = f"All {len(results)} test suites pass the {min_rate:g}% bar: {overall_text}{cov_text}"
    if notes:
        return Outcome.warn(
            summary + "; " + "; ".join(notes),
            evidence=evidence,
            measurements=measurements,
            findings=findings,
        )
    return Outcome.passed(summary, evidence=evidence, measurements=measurements, findings=findings)
