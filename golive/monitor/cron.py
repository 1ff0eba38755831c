"""`golive monitor install-cron`: one crontab entry per configuration, added, updated or
removed idempotently.

The entry is recognised by a trailing marker comment, `# golive-monitor:<key>`, where the
key is derived from the absolute configuration paths: running the command again replaces
the entry (or leaves the crontab untouched when nothing changed), and other lines of the
crontab are kept byte for byte.
"""

from __future__ import annotations

import hashlib
import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from golive.errors import GoliveError, UsageError

MARKER = "# golive-monitor:"


class CrontabError(GoliveError):
    """`crontab` is missing or refused to read or write."""

    exit_code = 3


def entry_key(config_paths: Sequence[str]) -> str:
    """A stable key for one monitored configuration."""
    return hashlib.sha256("\0".join(config_paths).encode()).hexdigest()[:12]


def schedule(every: float, key: str) -> str:
    """The cron schedule of one run every `every` seconds (spread by the key's hash)."""
    seconds = round(every)
    if seconds < 60 or seconds % 60:
        raise UsageError(f"--every {every:g}s: cron runs at most once a minute, in whole minutes")
    minutes = seconds // 60
    spread = int(key, 16)
    if minutes < 60:
        if 60 % minutes:
            raise UsageError(
                f"--every {minutes}m: cron needs a divisor of 60 minutes (1, 2, 5, 10, 15, 20, 30)"
            )
        return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    if minutes % 60:
        raise UsageError(f"--every {minutes}m: above an hour, use whole hours")
    hours = minutes // 60
    minute = spread % 60
    if hours < 24:
        if 24 % hours:
            raise UsageError(
                f"--every {hours}h: cron needs a divisor of 24 hours (1, 2, 3, 4, 6, 8, 12)"
            )
        return f"{minute} * * * *" if hours == 1 else f"{minute} */{hours} * * *"
    if hours == 24:
        return f"{minute} {spread // 60 % 24} * * *"
    raise UsageError(f"--every {hours}h: golive monitor runs at least once a day")


def entry(sched: str, argv: Sequence[str], cwd: str, log: str, key: str) -> str:
    """The crontab line."""
    command = f"cd {shlex.quote(cwd)} && {shlex.join(argv)} >> {shlex.quote(log)} 2>&1"
    return f"{sched} {command} {MARKER}{key}"


@dataclass(frozen=True)
class Change:
    """A crontab before and after, and what changed."""

    before: str
    after: str
    action: str  # added | updated | unchanged | removed | absent


def apply(current: str, line: str | None, key: str) -> Change:
    """The crontab with our entry set to `line` (None removes it); other lines untouched."""
    lines = current.splitlines()
    ours = [i for i, ln in enumerate(lines) if ln.rstrip().endswith(f"{MARKER}{key}")]
    if line is None:
        if not ours:
            return Change(current, current, "absent")
        kept = [ln for i, ln in enumerate(lines) if i not in ours]
        return Change(current, "\n".join(kept) + ("\n" if kept else ""), "removed")
    if ours and lines[ours[0]] == line and len(ours) == 1:
        return Change(current, current, "unchanged")
    if ours:
        new = [
            line if i == ours[0] else ln
            for i, ln in enumerate(lines)
            if i == ours[0] or i not in ours
        ]
        action = "updated"
    else:
        new = [*lines, line]
        action = "added"
    return Change(current, "\n".join(new) + "\n", action)


def read(crontab: str = "crontab") -> str:
    """The current user's crontab ('' when there is none)."""
    try:
        proc = subprocess.run([crontab, "-l"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CrontabError(f"cannot run `{crontab} -l`: {exc}") from None
    if proc.returncode != 0:
        if "no crontab" in proc.stderr.lower():
            return ""
        raise CrontabError(f"`{crontab} -l` failed: {proc.stderr.strip()}")
    return proc.stdout


def write(text: str, crontab: str = "crontab") -> None:
    """Install `text` as the current user's crontab."""
    try:
        proc = subprocess.run(
            [crontab, "-"], input=text, capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CrontabError(f"cannot run `{crontab} -`: {exc}") from None
    if proc.returncode != 0:
        raise CrontabError(f"`{crontab} -` refused the new crontab: {proc.stderr.strip()}")
