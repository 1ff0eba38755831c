"""Checks of the operations section: runbooks, operational scripts, cron jobs, contacts."""

from __future__ import annotations

import asyncio
import os
import re
import stat
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from golive.api import Context, Finding, Outcome, Severity, check
from golive.hosts.interface import Host

DEFAULT_RUNBOOKS = [
    "ops/DISASTER_RECOVERY.md",
    "ops/INCIDENT_RESPONSE.md",
    "ops/PRODUCTION_RUNBOOK.md",
    "ops/MONITORING_PLAYBOOK.md",
    "ops/BACKUP_PROCEDURES.md",
]
DEFAULT_PLACEHOLDERS = ["[FILL IN]", "TODO", "TBD"]
DEFAULT_SCRIPTS = [
    "/usr/local/bin/daily_backup.sh",
    "/usr/local/bin/health_check.sh",
    "/usr/local/bin/service_restart.sh",
]
CONTACT_PLACEHOLDERS = [
    *DEFAULT_PLACEHOLDERS,
    "[Name]",
    "[Phone]",
    "[Email]",
    "CHANGEME",
    "example.com",
]
DEFAULT_ROLES = ["technical lead", "database admin", "security officer", "operations manager"]
_DATED = re.compile(
    r"(?i)\b(?:last[ _-]?(?:updated|reviewed|modified)|updated|reviewed)\b"
    r"\W{0,5}(\d{4}-\d{2}-\d{2})"
)


def _resolve(ctx: Context, path: str) -> Path:
    p = Path(os.path.expanduser(path))
    project = ctx.config.targets.project
    if p.is_absolute() or project is None:
        return p
    return Path(project.root) / p


def _placeholder_pattern(placeholders: list[str]) -> re.Pattern[str] | None:
    """Word-like placeholders (TODO, TBD) match as whole words, case-sensitively; bracketed
    ones such as [FILL IN] match anywhere, in any case."""
    parts = []
    for p in placeholders:
        if re.fullmatch(r"\w+", p):
            parts.append(rf"(?<!\w){re.escape(p)}(?!\w)")
        else:
            parts.append("(?i:" + re.escape(p) + ")")
    return re.compile("|".join(parts)) if parts else None


def _updated(mtime: float, text: str) -> tuple[date, str]:
    """When a document was last updated: a stated date, else its modification time."""
    for m in _DATED.finditer(text):
        try:
            return date.fromisoformat(m.group(1)), "stated in the document"
        except ValueError:
            continue
    return datetime.fromtimestamp(mtime, timezone.utc).date(), "file modification time"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


@check(
    id="operations.runbooks",
    title="The operations runbooks exist, are complete and current",
    severity=Severity.HIGH,
    needs=("project", "host"),
    tags=("operations",),
    remediation="Write or finish each runbook (no [FILL IN]/TODO/TBD left); review stale ones.",
)
async def runbooks(
    ctx: Context,
    documents: list[str] = DEFAULT_RUNBOOKS,
    min_words: int = 150,
    placeholders: list[str] = DEFAULT_PLACEHOLDERS,
    max_age_days: int = 180,
) -> Outcome:
    """Each required document (paths relative to the project root) exists, has at least
    `min_words` words, and contains none of the `placeholders` (TODO and TBD as whole
    upper-case words, [FILL IN] anywhere): FAIL otherwise, with the line of every
    placeholder. A document older than `max_age_days` is a WARN; its age comes from a
    "Last updated: YYYY-MM-DD" (or "Last reviewed") line when it has one, else from the
    file's modification time."""
    pattern = _placeholder_pattern(placeholders)
    today = datetime.now(timezone.utc).date()
    rows: list[dict[str, Any]] = []
    findings: list[Finding] = []
    fails: list[str] = []
    stale: list[str] = []
    for doc in documents:
        path = ctx.host_path(doc)
        st = await ctx.host.stat(path)
        if st is None or not st.is_file:
            rows.append({"document": doc, "result": "missing"})
            fails.append(f"{doc} is missing")
            continue
        text = await ctx.host.read_text(path)
        words = len(re.findall(r"\w+", text))
        hits = []
        for n, line in enumerate(text.splitlines(), 1):
            for m in pattern.finditer(line) if pattern else ():
                hits.append(m.group(0))
                findings.append(Finding(doc, f"placeholder {m.group(0)!r} left in the runbook", n))
        updated, source = _updated(st.mtime, text)
        age = (today - updated).days
        problems = []
        if words < min_words:
            problems.append(f"has only {words} words")
        if hits:
            problems.append(f"has {len(hits)} placeholder(s) ({', '.join(dict.fromkeys(hits))})")
        if problems:
            fails.append(f"{doc} " + " and ".join(problems))
        elif age > max_age_days:
            stale.append(f"{doc} ({age} days)")
        result = "incomplete" if problems else "stale" if age > max_age_days else "ok"
        rows.append(
            {
                "document": doc,
                "result": result,
                "words": words,
                "placeholders": len(hits),
                "updated": updated.isoformat(),
                "age_days": age,
                "age_from": source,
            }
        )
    evidence = {"documents": rows}
    if fails:
        return Outcome.failed(
            f"{len(fails)} of {len(documents)} runbooks are not ready: " + "; ".join(fails),
            evidence=evidence,
            findings=findings,
        )
    if stale:
        return Outcome.warn(
            f"All {len(documents)} runbooks are complete, but some were not updated for over "
            f"{max_age_days} days: " + ", ".join(stale),
            evidence=evidence,
        )
    return Outcome.passed(
        f"All {len(documents)} runbooks exist, are complete and were updated within "
        f"{max_age_days} days",
        evidence=evidence,
    )


