"""testing.suites over real SSH: each host runs the project's suites from its own copy of
the project, gets its own verdict, keeps no file of golive's, and a suite that hangs is
killed on its host at its deadline.

The hosts are real OpenSSH servers on 127.0.0.1 (see conftest.py); their interpreter is
this test run's (the hosts share the machine's binaries), pytest really runs on them.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.golive.hosts.conftest import host_config
from tests.golive.hosts.test_ssh_hosts import run_json, verdicts

pytestmark = pytest.mark.integration

PASSING = "def test_one():\n    assert 1 + 1 == 2\n\n\ndef test_two():\n    assert True\n"
FAILING = PASSING + "\n\ndef test_wrong():\n    assert 1 + 1 == 3, 'arithmetic is broken'\n"


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _suites(**params: Any) -> dict[str, Any]:
    return {
        "id": "testing.suites",
        "params": {
            "python": sys.executable,
            "env": {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
            **params,
        },
    }


def test_suites_run_on_each_host(tmp_path: Path, hosts: Any) -> None:
    h1, h2 = hosts.hosts
    for h, body in ((h1, PASSING), (h2, FAILING)):
        (h.project / "tests" / "unit").mkdir(parents=True)
        (h.project / "tests" / "unit" / "test_a.py").write_text(body)
    before = {h.name: _tree(h.project) for h in (h1, h2)}
    check = _suites(suites=["tests/unit", "tests/load"])
    run, _ = run_json(tmp_path, host_config(tmp_path, hosts, {"testing": [check]}))
    v = verdicts(run)
    assert v[("testing.suites", "host1")] == (
        "FAIL",
        "1 of 2 test suites fail the 95% bar: tests/load is missing "
        "(overall: 2 of 2 tests passed (100.0%))",
    )
    status, summary = v[("testing.suites", "host2")]
    assert status == "FAIL"
    assert summary.startswith("2 of 2 test suites fail the 95% bar: tests/unit 66.7% (1 of 3")
    host2 = next(r for r in run["results"] if r["host"] == "host2")
    assert host2["evidence"]["failing_tests"] == [
        {
            "suite": "tests/unit",
            "test": "tests/unit/test_a.py::test_wrong",
            "outcome": "failed",
            "message": "AssertionError: arithmetic is broken assert (1 + 1) == 3",
        }
    ]
    for h in (h1, h2):  # no cache, bytecode or report of golive's left on the host
        assert _tree(h.project) == before[h.name]

    # both suites present on host1 only: PASS there
    (h1.project / "tests" / "load").mkdir()
    (h1.project / "tests" / "load" / "test_b.py").write_text(PASSING)
    run, _ = run_json(tmp_path, host_config(tmp_path, hosts, {"testing": [check]}))
    v = verdicts(run)
    assert v[("testing.suites", "host1")] == (
        "PASS",
        "All 2 test suites pass the 95% bar: 4 of 4 tests passed (100.0%)",
    )
    assert v[("testing.suites", "host2")][0] == "FAIL"


def test_a_bad_interpreter_and_a_hanging_suite_on_one_host(tmp_path: Path, hosts: Any) -> None:
    h1, h2 = hosts.hosts
    token = uuid.uuid4().hex[:12]
    suite = f"tests/hang_{token}"
    for h in (h1, h2):
        (h.project / suite).mkdir(parents=True)
    (h1.project / suite / "test_h.py").write_text(PASSING)
    (h2.project / suite / "test_h.py").write_text(
        "import time\n\n\ndef test_hangs():\n    time.sleep(600)\n"
    )
    check = _suites(suites=[suite], timeouts={suite: 4})
    run, _ = run_json(tmp_path, host_config(tmp_path, hosts, {"testing": [check]}))
    v = verdicts(run)
    assert v[("testing.suites", "host1")][0] == "PASS", v[("testing.suites", "host1")]
    assert v[("testing.suites", "host2")] == (
        "FAIL",
        f"1 of 1 test suites fail the 95% bar: {suite} timed out (did not finish within 4s) "
        "(overall: no test ran)",
    )
    # the hung pytest was killed on host2 (the signal reaches pytest itself: exec)
    for _ in range(50):
        left = [p for p in os.listdir("/proc") if p.isdigit() and token in _cmdline(p)]
        if not left:
            break
        time.sleep(0.2)
    assert left == []

    bad = _suites(suites=[suite], python="/nonexistent/python3")
    run, _ = run_json(tmp_path, host_config(tmp_path, hosts, {"testing": [bad]}))
    assert verdicts(run)[("testing.suites", "host1")] == (
        "FAIL",
        f"1 of 1 test suites fail the 95% bar: {suite} could not start (cannot run "
        "/nonexistent/python3: No such file or directory) (overall: no test ran)",
    )
    named = _suites(suites=[suite], python=f"golive-no-python-{token}")
    run, _ = run_json(tmp_path, host_config(tmp_path, hosts, {"testing": [named]}))
    status, summary = verdicts(run)[("testing.suites", "host2")]
    assert status == "FAIL"
    # env(1) on the host says it found no such program on the host's PATH
    assert (
        f"could not start (env: 'golive-no-python-{token}': No such file or directory)" in summary
    )


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""
