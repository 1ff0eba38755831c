"""Context managers that put a running stack into a REAL failing state and undo it.

Each one changes the live system (database, processes, files, containers) the way an
incident or a misconfiguration would, yields something useful to the test, and restores
the previous state on exit, even when the body raised. golive's checks are expected to
pass on the stack before and after, and to fail inside.

    with faults.stopped_workers(stack):
        ...  # run the check, expect it to fail
"""

from __future__ import annotations

import datetime as dt
import os
import stat
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from demo.stack import app, containers, observability, procs
from demo.stack.model import Stack

FAULT_MARK = "golive-fault"


def _admin_app_db(stack: Stack) -> str:
    """Superuser DSN on the application database."""
    return stack.admin_dsn.rsplit("/", 1)[0] + "/orchestrator"


@contextmanager
def superuser_app_role(stack: Stack) -> Iterator[None]:
    """The application role ``orchestrator`` becomes a superuser."""
    with psycopg.connect(stack.admin_dsn, autocommit=True) as conn:
        conn.execute("ALTER ROLE orchestrator SUPERUSER")
    try:
        yield
    finally:
        with psycopg.connect(stack.admin_dsn, autocommit=True) as conn:
            conn.execute("ALTER ROLE orchestrator NOSUPERUSER")


@contextmanager
def world_writable(path: Path | str) -> Iterator[Path]:
    """``path`` (file or directory) becomes writable by everyone (o+w)."""
    target = Path(path)
    original = stat.S_IMODE(target.stat().st_mode)
    os.chmod(target, original | stat.S_IWOTH | stat.S_IWGRP)
    try:
        yield target
    finally:
        os.chmod(target, original)


@contextmanager
def stopped_alertmanager(stack: Stack) -> Iterator[None]:
    """Alertmanager's process is killed; restarted (same port) on exit."""
    app.stop_named(stack, ["alertmanager"])
    stack.save()
    try:
        yield
    finally:
        observability.restart_alertmanager(stack)
        stack.save()


@contextmanager
def stopped_api(stack: Stack) -> Iterator[None]:
    """The API process is killed; restarted (same port) on exit."""
    app.stop_named(stack, ["api"])
    stack.save()
    try:
        yield
    finally:
        app.restart_api(stack)
        stack.save()


@contextmanager
def stopped_workers(stack: Stack) -> Iterator[None]:
    """Every worker process is killed (their heartbeat rows stay and go stale)."""
    app.stop_named(stack, [f"worker-{w}" for w in app.WORKER_IDS])
    stack.save()
    try:
        yield
    finally:
        app.restart_workers(stack)
        stack.save()


@contextmanager
def dead_heartbeats(stack: Stack, age: dt.timedelta = dt.timedelta(hours=1)) -> Iterator[None]:
    """Workers are stopped and every heartbeat is ``age`` old (no active worker at all)."""
    with stopped_workers(stack):
        with psycopg.connect(stack.database_dsn, autocommit=True) as conn:
            conn.execute("UPDATE worker_heartbeat SET last_seen = now() - %s", (age,))
        yield


@contextmanager
def unreadable_agents(stack: Stack) -> Iterator[None]:
    """The application role loses SELECT on ``agent``: every authenticated API request fails
    with an unhandled database error (HTTP 500, counted in ``ord_http_requests_total``) while
    ``/health`` stays healthy and the workers keep running. Restored on exit."""
    with psycopg.connect(_admin_app_db(stack), autocommit=True) as conn:
        conn.execute("REVOKE SELECT ON agent FROM orchestrator")
    try:
        yield
    finally:
        with psycopg.connect(_admin_app_db(stack), autocommit=True) as conn:
            conn.execute("GRANT SELECT ON agent TO orchestrator")


def _fault_task(conn: psycopg.Connection, stack: Stack, label: str) -> uuid.UUID:
    row = conn.execute(
        "INSERT INTO task (title, created_by, schedule_kind, schedule_expr, payload)"
        " VALUES (%s, %s, 'event', 'golive.fault', '{}') RETURNING id",
        (f"{FAULT_MARK}:{label}:{uuid.uuid4().hex[:8]}", stack.agent_id),
    ).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


