"""golive/monitor/cron.py: cron schedules from intervals, and crontab edits that touch only
golive's own entry (the real `crontab` command is exercised in test_cli.py)."""

from __future__ import annotations

import pytest

from golive.errors import UsageError
from golive.monitor import cron


@pytest.mark.parametrize(
    ("every", "expected"),
    [
        (60, "* * * * *"),
        (300, "*/5 * * * *"),
        (3600, "42 * * * *"),
        (6 * 3600, "42 */6 * * *"),
        (86400, "42 0 * * *"),
    ],
)
def test_schedules(every: float, expected: str) -> None:
    assert cron.schedule(every, "2a") == expected  # 0x2a = 42


@pytest.mark.parametrize(
    ("every", "message"),
    [
        (30, "--every 30s: cron runs at most once a minute, in whole minutes"),
        (7 * 60, "--every 7m: cron needs a divisor of 60 minutes (1, 2, 5, 10, 15, 20, 30)"),
        (90 * 60, "--every 90m: above an hour, use whole hours"),
        (5 * 3600, "--every 5h: cron needs a divisor of 24 hours (1, 2, 3, 4, 6, 8, 12)"),
        (48 * 3600, "--every 48h: golive monitor runs at least once a day"),
    ],
)
def test_impossible_schedules(every: float, message: str) -> None:
    with pytest.raises(UsageError) as exc:
        cron.schedule(every, "2a")
    assert str(exc.value) == message


def test_apply_keeps_other_lines_and_removes_duplicates() -> None:
    current = "a\nold # golive-monitor:k1\nb\ndup # golive-monitor:k1\nother # golive-monitor:k2\n"
    change = cron.apply(current, "new # golive-monitor:k1", "k1")
    assert change.action == "updated"
    assert change.after == "a\nnew # golive-monitor:k1\nb\nother # golive-monitor:k2\n"
    assert cron.apply("", "x # golive-monitor:k1", "k1").after == "x # golive-monitor:k1\n"


def test_entry_escapes_percent_and_command_of_gives_back_what_sh_runs() -> None:
    """cron turns an unescaped `%` into a newline; the paths keep spaces through quoting."""
    line = cron.entry(
        "* * * * *", ["/opt/my venv/bin/python", "-m", "golive"], "/srv/a %d", "/var/log/x.log", "k"
    )
    assert line == (
        "* * * * * cd '/srv/a \\%d' && '/opt/my venv/bin/python' -m golive "
        ">> /var/log/x.log 2>&1 # golive-monitor:k"
    )
    assert cron.command_of(line) == (
        "cd '/srv/a %d' && '/opt/my venv/bin/python' -m golive >> /var/log/x.log 2>&1 "
        "# golive-monitor:k"
    )
    env = cron.cron_environment()
    assert (
        env["PATH"] == "/usr/bin:/bin"
        and env["SHELL"] == "/bin/sh"
        and set(env)
        == {
            "HOME",
            "LOGNAME",
            "PATH",
            "SHELL",
        }
    )
