"""checks/database.py against the reference stack's real PostgreSQL 15.

Healthy cases run on the demo database as the application role. Failing states are real
and undone: a saturated connection pool (``demo.faults.saturated_connections``), a session
left idle in a transaction, a lock wait, role settings changed with ALTER ROLE, bloated /
never-analysed / unindexed tables created by the superuser, stale backups
(``demo.faults.stale_backups``) and broken backup directories, scripts and crontabs in
temporary directories. The read-only proof runs the four database-facing sections of the
default checklist against a scratch database and compares pg_stat_user_tables counters.
"""

from __future__ import annotations

import shutil
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from checks import _backup, _pg
from golive.config import load_config
from golive.engine import Options
from golive.models import Status
from golive.testing import run_check, run_config
from tests.checks.pgutil import (
    admin_app,
    other_sessions,
    poll,
    q,
    run,
    scratch_database,
    scratch_table,
)

if TYPE_CHECKING:
    from demo.stack import Stack

ROOT = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------------------------------------
# pure helpers


def test_sizes_and_versions_parse_like_postgresql_writes_them() -> None:
    assert _pg.parse_size("512MB") == 512 * 1024**2
    assert _pg.parse_size("16GiB") == 16 * 1024**3
    assert _pg.parse_size("1048576") == 1024**2
    with pytest.raises(ValueError, match="is not a size"):
        _pg.parse_size("lots")
    assert _pg.setting_bytes("16384", "8kB") == 128 * 1024**2
    assert _pg.setting_bytes("4096", "kB") == 4 * 1024**2
    assert _pg.human(128 * 1024**2) == "128MB"
    assert _pg.human(6 * 1024**3) == "6GB"
    assert _pg.human(1.5 * 1024**3) == "1.5GB"
    assert _pg.version_num("15") == 150000
    assert _pg.version_num("15.2") == 150002
    assert _pg.version_num("9.6") == 90600
    with pytest.raises(ValueError, match="not a PostgreSQL version"):
        _pg.version_num("fifteen")
    assert _pg.quoted("app.Task") == '"app"."Task"'


def test_cron_lines_skip_comments_and_variables_and_read_specials() -> None:
    text = (
        "SHELL=/bin/bash\n# 15 2 * * * /usr/local/bin/daily_backup.sh\n\n"
        "15 2 * * * /usr/local/bin/daily_backup.sh 2>&1 | logger\n"
        "@daily root /opt/backup.sh\n*/5 * * * *\n"
    )
    assert _backup.cron_lines(text) == [
        (4, "15 2 * * *", "/usr/local/bin/daily_backup.sh 2>&1 | logger"),
        (5, "@daily", "root /opt/backup.sh"),
    ]
    assert _backup.longest_gap_hours("15 2 * * *") == 24
    assert _backup.longest_gap_hours("0 3 * * 0") == 168
    assert _backup.longest_gap_hours("@reboot") is None
    assert _backup.longest_gap_hours("not a schedule") is None


# ---------------------------------------------------------------------------------------------
# database.version


@pytest.mark.integration
def test_version_passes_and_is_reported(stack: Stack) -> None:
    r = run(stack, "database.version", params={"min_version": "15", "eol_warn_days": 0})
    major = int(r.evidence["server_version_num"]) // 10000
    if datetime.now(timezone.utc).date() > _pg.PG_EOL[major]:
        assert r.status is Status.FAIL and "end of life" in r.summary
    else:
        assert r.status is Status.PASS, r.summary
        assert r.summary == f"PostgreSQL {r.evidence['server_version']} meets the minimum 15"
    assert r.evidence["server_version"].startswith(f"{major}.")


@pytest.mark.integration
def test_version_below_minimum_fails(stack: Stack) -> None:
    r = run(stack, "database.version", params={"min_version": "99.1"})
    assert r.status is Status.FAIL
    assert r.summary.endswith("is older than the required 99.1")


@pytest.mark.integration
def test_version_near_end_of_life_warns(stack: Stack) -> None:
    r = run(stack, "database.version", params={"min_version": "10", "eol_warn_days": 100_000})
    assert r.status in (Status.WARN, Status.FAIL)
    assert "end of life" in r.summary
    assert r.evidence["end_of_life"]