@contextmanager
def flooded_due_work(stack: Stack, n: int = 500) -> Iterator[uuid.UUID]:
    """``n`` overdue work items (run_at 10 minutes ago) stuck under a dead worker's lease.

    The rows count in ``due_work`` and in the ``due_work_backlog`` gauge, but live workers
    skip them (leased for a day by ``locked_by = 'golive-fault-dead-worker'``), so the
    backlog persists while the rest of the stack keeps working. Yields the task id.
    """
    with psycopg.connect(stack.database_dsn, autocommit=True) as conn:
        task_id = _fault_task(conn, stack, "flood")
        conn.execute(
            "INSERT INTO due_work (task_id, run_at, locked_until, locked_by)"
            " SELECT %s, now() - interval '10 minutes', now() + interval '1 day',"
            " 'golive-fault-dead-worker' FROM generate_series(1, %s)",
            (task_id, n),
        )
    try:
        yield task_id
    finally:
        with psycopg.connect(stack.database_dsn, autocommit=True) as conn, conn.transaction():
            conn.execute("DELETE FROM due_work WHERE task_id = %s", (task_id,))
            conn.execute("DELETE FROM task_run WHERE task_id = %s", (task_id,))
            conn.execute("DELETE FROM task WHERE id = %s", (task_id,))


@contextmanager
def container_without_no_new_privileges(stack: Stack, service: str = "rogue") -> Iterator[str]:
    """An extra container in the compose project (compose labels) without no-new-privileges.

    Yields its name. Needs the container engine (``stack.docker_host``).
    """
    if not stack.docker_host or not stack.compose_project:
        raise RuntimeError("the stack runs no container engine (podman not installed?)")
    name = f"{stack.compose_project}_{service}_{uuid.uuid4().hex[:6]}"
    containers.podman(
        stack,
        "run",
        "-d",
        "--name",
        name,
        "--label",
        f"com.docker.compose.project={stack.compose_project}",
        "--label",
        f"com.docker.compose.service={service}",
        "--label",
        "com.docker.compose.container-number=1",
        "--label",
        f"io.podman.compose.project={stack.compose_project}",
        "--network",
        containers.NETWORK,
        containers.IMAGE,
        *containers.SLEEP,
    )
    try:
        yield name
    finally:
        containers.podman(stack, "rm", "--force", "--time", "0", name)


@contextmanager
def deleted_system_agent(stack: Stack) -> Iterator[dict[str, Any]]:
    """The seeded ``system`` agent row is deleted (its tasks and audit rows now dangle).

    Foreign-key triggers are bypassed for the delete (superuser, replica mode), as a
    careless manual cleanup would. Yields the deleted row; re-inserted with its id on exit.
    """
    with psycopg.connect(_admin_app_db(stack), autocommit=True) as conn, conn.transaction():
        cur = conn.execute(
            "SELECT id, name, scopes, webhook_url, created_at FROM agent WHERE name = 'system'"
        )
        names = [d.name for d in cur.description or []]
        found = cur.fetchone()
        if found is None:
            raise RuntimeError("no system agent to delete")
        row = dict(zip(names, found, strict=True))
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute("DELETE FROM agent WHERE id = %s", (row["id"],))
    try:
        yield row
    finally:
        with psycopg.connect(_admin_app_db(stack), autocommit=True) as conn:
            conn.execute(
                "INSERT INTO agent (id, name, scopes, webhook_url, created_at)"
                " VALUES (%(id)s, %(name)s, %(scopes)s, %(webhook_url)s, %(created_at)s)",
                row,
            )


