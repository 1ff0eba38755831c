"""The live database: migrated, seeded, owned by a non-superuser, and in use by workers.

Read-only: every query runs in a read-only transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


@pytest.fixture(scope="module")
def db(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url, connect_timeout=5, autocommit=True) as conn:
        conn.execute("SET default_transaction_read_only = on")
        conn.execute("SET statement_timeout = '5s'")
        yield conn


def test_every_migration_of_the_release_is_applied(db: psycopg.Connection) -> None:
    shipped = sorted(p.stem for p in MIGRATIONS.glob("*.sql"))
    assert shipped, f"no migrations in {MIGRATIONS}"
    applied = [r[0] for r in db.execute("SELECT version FROM schema_migrations ORDER BY 1")]
    assert [v.split(".")[0] for v in applied] == shipped


def test_the_system_agent_is_seeded(db: psycopg.Connection) -> None:
    rows = db.execute("SELECT scopes FROM agent WHERE name = 'system'").fetchall()
    assert len(rows) == 1


def test_the_application_role_is_not_a_superuser(db: psycopg.Connection) -> None:
    row = db.execute(
        "SELECT rolsuper, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert row == (False, False, False)


def test_every_foreign_key_is_validated(db: psycopg.Connection) -> None:
    invalid = db.execute(
        "SELECT conname FROM pg_constraint WHERE contype = 'f' AND NOT convalidated"
    ).fetchall()
    assert invalid == []
    count = db.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'f'").fetchone()
    assert count is not None and count[0] >= 4


def test_workers_send_heartbeats(db: psycopg.Connection) -> None:
    row = db.execute(
        "SELECT count(*) FROM worker_heartbeat WHERE last_seen > now() - interval '30 seconds'"
    ).fetchone()
    assert row is not None and row[0] >= 1, "no worker heartbeat in the last 30 seconds"


def test_the_work_queue_index_serves_the_lease_query(db: psycopg.Connection) -> None:
    sql = "SELECT indexdef FROM pg_indexes WHERE tablename = 'due_work'"
    indexes = {r[0] for r in db.execute(sql)}
    assert any("run_at" in i for i in indexes), indexes