@pytest.mark.integration
def test_version_with_a_malformed_minimum_is_an_error(stack: Stack) -> None:
    r = run(stack, "database.version", params={"min_version": "fifteen"})
    assert r.status is Status.ERROR
    assert "not a PostgreSQL version" in r.summary


# ---------------------------------------------------------------------------------------------
# database.settings
#
# The stack's server runs with PostgreSQL's defaults (shared_buffers 128MB, work_mem 4MB,
# max_connections 100, checkpoint_completion_target 0.9) and effective_cache_size 512MB
# (demo.stack.postgres): they fit a 768MB server, and do not fit a 64GB one.


def _role_setting(stack: Stack, name: str, value: str | None) -> None:
    if value is None:
        q(stack.admin_dsn, f"ALTER ROLE orchestrator RESET {name}")
    else:
        q(stack.admin_dsn, f"ALTER ROLE orchestrator SET {name} = '{value}'")


@pytest.mark.integration
def test_settings_pass_when_they_fit_the_memory(stack: Stack) -> None:
    _role_setting(stack, "effective_cache_size", "512MB")
    try:
        r = run(stack, "database.settings", params={"memory": "768MB"})
    finally:
        _role_setting(stack, "effective_cache_size", None)
    assert r.status is Status.PASS, r.summary
    assert r.summary == "memory and checkpoint settings fit 768MB of memory"
    assert {s["setting"] for s in r.evidence["settings"]} == {
        "checkpoint_completion_target",
        "shared_buffers",
        "effective_cache_size",
        "work_mem",
        "max_connections",
    }
    assert all(s["ok"] for s in r.evidence["settings"])


@pytest.mark.integration
def test_settings_warn_with_recommended_values_for_a_big_server(stack: Stack) -> None:
    r = run(stack, "database.settings", params={"memory": "64GB"})
    assert r.status is Status.WARN
    assert "for 64GB of memory" in r.summary
    assert "shared_buffers 128MB (recommended 16GB)" in r.summary
    assert "effective_cache_size 512MB (recommended 48GB)" in r.summary
    bad = {s["setting"]: s for s in r.evidence["settings"] if not s["ok"]}
    assert bad["work_mem"]["why"].startswith("too small")


@pytest.mark.integration
def test_settings_warn_when_work_mem_times_connections_exceeds_memory(stack: Stack) -> None:
    _role_setting(stack, "work_mem", "1GB")
    _role_setting(stack, "effective_cache_size", "512MB")
    try:
        r = run(stack, "database.settings", params={"memory": "768MB"})
    finally:
        _role_setting(stack, "work_mem", None)
        _role_setting(stack, "effective_cache_size", None)
    assert r.status is Status.WARN
    assert "work_mem 1GB (recommended 4MB)" in r.summary
    assert "max_connections 100 (recommended 1)" in r.summary
    bad = {s["setting"]: s for s in r.evidence["settings"] if not s["ok"]}
    assert set(bad) == {"work_mem", "max_connections"}
    assert "exceeds the 640MB left beside shared_buffers" in bad["max_connections"]["why"]


@pytest.mark.integration
def test_settings_read_this_hosts_memory_for_a_local_server(stack: Stack) -> None:
    r = run(stack, "database.settings")
    assert r.evidence["memory_source"] == "this host"
    assert r.evidence["memory"] == _pg.human(_pg.host_memory() or 0)
    assert len(r.evidence["settings"]) == 5


# ---------------------------------------------------------------------------------------------
# database.connections


@pytest.mark.integration
def test_connections_pass_on_the_idle_stack(stack: Stack) -> None:
    r = run(stack, "database.connections")
    assert r.status is Status.PASS, r.summary
    assert r.evidence["max_connections"] == 100
    assert 1 <= r.evidence["used"] < 70
    assert r.summary.endswith("; no long idle transactions or lock waits")


@pytest.mark.integration
def test_connections_fail_when_the_pool_is_saturated(stack: Stack) -> None:
    from demo import faults

    with faults.saturated_connections(stack, 0.9) as opened:
        assert opened > 50
        r = run(stack, "database.connections")
    assert r.status is Status.FAIL, r.summary
    assert r.evidence["used"] >= 90
    assert "at or above the 90% limit" in r.summary
    assert r.measurements["connections_percent"] >= 90


