"""checks/operations.py against real state: runbook files with real content and dates,
scripts with real modes, the real crontab of the user running the tests (saved and
restored around each test: `crontab` works without the daemon) and cron.d-style files,
and contacts from params and from a YAML file."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from golive.models import CheckResult, Status
from golive.testing import run_check

if TYPE_CHECKING:
    from demo.stack import Stack

RUNBOOKS = [
    "ops/DISASTER_RECOVERY.md",
    "ops/INCIDENT_RESPONSE.md",
    "ops/PRODUCTION_RUNBOOK.md",
    "ops/MONITORING_PLAYBOOK.md",
    "ops/BACKUP_PROCEDURES.md",
]
BODY = (
    "Restore the database from the newest dump with pg_restore, verify the row counts "
    "of task and task_run against the monitoring dashboard, then restart the workers one "
    "at a time and watch the queue depth fall back under its alert threshold. "
) * 8  # about 300 words


def runbook_project(root: Path) -> dict[str, Any]:
    for rel in RUNBOOKS:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {path.stem}\n\n{BODY}\n")
    return {"project": {"root": str(root)}}


def test_runbooks_pass_when_complete_and_current(tmp_path: Path) -> None:
    result = run_check("operations.runbooks", targets=runbook_project(tmp_path))
    assert result.status is Status.PASS, result.summary
    assert result.summary == "All 5 runbooks exist, are complete and were updated within 180 days"
    row = result.evidence["documents"][0]
    assert (
        row["result"] == "ok" and row["words"] > 150 and row["age_from"] == "file modification time"
    )


def test_runbooks_fail_when_missing_trivial_or_holding_placeholders(tmp_path: Path) -> None:
    targets = runbook_project(tmp_path)
    (tmp_path / RUNBOOKS[0]).unlink()
    (tmp_path / RUNBOOKS[1]).write_text("# Incident response\n\nCall someone.\n")
    (tmp_path / RUNBOOKS[2]).write_text(
        f"# Runbook\n\n{BODY}\n\nOn-call phone: [FILL IN]\nEscalation: TBD\n"
        "Mention of todo lists and TODOS is fine.\n"
    )
    result = run_check("operations.runbooks", targets=targets)
    assert result.status is Status.FAIL
    assert result.summary == (
        "3 of 5 runbooks are not ready: ops/DISASTER_RECOVERY.md is missing; "
        "ops/INCIDENT_RESPONSE.md has only 4 words; "
        "ops/PRODUCTION_RUNBOOK.md has 2 placeholder(s) ([FILL IN], TBD)"
    )
    assert [(f.path, f.line, f.message) for f in result.findings] == [
        ("ops/PRODUCTION_RUNBOOK.md", 5, "placeholder '[FILL IN]' left in the runbook"),
        ("ops/PRODUCTION_RUNBOOK.md", 6, "placeholder 'TBD' left in the runbook"),
    ]


def test_stale_runbooks_warn_by_mtime_or_stated_date(tmp_path: Path) -> None:
    targets = runbook_project(tmp_path)
    old = time.time() - 400 * 86400
    os.utime(tmp_path / RUNBOOKS[3], (old, old))
    (tmp_path / RUNBOOKS[4]).write_text(f"# Backups\n\nLast updated: 2020-01-31\n\n{BODY}\n")
    result = run_check("operations.runbooks", targets=targets)
    assert result.status is Status.WARN
    assert result.summary.startswith(
        "All 5 runbooks are complete, but some were not updated for over 180 days: "
        "ops/MONITORING_PLAYBOOK.md (400 days), ops/BACKUP_PROCEDURES.md ("
    )
    stated = result.evidence["documents"][4]
    assert stated["updated"] == "2020-01-31" and stated["age_from"] == "stated in the document"
    result = run_check("operations.runbooks", targets=targets, params={"max_age_days": 10000})
    assert result.status is Status.PASS


@pytest.mark.integration
def test_runbooks_of_the_reference_project(stack: Stack) -> None:
    """The demo ships its own set of runbooks: check exactly those names."""
    docs = sorted(f"ops/{p.name}" for p in (stack.project_root / "ops").glob("*.md"))
    assert docs, "the reference project has runbooks"
    result = run_check(
        "operations.runbooks",
        targets={"project": {"root": str(stack.project_root)}},
        params={"documents": docs, "max_age_days": 100000},
    )
    assert result.status is Status.PASS, result.summary
    # among them, the five documents the checklist requires by default
    result = run_check(
        "operations.runbooks", targets={"project": {"root": str(stack.project_root)}}
    )
    assert result.status is Status.PASS, result.summary
    assert [d["document"] for d in result.evidence["documents"]] == RUNBOOKS


# ---------------------------------------------------------------------------------------------
# operations.scripts


@pytest.fixture
def bindir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="golive-bin-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d)


def script(d: Path, name: str, mode: int, body: str = "echo ok\n") -> str:
    p = d / name
    p.write_text("#!/bin/bash\nset -eu\n" + body)
    p.chmod(mode)
    return str(p)


def test_scripts_pass_when_installed_executable_and_private(bindir: Path) -> None:
    paths = [
        script(bindir, n, 0o755)
        for n in ("daily_backup.sh", "health_check.sh", "service_restart.sh")
    ]
    result = run_check("operations.scripts", params={"scripts": paths})
    assert result.status is Status.PASS, result.summary
    assert (
        result.summary
        == "All 3 operational scripts are installed, executable and not writable by others"
    )
    assert [r["mode"] for r in result.evidence["scripts"]] == ["0755"] * 3


def test_scripts_fail_when_missing_not_executable_or_writable_by_others(bindir: Path) -> None:
    noexec = script(bindir, "daily_backup.sh", 0o644)
    open_w = script(bindir, "health_check.sh", 0o757)
    broken = script(bindir, "service_restart.sh", 0o755, body="if then fi (\n")
    missing = str(bindir / "nope.sh")
    result = run_check("operations.scripts", params={"scripts": [noexec, open_w, broken, missing]})
    assert result.status is Status.FAIL
    assert f"{noexec} is not executable (mode 0644)" in result.summary
    assert f"{open_w} is writable by others (mode 0757)" in result.summary
    assert f"{broken} has a syntax error: " in result.summary
    assert f"{missing} is missing" in result.summary


def test_scripts_in_a_world_writable_directory_fail_group_writable_warn(bindir: Path) -> None:
    path = script(bindir, "daily_backup.sh", 0o775)
    result = run_check("operations.scripts", params={"scripts": [path]})
    assert result.status is Status.WARN
    assert result.summary == f"{path} is group-writable (mode 0775)"
    bindir.chmod(0o777)
    result = run_check("operations.scripts", params={"scripts": [path]})
    assert result.status is Status.FAIL
    assert result.summary == f"{path} sits in a directory anyone can write to ({bindir})"


@pytest.mark.integration
def test_scripts_of_the_reference_project(stack: Stack) -> None:
    names = ["daily_backup.sh", "health_check.sh", "service_restart.sh"]
    result = run_check(
        "operations.scripts",
        targets={"project": {"root": str(stack.project_root)}},
        params={"scripts": [f"ops/scripts/{n}" for n in names]},
    )
    assert result.status is Status.PASS, result.summary


# ---------------------------------------------------------------------------------------------
# operations.cron


@pytest.fixture
def user_crontab(tmp_path: Path) -> Iterator[Any]:
    """Install crontabs for the current user; the previous one is restored afterwards."""
    if shutil.which("crontab") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("crontab is not installed (Debian package cron; CI=true)")
        pytest.skip("crontab is not installed (Debian package cron)")
    before = subprocess.run(["crontab", "-l"], capture_output=True, text=True)

    def install(text: str) -> None:
        path = tmp_path / "crontab"
        path.write_text(text)
        subprocess.run(["crontab", str(path)], check=True, capture_output=True)

    yield install
    if before.returncode == 0:
        install(before.stdout)
    else:
        subprocess.run(["crontab", "-r"], capture_output=True)


CRONTAB = (
    "SHELL=/bin/bash\n"
    "# nightly backup\n"
    "15 2 * * * PGPASSWORD=hunter2-secret /usr/local/bin/daily_backup.sh 2>&1 | logger\n"
    "*/5 * * * * /usr/local/bin/health_check.sh --restart-after 3\n"
)


def cron(**params: Any) -> CheckResult:
    params.setdefault("files", [])
    params.setdefault("dirs", [])
    params.setdefault("check_daemon", False)
    return run_check("operations.cron", params=params)


def test_cron_passes_with_backup_and_health_jobs(user_crontab: Any) -> None:
    user_crontab(CRONTAB)
    result = cron()
    assert result.status is Status.PASS, result.summary
    assert result.summary.startswith("2 required cron jobs are scheduled: backup next at ")
    jobs = {r["job"]: r for r in result.evidence["jobs"]}
    assert jobs["backup"]["schedule"] == "15 2 * * *"
    assert jobs["backup"]["next_run"].endswith("02:15") or "T02:15" in jobs["backup"]["next_run"]
    assert jobs["health"]["source"] == "crontab of the current user:4"
    assert "hunter2-secret" not in repr(result)  # secrets in commands are redacted
    assert "PGPASSWORD=***" in jobs["backup"]["command"]


def test_cron_fails_without_the_health_job(user_crontab: Any) -> None:
    user_crontab("15 2 * * * /usr/local/bin/daily_backup.sh\n# */5 * * * * health_check.sh\n")
    result = cron()
    assert result.status is Status.FAIL
    assert result.summary == "No health job (no command matches /health/)"


def test_cron_reads_cron_d_files_and_rejects_bad_schedules(
    user_crontab: Any, tmp_path: Path
) -> None:
    user_crontab("# nothing here\n")
    crond = tmp_path / "cron.d"
    crond.mkdir()
    (crond / "ordinaut").write_text(
        "15 2 * * * root /usr/local/bin/daily_backup.sh\n61 * * * * root /usr/local/bin/health_check.sh\n"
    )
    (crond / "ordinaut.cron").write_text("*/5 * * * * root /usr/local/bin/health_check.sh\n")
    result = cron(dirs=[str(crond)])
    assert result.status is Status.FAIL
    assert (
        result.summary == f"Health job at {crond}/ordinaut:2 has an invalid schedule '61 * * * *'"
    )
    assert (
        f"{crond}/ordinaut.cron is ignored by cron (names may only hold letters, digits, _ and -)"
        in result.evidence["notes"]
    )
    (crond / "ordinaut").write_text(
        "15 2 * * * root /usr/local/bin/daily_backup.sh\n@hourly root /usr/local/bin/health_check.sh\n"
    )
    result = cron(dirs=[str(crond)])
    assert result.status is Status.PASS, result.summary
    assert {r["source"] for r in result.evidence["jobs"]} == {
        f"{crond}/ordinaut:1",
        f"{crond}/ordinaut:2",
    }


def test_cron_reads_user_format_crontab_files_of_the_project(tmp_path: Path) -> None:
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "crontab").write_text(CRONTAB)
    params: dict[str, Any] = {
        "user_crontab": False,
        "files": [],
        "dirs": [],
        "check_daemon": False,
        "crontab_files": ["ops/crontab"],
    }
    result = run_check(
        "operations.cron", targets={"project": {"root": str(tmp_path)}}, params=params
    )
    assert result.status is Status.PASS, result.summary
    jobs = {r["job"]: r for r in result.evidence["jobs"]}
    # no user field: the whole rest of the line is the command
    assert jobs["health"]["command"] == "/usr/local/bin/health_check.sh --restart-after 3"
    assert jobs["health"]["source"] == f"{tmp_path}/ops/crontab:4"
    assert "hunter2-secret" not in repr(result)

    (tmp_path / "ops" / "crontab").write_text("15 2 * * * /usr/local/bin/daily_backup.sh\n")
    params["crontab_files"] = ["ops/crontab", "ops/missing"]
    result = run_check(
        "operations.cron", targets={"project": {"root": str(tmp_path)}}, params=params
    )
    assert result.status is Status.FAIL
    assert result.summary == "No health job (no command matches /health/)"
    assert result.evidence["notes"] == [
        f"cannot read the crontab file {tmp_path}/ops/missing: No such file or directory"
    ]


def test_cron_without_the_user_crontab_ignores_it(user_crontab: Any) -> None:
    user_crontab(CRONTAB)
    result = cron(user_crontab=False)
    assert result.status is Status.FAIL
    assert result.summary == (
        "No backup job (no command matches /backup/); no health job (no command matches /health/)"
    )
    assert result.evidence["lines_read"] == 0


@pytest.mark.integration
def test_cron_jobs_of_the_reference_project(stack: Stack) -> None:
    result = run_check(
        "operations.cron",
        targets={"project": {"root": str(stack.project_root)}},
        params={
            "user_crontab": False,
            "files": [],
            "dirs": [],
            "check_daemon": False,
            "crontab_files": ["ops/crontab"],
        },
    )
    assert result.status is Status.PASS, result.summary
    jobs = {r["job"]: r for r in result.evidence["jobs"]}
    assert jobs["backup"]["command"].startswith("/usr/local/bin/daily_backup.sh")
    assert jobs["health"]["schedule"] == "*/5 * * * *"


def _cron_daemon_running() -> bool:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() in ("cron", "crond"):
                return True
        except OSError:
            continue
    return False


def test_cron_warns_when_no_daemon_runs(user_crontab: Any) -> None:
    user_crontab(CRONTAB)
    result = cron(check_daemon=True)
    if _cron_daemon_running():
        assert result.status is Status.PASS
    else:
        assert result.status is Status.WARN
        assert result.summary.endswith("but no cron daemon runs on this host")


# ---------------------------------------------------------------------------------------------
# operations.contacts

GOOD = {
    "technical lead": "Ana Pereira, +351 912 345 678",
    "Database_Admin": "Bo Chen <bo.chen@corp.test>",
    "security-officer": "Chidi Obi, pagerduty: sec-oncall",
    "Operations Manager": "Dee Rao, dee@corp.test, +1 415 555 0134",
}


def test_contacts_pass_when_every_role_is_reachable() -> None:
    result = run_check("operations.contacts", params={"contacts": GOOD})
    assert result.status is Status.PASS, result.summary
    assert result.summary == "All 4 emergency contacts have a name and a way to reach them"
    assert [r["reachable_by"] for r in result.evidence["contacts"]] == [
        "phone",
        "e-mail",
        "pager/chat",
        "e-mail, phone",
    ]
    assert "912 345" not in repr(result.evidence)  # details stay out of the report


def test_contacts_fail_on_placeholders_missing_roles_and_no_means() -> None:
    contacts = {**GOOD, "technical lead": "[FILL IN]", "security officer": "Chidi Obi"}
    del contacts["Operations Manager"]
    del contacts["security-officer"]
    result = run_check("operations.contacts", params={"contacts": contacts})
    assert result.status is Status.FAIL
    assert result.summary == (
        "3 of 4 emergency contacts are not ready: technical lead: placeholder '[FILL IN]'; "
        "security officer: no e-mail, phone or pager given; operations manager: missing"
    )


def test_contacts_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "contacts.yaml").write_text(
        "contacts:\n"
        "  - {role: technical lead, name: Ana Pereira, phone: '+351 912 345 678'}\n"
        "  - {role: database admin, name: Bo Chen, email: bo.chen@corp.test}\n"
        "  - {role: security officer, name: Chidi Obi, email: chidi@corp.test}\n"
        "  - {role: operations manager, name: '[Name]', phone: '[Phone]'}\n"
    )
    targets = {"project": {"root": str(tmp_path)}}
    result = run_check("operations.contacts", targets=targets, params={"file": "contacts.yaml"})
    assert result.status is Status.FAIL
    assert (
        result.summary
        == "1 of 4 emergency contacts are not ready: operations manager: placeholder '[Name]'"
    )
    assert result.evidence["source"] == str(tmp_path / "contacts.yaml")
    result = run_check("operations.contacts", targets=targets, params={"file": "missing.yaml"})
    assert result.status is Status.FAIL
    assert result.summary == f"Contacts file {tmp_path / 'missing.yaml'} does not exist"


def test_the_default_checklist_holds_fill_in_placeholders() -> None:
    from golive.config import load_config
    from golive.engine import Options
    from golive.testing import run_config

    config = load_config(["golive.yaml"], env={})
    run = run_config(config, checks=["operations.contacts"], options=Options())
    result = run.results[0]
    assert result.status is Status.FAIL
    assert result.summary.startswith(
        "4 of 4 emergency contacts are not ready: technical lead: placeholder '[FILL IN]'"
    )
