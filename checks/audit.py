"""Checks of the audit section: the audit log receives rows, and the application role can
write to it.

Table and column names are parameters (defaults: `audit_log`, `at`, `action`, `details`
as in the orchestrator's schema). Reading uses the index on the timestamp column: the
window's rows are counted, the table's total is the planner's estimate.
"""

from __future__ import annotations

import json
from typing import Any

from golive.api import Context, Outcome, Severity, check

from ._pg import ident, many, one, quoted

# golive's own probe rows (audit.write_path, possibly running at the same time) do not count
_REAL = "NOT ({action}::text = ANY(%(ignore)s))"
_ACTIONS_SQL = f"""
SELECT {{action}}::text AS action, count(*) AS rows, max({{at}}) AS newest FROM {{t}}
WHERE {{at}} > now() - %(hours)s * interval '1 hour' AND {_REAL}
GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 50
"""
_WINDOW_SQL = f"""
SELECT count(*) AS n FROM {{t}} WHERE {{at}} > now() - %(hours)s * interval '1 hour' AND {_REAL}
"""
_SPAN_SQL = f"""
SELECT (SELECT min({{at}}) FROM {{t}} WHERE {_REAL}) AS oldest,
       (SELECT max({{at}}) FROM {{t}} WHERE {_REAL}) AS newest, now() AS now,
       (SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = to_regclass(%(t)s))
         AS estimated_rows
"""


@check(
    id="audit.activity",
    title="The audit log receives rows and keeps them for the retention period",
    severity=Severity.HIGH,
    needs=("database",),
    remediation="Make sure every state-changing API path writes an audit_log row (and that the "
    "application's audit writes do not fail silently); schedule the retention purge.",
)
async def activity(
    ctx: Context,
    table: str = "audit_log",
    time_column: str = "at",
    action_column: str = "action",
    window_hours: float = 24.0,
    min_rows: int = 1,
    expected_actions: list[str] = [],  # noqa: B006 - read-only default, validated by pydantic
    retention_days: float | None = None,
    ignore_actions: list[str] = ["golive.write_path"],  # noqa: B006
) -> Outcome:
    """At least `min_rows` audit rows were written in the last `window_hours` (FAIL
    otherwise); the window's actions are counted, and the oldest and newest rows and the
    retention they imply (age of the oldest row) are reported. WARN when an action of
    `expected_actions` is missing from the window, or when rows are older than
    `retention_days` (the purge does not run). Rows of `ignore_actions` (golive's own
    write probe) are not counted."""
    import psycopg
    from psycopg import sql

    names = {
        "t": ident(table),
        "at": sql.Identifier(time_column),
        "action": sql.Identifier(action_column),
    }
    try:
        async with ctx.db.session() as conn:
            args = {"hours": window_hours, "ignore": ignore_actions, "t": quoted(table)}
            actions = await many(conn, sql.SQL(_ACTIONS_SQL).format(**names), args)
            in_window = int((await one(conn, sql.SQL(_WINDOW_SQL).format(**names), args))["n"])
            span = await one(conn, sql.SQL(_SPAN_SQL).format(**names), args)
    except psycopg.errors.UndefinedTable:
        return Outcome.failed(f"table {table} does not exist", evidence={"table": table})
    except psycopg.errors.UndefinedColumn as exc:
        return Outcome.error(f"{table}: {exc.diag.message_primary}", evidence={"table": table})
    now, oldest, newest = span["now"], span["oldest"], span["newest"]
    kept_days = (now - oldest).total_seconds() / 86400 if oldest else 0.0
    evidence: dict[str, Any] = {
        "table": table,
        "window_hours": window_hours,
        "rows_in_window": in_window,
        "actions": actions,
        "oldest": oldest,
        "newest": newest,
        "retention_days": round(kept_days, 2),
        "estimated_rows": span["estimated_rows"],
    }
    measurements = {"audit_rows_window": float(in_window), "audit_retention_days": kept_days}
    if in_window < min_rows:
        last = (
            f"; newest row at {newest.isoformat(timespec='seconds')}"
            if newest
            else "; the table holds no audit rows"
        )
        return Outcome.failed(
            f"{in_window} audit row(s) in the last {window_hours:g} h (need {min_rows}){last}",
            evidence=evidence,
            measurements=measurements,
        )
    warns = []
    seen = {a["action"] for a in actions}
    absent = [a for a in expected_actions if a not in seen]
    if absent:
        warns.append(f"no {', '.join(absent)} action in the window")
    if retention_days is not None and kept_days > retention_days + 1:
        warns.append(
            f"rows are kept {kept_days:.0f} days, beyond the {retention_days:g}-day "
            "retention (is the purge running?)"
        )
    summary = (
        f"{in_window} audit row(s) in the last {window_hours:g} h across "
        f"{len(actions)} action(s); oldest row {kept_days:.1f} days old"
    )
    if warns:
        return Outcome.warn(
            f"{summary}; " + "; ".join(warns), evidence=evidence, measurements=measurements
        )
    return Outcome.passed(summary, evidence=evidence, measurements=measurements)


