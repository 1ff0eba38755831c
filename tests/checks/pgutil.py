"""PostgreSQL helpers for the database, integrity, audit and capacity check tests.

Every failing state is built for real on the reference stack's PostgreSQL (through its
superuser DSN) and undone; states that must not disturb the running demo application (an
empty audit log, seeded growth, the read-only proof) live in a scratch database created
from ``demo/migrations`` and dropped afterwards.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
import pytest
from psycopg import sql

from golive.models import CheckResult
from golive.testing import run_check

if TYPE_CHECKING:
    from demo.stack import Stack

T = TypeVar("T")


def on_db(dsn: str, dbname: str) -> str:
    """The same server and credentials, another database."""
    return dsn.rsplit("/", 1)[0] + f"/{dbname}"


def admin_app(stack: Stack) -> str:
    """Superuser DSN on the application database."""
    return on_db(stack.admin_dsn, "orchestrator")


def q(dsn: str, query: Any, params: Any = None) -> list[tuple[Any, ...]]:
    """Run one statement on a fresh autocommit connection; its rows."""
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


def poll(
    fetch: Callable[[], T], ok: Callable[[T], bool], timeout: float = 20, what: str = "condition"
) -> T:
    """Call `fetch` until `ok(value)`; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    value = fetch()
    while not ok(value):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not reached after {timeout}s; last value: {value!r}")
        time.sleep(0.1)
        value = fetch()
    return value


def targets(stack: Stack, dsn: str | None = None, **db: Any) -> dict[str, Any]:
    """golive targets for the stack: its database (app role unless `dsn`) and project."""
    return {
        "database": {"dsn": dsn or stack.database_dsn, **db},
        "project": {"root": str(stack.project_root)},
    }


def run(
    stack: Stack, check_id: str, dsn: str | None = None, db: dict[str, Any] | None = None, **kw: Any
) -> CheckResult:
    """Run one check against the stack through the real loader and runner."""
    return run_check(check_id, targets=targets(stack, dsn, **(db or {})), **kw)


def other_sessions(admin_dsn: str, dbname: str) -> int:
    """Client sessions connected to `dbname` (autovacuum workers do not count)."""
    rows = q(
        admin_dsn,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
        " AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
        (dbname,),
    )
    return int(rows[0][0])


@dataclass(frozen=True)
class Scratch:
    """A scratch database: its name, app-role DSN and superuser DSN."""

    name: str
    dsn: str
    admin_dsn: str


@contextmanager
def scratch_database(stack: Stack, prefix: str = "golive_test") -> Iterator[Scratch]:
    """A database owned by the app role with the demo's migrations applied; dropped on exit."""
    from demo.migrate import apply_migrations

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    q(
        stack.admin_dsn,
        sql.SQL("CREATE DATABASE {} OWNER orchestrator").format(sql.Identifier(name)),
    )
    try:
        q(on_db(stack.admin_dsn, name), "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        q(on_db(stack.admin_dsn, name), "ALTER SCHEMA public OWNER TO orchestrator")
        apply_migrations(on_db(stack.database_dsn, name))
        yield Scratch(name, on_db(stack.database_dsn, name), on_db(stack.admin_dsn, name))
    finally:
        q(
            stack.admin_dsn,
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)),
        )


@contextmanager
def scratch_table(stack: Stack, name: str, ddl: str) -> Iterator[str]:
    """A table created in the app database by the superuser (`ddl` with `{t}`); dropped."""
    dsn = admin_app(stack)
    q(dsn, sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(name)))
    q(dsn, ddl.format(t=name))
    try:
        yield name
    finally:
        q(dsn, sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(name)))