@pytest.mark.integration
def test_connections_warn_above_seventy_percent(stack: Stack) -> None:
    from demo import faults

    with faults.saturated_connections(stack, 0.75):
        r = run(stack, "database.connections")
    assert r.status is Status.WARN, r.summary
    assert "above 70%" in r.summary


@pytest.mark.integration
def test_connections_warn_on_a_session_idle_in_transaction(stack: Stack) -> None:
    with psycopg.connect(stack.database_dsn, application_name="golive-test-idle-tx") as conn:
        conn.execute("SELECT 1")  # opens a transaction (autocommit is off) and stays idle
        poll(
            lambda: q(
                stack.admin_dsn,
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name = 'golive-test-idle-tx'"
                " AND state = 'idle in transaction'"
                " AND now() - state_change > interval '0.6 seconds'",
            )[0][0],
            lambda n: n == 1,
            what="an idle transaction older than 0.6s",
        )
        r = run(stack, "database.connections", params={"idle_in_transaction_limit": 0.5})
        conn.rollback()
    assert r.status is Status.WARN, r.summary
    assert "1 session(s) idle in a transaction for over 0.5s" in r.summary
    (idle,) = r.evidence["idle_in_transaction"]
    assert idle["application"] == "golive-test-idle-tx"
    assert idle["idle_seconds"] > 0.5


@pytest.mark.integration
def test_connections_warn_on_a_lock_wait_and_name_the_blocker(stack: Stack) -> None:
    with scratch_table(stack, "golive_test_locked", "CREATE TABLE {t} (id int)") as table:
        q(admin_app(stack), f"GRANT SELECT ON {table} TO orchestrator")
        holder = psycopg.connect(admin_app(stack))
        holder.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        holder_pid = holder.info.backend_pid
        waiter = threading.Thread(
            target=q, args=(stack.database_dsn, f"SELECT * FROM {table}"), daemon=True
        )
        waiter.start()
        try:
            poll(
                lambda: q(
                    stack.admin_dsn,
                    "SELECT count(*) FROM pg_locks WHERE NOT granted"
                    " AND now() - waitstart > interval '0.4 seconds'",
                )[0][0],
                lambda n: n >= 1,
                what="a lock wait older than 0.4s",
            )
            r = run(stack, "database.connections", params={"lock_wait_limit": 0.3})
        finally:
            holder.rollback()
            holder.close()
            waiter.join(10)
    assert r.status is Status.WARN, r.summary
    assert "lock request(s) waiting for over 0.3s" in r.summary
    wait = next(w for w in r.evidence["lock_waits"] if w["relation"] == table)
    assert holder_pid in wait["blocked_by"]
    assert wait["mode"] == "AccessShareLock"


# ---------------------------------------------------------------------------------------------
# database.table_health


@pytest.mark.integration
def test_table_health_passes_on_the_demo_tables(stack: Stack) -> None:
    # what autovacuum does within a minute: other tests may have just churned the tables
    q(admin_app(stack), "VACUUM (ANALYZE)")
    r = run(stack, "database.table_health")
    assert r.status is Status.PASS, r.summary
    names = {t["table"] for t in r.evidence["tables"]}
    assert {"public.task", "public.task_run", "public.due_work"} <= names
    assert {
        "inserts",
        "updates",
        "deletes",
        "dead_ratio",
        "last_vacuum",
        "last_analyze",
        "size",
    } <= set(r.evidence["tables"][0])


def _stats(stack: Stack, table: str) -> tuple[int, int]:
    row = q(
        admin_app(stack),
        "SELECT n_live_tup, n_dead_tup FROM pg_stat_user_tables WHERE relname = %s",
        (table,),
    )
    return (int(row[0][0]), int(row[0][1])) if row else (0, 0)


