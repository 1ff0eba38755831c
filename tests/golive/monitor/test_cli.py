"""golive/monitor/cli.py: the `golive monitor` commands, their output and exit codes.

Most runs are in-process (Typer's CliRunner through the real `golive` app); the crontab
tests use the real `crontab` command (the current user's crontab is saved first and
restored afterwards) and run the installed cron command line itself.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from golive.cli import app
from golive.monitor import cron
from golive.monitor.history import History
from golive.testing import write_config

runner = CliRunner()


def cli(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def config(tmp_path: Path) -> str:
    """A configuration without targets: samples measure nothing, verdicts still work."""
    return write_config(
        {"monitor": {"history": str(tmp_path / "h.sqlite"), "every": "10m"}}, str(tmp_path)
    )


def test_help_documents_the_exit_codes() -> None:
    result = cli("monitor", "--help")
    assert result.exit_code == 0
    assert "SUCCESS 0, WATCHING 10, ATTENTION 11, ROLLBACK 12" in " ".join(result.output.split())
    for command in ("status", "report", "trigger", "install-cron"):
        assert command in result.output


def test_one_sample_then_status(config: str, tmp_path: Path) -> None:
    result = cli("monitor", "-c", config)
    assert result.exit_code == 10, result.output
    assert "WATCHING (exit 10)" in result.output
    assert "sample: API not probed" in result.output
    status = cli("monitor", "status", "-c", config)
    assert status.exit_code == 10
    assert "WATCHING (exit 10)" in status.output and "1 samples in" in status.output
    assert "last 1 samples" in status.output
    doc = json.loads(cli("monitor", "status", "-c", config, "--json").output)
    assert doc["evaluation"]["verdict"] == "WATCHING" and len(doc["samples"]) == 1
    assert doc["samples"][0]["interval"] == 600.0  # monitor.every


def test_every_sets_the_expected_interval_of_a_single_sample(config: str, tmp_path: Path) -> None:
    doc = json.loads(cli("monitor", "-c", config, "--every", "1h", "--json").output)
    assert doc["sample"]["interval"] == 3600.0
    with History.open(tmp_path / "h.sqlite") as h:
        assert h.count() == 1  # --every alone does not loop


def test_loop_with_for(config: str, tmp_path: Path) -> None:
    result = cli("monitor", "-c", config, "--every", "1s", "--for", "2s", "--quiet")
    assert result.exit_code == 10
    assert result.output == ""
    with History.open(tmp_path / "h.sqlite") as h:
        samples = h.samples()
    assert len(samples) == 3  # at 0 s, 1 s and 2 s
    assert all(s.interval == 1.0 for s in samples)
    assert 1.8 <= samples[-1].ts - samples[0].ts < 4


def test_trigger_clear_and_exit_codes(config: str) -> None:
    cli("monitor", "-c", config)
    trig = cli("monitor", "trigger", "-c", config, "--reason", "security breach confirmed")
    assert trig.exit_code == 12
    assert "ROLLBACK (exit 12), was WATCHING" in trig.output
    assert (
        "Manual rollback trigger at " in trig.output
        and ": security breach confirmed." in trig.output
    )
    assert cli("monitor", "status", "-c", config).exit_code == 12
    sample = cli("monitor", "-c", config)
    assert sample.exit_code == 12  # a sample does not end a manual trigger
    cleared = cli("monitor", "trigger", "-c", config, "--clear", "--reason", "false alarm")
    assert cleared.exit_code == 10
    assert cli("monitor", "trigger", "-c", config, "--reason", "  ").exit_code == 2


def test_report_writes_the_timeline(config: str, tmp_path: Path) -> None:
    cli("monitor", "-c", config)
    out = tmp_path / "reports" / "monitor.html"
    result = cli("monitor", "report", "-c", config, "-o", str(out))
    assert result.exit_code == 0
    assert result.output == f"wrote the monitor timeline (1 samples, verdict WATCHING): {out}\n"
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<h2>WATCHING</h2>" in html


def test_status_without_history_is_exit_3(config: str, tmp_path: Path) -> None:
    result = cli("monitor", "status", "-c", config)
    assert result.exit_code == 3
    assert result.output.strip() == (
        f"golive: no monitor history at {tmp_path / 'h.sqlite'} (run `golive monitor` first)"
    )


def test_bad_durations_are_usage_errors(config: str) -> None:
    result = cli("monitor", "-c", config, "--every", "soon")
    assert result.exit_code == 2
    assert (
        result.output.strip()
        == "golive: --every: 'soon' is not a duration (use e.g. 5, '5s', '10m', '1h')"
    )


def test_config_errors_exit_2(tmp_path: Path) -> None:
    path = write_config(
        {"monitor": {"criteria": {"rollback": {"error_rate_above": 1.5}}}}, str(tmp_path)
    )
    result = cli("monitor", "status", "-c", path)
    assert result.exit_code == 2
    assert (
        "monitor.criteria.rollback.error_rate_above: Input should be less than or equal to 1"
        in result.output
    )


# ----------------------------------------------------------------------------- crontab


@pytest.fixture
def crontab() -> Iterator[None]:
    if shutil.which("crontab") is None:
        pytest.skip("crontab is not installed")
    saved = cron.read()
    try:
        yield
    finally:
        if saved:
            cron.write(saved)
        else:
            subprocess.run(["crontab", "-r"], capture_output=True, check=False)


def ours(key_marker: str = cron.MARKER) -> list[str]:
    return [ln for ln in cron.read().splitlines() if key_marker in ln]


def test_install_cron_is_idempotent(crontab: None, config: str, tmp_path: Path) -> None:
    cron.write("MAILTO=ops@example.org\n# keep me\n17 3 * * * /usr/local/bin/daily_backup.sh\n")
    added = cli("monitor", "install-cron", "-c", config, "--every", "1h")
    assert added.exit_code == 0, added.output
    assert added.output.startswith("crontab entry added: ")
    assert added.output.splitlines()[1] == (
        "checked: the entry's command ran as cron runs it: WATCHING (exit 10), "
        f"first sample in {tmp_path / 'h.sqlite'}"
    )
    [line] = ours()
    key = cron.entry_key([str(Path(config).resolve())])
    assert line.startswith(f"{int(key, 16) % 60} * * * * cd ") and line.endswith(
        f"{cron.MARKER}{key}"
    )
    assert cli("monitor", "install-cron", "-c", config, "--every", "1h").output.startswith(
        "crontab entry unchanged"
    )
    updated = cli("monitor", "install-cron", "-c", config, "--every", "10m")
    assert updated.output.startswith("crontab entry updated: */10 * * * * ")
    assert len(ours()) == 1
    assert cron.read().startswith(
        "MAILTO=ops@example.org\n# keep me\n17 3 * * * /usr/local/bin/daily_backup.sh\n"
    )

    # the installed command line works as cron would run it
    [line] = ours()
    command = line.split(" ", 5)[5].rsplit(" # golive-monitor:", 1)[0]
    done = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=120)
    assert done.returncode == 10
    log = Path(shlex.split(command.split(">>", 1)[1])[0])
    assert "WATCHING (exit 10)" in log.read_text()
    with History.open(tmp_path / "h.sqlite") as h:  # one sample per check, and this run
        assert [s.interval for s in h.samples()] == [3600.0, 3600.0, 600.0, 600.0]

    removed = cli("monitor", "install-cron", "-c", config, "--remove")
    assert removed.output == "crontab entry removed\n"
    assert ours() == []
    assert (
        cron.read()
        == "MAILTO=ops@example.org\n# keep me\n17 3 * * * /usr/local/bin/daily_backup.sh\n"
    )
    assert (
        cli("monitor", "install-cron", "-c", config, "--remove").output == "crontab entry absent\n"
    )


def test_install_cron_creates_what_the_entry_writes_to(crontab: None, tmp_path: Path) -> None:
    """The log's and history's directories do not exist yet, and the paths have a space and
    a `%` (cron reads an unescaped one as a newline): the first run as cron runs it works."""
    home = tmp_path / "ops dir %d"
    home.mkdir()
    history = home / ".golive" / "monitor.sqlite"
    log = home / "logs" / "cron %H.log"
    path = write_config({"monitor": {"history": ".golive/monitor.sqlite"}}, str(home))
    result = cli("monitor", "install-cron", "-c", path, "--every", "1m", "--log", str(log))
    assert result.exit_code == 0, result.output
    [line] = ours()
    assert (
        line.startswith("* * * * * cd ") and "\\%d" in line and "%d" not in line.replace("\\%", "")
    )
    assert "WATCHING (exit 10)" in log.read_text()
    with History.open(history) as h:
        assert len(h.samples()) == 1


def test_install_cron_refuses_an_entry_that_fails_under_cron(
    crontab: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The config needs a variable this shell has and cron does not: nothing is installed,
    and the message says why (exit 3, the crontab error code)."""
    monkeypatch.setenv("GOLIVE_CRON_TEST_URL", "http://127.0.0.1:9")
    path = write_config(
        {
            "targets": {"api": {"url": "${GOLIVE_CRON_TEST_URL:?set GOLIVE_CRON_TEST_URL}"}},
            "monitor": {"history": str(tmp_path / "h.sqlite")},
        },
        str(tmp_path),
    )
    cron.write("# before\n")
    result = runner.invoke(app, ["monitor", "install-cron", "-c", path, "--every", "5m"])
    assert result.exit_code == 3, result.output
    text = " ".join(result.output.split())
    assert (
        "the entry's command failed when run as cron runs it (/bin/sh -c, PATH=/usr/bin:/bin"
        in (text)
    )
    assert "exit 2" in text and "GOLIVE_CRON_TEST_URL" in text
    assert "the crontab was not changed" in text
    assert cron.read() == "# before\n"


