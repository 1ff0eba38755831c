"""Checks of the integrity section: the seeded system agent, orphan rows and foreign keys.

Relations are written `child_table.column -> parent_table.column` (tables may be
schema-qualified: `app.task.created_by -> app.agent.id`), so that renamed schemas are a
matter of configuration. Orphans are counted with anti-joins (`NOT EXISTS`), which use the
parent's primary-key index instead of materialising either table.
"""

from __future__ import annotations

from typing import Any

from golive.api import Context, Outcome, Severity, check

from ._pg import ident, many, one, quoted, statement_timeout_text

#: The orchestrator's foreign keys (TARGET.md).
DEFAULT_RELATIONS = [
    "task.created_by -> agent.id",
    "task_run.task_id -> task.id",
    "due_work.task_id -> task.id",
    "audit_log.actor_agent_id -> agent.id",
]


def parse_relation(text: str) -> tuple[str, str, str, str]:
    """'child.col -> parent.col' -> (child, col, parent, col); ValueError when malformed."""
    left, sep, right = text.partition("->")
    if not sep:
        raise ValueError(f"{text!r} is not of the form 'table.column -> table.column'")
    out: list[str] = []
    for side in (left, right):
        table, dot, column = side.strip().rpartition(".")
        if not dot or not table or not column:
            raise ValueError(f"{text!r} is not of the form 'table.column -> table.column'")
        out += [table, column]
    return out[0], out[1], out[2], out[3]


@check(
    id="integrity.system_agent",
    title="The built-in system agent exists",
    severity=Severity.HIGH,
    needs=("database",),
    remediation="Re-run the seed migration (migrations/003_seed.sql) or insert the agent: "
    "INSERT INTO agent (name, scopes) VALUES ('system', ARRAY['admin', ...]).",
)
async def system_agent(
    ctx: Context,
    name: str = "system",
    table: str = "agent",
    required_scopes: list[str] = [],  # noqa: B006 - read-only default, validated by pydantic
) -> Outcome:
    """An agent row named `name` exists in `table` (the orchestrator's administrative
    agent, which owns system tasks and is used to obtain tokens) and, when
    `required_scopes` is set, holds each of those scopes."""
    import psycopg
    from psycopg import sql

    try:
        row = await ctx.db.fetchone(
            sql.SQL("SELECT * FROM {} WHERE name = %s LIMIT 1").format(ident(table)), (name,)
        )
    except psycopg.errors.UndefinedTable:
        return Outcome.failed(f"table {table} does not exist", evidence={"table": table})
    if row is None:
        return Outcome.failed(
            f"no agent named {name!r} in {table}", evidence={"table": table, "name": name}
        )
    evidence = {
        "id": str(row.get("id")),
        "name": name,
        "created_at": row.get("created_at"),
        "scopes": row.get("scopes"),
    }
    scopes = row.get("scopes") or []
    missing = [s for s in required_scopes if s not in scopes]
    if missing:
        return Outcome.failed(
            f"agent {name!r} exists but lacks scope(s) {', '.join(missing)}", evidence=evidence
        )
    return Outcome.passed(f"agent {name!r} exists (id {row.get('id')})", evidence=evidence)


async def _primary_key(conn: Any, table: str) -> str | None:
    found = await many(
        conn,
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
        " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
        " WHERE i.indrelid = to_regclass(%s) AND i.indisprimary",
        (quoted(table),),
    )
    cols = [r["attname"] for r in found]
    return cols[0] if len(cols) == 1 else None


