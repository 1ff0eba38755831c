"""PostgreSQL: read-only sessions with statement and lock timeouts, named `golive`."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg
    from psycopg.sql import SQL, Composed

    Query = str | bytes | SQL | Composed  # what AsyncConnection.execute accepts

    from golive.config import DatabaseTarget as DatabaseConfig


_REFUSED = re.compile(
    r'connection to server at "(?P<host>[^"]+)"(?: \([^)]*\))?, port (?P<port>\d+) failed: '
    r"Connection refused"
)
_UNRESOLVED = re.compile(r"failed to resolve host '(?P<host>[^']+)'")


class DatabaseTarget:
    """PostgreSQL; every session is read-only unless a writing check asks otherwise."""

    kind = "database"

    def __init__(self, cfg: DatabaseConfig, *, allow_writes: bool = False) -> None:
        self.cfg = cfg
        self.allow_writes = allow_writes

    @property
    def user(self) -> str | None:
        """The role golive (and normally the application) connects as."""
        from psycopg.conninfo import conninfo_to_dict

        try:
            user = conninfo_to_dict(self.cfg.dsn).get("user")
        except Exception:
            return None
        return str(user) if user else None

    @property
    def dbname(self) -> str | None:
        """The database name of the DSN."""
        from psycopg.conninfo import conninfo_to_dict

        try:
            name = conninfo_to_dict(self.cfg.dsn).get("dbname")
        except Exception:
            return None
        return str(name) if name else None

    def _options(self, write: bool) -> str:
        ms = int(self.cfg.statement_timeout * 1000)
        lock = int(self.cfg.lock_timeout * 1000)
        ro = "off" if write else "on"
        return (
            f"-c default_transaction_read_only={ro} -c statement_timeout={ms} "
            f"-c lock_timeout={lock} -c idle_in_transaction_session_timeout={max(ms * 4, 10000)}"
        )

    async def connect(self, *, write: bool = False) -> psycopg.AsyncConnection[Any]:
        """Open a new session (read-only unless `write`, which needs --allow-writes)."""
        import psycopg
        from psycopg.rows import dict_row

        if write and not self.allow_writes:
            raise PermissionError("database writes need --allow-writes")
        timeout = float(self.cfg.connect_timeout)
        conn = await asyncio.wait_for(
            psycopg.AsyncConnection.connect(
                self.cfg.dsn,
                connect_timeout=max(1, int(timeout)),
                application_name="golive",
                options=self._options(write),
                autocommit=True,
                row_factory=dict_row,
            ),
            timeout=timeout + 1,
        )
        return conn

    @asynccontextmanager
    async def session(self, *, write: bool = False) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A session closed on exit."""
        conn = await self.connect(write=write)
        try:
            yield conn
        finally:
            await conn.close()

    async def fetch(self, sql: Query, params: Any = None) -> list[dict[str, Any]]:
        """Run one read-only query in its own session; rows as dicts."""
        async with self.session() as conn:
            cur = await conn.execute(sql, params)
            return list(await cur.fetchall()) if cur.description else []

    async def fetchone(self, sql: Query, params: Any = None) -> dict[str, Any] | None:
        """The first row of a query, or None."""
        rows = await self.fetch(sql, params)
        return rows[0] if rows else None

    async def fetchval(self, sql: Query, params: Any = None) -> Any:
        """The first column of the first row, or None."""
        row = await self.fetchone(sql, params)
        return next(iter(row.values())) if row else None

    def describe(self, exc: BaseException) -> str:
        """A readable reason for a database failure (no secrets: the caller redacts)."""
        # psycopg's ConnectionTimeout: the server accepted TCP but never spoke the protocol
        if isinstance(exc, (asyncio.TimeoutError, TimeoutError)) or (
            type(exc).__name__ == "ConnectionTimeout"
        ):
            return f"no answer from PostgreSQL within {self.cfg.connect_timeout:g}s"
        text = " ".join(str(exc).split()) or type(exc).__name__
        refused = _REFUSED.search(text)
        if refused:
            return f"connection refused by PostgreSQL at {refused['host']}:{refused['port']}"
        unresolved = _UNRESOLVED.search(text)
        if unresolved:
            return f"host name {unresolved['host']} of the database does not resolve"
        return f"{type(exc).__name__}: {text}"

    async def probe(self) -> str | None:
        """None when a read-only session opens and answers `SELECT 1`."""
        try:
            async with self.session() as conn:
                await conn.execute("SELECT 1")
        except Exception as exc:
            return self.describe(exc)
        return None

    async def close(self) -> None:
        """Nothing to close: sessions are per query."""
