"""Checks of the capacity section: database growth and disk headroom, the work queue, and
the live workers.

Growth is measured, not guessed: the rows each table gained over the last days (rows still
present whose creation time is in the window) times the table's bytes per row. The
checklist's formula (total size divided by 30) assumes the database was filled evenly
over one month, which is wrong for a database migrated from elsewhere or one month old.
Ages are computed by the database (`now()`), so a skewed clock on golive's host does not
matter.
"""

from __future__ import annotations

import math
import os
import shutil
from typing import Any

from golive.api import Context, Outcome, Severity, check

from ._pg import db_is_local, human, ident, many, one, quoted, statement_timeout_text

#: Tables and their creation-time column whose recent rows make the database grow.
GROWTH_TABLES = {
    "task": "created_at",
    "task_run": "created_at",
    "due_work": "created_at",
    "audit_log": "at",
}


async def _data_directory(
    ctx: Context, conn: Any, configured: str | None
) -> tuple[str | None, str]:
    """The data directory to measure free space on, or None with the reason."""
    import psycopg

    if configured:
        path = configured
    else:
        try:
            path = (await one(conn, "SELECT current_setting('data_directory') AS d"))["d"]
        except psycopg.errors.InsufficientPrivilege:
            return None, (
                "the role may not read data_directory (needs pg_read_all_settings); "
                "set params.data_directory"
            )
        if not db_is_local(ctx):
            return None, "the database is not on this host"
    if not os.path.isdir(path):
        return None, f"data directory {path} is not on this host"
    return path, ""


_TABLE_SIZE_SQL = """
SELECT pg_total_relation_size(c.oid) AS bytes,
       greatest(c.reltuples::bigint, coalesce(s.n_live_tup, 0), 1) AS est_rows
FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.oid = to_regclass(%s)
"""


@check(
    id="capacity.database_growth",
    title="The disk holds the database's measured growth for months",
    severity=Severity.HIGH,
    needs=("database",),
    remediation="Grow the volume that holds the data directory, shorten retention (task_run, "
    "audit_log) or archive old rows before the disk fills.",
)
async def database_growth(
    ctx: Context,
    tables: dict[str, str] = GROWTH_TABLES,
    days: int = 7,
    data_directory: str | None = None,
    warn_headroom_days: float = 90.0,
    fail_headroom_days: float = 30.0,
) -> Outcome:
    """Database size (pg_database_size) and daily growth measured from the rows each of
    `tables` (table -> creation-time column) gained in the last `days` days, times that
    table's bytes per row. Where the data directory is on this host (`data_directory`, or
    the server's when the role may read it), the free disk space divided by the daily
    growth gives the days of headroom: FAIL below `fail_headroom_days`, WARN below
    `warn_headroom_days`."""
    import psycopg
    from psycopg import sql

    rows: list[dict[str, Any]] = []
    ctx.record("tables", rows)  # filled table by table (kept on timeout)
    problems: list[str] = []
    async with ctx.db.session() as conn:
        size = int((await one(conn, "SELECT pg_database_size(current_database()) AS b"))["b"])
        for table, column in tables.items():
            found = await many(conn, _TABLE_SIZE_SQL, (quoted(table),))
            if not found:
                problems.append(f"table {table} does not exist")
                continue
            info = found[0]
            recent_sql = sql.SQL(
                "SELECT count(*) AS n FROM {} WHERE {} > now() - make_interval(days => %s)"
            ).format(ident(table), sql.Identifier(column))
            try:
                recent = int((await one(conn, recent_sql, (days,)))["n"])
            except psycopg.errors.UndefinedColumn as exc:
                problems.append(f"{table}: {exc.diag.message_primary}")
                continue
            except psycopg.errors.QueryCanceled:
                return Outcome.error(
                    f"counting the last {days} days of {table} took longer than the statement "
                    f"timeout ({statement_timeout_text(ctx)}); index {table}({column}) or "
                    "raise targets.database.statement_timeout"
                )
            per_row = int(info["bytes"]) / int(info["est_rows"])
            rows.append(
                {
                    "table": table,
                    "size": human(int(info["bytes"])),
                    "bytes_per_row": round(per_row),
                    f"rows_last_{days}d": recent,
                    "bytes_per_day": round(recent * per_row / days),
                }
            )
        directory, why = await _data_directory(ctx, conn, data_directory)
    daily = float(sum(r["bytes_per_day"] for r in rows))
    evidence: dict[str, Any] = {
        "database_size": human(size),
        "database_bytes": size,
        "growth_per_day": human(daily),
        "tables": rows,
        "problems": problems,
    }
    measurements = {"database_bytes": float(size), "growth_bytes_per_day": daily}
    head = f"database is {human(size)} and grows {human(daily)}/day (last {days} days)"
    if problems:
        return Outcome.error(
            f"{head}; cannot measure: {'; '.join(problems)}",
            evidence=evidence,
            measurements=measurements,
        )
    if directory is None:
        evidence["headroom"] = why
        return Outcome.passed(
            f"{head}; disk headroom not measured: {why}",
            evidence=evidence,
            measurements=measurements,
        )
    usage = shutil.disk_usage(directory)
    headroom = usage.free / daily if daily > 0 else math.inf
    evidence.update(
        data_directory=directory,
        disk_free=human(usage.free),
        disk_total=human(usage.total),
        headroom_days=None if math.isinf(headroom) else round(headroom, 1),
    )
    measurements.update(disk_free_bytes=float(usage.free))
    if not math.isinf(headroom):
        measurements["headroom_days"] = round(headroom, 1)
    if math.isinf(headroom):
        summary = f"{head}; {human(usage.free)} free on the data disk"
    else:
        summary = f"{head}; {human(usage.free)} free on the data disk lasts {headroom:,.0f} days"
    if headroom < fail_headroom_days:
        return Outcome.failed(
            f"{summary}, under {fail_headroom_days:g} days",
            evidence=evidence,
            measurements=measurements,
        )
    if headroom < warn_headroom_days:
        return Outcome.warn(
            f"{summary}, under {warn_headroom_days:g} days",
            evidence=evidence,
            measurements=measurements,
        )
    return Outcome.passed(summary, evidence=evidence, measurements=measurements)