@check(
    id="integrity.orphans",
    title="No rows point to missing parent rows",
    severity=Severity.HIGH,
    needs=("database",),
    remediation="Find how the rows lost their parents (a manual delete with triggers disabled, "
    "a dropped foreign key), delete or re-parent them, then restore the foreign key.",
)
async def orphans(
    ctx: Context,
    relations: list[str] = DEFAULT_RELATIONS,
    samples: int = 5,
) -> Outcome:
    """For each of `relations` (`child.column -> parent.column`), counts child rows whose
    non-null column has no parent row, with an anti-join (NOT EXISTS); FAIL when any exist,
    with up to `samples` child ids per relation. A missing table or column is FAIL too."""
    import psycopg
    from psycopg import sql

    try:
        parsed = [(text, *parse_relation(text)) for text in relations]
    except ValueError as exc:
        return Outcome.error(str(exc))
    table_rows: list[dict[str, Any]] = []
    ctx.record("relations", table_rows)  # filled as relations are counted (kept on timeout)
    problems: list[str] = []
    total = 0
    async with ctx.db.session() as conn:
        for text, child, col, parent, pcol in parsed:
            entry: dict[str, Any] = {"relation": text, "orphans": None, "sample_ids": []}
            table_rows.append(entry)
            found_tables = await one(
                conn,
                "SELECT to_regclass(%s) AS c, to_regclass(%s) AS p",
                (quoted(child), quoted(parent)),
            )
            missing = [t for t, k in ((child, "c"), (parent, "p")) if found_tables[k] is None]
            if missing:
                entry["problem"] = f"table {', '.join(missing)} does not exist"
                problems.append(f"{text}: {entry['problem']}")
                continue
            where = sql.SQL(
                "c.{col} IS NOT NULL"
                " AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.{pcol} = c.{col})"
            ).format(col=sql.Identifier(col), parent=ident(parent), pcol=sql.Identifier(pcol))
            try:
                count = sql.SQL("SELECT count(*) AS n FROM {} c WHERE ").format(ident(child))
                n = int((await one(conn, count + where))["n"])
                entry["orphans"] = n
                if n:
                    pk = await _primary_key(conn, child)
                    key = sql.SQL("c.{}::text").format(sql.Identifier(pk or "ctid"))
                    found = await many(
                        conn,
                        sql.SQL(
                            "SELECT {key} AS id, c.{col}::text AS dangling FROM {child} c WHERE "
                        ).format(key=key, col=sql.Identifier(col), child=ident(child))
                        + where
                        + sql.SQL(" LIMIT %s"),
                        (samples,),
                    )
                    entry["sample_ids"] = [r["id"] for r in found]
                    entry["sample_missing_parents"] = sorted({r["dangling"] for r in found})
            except (psycopg.errors.UndefinedColumn, psycopg.errors.UndefinedFunction) as exc:
                entry["problem"] = exc.diag.message_primary or str(exc)
                problems.append(f"{text}: {entry['problem']}")
                continue
            except psycopg.errors.QueryCanceled:
                return Outcome.error(
                    f"counting orphans of {text} took longer than the statement timeout "
                    f"({statement_timeout_text(ctx)}); raise "
                    "targets.database.statement_timeout or run off-peak",
                    evidence={"relations": table_rows},
                )
            total += n
    evidence = {"relations": table_rows}
    measurements = {"orphans": float(total)}
    if total or problems:
        parts = [f"{e['orphans']} in {e['relation']}" for e in table_rows if e["orphans"]]
        lead = f"{total} orphan row(s): {', '.join(parts)}" if total else ""
        return Outcome.failed(
            "; ".join(p for p in [lead, *problems] if p),
            evidence=evidence,
            measurements=measurements,
        )
    return Outcome.passed(
        f"no orphan rows in {len(parsed)} relation(s)", evidence=evidence, measurements=measurements
    )


_FKS_SQL = """
SELECT c.conname AS name, c.convalidated AS validated, c.conrelid::oid AS child_oid,
       c.confrelid::oid AS parent_oid, c.conrelid::regclass::text AS child,
       c.confrelid::regclass::text AS parent,
       ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o)
         AS columns,
       ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o)
         AS ref_columns
FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
WHERE c.contype = 'f' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
"""


@check(
    id="integrity.constraints",
    title="The schema's foreign keys exist and are validated",
    severity=Severity.HIGH,
    needs=("database",),
    remediation="Delete or fix orphan rows, then ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY "
    "(or ALTER TABLE ... VALIDATE CONSTRAINT for one added NOT VALID).",
)
async def constraints(ctx: Context, relations: list[str] = DEFAULT_RELATIONS) -> Outcome:
    """Each of `relations` (`child.column -> parent.column`) is enforced by a foreign-key
    constraint (pg_constraint), FAIL when one is missing; a foreign key added NOT VALID and
    never validated (`convalidated` false) leaves old rows unchecked: WARN, for these and
    for any other foreign key in the database."""
    try:
        parsed = [(text, *parse_relation(text)) for text in relations]
    except ValueError as exc:
        return Outcome.error(str(exc))
    async with ctx.db.session() as conn:
        fks = await many(conn, _FKS_SQL)
        oids = {}
        for _, child, _, parent, _ in parsed:
            for t in (child, parent):
                if t not in oids:
                    found = await one(conn, "SELECT to_regclass(%s)::oid AS o", (quoted(t),))
                    oids[t] = found["o"]
    rows: list[dict[str, Any]] = []
    missing: list[str] = []
    for text, child, col, parent, pcol in parsed:
        if oids[child] is None or oids[parent] is None:
            gone = ", ".join(t for t in (child, parent) if oids[t] is None)
            rows.append(
                {
                    "relation": text,
                    "constraint": None,
                    "validated": None,
                    "problem": f"table {gone} does not exist",
                }
            )
            missing.append(text)
            continue
        match = next(
            (
                f
                for f in fks
                if f["child_oid"] == oids[child]
                and f["parent_oid"] == oids[parent]
                and list(f["columns"]) == [col]
                and list(f["ref_columns"]) == [pcol]
            ),
            None,
        )
        if match is None:
            rows.append(
                {
                    "relation": text,
                    "constraint": None,
                    "validated": None,
                    "problem": "no foreign key",
                }
            )
            missing.append(text)
        else:
            rows.append(
                {
                    "relation": text,
                    "constraint": match["name"],
                    "validated": match["validated"],
                    "problem": None if match["validated"] else "NOT VALID",
                }
            )
    unvalidated = sorted(f"{f['child']}.{f['name']}" for f in fks if not f["validated"])
    evidence = {"relations": rows, "unvalidated": unvalidated, "foreign_keys": len(fks)}
    if missing:
        more = f"; not validated: {', '.join(unvalidated)}" if unvalidated else ""
        return Outcome.failed(
            f"{len(missing)} foreign key(s) missing: {', '.join(missing)}{more}", evidence=evidence
        )
    if unvalidated:
        return Outcome.warn(
            f"{len(unvalidated)} foreign key(s) are NOT VALID (old rows unchecked): "
            f"{', '.join(unvalidated)}",
            evidence=evidence,
        )
    return Outcome.passed(f"{len(parsed)} foreign keys exist and are validated", evidence=evidence)