async def _syntax_error(host: Host, path: str, timeout: float) -> str | None:
    from golive import subproc

    try:
        first = (await host.read_bytes(path, 200)).split(b"\n", 1)[0].decode("utf-8", "replace")
    except OSError:
        return None
    shell = (
        "bash"
        if re.match(r"#!\s*\S*(bash)", first)
        else "sh"
        if re.match(r"#!\s*\S*/sh\b", first)
        else None
    )
    if shell is None:
        return None
    try:
        done = await host.run([shell, "-n", path], timeout=timeout)
    except OSError:
        return None
    if done.ok:
        return None
    return " ".join(subproc.tail(done.stderr, 2)) or f"{shell} -n failed"


@check(
    id="operations.scripts",
    title="The operational scripts are installed, executable and not writable by others",
    severity=Severity.HIGH,
    needs=("host",),
    tags=("operations",),
    remediation=(
        "Install each script with `install -m 0755 -o root`, remove write access for others "
        "(chmod o-w), and fix syntax errors."
    ),
)
async def scripts(
    ctx: Context,
    scripts: list[str] = DEFAULT_SCRIPTS,
    syntax_check: bool = True,
) -> Outcome:
    """Each script (absolute, or relative to the project root) exists, is a regular file,
    is executable, and neither it nor its directory is writable by others (a directory
    with the sticky bit is allowed): FAIL otherwise. A group-writable script is a WARN.
    Shell scripts (#!/bin/sh, bash) are parsed with `sh -n`/`bash -n` (no execution):
    FAIL on a syntax error. Runs on every host of `targets.hosts` (`sh -n`/`bash -n`
    there)."""
    rows: list[dict[str, Any]] = []
    fails: list[str] = []
    warns: list[str] = []
    host = ctx.host
    for raw in scripts:
        path = ctx.host_path(raw)
        st = await host.stat(path)
        if st is None:
            rows.append({"script": raw, "result": "missing"})
            fails.append(f"{raw} is missing")
            continue
        if not st.is_file:
            rows.append({"script": raw, "result": "not a file"})
            fails.append(f"{raw} is not a regular file")
            continue
        mode = st.perm
        parent = os.path.dirname(path) or "."
        dst = await host.stat(parent)
        dmode = dst.mode if dst is not None else 0
        problems = []
        executable = bool(mode & 0o111) and (not host.is_local or os.access(path, os.X_OK))
        if not executable:
            problems.append(f"is not executable (mode {mode:04o})")
        if mode & stat.S_IWOTH:
            problems.append(f"is writable by others (mode {mode:04o})")
        if dmode & stat.S_IWOTH and not dmode & stat.S_ISVTX:
            problems.append(f"sits in a directory anyone can write to ({parent})")
        error = await _syntax_error(host, path, min(10.0, ctx.timeout)) if syntax_check else None
        if error:
            problems.append(f"has a syntax error: {error}")
        if problems:
            fails.append(f"{raw} " + ", ".join(problems))
        elif mode & stat.S_IWGRP:
            warns.append(f"{raw} is group-writable (mode {mode:04o})")
        rows.append({"script": raw, "result": "bad" if problems else "ok", "mode": f"{mode:04o}"})
    evidence = {"scripts": rows}
    if fails:
        return Outcome.failed(_sentence("; ".join(fails)), evidence=evidence)
    if warns:
        return Outcome.warn(_sentence("; ".join(warns)), evidence=evidence)
    return Outcome.passed(
        f"All {len(scripts)} operational scripts are installed, executable and not writable "
        "by others",
        evidence=evidence,
    )