@pytest.mark.integration
def test_table_health_fails_on_a_heavily_bloated_table(stack: Stack) -> None:
    ddl = "CREATE TABLE {t} (id int, pad text) WITH (autovacuum_enabled = false)"
    with scratch_table(stack, "golive_test_bloat", ddl) as table:
        with psycopg.connect(admin_app(stack), autocommit=True) as conn:
            conn.execute(f"INSERT INTO {table} SELECT g, 'x' FROM generate_series(1, 20000) g")
            conn.execute(f"DELETE FROM {table} WHERE id > 5000")
            conn.execute("SELECT pg_stat_force_next_flush()")
        poll(lambda: _stats(stack, table), lambda s: s == (5000, 15000), what="bloat stats")
        r = run(stack, "database.table_health")
    assert r.status is Status.FAIL, r.summary
    problems = {p["problem"]: p for p in r.evidence["problems"] if p["table"].endswith(table)}
    assert problems["75% dead tuples (15000 dead, 5000 live)"]["level"] == "fail"
    assert f"public.{table}: 75% dead tuples" in r.summary


@pytest.mark.integration
def test_table_health_warns_on_a_big_table_never_analysed(stack: Stack) -> None:
    ddl = "CREATE TABLE {t} (id int) WITH (autovacuum_enabled = false)"
    with scratch_table(stack, "golive_test_unanalysed", ddl) as table:
        with psycopg.connect(admin_app(stack), autocommit=True) as conn:
            conn.execute(f"INSERT INTO {table} SELECT generate_series(1, 30000)")
            conn.execute("SELECT pg_stat_force_next_flush()")
        poll(lambda: _stats(stack, table), lambda s: s[0] == 30000, what="insert stats")
        r = run(stack, "database.table_health")
    assert r.status is Status.WARN, r.summary
    mine = {p["problem"] for p in r.evidence["problems"] if p["table"] == f"public.{table}"}
    assert mine == {"never analysed (30000 rows)", "autovacuum is disabled"}


# ---------------------------------------------------------------------------------------------
# database.index_usage


@pytest.mark.integration
def test_index_usage_passes_on_the_demo_schema(stack: Stack) -> None:
    r = run(stack, "database.index_usage")
    assert r.status is Status.PASS, r.summary
    assert r.evidence["foreign_keys_without_index"] == []


@pytest.mark.integration
def test_index_usage_fails_on_an_unindexed_foreign_key(stack: Stack) -> None:
    ddl = "CREATE TABLE {t} (id int PRIMARY KEY, agent_id uuid REFERENCES agent(id))"
    with scratch_table(stack, "golive_test_child", ddl) as table:
        r = run(stack, "database.index_usage")
        assert r.status is Status.FAIL, r.summary
        assert f"{table}(agent_id)" in r.summary
        (fk,) = r.evidence["foreign_keys_without_index"]
        assert fk["references"] == "agent"
        q(admin_app(stack), f"CREATE INDEX ON {table} (agent_id)")
        assert run(stack, "database.index_usage").status is Status.PASS


@pytest.mark.integration
def test_index_usage_warns_on_unused_indexes_and_scanned_big_tables(stack: Stack) -> None:
    ddl = "CREATE TABLE {t} (id int, code text)"
    with scratch_table(stack, "golive_test_scanned", ddl) as table:
        with psycopg.connect(admin_app(stack), autocommit=True) as conn:
            conn.execute(
                f"INSERT INTO {table} SELECT g, md5(g::text) FROM generate_series(1, 40000) g"
            )
            conn.execute(f"CREATE INDEX golive_test_unused_idx ON {table} (code)")
            conn.execute(f"ANALYZE {table}")
            for _ in range(12):
                conn.execute(f"SELECT count(*) FROM {table} WHERE id % 7 = 3")
            conn.execute("SELECT pg_stat_force_next_flush()")
        poll(
            lambda: q(
                admin_app(stack),
                "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = %s",
                (table,),
            )[0][0],
            lambda n: n >= 12,
            what="seq scan stats",
        )
        r = run(stack, "database.index_usage")
    assert r.status is Status.WARN, r.summary
    unused = {i["index"]: i for i in r.evidence["unused_indexes"]}
    assert "golive_test_unused_idx" in unused
    assert "unused index(es): golive_test_unused_idx" in r.summary
    scanned = {t["table"]: t for t in r.evidence["sequential_scan_tables"]}
    assert scanned[f"public.{table}"]["seq_scan"] >= 12
    assert "read mostly by sequential scans" in r.summary


