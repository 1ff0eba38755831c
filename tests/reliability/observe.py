"""What the reliability tests observe on the stack: database state, alerts, file hashes.

Snapshots are plain dicts so that a test can diff them key by key and name what changed.
Everything is read with the stack's superuser DSN (or over HTTP), never through golive.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: Counters the demo application moves by itself while idle: workers upsert their
#: heartbeat row every second.
SELF_MOVING = {("worker_heartbeat", "n_tup_upd"), ("worker_heartbeat", "n_tup_hot_upd")}
#: Columns the application rewrites by itself (excluded from content digests).
VOLATILE_COLUMNS = ("last_seen",)


def app_admin_dsn(stack: Any) -> str:
    """The superuser DSN on the application database."""
    return str(stack.admin_dsn).rsplit("/", 1)[0] + "/orchestrator"


def db_counters(stack: Any) -> dict[tuple[str, str], int]:
    """pg_stat_user_tables insert/update/delete counters of every application table."""
    import psycopg

    out: dict[tuple[str, str], int] = {}
    with psycopg.connect(app_admin_dsn(stack), autocommit=True, connect_timeout=10) as conn:
        rows = conn.execute(
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del, n_tup_hot_upd"
            " FROM pg_stat_user_tables WHERE schemaname = 'public'"
        ).fetchall()
    for relname, ins, upd, dele, hot in rows:
        for name, value in (
            ("n_tup_ins", ins),
            ("n_tup_upd", upd),
            ("n_tup_del", dele),
            ("n_tup_hot_upd", hot),
        ):
            out[(relname, name)] = int(value)
    return out


def db_content(stack: Any) -> dict[str, Any]:
    """Exact content of the application database: per table its row count and a digest
    of every row (volatile columns left out), plus roles, relations and grants."""
    import psycopg
    from psycopg import sql

    out: dict[str, Any] = {}
    with psycopg.connect(app_admin_dsn(stack), autocommit=True, connect_timeout=10) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT relname FROM pg_stat_user_tables WHERE schemaname = 'public'"
                " ORDER BY relname"
            ).fetchall()
        ]
        drop = sql.SQL("").join(sql.SQL(" - {}").format(sql.Literal(c)) for c in VOLATILE_COLUMNS)
        for table in tables:
            row = conn.execute(
                sql.SQL(
                    "SELECT count(*), md5(coalesce(string_agg(h, ',' ORDER BY h), ''))"
                    " FROM (SELECT md5((to_jsonb(t){drop})::text) AS h FROM {table} t) AS x"
                ).format(drop=drop, table=sql.Identifier(table))
            ).fetchone()
            assert row is not None
            out[f"table:{table}"] = (int(row[0]), row[1])
        out["roles"] = conn.execute(
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, rolbypassrls"
            " FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%' ORDER BY rolname"
        ).fetchall()
        out["relations"] = conn.execute(
            "SELECT n.nspname, c.relname, c.relkind, c.relacl::text FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
            " ORDER BY 1, 2"
        ).fetchall()
    return out


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def alerts(stack: Any) -> dict[str, Any]:
    """Alertmanager's alerts (identity, start, state) and silences."""
    base = str(stack.alertmanager_url).rstrip("/")
    listed = _get_json(f"{base}/api/v2/alerts")
    silences = _get_json(f"{base}/api/v2/silences")
    return {
        "alerts": sorted(
            (
                a["fingerprint"],
                json.dumps(a.get("labels", {}), sort_keys=True),
                a.get("startsAt"),
                (a.get("status") or {}).get("state"),
            )
            for a in listed
        ),
        "silences": sorted((s["id"], (s.get("status") or {}).get("state")) for s in silences),
    }


def marked_alerts(stack: Any, label: str = "golive_marker") -> list[dict[str, Any]]:
    """Active alerts that carry golive's marker label."""
    base = str(stack.alertmanager_url).rstrip("/")
    listed = _get_json(f"{base}/api/v2/alerts")
    return [a for a in listed if label in (a.get("labels") or {})]


def file_hashes(roots: Iterable[Path], exclude: Iterable[Path] = ()) -> dict[str, str]:
    """sha256 (plus mode) of every file under `roots`, except paths under `exclude`."""
    skip = [Path(p).resolve() for p in exclude]
    out: dict[str, str] = {}
    for root in roots:
        root = Path(root)
        if root.is_file():
            candidates: Iterable[Path] = [root]
        elif root.is_dir():
            candidates = (
                Path(d) / f for d, _, files in os.walk(root, followlinks=False) for f in files
            )
        else:
            out[str(root)] = "absent"
            continue
        for path in candidates:
            resolved = path.resolve()
            if any(resolved == s or s in resolved.parents for s in skip):
                continue
            try:
                data = path.read_bytes() if not path.is_symlink() else os.readlink(path).encode()
                mode = oct(path.lstat().st_mode)
            except OSError as exc:
                out[str(path)] = f"unreadable: {exc.strerror}"
                continue
            out[str(path)] = f"{mode}:{hashlib.sha256(data).hexdigest()}"
    return out


def diff(before: dict[Any, Any], after: dict[Any, Any]) -> dict[Any, tuple[Any, Any]]:
    """Keys whose value differs (or that appeared or disappeared): key -> (before, after)."""
    keys = set(before) | set(after)
    return {k: (before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)}