@contextmanager
def orphans(stack: Stack) -> Iterator[dict[str, Any]]:
    """Foreign keys dropped and orphan rows inserted in task, task_run, due_work, audit_log.

    Yields ``{"constraints": [...], "rows": {table: id}}``. On exit the orphan rows are
    deleted and every constraint is re-added (validated) with its original definition.
    """
    ghost = uuid.uuid4()
    with psycopg.connect(_admin_app_db(stack), autocommit=True) as conn:
        fks = conn.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
            " FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace"
            " ORDER BY conname"
        ).fetchall()
        rows: dict[str, Any] = {}
        with conn.transaction():
            for table, name, _ in fks:
                conn.execute(
                    sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                        sql.Identifier(table), sql.Identifier(name)
                    )
                )
            rows["task"] = conn.execute(
                "INSERT INTO task (title, created_by, schedule_kind, schedule_expr)"
                " VALUES (%s, %s, 'event', 'golive.fault') RETURNING id",
                (f"{FAULT_MARK}:orphan", ghost),
            ).fetchone()[0]  # type: ignore[index]
            rows["task_run"] = conn.execute(
                "INSERT INTO task_run (task_id, started_at, finished_at, success)"
                " VALUES (%s, now(), now(), true) RETURNING id",
                (ghost,),
            ).fetchone()[0]  # type: ignore[index]
            rows["due_work"] = conn.execute(
                "INSERT INTO due_work (task_id, run_at) VALUES (%s, now() + interval '1 day')"
                " RETURNING id",
                (ghost,),
            ).fetchone()[0]  # type: ignore[index]
            rows["audit_log"] = conn.execute(
                "INSERT INTO audit_log (actor_agent_id, action, subject_id)"
                " VALUES (%s, 'golive.fault', %s) RETURNING id",
                (ghost, ghost),
            ).fetchone()[0]  # type: ignore[index]
    try:
        yield {"constraints": [(t, n, d) for t, n, d in fks], "rows": rows}
    finally:
        with psycopg.connect(_admin_app_db(stack), autocommit=True) as conn, conn.transaction():
            for table, key in rows.items():
                conn.execute(
                    sql.SQL("DELETE FROM {} WHERE id = %s").format(sql.Identifier(table)), (key,)
                )
            for table, name, definition in fks:
                conn.execute(
                    sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                        sql.Identifier(table), sql.Identifier(name)
                    )
                    + sql.SQL(definition)
                )


@dataclass(frozen=True)
class TLSFiles:
    """Paths written by :func:`expired_tls_cert`."""

    cert: Path
    key: Path
    not_after: dt.datetime


@contextmanager
def expired_tls_cert(directory: Path | str, name: str = "server") -> Iterator[TLSFiles]:
    """A self-signed certificate for localhost that expired yesterday (PEM cert + key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=90))
        .not_valid_after(now - dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    files = TLSFiles(folder / f"{name}.crt", folder / f"{name}.key", now - dt.timedelta(days=1))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(files.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    try:
        yield files
    finally:
        files.cert.unlink(missing_ok=True)
        files.key.unlink(missing_ok=True)


@contextmanager
def stale_backups(stack: Stack, age: dt.timedelta = dt.timedelta(days=3)) -> Iterator[list[Path]]:
    """Every file in the backup dir looks ``age`` old (mtime/atime); restored on exit."""
    files = [p for p in stack.backup_dir.iterdir() if p.is_file()]
    saved = {p: (p.stat().st_atime_ns, p.stat().st_mtime_ns) for p in files}
    old = time.time() - age.total_seconds()
    for p in files:
        os.utime(p, (old, old))
    try:
        yield files
    finally:
        for p, times in saved.items():
            if p.exists():
                os.utime(p, ns=times)


@contextmanager
def saturated_connections(stack: Stack, fraction: float = 0.9) -> Iterator[int]:
    """Idle connections of the app role fill ``fraction`` of ``max_connections``.

    Yields the number of connections opened; they are closed on exit and the helper waits
    until the server has released them.
    """
    with psycopg.connect(stack.admin_dsn, autocommit=True) as conn:
        max_conn = int(_scalar(conn, "SHOW max_connections"))
        reserved = int(_scalar(conn, "SHOW superuser_reserved_connections"))
        baseline = int(
            _scalar(
                conn, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
            )
        )
    wanted = min(int(max_conn * fraction), max_conn - reserved) - baseline
    opened: list[psycopg.Connection] = []
    try:
        for _ in range(max(0, wanted)):
            try:
                opened.append(
                    psycopg.connect(
                        stack.database_dsn,
                        autocommit=True,
                        application_name=f"{FAULT_MARK}-saturate",
                    )
                )
            except psycopg.OperationalError:
                break  # the server is full: that is the point
        yield len(opened)
    finally:
        for conn in opened:
            conn.close()
        procs.wait_until(lambda: _saturators(stack) == 0, 20, "saturating connections closed")


def _scalar(conn: psycopg.Connection, sql_text: str) -> Any:
    row = conn.execute(sql_text).fetchone()
    assert row is not None
    return row[0]


def _saturators(stack: Stack) -> int:
    with psycopg.connect(stack.admin_dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            (f"{FAULT_MARK}-saturate",),
        ).fetchone()
    return int(row[0]) if row else 0