# ---------------------------------------------------------------------------------------------
# database.query_plan


@pytest.mark.integration
def test_query_plan_passes_and_keeps_the_plan(stack: Stack) -> None:
    r = run(stack, "database.query_plan")
    assert r.status is Status.PASS, r.summary
    assert r.summary.startswith("the representative query took ")
    assert r.summary.endswith("(budget 500 ms)")
    relations = {n["relation"] for n in r.evidence["plan"]}
    assert {"task", "task_run"} <= relations
    assert r.measurements["execution_ms"] < 500
    assert "interval '24 hours'" in r.evidence["query"]


@pytest.mark.integration
def test_query_plan_fails_above_the_budget(stack: Stack) -> None:
    slow = "SELECT count(*) FROM generate_series(1, 3000000) g WHERE g % 7 = 3"
    r = run(stack, "database.query_plan", params={"query": slow, "max_ms": 20})
    assert r.status is Status.FAIL, r.summary
    assert "above the 20 ms budget" in r.summary
    assert r.measurements["execution_ms"] > 20
    assert r.evidence["plan"][0]["node"] == "Aggregate"


@pytest.mark.integration
def test_query_plan_does_not_execute_an_unbounded_query(stack: Stack) -> None:
    huge = (
        "SELECT * FROM generate_series(1, 1000000000) a CROSS JOIN generate_series(1, 1000000000) b"
    )
    r = run(stack, "database.query_plan", params={"query": huge})
    assert r.status is Status.FAIL
    assert r.summary.endswith("the query was not executed")
    assert "plan" not in r.evidence


@pytest.mark.integration
def test_query_plan_fails_when_the_statement_timeout_cancels_it(stack: Stack) -> None:
    r = run(
        stack,
        "database.query_plan",
        db={"statement_timeout": 0.5},
        params={"query": "SELECT pg_sleep(3)"},
    )
    assert r.status is Status.FAIL
    assert r.summary == "the query did not finish within the statement timeout (0.5s)"


@pytest.mark.integration
def test_query_plan_refuses_a_writing_query(stack: Stack) -> None:
    r = run(
        stack, "database.query_plan", params={"query": "DELETE FROM agent WHERE name = 'system'"}
    )
    assert r.status is Status.ERROR
    assert "the query tries to write" in r.summary
    assert q(stack.database_dsn, "SELECT count(*) FROM agent WHERE name = 'system'") == [(1,)]


# ---------------------------------------------------------------------------------------------
# database.backups


def _backup_params(stack: Stack, **over: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "directory": str(stack.backup_dir),
        "script": "ops/scripts/daily_backup.sh",
        "user_crontab": False,
        "cron_files": ["ops/crontab"],
        "cron_dirs": [],
    }
    params.update(over)
    return params


@pytest.mark.integration
def test_backups_pass_with_the_stacks_real_dump_and_crontab(stack: Stack) -> None:
    r = run(stack, "database.backups", params=_backup_params(stack))
    assert r.status is Status.PASS, r.summary
    assert r.summary.endswith("h old and readable and scheduled in cron")
    assert r.evidence["newest"]["format"] == "pg_dump custom"
    assert r.evidence["pg_restore_list"] == "ok"
    (entry,) = r.evidence["cron_entries"]
    assert entry["schedule"] == "15 2 * * *"
    assert entry["runs"] == "/usr/local/bin/daily_backup.sh"
    assert entry["source"].endswith("ops/crontab")


@pytest.mark.integration
def test_backups_fail_when_the_newest_dump_is_stale(stack: Stack) -> None:
    from demo import faults

    with faults.stale_backups(stack):
        r = run(stack, "database.backups", params=_backup_params(stack))
    assert r.status is Status.FAIL
    assert "h old (limit 26 h)" in r.summary
    assert r.evidence["newest"]["age_hours"] > 70


@pytest.mark.integration
def test_backups_fail_when_pg_restore_cannot_read_the_newest_dump(
    stack: Stack, tmp_path: Path
) -> None:
    real = max(stack.backup_dir.glob("*.dump"), key=lambda p: p.stat().st_mtime)
    shutil.copy2(real, tmp_path / real.name)
    (tmp_path / "orchestrator_zzz.dump").write_bytes(b"PGDMP" + b"\x00garbage" * 20)
    r = run(stack, "database.backups", params=_backup_params(stack, directory=str(tmp_path)))
    assert r.status is Status.FAIL
    assert "pg_restore cannot read orchestrator_zzz.dump" in r.summary
    assert r.evidence["files"] == 2


