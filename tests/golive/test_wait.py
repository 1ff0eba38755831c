"""golive/wait.py: `golive run --wait DURATION [--interval S]`.

The unit tests run real checks (the generic `file` check and plugins whose every run leaves a
line in a file) through the real engine, and change the world between rounds from the
round callback, so that nothing depends on timing. The integration tests run `golive run
--wait` against the demo stack with a real fault (Alertmanager stopped) that the test
removes while golive waits. No test asserts a duration: times appear only as generous
limits after which a stuck process is killed.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from golive.config import Config
from golive.engine import Options, execute, make_redactor
from golive.models import Run, Status, StatusChange, Verdict, WaitEnd
from golive.plan import resolve
from golive.registry import build_registry
from golive.runner import Events
from golive.testing import load_dict
from golive.wait import round_line

FIXTURES = Path(__file__).parent / "fixtures"
PLUGINS = [str(FIXTURES / "wait_checks.py"), str(FIXTURES / "runner_checks.py")]
GOLIVE_RUN = [sys.executable, "-m", "golive", "run", "--no-color"]


def _appears(flag: Path) -> dict[str, Any]:
    return {
        "id": "lab.appears",
        "uses": "file",
        "title": "The flag file exists",
        "severity": "high",
        "params": {"path": str(flag)},
    }


def _config(entries: list[dict[str, Any]], **extra: Any) -> Config:
    return load_dict({"plugin_paths": PLUGINS, "sections": {"lab": {"checks": entries}}, **extra})


def _wait(
    config: Config,
    *,
    wait: float = 600.0,
    interval: float = 0.01,
    allow_writes: bool = False,
    strict: bool = False,
    after_round: Callable[[Run], None] | None = None,
) -> Run:
    registry = build_registry(config.plugin_paths)
    options = Options(allow_writes=allow_writes, strict=strict, wait=wait, interval=interval)
    events = Events(round_finished=after_round)
    return execute(config, resolve(config, registry), options, make_redactor(config), events)


def _create_after_round(n: int, path: Path) -> Callable[[Run], None]:
    def create(run: Run) -> None:
        assert run.wait is not None
        if run.wait.history[-1].number == n:
            path.write_text("here")

    return create


def test_reruns_only_what_is_not_passing_until_go(tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    waiver = {"reason": "known", "approved_by": "QA", "expires": str(date.today() + timedelta(30))}
    config = _config(
        [
            _appears(flag),
            {"id": "lab.ledger", "params": {"path": str(tmp_path / "ledger")}},  # no writes
            {"id": "lab.failing", "waiver": waiver},  # WAIVED
            {"id": "lab.db"},  # no database configured: SKIP
            {"id": "lab.sleepy", "enabled": False},  # disabled: SKIP
            {"id": "lab.boom", "severity": "low"},  # ERROR below fail_on: re-run
        ]
    )
    lines: list[str] = []

    def after(run: Run) -> None:
        lines.append(round_line(run))
        _create_after_round(2, flag)(run)

    run = _wait(config, after_round=after)

    assert run.wait is not None
    assert (run.wait.rounds, run.wait.ended) == (3, WaitEnd.DECISION)
    assert run.decision.verdict is Verdict.CONDITIONAL  # lab.boom still errors, below fail_on
    assert run.decision.exit_code == 0
    first, second, third = run.wait.history
    assert len(first.checks) == 6
    assert second.checks == third.checks == ["lab.appears", "lab.boom"]
    assert second.changes == []
    assert third.changes == [StatusChange("lab.appears", Status.FAIL, Status.PASS)]
    assert [r.verdict for r in run.wait.history] == [
        Verdict.NO_GO,
        Verdict.NO_GO,
        Verdict.CONDITIONAL,
    ]
    assert third.not_passing == ["lab.boom"]
    assert run.decision.reasons[-1] == "CONDITIONAL in round 3 of --wait 10m"
    assert not (tmp_path / "ledger").exists()  # a check that writes never ran
    statuses = {r.id: r.status for r in run.results}
    assert statuses == {
        "lab.appears": Status.PASS,
        "lab.ledger": Status.SKIP,
        "lab.failing": Status.WAIVED,
        "lab.db": Status.SKIP,
        "lab.sleepy": Status.SKIP,
        "lab.boom": Status.ERROR,
    }
    assert lines[0].startswith("round 1 (t+")
    assert (
        "; NO-GO; 2 not passing: lab.appears FAIL, lab.boom ERROR; next round in 0.01s"
        in (lines[0])
    )
    assert "): no change (2 re-run); NO-GO; 2 still not passing" in lines[1]
    assert lines[2].endswith(
        "): lab.appears FAIL -> PASS; CONDITIONAL; 1 still not passing: lab.boom ERROR"
    )


def test_strict_waits_for_go_not_conditional(tmp_path: Path) -> None:
    flag, low = tmp_path / "flag", tmp_path / "low"
    config = _config([_appears(flag), {**_appears(low), "id": "lab.low", "severity": "low"}])

    def after(run: Run) -> None:
        _create_after_round(1, flag)(run)
        _create_after_round(2, low)(run)

    run = _wait(config, strict=True, after_round=after)
    assert run.wait is not None
    assert [r.verdict for r in run.wait.history] == [
        Verdict.NO_GO,
        Verdict.CONDITIONAL,
        Verdict.GO,
    ]
    assert run.decision.exit_code == 0


def test_a_check_that_writes_runs_once(tmp_path: Path) -> None:
    ledger, flag = tmp_path / "ledger", tmp_path / "flag"
    config = _config(
        [_appears(flag), {"id": "lab.ledger", "severity": "low", "params": {"path": str(ledger)}}]
    )
    run = _wait(config, allow_writes=True, after_round=_create_after_round(3, flag))

    assert len(ledger.read_text().splitlines()) == 1
    assert run.wait is not None
    assert run.wait.rounds == 4
    assert [r.checks for r in run.wait.history[1:]] == [["lab.appears"]] * 3
    ledger_result = next(r for r in run.results if r.id == "lab.ledger")
    assert (ledger_result.status, ledger_result.evidence["lines"]) == (Status.FAIL, 1)
    assert run.decision.verdict is Verdict.CONDITIONAL


def test_stops_when_no_round_could_change_the_decision(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    config = _config(
        [_appears(tmp_path / "never"), {"id": "lab.ledger", "params": {"path": str(ledger)}}]
    )
    run = _wait(config, allow_writes=True)

    assert run.wait is not None
    assert (run.wait.rounds, run.wait.ended) == (1, WaitEnd.SETTLED)
    assert run.decision.exit_code == 1
    assert run.decision.reasons[-1] == (
        "the wait stopped after 1 round: no further round could change the decision "
        "(lab.ledger changes the target and runs only once)"
    )
    assert len(ledger.read_text().splitlines()) == 1


def test_ran_out_keeps_the_last_rounds_decision_and_retries_unreachable_targets(
    tmp_path: Path,
) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = _config(
        [{"id": "lab.db"}],
        targets={"database": {"dsn": f"postgresql://golive@127.0.0.1:{port}/none"}},
    )
    run = _wait(config, wait=0.5, interval=0.05)

    assert run.wait is not None
    assert run.wait.ended is WaitEnd.RAN_OUT
    (result,) = run.results
    assert result.status is Status.SKIP and result.incomplete
    assert run.decision.verdict is Verdict.INCOMPLETE and run.decision.exit_code == 3
    n = run.wait.rounds
    assert run.decision.reasons[-1] == (
        f"the wait ran out after {n} round{'s' if n != 1 else ''} (--wait 0.5s): "
        "1 check(s) still not passing"
    )
    assert all(r.checks == ["lab.db"] for r in run.wait.history)


def test_a_run_without_wait_has_no_wait_in_its_json(tmp_path: Path) -> None:
    from golive.reports.json import from_dict, to_dict

    from golive.testing import run_config

    config = _config([_appears(tmp_path / "never")])
    plain = run_config(config)
    assert plain.wait is None and "wait" not in to_dict(plain)
    waited = _wait(config, wait=0.05)
    data = to_dict(waited)
    assert waited.wait is not None and data["wait"]["rounds"] == waited.wait.rounds
    assert to_dict(from_dict(json.loads(json.dumps(data)))) == data


# ---------------------------------------------------------------------------------------------
# the command line


def _write(tmp_path: Path, entries: list[dict[str, Any]]) -> str:
    path = tmp_path / "golive.yaml"
    data = {"version": 1, "plugin_paths": PLUGINS, "sections": {"lab": {"checks": entries}}}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--wait", "soon"], "golive: --wait: 'soon' is not a duration (use e.g. 5, '5s', '10m'"),
        (["--wait", "0"], "golive: --wait '0' must be a positive duration such as 90s, 10m or 1h"),
        (["--wait", "-5"], "golive: --wait: '-5' is not a duration"),
        (["--wait", "5m", "--interval", "0"], "golive: --interval '0' must be a positive"),
        (["--wait", "5m", "--interval", "1x"], "golive: --interval: '1x' is not a duration"),
        (["--interval", "5"], "golive: --interval only applies with --wait DURATION"),
    ],
)
def test_bad_durations_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    from typer.testing import CliRunner

    from golive.cli import app

    marker = tmp_path / "ran"
    path = _write(tmp_path, [{"id": "lab.ledger", "params": {"path": str(marker)}}])
    result = CliRunner().invoke(app, ["run", "-c", path, "--allow-writes", *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert not marker.exists()  # nothing ran


def test_json_on_stdout_stays_json_the_rounds_go_to_stderr(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from golive.cli import app

    flag = tmp_path / "flag"
    flag.touch()
    path = _write(tmp_path, [_appears(flag), _appears(tmp_path / "never") | {"id": "lab.never"}])
    result = CliRunner().invoke(app, ["run", "-c", path, "-f", "json", "--wait", "0.2s"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["wait"]["ended"] == "ran-out"
    assert "round 1 (t+" in result.stderr and "round 1" not in result.stdout
    assert re.search(r"; next round in 0\.\d+s\n", result.stderr), result.stderr  # not 10s
    assert re.search(r"; the wait ran out after \d+ rounds?\n", result.stderr), result.stderr


@pytest.mark.parametrize(("value", "seconds"), [("90s", 90.0), ("5m", 300.0), ("1h", 3600.0)])
def test_durations_in_the_documented_forms(value: str, seconds: float) -> None:
    from golive.config import duration_option

    assert duration_option("--wait", value) == seconds
    assert duration_option("--wait", "45") == 45.0


def _wait_for_file(path: Path, proc: subprocess.Popen[str], text: str, limit: float) -> bool:
    t_end = time.monotonic() + limit
    while time.monotonic() < t_end and proc.poll() is None:
        if path.exists() and text in path.read_text():
            return True
        time.sleep(0.05)
    return path.exists() and text in path.read_text()


def test_signal_during_the_pause_exits_130_with_the_last_round(tmp_path: Path) -> None:
    path = _write(tmp_path, [_appears(tmp_path / "never")])
    out, err = tmp_path / "run.json", tmp_path / "stderr"
    with err.open("w") as fh:
        proc = subprocess.Popen(
            [*GOLIVE_RUN, "-c", path, "-o", f"json:{out}", "--wait", "1h", "--interval", "1h"],
            stdout=subprocess.PIPE,
            stderr=fh,
            text=True,
        )
    try:
        assert _wait_for_file(err, proc, "round 1 (t+", 60), err.read_text()
        proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=60)  # far less than the hour-long pause
    finally:
        proc.kill()
    assert proc.returncode == 130, err.read_text()
    assert "Traceback" not in err.read_text()
    data = json.loads(out.read_text())
    assert data["interrupted"] is True
    assert data["wait"]["rounds"] == 1 and data["wait"]["ended"] == "interrupted"
    assert data["decision"]["reasons"][0] == (
        "the run was interrupted while waiting after round 1; the results are those of round 1"
    )
    assert data["results"][0]["status"] == "FAIL"  # the complete result, not "interrupted"
    assert "interrupted while waiting after round 1" in stdout


def test_signal_during_a_round_keeps_the_previous_result(tmp_path: Path) -> None:
    hanging = tmp_path / "hanging"
    params = {"counter": str(tmp_path / "counter"), "hanging": str(hanging)}
    path = _write(tmp_path, [{"id": "lab.fails_then_hangs", "params": params}])
    out = tmp_path / "run.json"
    proc = subprocess.Popen(
        [*GOLIVE_RUN, "-c", path, "-o", f"json:{out}", "-q", "--wait", "1h", "--interval", "0.01"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        t_end = time.monotonic() + 60
        while not hanging.exists() and proc.poll() is None and time.monotonic() < t_end:
            time.sleep(0.05)
        assert hanging.exists(), proc.poll()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    data = json.loads(out.read_text())
    assert data["wait"]["rounds"] == 2 and data["wait"]["ended"] == "interrupted"
    (result,) = data["results"]
    assert (result["status"], result["summary"]) == ("FAIL", "failed in the first round")
    assert data["decision"]["reasons"][0] == (
        "the run was interrupted during round 2; the checks it did not finish keep their "
        "result of round 1"
    )


# ---------------------------------------------------------------------------------------------
# against the demo stack


def _stack_run(
    stack_env: dict[str, str], workdir: Path, *args: str
) -> Any:  # tests.reliability.harness.Started
    from tests.reliability import harness

    cmd = harness.command(harness.configs(), workdir, "--section", "monitoring", *args)
    return harness.start(cmd, workdir, stack_env)


def _stderr_has(started: Any, text: str, limit: float) -> bool:
    path = started.workdir / "golive.stderr"
    t_end = time.monotonic() + limit
    while time.monotonic() < t_end and started.proc.poll() is None:
        if text in path.read_text(errors="replace"):
            return True
        time.sleep(0.1)
    return text in path.read_text(errors="replace")


@pytest.fixture(scope="module")
def stack_env(stack: Any) -> dict[str, str]:
    from tests.reliability import harness

    return harness.stack_env(stack)


@pytest.mark.integration
def test_waits_for_go_after_alertmanager_comes_back(
    stack: Any, stack_env: dict[str, str], tmp_path: Path
) -> None:
    """Alertmanager is down when the run starts; the test restarts it while golive waits.
    The check that writes (a test alert through Alertmanager) is SKIP while its target is
    unreachable, then runs exactly once: the webhook sink received one firing notification
    carrying this run's marker."""
    from demo import faults
    from tests.reliability import harness

    sink = Path(stack.webhook_sink)
    offset = sink.stat().st_size
    with faults.stopped_alertmanager(stack):
        started = _stack_run(
            stack_env, tmp_path, "--allow-writes", "--wait", "60s", "--interval", "1"
        )
        try:
            assert _stderr_has(started, "round 1 (t+", 240), (
                tmp_path / "golive.stderr"
            ).read_text()
        except BaseException:
            harness.kill_group(started.proc)
            raise
    run = harness.finish(started, 300)
    assert run.returncode == 0, run.describe()
    data = run.data
    assert data["decision"]["verdict"] == "GO"
    wait = data["wait"]
    assert wait["rounds"] >= 2 and wait["ended"] == "decision"
    first = wait["history"][0]
    assert "monitoring.alertmanager_health" in first["not_passing"]
    changed = [c for r in wait["history"][1:] for c in r["changes"]]
    health = [c for c in changed if c["id"] == "monitoring.alertmanager_health"]
    assert health and health[-1]["after"] == "PASS", changed  # (maybe via ERROR while starting)
    line = f"monitoring.alertmanager_health {health[-1]['before']} -> PASS"
    assert line in run.stderr, run.stderr
    assert f"GO in round {wait['rounds']} of --wait 1m" in run.stdout
    # the check that writes: SKIP (not run) while Alertmanager was down, then run once, and
    # never again once it had run
    pipeline = "monitoring.alert_pipeline"
    listed = [r["number"] for r in wait["history"] if pipeline in r["checks"]]
    ran = [r["number"] for r in wait["history"] for c in r["changes"] if c["id"] == pipeline]
    assert len(ran) == 1 and listed == list(range(1, ran[0] + 1)), (listed, ran)
    assert run.results[pipeline]["status"] == "PASS"
    marker = f"golive-{data['run_id']}"
    firing = [
        a
        for line_ in sink.read_bytes()[offset:].decode("utf-8", "replace").splitlines()
        for a in (json.loads(line_).get("payload", {}).get("alerts") or [])
        if a.get("labels", {}).get("golive_marker") == marker and a.get("status") == "firing"
    ]
    assert len(firing) == 1, firing
    print("\n" + "\n".join(x for x in run.stderr.splitlines() if x.startswith("round ")))
    for fmt in ("markdown", "html", "junit"):
        assert (
            f"{wait['rounds']} rounds (--wait 1m, --interval 1s)" in run.reports[fmt].read_text()
        ), fmt


