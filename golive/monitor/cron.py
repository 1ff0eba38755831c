"""`golive monitor install-cron`: one crontab entry per configuration, added, updated or
removed idempotently.

The entry is recognised by a trailing marker comment, `# golive-monitor:<key>`, where the
key is derived from the absolute configuration paths: running the command again replaces
the entry (or leaves the crontab untouched when nothing changed), and other lines of the
crontab are kept byte for byte.

Before an entry is installed, its command is run once the way cron runs it (:func:`trial`:
`/bin/sh -c` in cron's minimal environment, from the home directory), so that a command
that cannot work under cron (a redirect into a missing directory, a `${VAR}` only the
login shell had, a program not on cron's PATH) is reported instead of failing silently
every time cron starts it.
"""

from __future__ import annotations

import hashlib
import os
import pwd
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


# What Debian's cron gives a job (cron(8)): nothing of the login shell's environment.
CRON_PATH = "/usr/bin:/bin"


def entry(sched: str, argv: Sequence[str], cwd: str, log: str, key: str) -> str:
    """The crontab line: absolute paths, shell-quoted, `%` escaped (cron reads it as newline)."""
    command = f"cd {shlex.quote(cwd)} && {shlex.join(argv)} >> {shlex.quote(log)} 2>&1"
    return f"{sched} {command.replace('%', chr(92) + '%')} {MARKER}{key}"


def command_of(line: str) -> str:
    """The shell command cron runs for a five-field crontab line (`\\%` back to `%`)."""
    fields = line.split(None, 5)
    if len(fields) < 6:
        raise UsageError(f"not a crontab entry: {line!r}")
    return fields[5].replace(chr(92) + "%", "%")


def cron_environment() -> dict[str, str]:
    """The environment cron gives a job of the current user (HOME, LOGNAME, PATH, SHELL)."""
    user = pwd.getpwuid(os.getuid())
    return {"HOME": user.pw_dir, "LOGNAME": user.pw_name, "PATH": CRON_PATH, "SHELL": "/bin/sh"}


@dataclass(frozen=True)
class Trial:
    """One run of an entry's command as cron would run it."""

    exit_code: int
    stderr: str  # what the shell itself printed (the command's output goes to its log)


def trial(line: str, timeout: float = 300) -> Trial:
    """Run the entry's command once as cron would: `/bin/sh -c` in cron's environment."""
    env = cron_environment()
    try:
        proc = subprocess.run(
            ["/bin/sh", "-c", command_of(line)],
            env=env,
            cwd=env["HOME"],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return Trial(-1, f"still running after {timeout:g}s")
    return Trial(proc.returncode, (proc.stdout + proc.stderr).strip())


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