_ENV_LINE = re.compile(r"^[A-Za-z_]\w*\s*=")
_SECRET_ASSIGN = re.compile(r"\b(\w*(?:PASS|SECRET|TOKEN|KEY|PWD)\w*)=(\S+)", re.IGNORECASE)
_CRON_NAME = re.compile(r"^[A-Za-z0-9_-]+$")  # run-parts/cron ignore other file names


def _cron_entries(text: str, source: str, system: bool) -> list[dict[str, str]]:
    """(schedule, command) of each job line; system crontabs have a user field."""
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#") or _ENV_LINE.match(line):
            continue
        parts = line.split()
        if parts[0].startswith("@"):
            schedule, rest = parts[0], parts[1:]
        else:
            schedule, rest = " ".join(parts[:5]), parts[5:]
        if system and rest:
            rest = rest[1:]
        out.append({"source": f"{source}:{n}", "schedule": schedule, "command": " ".join(rest)})
    return out


def _daemon_running() -> bool:
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if name in ("cron", "crond", "cronie", "fcron", "dcron"):
            return True
    return False


async def _crontabs(
    host: Host,
    user: str | None,
    files: list[str],
    dirs: list[str],
    timeout: float,
    user_crontab: bool = True,
    crontab_files: list[str] = [],  # noqa: B006 - read only
) -> tuple[list[dict[str, str]], list[str]]:
    from golive import subproc

    entries: list[dict[str, str]] = []
    notes: list[str] = []
    argv = ["crontab", "-l"] + (["-u", user] if user else [])
    label = f"crontab of {user}" if user else "crontab of the current user"
    try:
        done = await host.run(argv, timeout=timeout) if user_crontab else None
    except OSError:
        done = None
        notes.append("the crontab command is not installed")
    if done is not None and done.ok:
        entries += _cron_entries(done.stdout, label, system=False)
    elif done is not None and "no crontab" in done.stderr.lower():
        notes.append(f"{label}: none installed")
    elif done is not None and done.timed_out:
        where = "" if host.is_local else f" on host {host.name}"
        raise TimeoutError(f"crontab -l did not finish within {timeout:g}s{where}")
    elif done is not None:
        notes.append(f"{label}: {' '.join(subproc.tail(done.stderr, 2)) or 'crontab -l failed'}")
    for p in crontab_files:  # user crontabs: no user field
        try:
            text = await host.read_text(p)
        except OSError as exc:
            notes.append(f"cannot read the crontab file {p}: {exc.strerror or exc}")
            continue
        entries += _cron_entries(text, p, system=False)
    paths = list(files)
    for d in dirs:
        st = await host.stat(d)
        if st is None or not st.is_dir:
            continue
        try:
            names = await host.listdir(d)
        except OSError:
            continue
        for name in names:
            if name.startswith("."):
                continue  # hidden files (e.g. Debian's .placeholder) are not jobs
            f = os.path.join(d, name)
            fst = await host.stat(f)
            if fst is None or not fst.is_file:
                continue
            if not _CRON_NAME.match(name):
                notes.append(
                    f"{f} is ignored by cron (names may only hold letters, digits, _ and -)"
                )
            else:
                paths.append(f)
    for p in paths:
        try:
            text = await host.read_text(p)
        except OSError:
            continue
        entries += _cron_entries(text, p, system=True)
    return entries, notes


async def _daemon_running_on(host: Host) -> bool:
    """A cron daemon process runs on the host (/proc locally, `ps` over SSH)."""
    if host.is_local:
        return await asyncio.to_thread(_daemon_running)
    try:
        done = await host.run(["ps", "-e", "-o", "comm="], timeout=10)
    except OSError:
        return False
    names = {line.strip() for line in done.stdout.splitlines()}
    return bool(names & {"cron", "crond", "cronie", "fcron", "dcron"})


