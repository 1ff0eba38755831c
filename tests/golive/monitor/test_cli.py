"""golive/monitor/cli.py: the `golive monitor` commands, their output and exit codes.

Most runs are in-process (Typer's CliRunner through the real `golive` app); the crontab
tests use the real `crontab` command (the current user's crontab is saved first and
restored afterwards) and run the installed cron command line itself.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
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
    with History.open(tmp_path / "h.sqlite") as h:
        assert [s.interval for s in h.samples()] == [600.0]

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
