"""Checks of the database section: version, settings, connections, table and index health,
the representative query's plan, and backups.

Every query runs in golive's read-only session (statement and lock timeouts, application
name ``golive``) and reads catalog statistics rather than counting big tables. The one
query that executes application SQL (`database.query_plan`) runs inside a read-only
transaction that is rolled back, after a plain EXPLAIN has shown it is not unbounded.
Helpers: `_database.py` (this section's catalog queries, plan rows), `_pg.py` (sizes,
versions, sessions), `_backup.py` (crontab sources, schedules, `pg_restore --list`).
"""

from __future__ import annotations

import fnmatch
import os
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from golive.api import Context, Outcome, Severity, check

from . import _backup as bk
from ._database import (
    _BY_STATE_SQL,
    _COUNTS_SQL,
    _FK_NO_INDEX_SQL,
    _IDLE_TX_SQL,
    _LOCKS_SQL,
    _SEQ_SQL,
    _SETTINGS,
    _SIZES_SQL,
    _TABLES_SQL,
    _UNUSED_SQL,
    _WAIT_SINCE,
    _age,
    _plan_rows,
)
from ._pg import (
    PG_EOL,
    db_is_local,
    host_memory,
    human,
    many,
    one,
    parse_size,
    setting_bytes,
    statement_timeout_text,
    version_num,
)

# ---------------------------------------------------------------------------------------------
# version, settings, connections


@check(
    id="database.version",
    title="PostgreSQL is a supported version at or above the minimum",
    severity=Severity.HIGH,
    needs=("database",),
    remediation="Upgrade PostgreSQL (pg_upgrade, or logical replication to a new cluster) to a "
    "supported major version at or above params.min_version.",
)
async def version(ctx: Context, min_version: str = "15", eol_warn_days: int = 180) -> Outcome:
    """The server's version (server_version_num) is at least `min_version` and its major
    version still receives community fixes: past end of life is FAIL, end of life within
    `eol_warn_days` is WARN. The version is reported in the evidence."""
    try:
        wanted = version_num(min_version)
    except ValueError as exc:
        return Outcome.error(str(exc))
    row = await ctx.db.fetchone(
        "SELECT current_setting('server_version') AS version,"
        " current_setting('server_version_num')::int AS num"
    )
    assert row is not None
    num, text = int(row["num"]), str(row["version"]).split()[0]
    major = num // 10000
    eol = PG_EOL.get(major) if major >= 10 else date(2021, 11, 11)  # 9.6, the last 9.x
    evidence: dict[str, Any] = {
        "server_version": text,
        "server_version_num": num,
        "minimum": min_version,
    }
    if eol is not None:
        evidence["end_of_life"] = eol.isoformat()
    measurements = {"server_version_num": float(num)}
    if num < wanted:
        return Outcome.failed(
            f"PostgreSQL {text} is older than the required {min_version}",
            evidence=evidence,
            measurements=measurements,
        )
    if eol is not None:
        days = (eol - datetime.now(timezone.utc).date()).days
        if days < 0:
            return Outcome.failed(
                f"PostgreSQL {text} reached end of life on {eol.isoformat()} and gets no more "
                "security fixes",
                evidence=evidence,
                measurements=measurements,
            )
        if days <= eol_warn_days:
            return Outcome.warn(
                f"PostgreSQL {text} reaches end of life on {eol.isoformat()} (in {days} days)",
                evidence=evidence,
                measurements=measurements,
            )
    return Outcome.passed(
        f"PostgreSQL {text} meets the minimum {min_version}",
        evidence=evidence,
        measurements=measurements,
    )