def test_backups_fail_on_a_missing_directory_script_and_cron_entry(tmp_path: Path) -> None:
    """No server needed: the check reads files and crontabs only."""
    (tmp_path / "crontab").write_text("# 15 2 * * * /usr/local/bin/daily_backup.sh\n")
    script = tmp_path / "daily_backup.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    r = run_check(
        "database.backups",
        params={
            "directory": str(tmp_path / "none"),
            "script": str(script),
            "user_crontab": False,
            "cron_files": [str(tmp_path / "crontab")],
            "cron_dirs": [],
        },
    )
    assert r.status is Status.FAIL
    assert r.summary == (
        f"backup directory {tmp_path / 'none'} does not exist; backup script {script} is not "
        f"executable (mode 0644); no cron entry runs daily_backup.sh (read: "
        f"{tmp_path / 'crontab'})"
    )


@pytest.mark.integration
def test_backups_read_the_projects_crontab_file_as_a_user_crontab(stack: Stack) -> None:
    params = _backup_params(stack, cron_files=[], crontab_files=["ops/crontab"])
    r = run(stack, "database.backups", params=params)
    assert r.status is Status.PASS, r.summary
    (entry,) = r.evidence["cron_entries"]
    assert entry["source"] == str(stack.project_root / "ops" / "crontab")
    assert entry["runs"] == "/usr/local/bin/daily_backup.sh"


def test_backups_fail_when_the_crontab_file_is_missing_or_has_no_job(tmp_path: Path) -> None:
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    (dumps / "orchestrator.sql.gz").write_bytes(b"\x1f\x8b not empty")
    script = tmp_path / "daily_backup.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    params: dict[str, Any] = {
        "directory": str(dumps),
        "script": str(script),
        "user_crontab": False,
        "cron_files": [],
        "cron_dirs": [],
        "crontab_files": [str(tmp_path / "crontab")],
    }
    r = run_check("database.backups", params=params)
    assert r.status is Status.FAIL
    assert r.summary == (
        f"no cron entry runs daily_backup.sh (read: nothing); cannot read the crontab file "
        f"{tmp_path / 'crontab'}: No such file or directory"
    )
    (tmp_path / "crontab").write_text("*/5 * * * * /usr/local/bin/health_check.sh\n")
    r = run_check("database.backups", params=params)
    assert r.status is Status.FAIL
    assert r.summary == f"no cron entry runs daily_backup.sh (read: {tmp_path / 'crontab'})"
    (tmp_path / "crontab").write_text("15 2 * * * /usr/local/bin/daily_backup.sh 2>&1 | logger\n")
    r = run_check("database.backups", params=params)
    assert r.status is Status.PASS, r.summary
    assert r.evidence["cron_sources"] == [str(tmp_path / "crontab")]


def test_backups_fail_on_an_empty_newest_file(tmp_path: Path) -> None:
    (tmp_path / "orchestrator_1.dump").write_bytes(b"")
    r = run_check("database.backups", params={"directory": str(tmp_path), "script": None})
    assert r.status is Status.FAIL
    assert r.summary == "newest backup orchestrator_1.dump is empty"


def test_backups_ignore_cron_files_that_cron_ignores_and_warn_on_weekly_runs(
    tmp_path: Path,
) -> None:
    dump = tmp_path / "dumps"
    dump.mkdir()
    (dump / "orchestrator.sql.gz").write_bytes(b"\x1f\x8b not empty")
    (dump / "orchestrator.sql.gz.sha256").write_text("abc\n")
    crond = tmp_path / "cron.d"
    crond.mkdir()
    (crond / "backup.cron").write_text("15 2 * * * root /usr/local/bin/daily_backup.sh\n")
    script = tmp_path / "daily_backup.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    params = {
        "directory": str(dump),
        "script": str(script),
        "user_crontab": False,
        "cron_files": [],
        "cron_dirs": [str(crond)],
    }
    r = run_check("database.backups", params=params)
    assert r.status is Status.FAIL
    assert "no cron entry runs daily_backup.sh" in r.summary  # backup.cron has a dot
    (crond / "backup").write_text("15 2 * * 0 root /usr/local/bin/daily_backup.sh\n")
    r = run_check("database.backups", params=params)
    assert r.status is Status.WARN
    assert r.summary == (
        "cron runs daily_backup.sh only every 168 h, so backups get older than 26 h"
    )
    assert r.evidence["newest"]["path"].endswith("orchestrator.sql.gz")
    assert r.evidence["newest"]["format"] == "other"