@pytest.mark.integration
def test_the_wait_runs_out_while_the_fault_stays(
    stack: Any, stack_env: dict[str, str], tmp_path: Path
) -> None:
    from demo import faults
    from tests.reliability import harness

    with faults.stopped_alertmanager(stack):
        run = harness.finish(
            _stack_run(stack_env, tmp_path, "--wait", "3s", "--interval", "1"), 300
        )
    data = run.data
    assert data["wait"]["ended"] == "ran-out", run.describe()
    assert run.returncode == harness.documented_exit_code(data) == 1, run.describe()
    assert run.results["monitoring.alertmanager_health"]["status"] == "FAIL"
    n = data["wait"]["rounds"]
    assert f"the wait ran out after {n} round" in run.stdout
    print("\n" + "\n".join(x for x in run.stderr.splitlines() if x.startswith("round ")))
    assert all(
        set(r["checks"]) <= set(data["wait"]["history"][0]["not_passing"])
        for r in data["wait"]["history"][1:]
    )
    assert not harness.tracebacks([run.stdout, run.stderr])


@pytest.mark.integration
def test_sigint_during_the_wait_writes_reports_and_exits_130(
    stack: Any, stack_env: dict[str, str], tmp_path: Path
) -> None:
    from demo import faults
    from tests.reliability import harness

    with faults.stopped_alertmanager(stack):
        started = _stack_run(stack_env, tmp_path, "--wait", "1h", "--interval", "1h")
        try:
            assert _stderr_has(started, "round 1 (t+", 240), (
                tmp_path / "golive.stderr"
            ).read_text()
            started.proc.send_signal(signal.SIGINT)
        finally:
            run = harness.finish(started, 120)  # far less than the hour-long pause
    assert run.returncode == 130, run.describe()
    assert run.missing_reports() == [], run.describe()
    data = run.data
    assert data["interrupted"] is True and data["wait"]["rounds"] == 1
    assert data["decision"]["reasons"][0].startswith("the run was interrupted while waiting")
    assert not [r for r in data["results"] if r["summary"].startswith("interrupted")]
    assert not harness.tracebacks([run.stdout, run.stderr])
