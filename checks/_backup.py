"""Helpers of `database.backups`: crontab sources and lines, schedules, `pg_restore --list`.

The crontab sources are read the way `operations.cron` reads them (a user's `crontab -l`,
crontab files, and the files of cron.d-style directories whose names cron accepts), so
that the two checks agree on whether a job is scheduled.
"""

from __future__ import annotations

import itertools
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from golive.api import Context
from golive.hosts.interface import Host

_SPECIAL = re.compile(r"^@(reboot|yearly|annually|monthly|weekly|daily|midnight|hourly)\b")
_ENV_LINE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\s*=")
_CRON_NAME = re.compile(r"^[A-Za-z0-9_-]+$")  # cron ignores other names in cron.d


def resolve(ctx: Context, path: str) -> Path:
    """A path on the check's host as given, or relative to the host's project root (else,
    locally, the current directory)."""
    p = Path(os.path.expanduser(path) if ctx.host.is_local else path)
    if p.is_absolute():
        return p
    if ctx.config.targets.project is not None:
        return Path(ctx.project_root) / p
    return p.resolve() if ctx.host.is_local else p


def cron_lines(text: str) -> list[tuple[int, str, str]]:
    """(line number, schedule, rest of the line) for every job line of a crontab."""
    out = []
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#") or _ENV_LINE.match(line):
            continue
        m = _SPECIAL.match(line)
        if m:
            out.append((no, m.group(0), line[m.end() :].strip()))
            continue
        fields = line.split(None, 5)
        if len(fields) == 6:
            out.append((no, " ".join(fields[:5]), fields[5]))
    return out


async def _user_crontab(host: Host, user: str | None) -> tuple[str, str, str | None]:
    """A user's crontab (`crontab -l [-u user]`): (label, text, problem)."""
    label = f"crontab -l -u {user}" if user else "crontab -l"
    try:
        done = await host.run(["crontab", "-l", *(["-u", user] if user else [])], timeout=10)
    except OSError as exc:
        return label, "", f"{label}: {exc.strerror or exc}"
    if done.timed_out:
        return label, "", f"{label}: did not finish within 10s"
    if done.returncode != 0:
        msg = done.stderr.strip()
        return label, "", None if "no crontab" in msg.lower() else f"{label}: {msg}"
    return label, done.stdout, None


def longest_gap_hours(schedule: str) -> float | None:
    """The longest time between two runs of a cron schedule, in hours (None: not periodic)."""
    from croniter import croniter

    if schedule == "@reboot":
        return None
    try:
        it = croniter(schedule, datetime(2030, 1, 1))
        times = [it.get_next(datetime) for _ in range(40)]
    except (ValueError, KeyError):
        return None
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    return float(max(gaps)) / 3600


async def cron_entries(
    ctx: Context,
    script: Path,
    user_crontab: bool,
    cron_user: str | None,
    cron_files: list[str],
    cron_dirs: list[str],
    crontab_files: list[str] = [],  # noqa: B006 - read only
) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Cron jobs that run `script` (by path or by name), the sources read, and problems.

    The sources are those of operations.cron: a user's crontab, user-format crontab files
    (a missing one is a problem), crontab files and the files of cron.d-style directories
    (whose names cron ignores unless they hold only letters, digits, `_` and `-`)."""
    host = ctx.host
    sources: list[tuple[str, str]] = []
    problems: list[str] = []
    if user_crontab:
        label, text, problem = await _user_crontab(host, cron_user)
        sources.append((label, text))
        if problem:
            problems.append(problem)
    for p in (resolve(ctx, f) for f in crontab_files):
        try:
            sources.append((str(p), await host.read_text(str(p))))
        except OSError as exc:
            problems.append(f"cannot read the crontab file {p}: {exc.strerror}")
    paths = [resolve(ctx, f) for f in cron_files]
    for d in (resolve(ctx, d) for d in cron_dirs):
        dst = await host.stat(str(d))
        if dst is not None and dst.is_dir:
            try:
                names = await host.listdir(str(d))
            except OSError:
                names = []
            for name in names:
                fst = await host.stat(str(d / name))
                if fst is not None and fst.is_file and _CRON_NAME.match(name):
                    paths.append(d / name)
    for p in paths:
        fst = await host.stat(str(p))
        if fst is not None and fst.is_file:
            try:
                sources.append((str(p), await host.read_text(str(p))))
            except OSError as exc:
                problems.append(f"cannot read {p}: {exc.strerror}")
    found: list[dict[str, Any]] = []
    for source, text in sources:
        for no, schedule, rest in cron_lines(text):
            words = re.split(r"[\s;&|()<>'\"]+", rest)
            hit = next((w for w in words if w == str(script) or Path(w).name == script.name), None)
            if hit:
                found.append(
                    {
                        "source": source,
                        "line": no,
                        "schedule": schedule,
                        "runs": hit,
                        "longest_gap_hours": longest_gap_hours(schedule),
                    }
                )
    return found, [s for s, _ in sources], problems


async def pg_restore_list(host: Host, binary: str, path: Path, timeout: float) -> str | None:
    """None when `pg_restore --list` (on the host) reads the archive, else why not."""
    try:
        done = await host.run([binary, "--list", str(path)], timeout=timeout)
    except OSError as exc:
        return f"cannot run {binary}: {exc.strerror or exc}"
    if done.timed_out:
        return f"{binary} --list did not finish within {timeout:g}s"
    if done.returncode != 0:
        first = done.stderr.strip().splitlines()
        return first[0] if first else f"{binary} exited with status {done.returncode}"
    return None