_QUEUE_SQL = """
SELECT count(*) AS backlog,
       count(*) FILTER (WHERE {locked_until} > now()) AS leased,
       count(*) FILTER (WHERE {locked_until} <= now()) AS expired_leases,
       extract(epoch FROM now() - min({run_at}))::float AS oldest_seconds,
       extract(epoch FROM avg(now() - {run_at}))::float AS average_wait_seconds,
       min({run_at}) AS oldest_run_at
FROM {t} WHERE {run_at} <= now()
"""


@check(
    id="capacity.work_queue",
    title="Workers keep up with the work queue",
    severity=Severity.HIGH,
    needs=("database",),
    remediation="Scale up workers (e.g. `docker compose up -d --scale worker=N`), look for "
    "workers that hold leases without finishing, and for tasks that fail and retry in a loop.",
)
async def work_queue(
    ctx: Context,
    table: str = "due_work",
    run_at_column: str = "run_at",
    locked_until_column: str = "locked_until",
    scale_up_above: int = 1000,
    sufficient_below: int = 10,
    max_oldest_seconds: float = 600.0,
) -> Outcome:
    """The backlog (queue rows already due), the oldest overdue item and the average wait,
    with the checklist's recommendation: more than `scale_up_above` due items means scale
    up workers (FAIL); fewer than `sufficient_below` means the workers are sufficient
    (PASS); in between, or when the oldest item waits longer than `max_oldest_seconds`, is
    WARN. Leased and expired-lease counts show items stuck under dead workers."""
    import psycopg
    from psycopg import sql

    q = sql.SQL(_QUEUE_SQL).format(
        t=ident(table),
        run_at=sql.Identifier(run_at_column),
        locked_until=sql.Identifier(locked_until_column),
    )
    try:
        async with ctx.db.session() as conn:
            row = await one(conn, q)
            upcoming = await one(
                conn,
                sql.SQL("SELECT count(*) AS n FROM {} WHERE {} > now()").format(
                    ident(table), sql.Identifier(run_at_column)
                ),
            )
    except psycopg.errors.UndefinedTable:
        return Outcome.failed(f"table {table} does not exist", evidence={"table": table})
    except psycopg.errors.UndefinedColumn as exc:
        return Outcome.error(f"{table}: {exc.diag.message_primary}", evidence={"table": table})
    backlog = int(row["backlog"])
    oldest = float(row["oldest_seconds"] or 0.0)
    avg = float(row["average_wait_seconds"] or 0.0)
    evidence = {
        "table": table,
        "due": backlog,
        "leased": int(row["leased"]),
        "expired_leases": int(row["expired_leases"]),
        "scheduled_later": int(upcoming["n"]),
        "oldest_overdue_seconds": round(oldest, 1),
        "oldest_run_at": row["oldest_run_at"],
        "average_wait_seconds": round(avg, 1),
    }
    measurements = {
        "queue_backlog": float(backlog),
        "oldest_overdue_seconds": oldest,
        "average_wait_seconds": avg,
    }
    summary = f"{backlog} due item(s) waiting, the oldest for {oldest:.0f}s (average {avg:.0f}s)"
    if backlog > scale_up_above:
        return Outcome.failed(
            f"{summary}: more than {scale_up_above}, scale up workers",
            evidence=evidence,
            measurements=measurements,
        )
    if backlog >= sufficient_below:
        return Outcome.warn(
            f"{summary}: not under {sufficient_below}, workers are falling behind",
            evidence=evidence,
            measurements=measurements,
        )
    if oldest > max_oldest_seconds:
        return Outcome.warn(
            f"{summary}: an item waits longer than {max_oldest_seconds:g}s",
            evidence=evidence,
            measurements=measurements,
        )
    return Outcome.passed(
        f"{summary}: under {sufficient_below}, workers are sufficient",
        evidence=evidence,
        measurements=measurements,
    )