@check(
    id="database.settings",
    title="PostgreSQL memory and checkpoint settings fit the server",
    severity=Severity.MEDIUM,
    needs=("database",),
    remediation="Set the recommended values in postgresql.conf (or ALTER SYSTEM) and restart or "
    "reload; set params.memory when the database runs on another host.",
)
async def settings(
    ctx: Context,
    memory: str | None = None,
    shared_buffers_ratio: float = 0.25,
    effective_cache_ratio: float = 0.75,
    min_checkpoint_completion_target: float = 0.8,
) -> Outcome:
    """shared_buffers (about 25% of memory), effective_cache_size (about 75%), work_mem
    ((memory - shared_buffers) / (3 x max_connections), at least 4MB), max_connections
    (max_connections x work_mem must fit in memory beside shared_buffers) and
    checkpoint_completion_target (>= 0.8) against recommendations derived from the server's
    memory: `memory` when given, else this host's memory when the database is local. WARN
    lists each setting that is off with its recommended value."""
    rows = await ctx.db.fetch(
        "SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s)", (list(_SETTINGS),)
    )
    cur = {r["name"]: r for r in rows}
    sb = setting_bytes(cur["shared_buffers"]["setting"], cur["shared_buffers"]["unit"])
    wm = setting_bytes(cur["work_mem"]["setting"], cur["work_mem"]["unit"])
    ecs = setting_bytes(cur["effective_cache_size"]["setting"], cur["effective_cache_size"]["unit"])
    cct = float(cur["checkpoint_completion_target"]["setting"])
    maxc = int(cur["max_connections"]["setting"])
    if memory is not None:
        try:
            mem: int | None = parse_size(memory)
        except ValueError as exc:
            return Outcome.error(str(exc))
        source = "params.memory"
    else:
        mem = host_memory() if db_is_local(ctx) else None
        source = "this host" if mem else "unknown"
    table: list[dict[str, Any]] = []

    def row(name: str, value: str, recommended: str, ok: bool, why: str) -> None:
        table.append(
            {
                "setting": name,
                "value": value,
                "recommended": recommended,
                "ok": ok,
                "why": "" if ok else why,
            }
        )

    row(
        "checkpoint_completion_target",
        f"{cct:g}",
        "0.9",
        cct >= min_checkpoint_completion_target,
        f"below {min_checkpoint_completion_target:g}: checkpoints write in bursts",
    )
    if mem:
        rec_sb = int(mem * shared_buffers_ratio)
        row(
            "shared_buffers",
            human(sb),
            human(rec_sb),
            rec_sb * 0.5 <= sb <= rec_sb * 1.6,
            f"{shared_buffers_ratio:.0%} of {human(mem)} is the usual starting point",
        )
        rec_ecs = int(mem * effective_cache_ratio)
        row(
            "effective_cache_size",
            human(ecs),
            human(rec_ecs),
            mem * 0.5 <= ecs <= mem,
            "should be 50-100% of memory (what the OS page cache and shared_buffers hold)",
        )
        budget = max(mem - sb, 1)
        rec_wm = max(4 * 1024**2, budget // (maxc * 3))
        row(
            "work_mem",
            human(wm),
            human(rec_wm),
            rec_wm / 4 <= wm <= rec_wm * 4,
            "too small: sorts and hashes spill to disk"
            if wm < rec_wm / 4
            else "too large: concurrent sorts can exhaust memory",
        )
        fits = maxc * wm <= budget
        rec_maxc = max(1, budget // max(wm, 1))
        row(
            "max_connections",
            str(maxc),
            str(maxc if fits else rec_maxc),
            fits,
            f"{maxc} x work_mem {human(wm)} = {human(maxc * wm)} exceeds the {human(budget)} "
            "left beside shared_buffers; lower it or put a pooler in front",
        )
    bad = [r for r in table if not r["ok"]]
    evidence: dict[str, Any] = {
        "settings": table,
        "memory": human(mem) if mem else None,
        "memory_source": source,
    }
    measurements = {
        "shared_buffers_bytes": float(sb),
        "work_mem_bytes": float(wm),
        "effective_cache_size_bytes": float(ecs),
        "max_connections": float(maxc),
    }
    if bad:
        listed = ", ".join(
            f"{r['setting']} {r['value']} (recommended {r['recommended']})" for r in bad
        )
        base = f" for {human(mem)} of memory" if mem else ""
        return Outcome.warn(
            f"{len(bad)} setting(s) differ from the recommendations{base}: {listed}",
            evidence=evidence,
            measurements=measurements,
        )
    if not mem:
        return Outcome.warn(
            "server memory is unknown (the database is not on this host): set params.memory "
            "to check shared_buffers, effective_cache_size, work_mem and max_connections",
            evidence=evidence,
            measurements=measurements,
        )
    return Outcome.passed(
        f"memory and checkpoint settings fit {human(mem)} of memory",
        evidence=evidence,
        measurements=measurements,
    )


@check(
    id="database.connections",
    title="Connection pool has headroom, no long idle transactions or lock waits",
    severity=Severity.HIGH,
    needs=("database",),
    remediation="Lower the application's pool sizes or raise max_connections (or add PgBouncer); "
    "find and fix code that leaves transactions open; end sessions that block others.",
)
async def connections(
    ctx: Context,
    warn_percent: float = 70.0,
    fail_percent: float = 90.0,
    idle_in_transaction_limit: float = 60.0,
    lock_wait_limit: float = 10.0,
) -> Outcome:
    """Client connections in use against max_connections (WARN at `warn_percent`, FAIL at
    `fail_percent`), sessions idle in a transaction for longer than
    `idle_in_transaction_limit` seconds, and lock requests waiting for longer than
    `lock_wait_limit` seconds (WARN, with pid, role, application and blockers). Sessions
    of other roles are counted; their state is only visible with pg_read_all_stats."""
    async with ctx.db.session() as conn:
        counts = await one(conn, _COUNTS_SQL)
        by_state = await many(conn, _BY_STATE_SQL)
        idle = await many(conn, _IDLE_TX_SQL, (idle_in_transaction_limit,))
        since = _WAIT_SINCE[int(counts["version_num"]) >= 140000]
        waits = await many(conn, _LOCKS_SQL.format(since=since), (lock_wait_limit,))
    used, maxc = int(counts["used"]), int(counts["max_connections"])
    pct = 100.0 * used / maxc if maxc else 100.0
    evidence: dict[str, Any] = {
        "used": used,
        "max_connections": maxc,
        "superuser_reserved_connections": int(counts["reserved"]),
        "sessions_without_visible_state": int(counts["hidden"]),
        "sessions": [dict(r) for r in by_state],
        "idle_in_transaction": [dict(r) for r in idle],
        "lock_waits": [dict(r) for r in waits],
    }
    measurements = {
        "connections_used": float(used),
        "max_connections": float(maxc),
        "connections_percent": round(pct, 1),
    }
    summary = f"{used} of {maxc} connections in use ({pct:.0f}%)"
    extra = []
    if idle:
        extra.append(
            f"{len(idle)} session(s) idle in a transaction for over {idle_in_transaction_limit:g}s"
        )
    if waits:
        extra.append(f"{len(waits)} lock request(s) waiting for over {lock_wait_limit:g}s")
    if pct >= fail_percent:
        return Outcome.failed(
            f"{summary}, at or above the {fail_percent:g}% limit"
            + "".join(f"; {e}" for e in extra),
            evidence=evidence,
            measurements=measurements,
        )
    if pct >= warn_percent or extra:
        lead = f"{summary}, above {warn_percent:g}%" if pct >= warn_percent else summary
        return Outcome.warn(
            lead + "".join(f"; {e}" for e in extra), evidence=evidence, measurements=measurements
        )
    return Outcome.passed(
        f"{summary}; no long idle transactions or lock waits",
        evidence=evidence,
        measurements=measurements,
    )


# ---------------------------------------------------------------------------------------------
# tables and indexes


@check(
    id="database.table_health",
    title="Tables are vacuumed and analysed, without heavy bloat",
    severity=Severity.MEDIUM,
    needs=("database",),
    remediation="Run VACUUM (ANALYZE) on the listed tables; re-enable autovacuum or make it more "
    "aggressive for them (autovacuum_vacuum_scale_factor); find long transactions that "
    "hold back cleanup.",
)
async def table_health(
    ctx: Context,
    max_dead_ratio: float = 0.2,
    fail_dead_ratio: float = 0.5,
    min_dead_tuples: int = 1000,
    big_table_rows: int = 10000,
    show: int = 20,
) -> Outcome:
    """Per table: size, inserts/updates/deletes, dead-tuple ratio and last (auto)vacuum and
    (auto)analyze, from pg_stat_user_tables. WARN when a table with at least
    `min_dead_tuples` dead tuples has a dead ratio above `max_dead_ratio` (FAIL above
    `fail_dead_ratio`), when a table of `big_table_rows` rows or more was never analysed,
    or has autovacuum disabled. The `show` largest tables are listed."""
    async with ctx.db.session() as conn:
        rows = await many(conn, _TABLES_SQL)
        now = (await one(conn, "SELECT now() AS now"))["now"]
        biggest = sorted(rows, key=lambda r: -int(r["relpages"]))[:show]
        sizes = {}
        if biggest:
            found = await many(conn, _SIZES_SQL, ([r["relid"] for r in biggest],))
            sizes = {r["relid"]: int(r["bytes"]) for r in found}
    problems: list[dict[str, Any]] = []
    worst = "ok"
    for r in rows:
        live, dead = int(r["n_live_tup"]), int(r["n_dead_tup"])
        ratio = dead / (live + dead) if live + dead else 0.0
        rows_est = max(live, int(r["reltuples"]))
        if dead >= min_dead_tuples and ratio > max_dead_ratio:
            level = "fail" if ratio > fail_dead_ratio else "warn"
            worst = "fail" if level == "fail" else worst if worst == "fail" else "warn"
            problems.append(
                {
                    "table": r["table"],
                    "problem": f"{ratio:.0%} dead tuples ({dead} dead, {live} live)",
                    "level": level,
                }
            )
        analysed = r["last_analyze"] is not None or r["last_autoanalyze"] is not None
        if rows_est >= big_table_rows and not analysed:
            worst = worst if worst == "fail" else "warn"
            problems.append(
                {
                    "table": r["table"],
                    "problem": f"never analysed ({rows_est} rows)",
                    "level": "warn",
                }
            )
        if rows_est >= big_table_rows and r["autovacuum_off"]:
            worst = worst if worst == "fail" else "warn"
            problems.append(
                {"table": r["table"], "problem": "autovacuum is disabled", "level": "warn"}
            )
    listing = []
    for r in biggest:
        live, dead = int(r["n_live_tup"]), int(r["n_dead_tup"])
        listing.append(
            {
                "table": r["table"],
                "size": human(sizes.get(r["relid"], 0)),
                "live": live,
                "dead_ratio": round(dead / (live + dead), 3) if live + dead else 0.0,
                "inserts": int(r["n_tup_ins"]),
                "updates": int(r["n_tup_upd"]),
                "deletes": int(r["n_tup_del"]),
                "last_vacuum": _age(
                    max((t for t in (r["last_vacuum"], r["last_autovacuum"]) if t), default=None),
                    now,
                ),
                "last_analyze": _age(
                    max((t for t in (r["last_analyze"], r["last_autoanalyze"]) if t), default=None),
                    now,
                ),
            }
        )
    evidence = {"problems": problems, "tables": listing, "tables_checked": len(rows)}
    if not problems:
        return Outcome.passed(
            f"{len(rows)} tables checked: none bloated, unanalysed or without autovacuum",
            evidence=evidence,
        )
    names = sorted({p["table"] for p in problems})
    text = "; ".join(f"{p['table']}: {p['problem']}" for p in problems[:5])
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    summary = f"{len(names)} table(s) need attention: {text}{more}"
    if worst == "fail":
        return Outcome.failed(summary, evidence=evidence)
    return Outcome.warn(summary, evidence=evidence)


@check(
    id="database.index_usage",
    title="Foreign keys are indexed; indexes are used and big tables are not scanned",
    severity=Severity.MEDIUM,
    needs=("database",),
    remediation="CREATE INDEX CONCURRENTLY on each listed foreign-key column; add an index for "
    "the queries that scan the listed tables; drop indexes that stay unused over a full "
    "business cycle.",
)
async def index_usage(
    ctx: Context,
    min_index_size: str = "1MB",
    big_table_rows: int = 10000,
    min_seq_scans: int = 10,
    seq_scan_ratio: float = 0.5,
) -> Outcome:
    """FAIL for foreign-key columns without an index whose leading columns cover them (a
    delete on the parent then scans the child). WARN for non-unique indexes of at least
    `min_index_size` never scanned since statistics were reset, and for tables of
    `big_table_rows` rows or more read mostly (`seq_scan_ratio`) by sequential scans that
    each read a large part of the table. All from catalog statistics."""
    try:
        min_bytes = parse_size(min_index_size)
    except ValueError as exc:
        return Outcome.error(str(exc))
    async with ctx.db.session() as conn:
        fks = await many(conn, _FK_NO_INDEX_SQL)
        unused = await many(conn, _UNUSED_SQL, (min_bytes,))
        limits = {"big": big_table_rows, "min_scans": min_seq_scans, "ratio": seq_scan_ratio}
        seq = await many(conn, _SEQ_SQL, limits)
        reset = await one(
            conn, "SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()"
        )
    evidence: dict[str, Any] = {
        "foreign_keys_without_index": [dict(r) for r in fks],
        "unused_indexes": [{**dict(r), "size": human(int(r["bytes"]))} for r in unused],
        "sequential_scan_tables": [dict(r) for r in seq],
        "statistics_reset": reset["stats_reset"],
    }
    parts = []
    if fks:
        parts.append(
            f"{len(fks)} foreign key(s) without an index: "
            + ", ".join(f"{r['table']}({r['columns']})" for r in fks[:5])
        )
    if unused:
        parts.append(
            f"{len(unused)} unused index(es): "
            + ", ".join(f"{r['index']} ({human(int(r['bytes']))})" for r in unused[:5])
        )
    if seq:
        parts.append(
            f"{len(seq)} big table(s) read mostly by sequential scans: "
            + ", ".join(
                f"{r['table']} ({r['seq_scan']} seq / {r['idx_scan']} index)" for r in seq[:5]
            )
        )
    if fks:
        return Outcome.failed("; ".join(parts), evidence=evidence)
    if parts:
        return Outcome.warn("; ".join(parts), evidence=evidence)
    return Outcome.passed(
        "every foreign key is indexed; no unused indexes or sequentially scanned big tables",
        evidence=evidence,
    )


# ---------------------------------------------------------------------------------------------
# the representative query

DEFAULT_QUERY = (
    "SELECT t.id, t.title, tr.id AS run_id, tr.success, tr.started_at, tr.finished_at"
    " FROM task t JOIN task_run tr ON tr.task_id = t.id"
    " WHERE tr.created_at > now() - interval '24 hours'"
)


@check(
    id="database.query_plan",
    title="The representative query runs within its time budget",
    severity=Severity.HIGH,
    needs=("database",),
    remediation="Read the plan in the evidence: add the missing index (e.g. on "
    "task_run(created_at)), ANALYZE the tables, or reduce the rows the query reads.",
)
async def query_plan(
    ctx: Context,
    query: str = DEFAULT_QUERY,
    max_ms: float = 500.0,
    max_cost: float = 10_000_000.0,
) -> Outcome:
    """Runs `query` (default: tasks joined to their runs of the last 24 hours) under
    EXPLAIN (ANALYZE, BUFFERS) inside a read-only transaction that is rolled back; FAIL when
    it takes longer than `max_ms` milliseconds, or when plain EXPLAIN estimates a cost above
    `max_cost` (it is then not executed). The evidence holds the plan's nodes with actual
    times, rows and buffers."""
    import psycopg

    q = query.strip().rstrip(";")
    evidence: dict[str, Any] = {"query": q, "max_ms": max_ms}
    try:
        async with ctx.db.session() as conn, conn.transaction(force_rollback=True):
            await conn.execute("SET TRANSACTION READ ONLY")
            est = await one(conn, "EXPLAIN (FORMAT JSON) " + q)
            cost = float(next(iter(est.values()))[0]["Plan"]["Total Cost"])
            evidence["estimated_cost"] = cost
            if cost > max_cost:
                return Outcome.failed(
                    f"the planner estimates a cost of {cost:,.0f} (above {max_cost:,.0f}); "
                    "the query was not executed",
                    evidence=evidence,
                    measurements={"estimated_cost": cost},
                )
            res = await one(conn, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + q)
    except psycopg.errors.ReadOnlySqlTransaction as exc:
        return Outcome.error(
            f"the query tries to write ({exc.diag.message_primary}); only "
            "read-only queries are analysed",
            evidence=evidence,
        )
    except psycopg.errors.QueryCanceled:
        return Outcome.failed(
            f"the query did not finish within the statement timeout "
            f"({statement_timeout_text(ctx)})",
            evidence=evidence,
        )
    except (
        psycopg.errors.SyntaxError,
        psycopg.errors.UndefinedTable,
        psycopg.errors.UndefinedColumn,
        psycopg.errors.UndefinedFunction,
    ) as exc:
        return Outcome.error(
            f"the query is not valid here: {exc.diag.message_primary}", evidence=evidence
        )
    doc = next(iter(res.values()))[0]
    execution = float(doc.get("Execution Time", 0.0))
    planning = float(doc.get("Planning Time", 0.0))
    nodes = _plan_rows(doc["Plan"])
    evidence.update(
        plan=nodes[:30],
        execution_ms=execution,
        planning_ms=planning,
        rows=doc["Plan"].get("Actual Rows"),
    )
    seq = sorted({n["relation"] for n in nodes if "Seq Scan" in n["node"] and n["relation"]})
    measurements = {"execution_ms": execution, "planning_ms": planning, "estimated_cost": cost}
    how = f" (sequential scan of {', '.join(seq)})" if seq else ""
    took = f"{execution:.2f}" if execution < 10 else f"{execution:.0f}"
    if execution > max_ms:
        return Outcome.failed(
            f"the representative query took {took} ms, above the {max_ms:g} ms budget{how}",
            evidence=evidence,
            measurements=measurements,
        )
    return Outcome.passed(
        f"the representative query took {took} ms for {doc['Plan'].get('Actual Rows')} rows "
        f"(budget {max_ms:g} ms)",
        evidence=evidence,
        measurements=measurements,
    )


# ---------------------------------------------------------------------------------------------
# backups


@check(
    id="database.backups",
    title="A fresh, readable database backup exists and is scheduled",
    severity=Severity.CRITICAL,
    needs=("host",),
    remediation="Fix the backup job: make the script executable, schedule it in cron (e.g. "
    "`15 2 * * * /usr/local/bin/daily_backup.sh`), and check its log for the reason the "
    "last dump is missing, empty or unreadable.",
)
async def backups(
    ctx: Context,
    directory: str = "/backups/postgres",
    patterns: list[str] = ["*"],  # noqa: B006 - read-only default, validated by pydantic
    ignore: list[str] = ["*.sha256", "*.md5", "*.partial", "*.tmp", "*.log", ".*"],  # noqa: B006
    max_age_hours: float = 26.0,
    script: str | None = "/usr/local/bin/daily_backup.sh",
    user_crontab: bool = True,
    cron_user: str | None = None,
    cron_files: list[str] = ["/etc/crontab"],  # noqa: B006
    cron_dirs: list[str] = ["/etc/cron.d"],  # noqa: B006
    pg_restore: str = "pg_restore",
    crontab_files: list[str] = [],  # noqa: B006
) -> Outcome:
    """The newest file in the backup `directory` (matching `patterns`, minus `ignore`) is
    younger than `max_age_hours` and not empty; when it is a pg_dump custom-format archive,
    `pg_restore --list` reads it. The backup `script` exists and is executable, and a cron
    entry runs it (by path or by name) often enough for `max_age_hours`, read from the same
    sources as operations.cron: `crontab -l` of `cron_user` (default: the user golive runs
    as; skipped when `user_crontab` is false), the user-format `crontab_files` (as
    operations.cron's; one that cannot be read is a warning), the crontab `cron_files` and
    the files of `cron_dirs`. Relative paths resolve against the project root (e.g.
    `ops/crontab`). Runs on every host of `targets.hosts` (usually `hosts: [db]`), with
    `crontab -l` and `pg_restore --list` run there."""
    fails: list[str] = []
    warns: list[str] = []
    evidence: dict[str, Any] = {}
    host = ctx.host
    folder = bk.resolve(ctx, directory)
    evidence["directory"] = str(folder)
    newest: Path | None = None
    fst = await host.stat(str(folder))
    if fst is None or not fst.is_dir:
        fails.append(f"backup directory {folder} does not exist")
    else:
        stats = {}
        for name in await host.listdir(str(folder)):
            if not any(fnmatch.fnmatch(name, g) for g in patterns) or any(
                fnmatch.fnmatch(name, g) for g in ignore
            ):
                continue
            found = await host.stat(str(folder / name))
            if found is not None and found.is_file:
                stats[folder / name] = found
        evidence["files"] = len(stats)
        if not stats:
            fails.append(f"no backup file in {folder}")
        else:
            newest = max(stats, key=lambda p: stats[p].mtime)
            st = stats[newest]
            age_h = (time.time() - st.mtime) / 3600
            custom = await host.read_bytes(str(newest), 5) == b"PGDMP"
            evidence["newest"] = {
                "path": str(newest),
                "bytes": st.size,
                "age_hours": round(age_h, 2),
                "format": "pg_dump custom" if custom else "other",
            }
            if age_h > max_age_hours:
                fails.append(
                    f"newest backup {newest.name} is {age_h:.0f} h old (limit {max_age_hours:g} h)"
                )
            if st.size == 0:
                fails.append(f"newest backup {newest.name} is empty")
            elif custom:
                problem = await bk.pg_restore_list(
                    host, pg_restore, newest, max(5.0, ctx.timeout / 2)
                )
                evidence["pg_restore_list"] = problem or "ok"
                if problem and problem.startswith("cannot run"):
                    warns.append(f"could not verify {newest.name}: {problem}")
                elif problem:
                    fails.append(f"pg_restore cannot read {newest.name}: {problem}")
    if script is not None:
        sp = bk.resolve(ctx, script)
        sst = await host.stat(str(sp))
        info: dict[str, Any] = {"path": str(sp), "exists": sst is not None and sst.is_file}
        if sst is None or not sst.is_file:
            fails.append(f"backup script {sp} does not exist")
        else:
            mode = sst.perm
            runnable = bool(mode & 0o111) and (not host.is_local or os.access(sp, os.X_OK))
            info.update(mode=f"{mode:04o}", executable=runnable)
            if not info["executable"]:
                fails.append(f"backup script {sp} is not executable (mode {mode:04o})")
        evidence["script"] = info
        entries, sources, problems = await bk.cron_entries(
            ctx, sp, user_crontab, cron_user, cron_files, cron_dirs, crontab_files
        )
        evidence.update(cron_entries=entries, cron_sources=sources)
        warns.extend(problems)
        if not entries:
            read = ", ".join(sources) if len(sources) <= 3 else f"{len(sources)} crontabs"
            fails.append(f"no cron entry runs {sp.name} (read: {read or 'nothing'})")
        else:
            gaps = [e["longest_gap_hours"] for e in entries if e["longest_gap_hours"] is not None]
            if gaps and min(gaps) > max_age_hours:
                warns.append(
                    f"cron runs {sp.name} only every {min(gaps):g} h, so backups get "
                    f"older than {max_age_hours:g} h"
                )
    age = evidence.get("newest", {}).get("age_hours")
    measurements = {"backup_age_hours": float(age)} if age is not None else {}
    if fails:
        return Outcome.failed(
            "; ".join(fails + warns), evidence=evidence, measurements=measurements
        )
    if warns:
        return Outcome.warn("; ".join(warns), evidence=evidence, measurements=measurements)
    assert newest is not None
    where = " and scheduled in cron" if script is not None else ""
    return Outcome.passed(
        f"newest backup {newest.name} is {age:.1f} h old and readable{where}",
        evidence=evidence,
        measurements=measurements,
    )