@pytest.mark.integration
def test_backups_warn_when_pg_restore_is_missing(stack: Stack) -> None:
    r = run(
        stack,
        "database.backups",
        params=_backup_params(stack, pg_restore="/nonexistent/pg_restore"),
    )
    assert r.status is Status.WARN
    assert r.summary.startswith("could not verify orchestrator_")
    assert "cannot run /nonexistent/pg_restore" in r.summary


# ---------------------------------------------------------------------------------------------
# read-only proof

SECTIONS = ("database", "integrity", "audit", "capacity")


def _counters(admin_dsn: str) -> dict[str, tuple[int, int, int]]:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        rows = conn.execute(
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables"
        ).fetchall()
    return {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in rows}


def _seed(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO task (title, created_by, schedule_kind, schedule_expr)"
            " SELECT 'seed ' || g, (SELECT id FROM agent WHERE name = 'system'), 'event', 'x'"
            " FROM generate_series(1, 200) g"
        )
        conn.execute(
            "INSERT INTO task_run (task_id, started_at, finished_at, success, created_at)"
            " SELECT id, now(), now(), true, now() - interval '1 hour' FROM task"
        )
        conn.execute(
            "INSERT INTO due_work (task_id, run_at) SELECT id, now() + interval '1 h'"
            " FROM task LIMIT 20"
        )
        conn.execute("INSERT INTO audit_log (action, details) VALUES ('task.created', '{}')")
        conn.execute("INSERT INTO worker_heartbeat (worker_id) VALUES ('w1'), ('w2')")
        conn.execute("SELECT pg_stat_force_next_flush()")


@pytest.mark.integration
def test_a_default_run_of_the_database_sections_writes_nothing(stack: Stack) -> None:
    with scratch_database(stack, "golive_readonly") as db:
        _seed(db.dsn)
        config = load_config(
            [str(ROOT / "golive.yaml")],
            env={
                "GOLIVE_DATABASE_DSN": db.dsn,
                "GOLIVE_PROJECT_ROOT": str(stack.project_root),
                "GOLIVE_BACKUP_DIR": str(stack.backup_dir),
            },
        )
        idle = lambda: other_sessions(stack.admin_dsn, db.name)  # noqa: E731
        poll(idle, lambda n: n == 0, what="seeding session gone (its stats flushed)")
        before = _counters(db.admin_dsn)
        assert before["task"][0] == 200 and before["task_run"][0] == 200

        run_ = run_config(config, sections=SECTIONS)
        ran = {r.id: r for r in run_.results}
        assert {r.section for r in run_.results} == set(SECTIONS)
        assert ran["audit.write_path"].status is Status.SKIP
        assert all(r.status is not Status.ERROR for r in run_.results), [
            (r.id, r.summary) for r in run_.results if r.status is Status.ERROR
        ]
        # a backend leaves pg_stat_activity only after its statistics were flushed
        poll(idle, lambda n: n == 0, what="golive's sessions gone")
        assert _counters(db.admin_dsn) == before

        # control: the writing check does show up in the same counters
        writes = run_config(config, checks=["audit.write_path"], options=Options(allow_writes=True))
        assert writes.results[0].status is Status.PASS, writes.results[0].summary
        poll(idle, lambda n: n == 0, what="golive's sessions gone")
        after = poll(
            lambda: _counters(db.admin_dsn)["audit_log"],
            lambda c: c != before["audit_log"],
            what="audit_log counters",
        )
        assert after == (before["audit_log"][0] + 1, 0, before["audit_log"][2] + 1)