@check(
    id="audit.write_path",
    title="The application role can write and read back an audit row",
    severity=Severity.HIGH,
    needs=("database",),
    writes=True,
    remediation="GRANT INSERT, SELECT ON audit_log (and USAGE on its id sequence) to the "
    "application role; check that the database is a writable primary.",
)
async def write_path(
    ctx: Context,
    table: str = "audit_log",
    action: str = "golive.write_path",
) -> Outcome:
    """Inserts an audit row marked with the run's marker (`details.golive_marker`) as the
    application role in its own committed transaction, reads it back from another
    session, then deletes it. FAIL when the insert or the read-back fails; rows that could
    not be deleted afterwards (e.g. an append-only audit table) are reported with their
    ids (WARN). WARN as well when the role is a superuser: it bypasses privileges, so the
    write says nothing about the application's own."""
    import psycopg
    from psycopg import sql

    details = json.dumps({"golive_marker": ctx.marker, "check": ctx.check_id})
    evidence: dict[str, Any] = {"table": table, "marker": ctx.marker}
    outcome: Outcome | None = None
    row_id: Any = None
    role = "?"
    try:
        async with ctx.db.session(write=True) as conn:
            who = await one(
                conn,
                "SELECT current_user AS u, rolsuper FROM pg_roles WHERE rolname = current_user",
            )
            role = who["u"]
            evidence.update(role=role, superuser=who["rolsuper"])
            try:
                async with conn.transaction():
                    inserted = await one(
                        conn,
                        sql.SQL(
                            "INSERT INTO {} (action, details) VALUES (%s, %s::jsonb) RETURNING id"
                        ).format(ident(table)),
                        (action, details),
                    )
                    row_id = inserted["id"]
            except psycopg.errors.InsufficientPrivilege as exc:
                outcome = Outcome.failed(
                    f"role {role} cannot insert into {table}: {exc.diag.message_primary}",
                    evidence=evidence,
                )
            except psycopg.errors.ReadOnlySqlTransaction:
                outcome = Outcome.failed(
                    f"the database refuses writes (a read-only standby?); no audit row can be "
                    f"written to {table}",
                    evidence=evidence,
                )
            except psycopg.errors.UndefinedTable:
                outcome = Outcome.failed(f"table {table} does not exist", evidence=evidence)
        if outcome is None:
            evidence["inserted_id"] = row_id
            try:
                back = await ctx.db.fetchone(
                    sql.SQL(
                        "SELECT action, details->>'golive_marker' AS marker FROM {} WHERE id = %s"
                    ).format(ident(table)),
                    (row_id,),
                )
            except psycopg.errors.InsufficientPrivilege as exc:
                back = None
                evidence["read_error"] = exc.diag.message_primary
            evidence["read_back"] = back is not None and back["marker"] == ctx.marker
            if not evidence["read_back"]:
                outcome = Outcome.failed(
                    f"audit row {row_id} was inserted by {role} but cannot be read back from "
                    "another session",
                    evidence=evidence,
                )
    finally:
        left = await _cleanup(ctx, table, row_id, evidence)
    if left:
        evidence["left_behind_ids"] = left
        text = (
            f"audit row(s) {', '.join(map(str, left))} marked {ctx.marker} could not be "
            f"deleted ({evidence.get('cleanup_error', 'still present')})"
        )
        if outcome is not None:
            return Outcome(outcome.status, f"{outcome.summary}; {text}", evidence=evidence)
        return Outcome.warn(
            f"{role} wrote and read back an audit row, but {text}", evidence=evidence
        )
    if outcome is not None:
        return outcome
    done = f"wrote audit row {row_id}, read it back from another session and deleted it"
    if evidence["superuser"]:
        return Outcome.warn(
            f"{role} {done}, but {role} is a superuser, which bypasses privileges: this "
            "proves nothing about what a non-superuser application role may do",
            evidence=evidence,
        )
    return Outcome.passed(f"{role} {done}", evidence=evidence)


async def _cleanup(ctx: Context, table: str, row_id: Any, evidence: dict[str, Any]) -> list[Any]:
    """Delete the inserted row by its id; return it when it is still present afterwards."""
    import psycopg
    from psycopg import sql

    if row_id is None:  # the insert's transaction did not commit: nothing to remove
        return []
    where = sql.SQL(" WHERE id = %s AND details->>'golive_marker' = %s")
    args = (row_id, ctx.marker)
    async with ctx.db.session(write=True) as conn:
        try:
            cur = await conn.execute(sql.SQL("DELETE FROM {}").format(ident(table)) + where, args)
            evidence["deleted"] = cur.rowcount
        except psycopg.errors.InsufficientPrivilege as exc:
            evidence["cleanup_error"] = exc.diag.message_primary
        left = await many(conn, sql.SQL("SELECT id FROM {}").format(ident(table)) + where, args)
        return [r["id"] for r in left]
