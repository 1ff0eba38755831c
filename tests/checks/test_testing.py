"""checks/testing.py: real pytest projects in temp dirs, with passing, failing, skipped and
slow tests, an import error, a missing path and a bad interpreter; pytest really runs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from golive.models import CheckResult, Status
from golive.testing import run_check

PASSING = """
    import pytest

    def test_one():
        assert 1 + 1 == 2

    def test_two():
        assert "go" in "golive"

    class TestGroup:
        def test_three(self):
            assert True

    @pytest.mark.skip(reason="not today")
    def test_skipped():
        pass
"""
FAILING = """
    def test_ok():
        assert True

    def test_ok_too():
        assert True

    def test_ok_three():
        assert True

    class TestMath:
        def test_wrong(self):
            assert 1 + 1 == 3, "arithmetic is broken"
"""


def make_project(root: Path, files: dict[str, str]) -> dict[str, Any]:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return {"project": {"root": str(root)}}


def suites(root: Path, files: dict[str, str], timeout: float = 120, **params: Any) -> CheckResult:
    targets = make_project(root, files)
    params.setdefault("python", sys.executable)
    # the projects here need no plugin: skipping the autoload of golive's own dev plugins
    # (hypothesis, pytest-docker, ...) makes each child pytest start five times faster
    params.setdefault("env", {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    return run_check("testing.suites", targets=targets, params=params, timeout=timeout)


def rows(result: CheckResult) -> dict[str, dict[str, Any]]:
    return {r["suite"]: r for r in result.evidence["suites"]}


def test_all_suites_pass(tmp_path: Path) -> None:
    result = suites(
        tmp_path,
        {
            "tests/unit/test_a.py": PASSING,
            "tests/test_api.py": "def test_api():\n    assert True\n",
        },
        suites=["tests/unit", "tests/test_api.py"],
    )
    assert result.status is Status.PASS, result.summary
    assert result.summary == "All 2 test suites pass the 95% bar: 4 of 4 tests passed (100.0%)"
    unit = rows(result)["tests/unit"]
    assert (unit["passed"], unit["failed"], unit["skipped"], unit["pass_rate"]) == (3, 0, 1, 100.0)
    assert result.measurements["pass_rate"] == 100.0
    assert "failing_tests" not in result.evidence
    assert not (tmp_path / ".pytest_cache").exists()  # golive leaves no cache in the tree


def test_a_suite_below_the_bar_fails_and_lists_failing_tests(tmp_path: Path) -> None:
    result = suites(
        tmp_path,
        {"tests/unit/test_a.py": PASSING, "tests/integration/test_b.py": FAILING},
        suites=["tests/unit", "tests/integration"],
    )
    assert result.status is Status.FAIL
    assert result.summary == (
        "1 of 2 test suites fail the 95% bar: tests/integration 75.0% (1 of 4 failed) "
        "(overall: 6 of 7 tests passed (85.7%))"
    )
    assert result.evidence["failing_tests"] == [
        {
            "suite": "tests/integration",
            "test": "tests/integration/test_b.py::TestMath::test_wrong",
            "outcome": "failed",
            "message": "AssertionError: arithmetic is broken assert (1 + 1) == 3",
        }
    ]
    finding = result.findings[0]
    assert (finding.path, finding.line) == ("tests/integration/test_b.py", 12)
    assert result.measurements["pass_rate[tests/integration]"] == 75.0


def test_the_bar_is_configurable(tmp_path: Path) -> None:
    result = suites(
        tmp_path,
        {"tests/integration/test_b.py": FAILING},
        suites=["tests/integration"],
        min_pass_rate=70,
    )
    assert result.status is Status.PASS
    assert result.summary == "All 1 test suites pass the 70% bar: 3 of 4 tests passed (75.0%)"


def test_a_suite_that_cannot_start_is_not_reported_as_zero_percent(tmp_path: Path) -> None:
    result = suites(
        tmp_path,
        {
            "tests/unit/test_a.py": PASSING,
            "tests/chaos/test_c.py": "import golive_no_such_module\n\ndef test_x():\n    pass\n",
        },
        suites=["tests/unit", "tests/chaos", "tests/load"],
    )
    assert result.status is Status.FAIL
    assert result.summary == (
        "2 of 3 test suites fail the 95% bar: tests/chaos could not start "
        "(ModuleNotFoundError: No module named 'golive_no_such_module'); tests/load is missing "
        "(overall: 3 of 3 tests passed (100.0%))"
    )
    chaos = rows(result)["tests/chaos"]
    assert chaos["result"] == "could not start" and chaos["pass_rate"] is None
    assert "pass_rate[tests/chaos]" not in result.measurements
    not_run = {r["suite"]: r for r in result.evidence["not_run"]}
    assert not_run["tests/load"]["reason"] == f"tests/load does not exist under {tmp_path}"
    assert any("golive_no_such_module" in line for line in not_run["tests/chaos"]["output"])


def test_a_bad_interpreter_cannot_start(tmp_path: Path) -> None:
    result = suites(
        tmp_path,
        {"tests/unit/test_a.py": PASSING},
        suites=["tests/unit"],
        python="/nonexistent/python3",
    )
    assert result.status is Status.FAIL
    assert result.summary.startswith(
        "1 of 1 test suites fail the 95% bar: tests/unit could not start (cannot run /nonexistent/python3: "
    )
    assert result.evidence["interpreter"] == "/nonexistent/python3"


def test_a_suite_whose_tests_are_all_skipped_ran_nothing(tmp_path: Path) -> None:
    skipped = "import pytest\n\n@pytest.mark.skip(reason='no db')\ndef test_db():\n    pass\n"
    result = suites(
        tmp_path, {"tests/integration/test_db.py": skipped}, suites=["tests/integration"]
    )
    assert result.status is Status.FAIL
    assert "tests/integration no tests (all 1 tests were skipped)" in result.summary


def test_each_suite_has_its_own_timeout_and_is_killed(tmp_path: Path) -> None:
    marker = tmp_path / "slow-finished"
    slow = f"import time, pathlib\n\ndef test_slow():\n    time.sleep(30)\n    pathlib.Path({str(marker)!r}).touch()\n"
    result = suites(
        tmp_path,
        {"tests/load/test_slow.py": slow, "tests/unit/test_a.py": PASSING},
        suites=["tests/load", "tests/unit"],
        timeouts={"tests/load": 3},
    )
    assert result.status is Status.FAIL
    assert "tests/load timed out (did not finish within 3s)" in result.summary
    assert rows(result)["tests/unit"]["passed"] == 3  # the next suite still ran
    leftovers = [
        p for p in os.listdir("/proc") if p.isdigit() and _cmdline(p).find(str(tmp_path)) >= 0
    ]
    assert leftovers == []  # the killed suite's process group is gone
    assert not marker.exists()


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def test_coverage_is_measured_when_configured(tmp_path: Path) -> None:
    pytest.importorskip("coverage")
    code = "def add(a, b):\n    return a + b\n\ndef unused():\n    return 0\n"
    test = "from mylib import add\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    files = {"mylib.py": code, "tests/unit/test_lib.py": test}
    params: dict[str, Any] = {"suites": ["tests/unit"], "coverage": ["mylib"]}
    (tmp_path / "conftest.py").write_text("")  # rootdir on sys.path, so `import mylib` works
    result = suites(tmp_path, files, **params)
    assert result.status is Status.PASS, result.summary
    assert (
        result.summary
        == "All 1 test suites pass the 95% bar: 1 of 1 tests passed (100.0%), coverage 75.0%"
    )
    assert result.measurements["coverage_percent"] == 75.0
    result = suites(tmp_path, files, **params, min_coverage=90)
    assert result.status is Status.FAIL
    assert result.summary == "Coverage 75.0% is under 90% (overall: 1 of 1 tests passed (100.0%))"


def test_needs_a_project_target(tmp_path: Path) -> None:
    result = run_check("testing.suites")
    assert result.status is Status.SKIP
    assert "no project target is configured" in result.summary


RENDEZVOUS = """
    import pathlib
    import time

    def test_meets_the_other_suite():
        here = pathlib.Path({here!r})
        other = pathlib.Path({other!r})
        here.touch()
        # a wait, not a bound: it ends as soon as the other suite runs too
        deadline = time.monotonic() + 120
        while not other.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert other.exists(), "the other suite was not running at the same time"