@check(
    id="capacity.workers",
    title="Enough workers are alive (fresh heartbeats)",
    severity=Severity.CRITICAL,
    needs=("database",),
    remediation="Start or scale the worker service; read the logs of the workers listed as "
    "stale to see why they stopped.",
)
async def workers(
    ctx: Context,
    table: str = "worker_heartbeat",
    min_workers: int = 2,
    max_heartbeat_age: float = 30.0,
    forget_after_hours: float = 24.0,
) -> Outcome:
    """Workers whose heartbeat (`last_seen`) is younger than `max_heartbeat_age` seconds
    are live; FAIL when fewer than `min_workers` are. Workers that stopped beating within
    the last `forget_after_hours` are listed as stale (WARN); older rows are listed as
    departed without affecting the result."""
    import psycopg
    from psycopg import sql

    try:
        rows = await ctx.db.fetch(
            sql.SQL(
                "SELECT *, extract(epoch FROM now() - last_seen)::float AS age_seconds FROM {}"
                " ORDER BY last_seen DESC, worker_id LIMIT 500"
            ).format(ident(table))
        )
    except psycopg.errors.UndefinedTable:
        return Outcome.failed(f"table {table} does not exist", evidence={"table": table})

    def show(r: dict[str, Any]) -> dict[str, Any]:
        return {
            "worker": r.get("worker_id"),
            "hostname": r.get("hostname"),
            "pid": r.get("pid"),
            "processed": r.get("processed_count"),
            "seconds_since_heartbeat": round(float(r["age_seconds"]), 1),
        }

    live = [show(r) for r in rows if r["age_seconds"] <= max_heartbeat_age]
    stale = [
        show(r) for r in rows if max_heartbeat_age < r["age_seconds"] <= forget_after_hours * 3600
    ]
    departed = [show(r) for r in rows if r["age_seconds"] > forget_after_hours * 3600]
    evidence = {
        "live": live,
        "stale": stale,
        "departed": departed[:50],
        "min_workers": min_workers,
        "max_heartbeat_age": max_heartbeat_age,
    }
    measurements = {"live_workers": float(len(live)), "stale_workers": float(len(stale))}
    names = ", ".join(str(w["worker"]) for w in stale[:10])
    if len(live) < min_workers:
        extra = f"; stale: {names}" if stale else ""
        return Outcome.failed(
            f"{len(live)} live worker(s) (heartbeat within {max_heartbeat_age:g}s), fewer than "
            f"the minimum {min_workers}{extra}",
            evidence=evidence,
            measurements=measurements,
        )
    if stale:
        return Outcome.warn(
            f"{len(live)} live worker(s); {len(stale)} stopped beating recently: {names}",
            evidence=evidence,
            measurements=measurements,
        )
    return Outcome.passed(
        f"{len(live)} live worker(s), at least the minimum {min_workers}",
        evidence=evidence,
        measurements=measurements,
    )