@check(
    id="operations.cron",
    title="Backup and health-check jobs are scheduled in cron",
    severity=Severity.HIGH,
    needs=("host",),
    tags=("operations", "backup"),
    remediation="Install the jobs (e.g. `crontab ops/crontab`) and keep the cron daemon running.",
)
async def cron(
    ctx: Context,
    user: str | None = None,
    files: list[str] = ["/etc/crontab"],  # noqa: B006
    dirs: list[str] = ["/etc/cron.d"],  # noqa: B006
    jobs: dict[str, str] = {"backup": "backup", "health": "health"},  # noqa: B006
    check_daemon: bool = True,
    user_crontab: bool = True,
    crontab_files: list[str] = [],  # noqa: B006
) -> Outcome:
    """Reads `crontab -l` (of `user`, default the user golive runs as; not with
    `user_crontab: false`), the user-format `crontab_files` (no user field: what
    `crontab FILE` installs, e.g. /var/spool/cron/crontabs/NAME or a project's
    ops/crontab; relative paths start at the project root), the system crontab `files`
    and every file in `dirs` (with their user field). Each required job (name -> regular
    expression searched in the command, case-insensitive) must be there with a schedule
    croniter accepts; the next run of each is shown. FAIL when a job is missing or a
    schedule is invalid. With `check_daemon`, WARN when no cron daemon process runs on
    this host (the jobs would never start). Files in cron.d whose names cron ignores (e.g.
    with a dot) are reported and not counted; an unreadable crontab file is a note. Runs on
    every host of `targets.hosts` (`crontab -l` and `ps` over SSH, files over SFTP)."""
    from croniter import croniter

    # a loaded remote host may take seconds to start a session: half the check's time
    cap = min(10.0, ctx.timeout) if ctx.host.is_local else max(1.0, ctx.timeout / 2)
    entries, notes = await _crontabs(
        ctx.host,
        user,
        files,
        dirs,
        cap,
        user_crontab,
        [ctx.host_path(f) for f in crontab_files],
    )
    now = datetime.now().astimezone()
    rows: list[dict[str, Any]] = []
    fails: list[str] = []
    for e in entries:
        for _name, value in _SECRET_ASSIGN.findall(e["command"]):
            ctx.secret(value)
    for job, pattern in jobs.items():
        rx = re.compile(pattern, re.IGNORECASE)
        found = [e for e in entries if rx.search(e["command"])]
        if not found:
            fails.append(f"no {job} job (no command matches /{pattern}/)")
            rows.append({"job": job, "result": "missing"})
            continue
        for e in found:
            row: dict[str, Any] = {
                "job": job,
                "source": e["source"],
                "schedule": e["schedule"],
                "command": e["command"][:160],
            }
            if e["schedule"] == "@reboot":
                row.update(result="ok", next_run="at the next boot")
            elif croniter.is_valid(e["schedule"]):
                row.update(
                    result="ok",
                    next_run=croniter(e["schedule"], now)
                    .get_next(datetime)
                    .isoformat(timespec="minutes"),
                )
            else:
                row["result"] = "invalid schedule"
                fails.append(
                    f"{job} job at {e['source']} has an invalid schedule {e['schedule']!r}"
                )
            rows.append(row)
    evidence: dict[str, Any] = {"jobs": rows, "lines_read": len(entries)}
    if notes:
        evidence["notes"] = notes
    if fails:
        return Outcome.failed(_sentence("; ".join(fails)), evidence=evidence)
    first: dict[str, str] = {}
    for r in rows:  # the earliest next run of each job
        first[r["job"]] = min(first.get(r["job"], r["next_run"]), r["next_run"])
    nexts = ", ".join(f"{job} next at {when}" for job, when in first.items())
    if check_daemon and not await _daemon_running_on(ctx.host):
        evidence["daemon"] = "not running"
        return Outcome.warn(
            f"Jobs are scheduled ({nexts}) but no cron daemon runs on this host", evidence=evidence
        )
    return Outcome.passed(
        f"{len(jobs)} required cron jobs are scheduled: {nexts}", evidence=evidence
    )


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d[\d\s().-]{5,}\d")
_OTHER_REACH = re.compile(
    r"(?i)\b(pagerduty|opsgenie|slack|teams|matrix|signal|telegram)\b|https?://|#[\w-]+|(?<![\w.])@\w+"
)


