"""Catalog queries and plan formatting of the database section (`checks/database.py`).

The SQL each check sends (read from pg_stat_activity, pg_locks, pg_stat_user_tables,
pg_stat_user_indexes and pg_constraint), and the helpers that turn timestamps and EXPLAIN
plans into evidence rows. Standard library only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

_SETTINGS = (
    "shared_buffers",
    "work_mem",
    "effective_cache_size",
    "checkpoint_completion_target",
    "max_connections",
)


_COUNTS_SQL = """
SELECT current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS reserved,
       current_setting('server_version_num')::int AS version_num,
       count(*) FILTER (WHERE backend_type = 'client backend'
           OR (backend_type IS NULL AND datid IS NOT NULL AND usesysid IS NOT NULL)) AS used,
       count(*) FILTER (WHERE backend_type IS NULL AND datid IS NOT NULL
           AND usesysid IS NOT NULL) AS hidden
FROM pg_stat_activity
"""


_BY_STATE_SQL = """
SELECT coalesce(datname, '') AS database, coalesce(usename, '') AS "user",
       coalesce(state, '(not visible)') AS state, count(*) AS sessions
FROM pg_stat_activity
WHERE backend_type = 'client backend'
   OR (backend_type IS NULL AND datid IS NOT NULL AND usesysid IS NOT NULL)
GROUP BY 1, 2, 3 ORDER BY 4 DESC LIMIT 20
"""


_IDLE_TX_SQL = """
SELECT pid, usename AS "user", application_name AS application, datname AS database, state,
       round(extract(epoch FROM now() - state_change)::numeric, 1)::float AS idle_seconds
FROM pg_stat_activity
WHERE state LIKE 'idle in transaction%%' AND pid <> pg_backend_pid()
  AND now() - state_change > make_interval(secs => %s)
ORDER BY state_change LIMIT 20
"""


_LOCKS_SQL = """
SELECT l.pid, a.usename AS "user", a.application_name AS application, l.locktype, l.mode,
       CASE WHEN l.relation IS NULL THEN NULL ELSE l.relation::regclass::text END AS relation,
       round(extract(epoch FROM now() - {since})::numeric, 1)::float AS waiting_seconds,
       pg_blocking_pids(l.pid) AS blocked_by
FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE NOT l.granted AND {since} IS NOT NULL AND now() - {since} > make_interval(secs => %s)
ORDER BY {since} LIMIT 20
"""


# pg_locks.waitstart is new in PostgreSQL 14; before, the waiting statement's start time
# is the closest available (it may have run a while before it started to wait)
_WAIT_SINCE = {True: "l.waitstart", False: "a.query_start"}


_TABLES_SQL = """
SELECT s.relid, s.schemaname || '.' || s.relname AS "table", s.n_live_tup, s.n_dead_tup,
       s.n_tup_ins, s.n_tup_upd, s.n_tup_del, c.reltuples::bigint AS reltuples,
       s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze,
       coalesce('autovacuum_enabled=false' = ANY(c.reloptions), false) AS autovacuum_off,
       c.relpages
FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
"""


_SIZES_SQL = "SELECT o AS relid, pg_total_relation_size(o) AS bytes FROM unnest(%s::oid[]) o"


def _age(ts: Any, now: datetime) -> str | None:
    if ts is None:
        return None
    hours = (now - ts).total_seconds() / 3600
    return f"{hours:.1f} h ago" if hours < 48 else f"{hours / 24:.0f} d ago"


_FK_NO_INDEX_SQL = """
SELECT c.conrelid::regclass::text AS "table", c.conname AS constraint,
       c.confrelid::regclass::text AS "references",
       (SELECT string_agg(a.attname, ', ' ORDER BY k.n) FROM unnest(c.conkey) WITH ORDINALITY
          AS k(attnum, n) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum)
          AS columns,
       greatest(t.reltuples, 0)::bigint AS rows
FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE c.contype = 'f' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND NOT EXISTS (
    SELECT 1 FROM pg_index i
    WHERE i.indrelid = c.conrelid AND i.indpred IS NULL
      AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] @> c.conkey
      AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] <@ c.conkey)
ORDER BY 1, 2
"""


_UNUSED_SQL = """
SELECT s.schemaname || '.' || s.relname AS "table", s.indexrelname AS index,
       pg_relation_size(s.indexrelid) AS bytes
FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary AND NOT i.indisexclusion
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = s.indexrelid)
  AND pg_relation_size(s.indexrelid) >= %s
ORDER BY bytes DESC LIMIT 50
"""


_SEQ_SQL = """
SELECT s.schemaname || '.' || s.relname AS "table", s.seq_scan,
       coalesce(s.idx_scan, 0) AS idx_scan, s.seq_tup_read,
       greatest(s.n_live_tup, c.reltuples::bigint) AS rows
FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
WHERE greatest(s.n_live_tup, c.reltuples::bigint) >= %(big)s
  AND s.seq_scan >= %(min_scans)s
  AND s.seq_scan > %(ratio)s * (s.seq_scan + coalesce(s.idx_scan, 0))
  AND s.seq_tup_read / greatest(s.seq_scan, 1) >= %(big)s / 2
ORDER BY s.seq_tup_read DESC LIMIT 20
"""


def _plan_rows(
    node: dict[str, Any], depth: int = 0, out: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    out = [] if out is None else out
    label = node.get("Node Type", "?")
    if node.get("Join Type") and "Join" in label:
        label = f"{node['Join Type']} {label}" if node["Join Type"] != "Inner" else label
    out.append(
        {
            "node": "  " * depth + label,
            "relation": node.get("Relation Name"),
            "index": node.get("Index Name"),
            "actual_ms": node.get("Actual Total Time"),
            "rows": node.get("Actual Rows"),
            "loops": node.get("Actual Loops"),
            "estimated_rows": node.get("Plan Rows"),
            "shared_hit": node.get("Shared Hit Blocks"),
            "shared_read": node.get("Shared Read Blocks"),
        }
    )
    for child in node.get("Plans", []):
        _plan_rows(child, depth + 1, out)
    return out