"""


def test_parallel_suites_run_at_the_same_time(tmp_path: Path) -> None:
    """Each suite waits for the other to have started: only suites run together pass."""
    a, b = tmp_path / "a-started", tmp_path / "b-started"
    result = suites(
        tmp_path / "project",
        {
            "tests/one/test_one.py": RENDEZVOUS.format(here=str(a), other=str(b)),
            "tests/two/test_two.py": RENDEZVOUS.format(here=str(b), other=str(a)),
            "tests/unit/test_a.py": PASSING,
        },
        timeout=300,
        suites=["tests/one", "tests/two", "tests/unit"],
        parallel=2,
    )
    assert result.status is Status.PASS, result.summary
    assert [r["suite"] for r in result.evidence["suites"]] == [
        "tests/one",
        "tests/two",
        "tests/unit",
    ]
    assert rows(result)["tests/unit"]["passed"] == 3


def test_parallel_below_one_is_an_error(tmp_path: Path) -> None:
    result = suites(tmp_path, {"tests/unit/test_a.py": PASSING}, suites=["tests/unit"], parallel=0)
    assert result.status is Status.ERROR
    assert result.summary == "parallel must be at least 1 (got 0)"


def _junit_on_stderr(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """A real pytest run of a project with a failing, a skipped and passing tests, its
    JUnit XML written to its stderr as on a remote host (golive's own pytest arguments)."""
    from golive.checks.testing import _pytest_args

    make_project(tmp_path, {"tests/unit/test_a.py": FAILING + PASSING})
    return subprocess.run(
        [sys.executable, *_pytest_args("tests/unit", "/dev/stderr", [])],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1"},
        timeout=120,
    )


def test_a_remote_report_cut_short_falls_back_to_pytests_own_summary(tmp_path: Path) -> None:
    """On a remote host the JUnit XML comes back on pytest's stderr; when it is cut (a very
    large report), the counts come from pytest's summary line and `-rfE` lines. Fed here
    with the output of a real pytest run."""
    from golive.checks.testing import SuiteResult, _counts_from_summary, _split_junit

    done = _junit_on_stderr(tmp_path)
    xml, rest = _split_junit(done.stderr)
    assert xml.startswith("<?xml") and xml.endswith("</testsuites>")
    assert "<?xml" not in rest
    res = SuiteResult("tests/unit")
    assert _counts_from_summary(done.stdout, res) == 8
    assert (res.passed, res.failed, res.errors, res.skipped) == (6, 1, 0, 1)
    assert [f["test"] for f in res.failing] == ["tests/unit/test_a.py::TestMath::test_wrong"]
    assert res.failing[0]["message"].startswith("AssertionError: arithmeti"), res.failing


@pytest.mark.parametrize("as_file", [False, True], ids=["document", "file"])
@pytest.mark.parametrize("cut", [False, True], ids=["whole", "cut-short"])
def test_a_report_is_read_the_same_from_a_file_or_a_document(
    tmp_path: Path, as_file: bool, cut: bool
) -> None:
    """Local runs leave the JUnit XML in a file, remote ones send the document: one reader
    takes both, and falls back to pytest's summary for a report cut short."""
    from golive.checks.testing import SuiteResult, _read_junit, _split_junit

    done = _junit_on_stderr(tmp_path)
    xml, _ = _split_junit(done.stderr)
    if cut:
        xml = xml[: len(xml) // 2]
    junit: Path | str = xml
    if as_file:
        junit = tmp_path / "report.xml"
        junit.write_text(xml, encoding="utf-8")
    res = SuiteResult("tests/unit")
    assert _read_junit(junit, res, done.stdout) == 8
    assert (res.passed, res.failed, res.errors, res.skipped) == (6, 1, 0, 1)
    failing = res.failing[0]
    assert failing["test"] == "tests/unit/test_a.py::TestMath::test_wrong"
    if cut:  # pytest's short summary names the test, not its line
        assert failing["line"] is None
    else:
        assert isinstance(failing["line"], int)