def _norm_role(role: str) -> str:
    return " ".join(re.sub(r"[_\-]+", " ", role).lower().split())


def _flatten(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(_flatten(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(_flatten(v) for v in value)
    return "" if value is None else str(value)


def _read_contacts(data: Any) -> dict[str, str]:
    if isinstance(data, dict) and isinstance(data.get("contacts"), (dict, list)):
        data = data["contacts"]
    if isinstance(data, list):
        return {
            _norm_role(str(i.get("role", ""))): _flatten(
                {k: v for k, v in i.items() if k != "role"}
            )
            for i in data
            if isinstance(i, dict)
        }
    if isinstance(data, dict):
        return {_norm_role(str(k)): _flatten(v) for k, v in data.items()}
    raise ValueError(
        "expected a mapping of role -> contact, or a list of {role, name, email, phone}"
    )


@check(
    id="operations.contacts",
    title="Emergency contacts are filled in for every on-call role",
    severity=Severity.HIGH,
    needs=("host",),
    tags=("operations",),
    remediation=(
        "Fill in a name and a phone number or e-mail for each role (params `contacts:` or "
        "the contacts file)."
    ),
)
async def contacts(
    ctx: Context,
    contacts: dict[str, str] = {},  # noqa: B006
    file: str | None = None,
    roles: list[str] = DEFAULT_ROLES,
    placeholders: list[str] = CONTACT_PLACEHOLDERS,
) -> Outcome:
    """Every required role (technical lead, database admin, security officer, operations
    manager by default; `_`/`-` and case do not matter) has a contact in `contacts`
    (role -> "Name, phone, e-mail") or in `file` (YAML or JSON: a mapping role -> text or
    {name, phone, email}, or a list of {role, ...}; relative to the project root). FAIL
    when a role is missing, still holds a placeholder, or gives no way to reach the person
    (an e-mail address, a phone number, or a pager/chat handle). The report shows which
    means of contact were found, not the details themselves. Runs on every host of
    `targets.hosts` (`file` is read on the host, over SFTP); select the host that holds the
    contacts file with `hosts:`."""
    import yaml

    found: dict[str, str] = {_norm_role(k): v for k, v in contacts.items()}
    source = "golive.yaml params" if contacts else ""
    if file:
        p = str(_resolve(ctx, file)) if ctx.host.is_local else ctx.host_path(file)
        try:
            raw = await ctx.host.read_bytes(p)
            data = yaml.safe_load(raw.decode("utf-8"))
            found.update(_read_contacts(data))
        except FileNotFoundError:
            return Outcome.failed(f"Contacts file {p} does not exist", evidence={"file": str(p)})
        except (OSError, yaml.YAMLError, ValueError) as exc:
            return Outcome.failed(
                f"Contacts file {p} cannot be read: {' '.join(str(exc).split())[:200]}"
            )
        source = f"{source} and {p}" if source else str(p)
    pattern = _placeholder_pattern(placeholders)
    rows = []
    fails = []
    for role in roles:
        text = found.get(_norm_role(role), "").strip()
        means = [
            m
            for m, rx in (("e-mail", _EMAIL), ("phone", _PHONE), ("pager/chat", _OTHER_REACH))
            if rx.search(text)
        ]
        hit = pattern.search(text) if pattern and text else None
        if not text:
            result = "missing"
        elif hit:
            result = f"placeholder {hit.group(0)!r}"
        elif not means:
            result = "no e-mail, phone or pager given"
        elif not re.search(r"[^\W\d_]{2,}", _EMAIL.sub("", text)):
            result = "no name given"
        else:
            result = "ok"
        if result != "ok":
            fails.append(f"{role}: {result}")
        rows.append({"role": role, "result": result, "reachable_by": ", ".join(means)})
    evidence = {"source": source or "none", "contacts": rows}
    if not found:
        return Outcome.failed(
            "No emergency contacts are configured (set params.contacts or params.file)",
            evidence=evidence,
        )
    if fails:
        return Outcome.failed(
            f"{len(fails)} of {len(roles)} emergency contacts are not ready: " + "; ".join(fails),
            evidence=evidence,
        )
    return Outcome.passed(
        f"All {len(roles)} emergency contacts have a name and a way to reach them",
        evidence=evidence,
    )
