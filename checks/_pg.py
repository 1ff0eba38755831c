"""Helpers shared by the database, integrity, audit and capacity checks.

Sizes and versions as PostgreSQL writes them, quoted identifiers for configurable table
names, and where the database server runs. Standard library only at import time: psycopg
is imported inside the functions that need it, so importing a section stays cheap.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

from golive.api import Context

PG_EOL: dict[int, date] = {
    10: date(2022, 11, 10),
    11: date(2023, 11, 9),
    12: date(2024, 11, 21),
    13: date(2025, 11, 13),
    14: date(2026, 11, 12),
    15: date(2027, 11, 11),
    16: date(2028, 11, 9),
    17: date(2029, 11, 8),
    18: date(2030, 11, 14),
}

_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes of a size such as '512MB', '16GB', '16GiB' or '1048576'."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a size such as '512MB' or '16GB'")
    unit = (m.group(2) or "b").lower().replace("i", "")
    return int(float(m.group(1)) * _UNITS[unit])


def human(n: float) -> str:
    """A byte count as PostgreSQL prints it: 128MB, 6GB, 8kB."""
    for unit, size in (("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2), ("kB", 1024)):
        if abs(n) >= size:
            value = n / size
            exact = value >= 10 or value == int(value)
            return f"{value:.0f}{unit}" if exact else f"{value:.1f}{unit}"
    return f"{n:.0f}B"


def setting_bytes(setting: str, unit: str | None) -> int:
    """A pg_settings value in bytes (unit is e.g. '8kB', 'kB', 'MB' or None)."""
    m = re.match(r"^(\d*)\s*([kMGT]?B)$", unit or "B")
    if not m:
        raise ValueError(f"unexpected unit {unit!r}")
    return int(float(setting) * int(m.group(1) or 1) * _UNITS[m.group(2).lower()])


def version_num(text: str) -> int:
    """'15' -> 150000, '15.2' -> 150002, '9.6' -> 90600 (server_version_num form)."""
    parts = [int(p) for p in text.strip().split(".") if p.strip().isdigit()]
    if not parts or len(parts) != len(text.strip().split(".")):
        raise ValueError(f"{text!r} is not a PostgreSQL version such as '15' or '15.2'")
    if parts[0] >= 10:
        return parts[0] * 10000 + (parts[1] if len(parts) > 1 else 0)
    return (
        parts[0] * 10000
        + (parts[1] if len(parts) > 1 else 0) * 100
        + (parts[2] if len(parts) > 2 else 0)
    )


def db_is_local(ctx: Context) -> bool:
    """True when the database server runs on this host (unix socket or loopback address)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        host = str(conninfo_to_dict(ctx.db.cfg.dsn).get("host") or "")
    except Exception:  # an unparsable DSN: the probe reports it; here it is just "not local"
        return False
    hosts = [h.strip() for h in host.split(",")] if host else [""]
    return all(h in ("", "localhost", "::1") or h.startswith(("/", "@", "127.")) for h in hosts)


def host_memory() -> int | None:
    """Memory of this host in bytes (the cgroup limit when smaller), or None."""
    total = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                total = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            limit = int(Path(limit_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if total is not None and 0 < limit < total:
            total = limit
    return total


def ident(name: str) -> Any:
    """A (possibly schema-qualified) table name as a quoted SQL identifier."""
    from psycopg import sql

    return sql.Identifier(*name.split(".", 1))


def quoted(name: str) -> str:
    """A (possibly schema-qualified) name quoted for to_regclass(), matching `ident`."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split(".", 1))


def statement_timeout_text(ctx: Context) -> str:
    """'5s': the configured statement timeout, for messages."""
    return f"{ctx.db.cfg.statement_timeout:g}s"


async def one(conn: Any, query: Any, params: Any = None) -> dict[str, Any]:
    """The first row of a query that always returns one, on an open session."""
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    if row is None:
        raise LookupError("the query returned no row")
    return dict(row)


async def many(conn: Any, query: Any, params: Any = None) -> list[dict[str, Any]]:
    """Every row of a query on an open session, as dicts."""
    cur = await conn.execute(query, params)
    return [dict(r) for r in await cur.fetchall()]