def _cron_daemon_running() -> bool:
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "cron":
                return True
        except OSError:
            continue
    return False


@pytest.mark.integration
@pytest.mark.slow
def test_a_real_cron_daemon_takes_the_first_sample(crontab: None, tmp_path: Path) -> None:
    """install-cron into this user's real crontab; the real cron daemon (started here when
    none runs, stopped afterwards) runs the entry at the next minute: its sample arrives
    in the history, whose directory did not exist before install-cron."""
    from demo.stack import prereq
    from tests.conftest import _missing

    daemon = prereq.tool("cron").find()
    if daemon is None:
        _missing("cron (Debian package cron)")
    assert daemon is not None
    if os.getuid() != 0 and not _cron_daemon_running():
        pytest.skip("no cron daemon runs, and only root can start one")
    started = None
    if not _cron_daemon_running():
        started = subprocess.Popen(
            [daemon, "-f"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "cron.stderr").open("wb"),
            start_new_session=True,
        )
    try:
        # cron notices a new crontab by the spool directory's mtime, in whole seconds: a
        # write in the same second as its last look (its start-up load, or the previous
        # test's `crontab -r` just before it) leaves the mtime it saved unchanged, and the
        # entry unseen until the next change. Install in a later second than both.
        spool = Path("/var/spool/cron/crontabs")
        last = max(time.time(), spool.stat().st_mtime if spool.exists() else 0.0)
        while time.time() < int(last) + 1.05:
            time.sleep(0.05)
        history = tmp_path / "state dir" / ".golive" / "monitor.sqlite"
        path = write_config({"monitor": {"history": str(history)}}, str(tmp_path))
        result = cli("monitor", "install-cron", "-c", path, "--every", "1m")
        assert result.exit_code == 0, result.output
        with History.open(history) as h:
            assert len(h.samples()) == 1  # install-cron's own run, as cron runs it
        deadline = time.monotonic() + 200  # cron reloads and runs at minute boundaries
        count = 1
        while count < 2 and time.monotonic() < deadline:
            time.sleep(1)
            with History.open(history) as h:
                count = len(h.samples())
        log = history.with_name("monitor.cron.log").read_text()
        assert count >= 2, f"cron did not run the entry in 200 s; its log:\n{log}"
        assert log.count("WATCHING (exit 10)") >= 2
    finally:
        if started is not None:
            started.terminate()
            started.wait(10)


def test_install_cron_dry_run_changes_nothing(crontab: None, config: str) -> None:
    cron.write("# nothing else\n")
    result = cli("monitor", "install-cron", "-c", config, "--every", "30m", "--dry-run")
    assert result.exit_code == 0
    assert result.output.startswith("# nothing else\n*/30 * * * * cd ")
    assert cron.read() == "# nothing else\n"


def test_options_before_the_subcommand_apply_to_it(config: str, tmp_path: Path) -> None:
    cli("monitor", "-c", config)
    result = cli("monitor", "-c", config, "status")
    assert result.exit_code == 10 and "1 samples in" in result.output
    other = tmp_path / "elsewhere.sqlite"
    assert cli("monitor", "-c", config, "--history", str(other), "status").exit_code == 3
