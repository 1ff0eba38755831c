"""PostgreSQL 15 for the stack: initdb + pg_ctl as the ``postgres`` user (STACK.md).

The superuser ``postgres`` gets a generated password (TCP auth is scram-sha-256); the
application role ``orchestrator`` is a non-superuser that owns database ``orchestrator``
and applies the migrations itself.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg import sql

from demo.migrate import apply_migrations
from demo.stack import prereq, procs
from demo.stack.model import Stack

BIN = Path(prereq.PG_BIN)
APP_ROLE = "orchestrator"
APP_DB = "orchestrator"
MAX_CONNECTIONS = 100
# The demo's server is sized for 768 MB of memory, a small database sharing a developer
# machine: PostgreSQL's stock shared_buffers (128MB), work_mem (4MB) and max_connections
# fit that budget, and effective_cache_size tells the planner what the OS can cache of it.
# demo/golive.yaml declares the same budget to database.settings (params.memory).
MEMORY_BUDGET = "768MB"
EFFECTIVE_CACHE_SIZE = "512MB"


def _as_postgres(*argv: str, cwd: Path, timeout: float = 60) -> None:
    procs.run([prereq.path("runuser"), "-u", "postgres", "--", *argv], cwd=cwd, timeout=timeout)


def _postgres_can_write(path: Path) -> bool:
    proc = procs.run(
        [prereq.path("runuser"), "-u", "postgres", "--", "test", "-w", str(path)],
        cwd=Path("/"),
        check=False,
    )
    return proc.returncode == 0


def _base_dir(stack: Stack) -> Path:
    """A directory the postgres user owns: STATE/pg, or a /tmp one when STATE is private."""
    base = stack.state_dir / "pg"
    base.mkdir(parents=True, exist_ok=True)
    uid = pwd.getpwnam("postgres").pw_uid
    os.chown(base, uid, -1)
    if len(str(base)) < 80 and _postgres_can_write(base):
        return base
    shutil.rmtree(base, ignore_errors=True)
    alt = Path(tempfile.mkdtemp(prefix="golive-pg-"))
    os.chmod(alt, 0o700)
    os.chown(alt, uid, -1)
    return alt


def start(
    stack: Stack,
    attempts: int = 3,
    *,
    app_password: str | None = None,
    migrate: Callable[[str], object] = apply_migrations,
    as_postgres_image: bool = False,
) -> None:
    """initdb, start on a free loopback port, create the app role and database, migrate.

    ``app_password`` fixes the app role's password (a project's own, e.g. from its compose
    file) instead of a generated one; ``migrate(dsn)`` applies the schema as the app role.
    ``as_postgres_image`` sets the app role and database up as the official postgres image
    does for ``POSTGRES_USER``/``POSTGRES_DB``: the role is a superuser and the database
    keeps PostgreSQL's default privileges (a project deployed that way is judged as it runs);
    otherwise the role is an ordinary owner and PUBLIC loses its default privileges.
    """
    base = _base_dir(stack)
    data, log = base / "data", base / "postgres.log"
    admin_pw = stack.secrets.setdefault("postgres_superuser_password", secrets.token_urlsafe(24))
    if app_password is not None:
        stack.secrets["postgres_app_password"] = app_password
    app_pw = stack.secrets.setdefault("postgres_app_password", secrets.token_urlsafe(24))
    stack.paths.update(pg_base=str(base), pg_data=str(data), pg_log=str(log))
    pwfile = base / "pwfile"
    pwfile.write_text(admin_pw + "\n")
    os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
    os.chmod(pwfile, 0o600)
    try:
        _as_postgres(
            prereq.path("initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
            cwd=base,
        )
    except RuntimeError as exc:
        raise procs.ServiceFailed("postgres", f"initdb failed: {exc}") from None
    finally:
        pwfile.unlink(missing_ok=True)
    for attempt in range(attempts):
        port = procs.free_port()
        opts = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {base} "
            f"-c max_connections={MAX_CONNECTIONS} -c effective_cache_size={EFFECTIVE_CACHE_SIZE}"
        )
        try:
            _as_postgres(
                prereq.path("pg_ctl"),
                "-D",
                str(data),
                "-o",
                opts,
                "-l",
                str(log),
                "-w",
                "-t",
                "30",
                "start",
                cwd=base,
            )
            break
        except RuntimeError as exc:
            if attempt == attempts - 1 or "already in use" not in procs.log_tail(log, 5):
                raise procs.ServiceFailed("postgres", str(exc).splitlines()[0], log) from None
    stack.ports["postgres"] = port
    stack.pids["postgres"] = int((data / "postmaster.pid").read_text().split()[0])
    stack.admin_dsn = f"postgresql://postgres:{admin_pw}@127.0.0.1:{port}/postgres"
    stack.database_dsn = f"postgresql://{APP_ROLE}:{app_pw}@127.0.0.1:{port}/{APP_DB}"
    _create_app_database(stack.admin_dsn, app_pw, as_postgres_image=as_postgres_image)
    try:
        migrate(stack.database_dsn)
    except (psycopg.Error, OSError) as exc:
        raise procs.ServiceFailed("postgres", f"migrations failed: {exc}", log) from None
    with psycopg.connect(stack.database_dsn) as conn:
        row = conn.execute("SELECT id FROM agent WHERE name = 'system'").fetchone()
    if row is None:
        raise procs.ServiceFailed("postgres", "migrations did not seed the agent 'system'", log)
    stack.agent_id = str(row[0])


def _create_app_database(admin_dsn: str, app_pw: str, *, as_postgres_image: bool = False) -> None:
    attributes = (
        "SUPERUSER CREATEDB CREATEROLE REPLICATION BYPASSRLS"
        if as_postgres_image
        else "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
    )
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "CREATE ROLE {} LOGIN PASSWORD {} " + attributes + " CONNECTION LIMIT -1"
            ).format(sql.Identifier(APP_ROLE), sql.Literal(app_pw))
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(APP_DB), sql.Identifier(APP_ROLE)
            )
        )
        if as_postgres_image:
            return
        conn.execute(
            sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(APP_DB))
        )
    app_db_admin = admin_dsn.rsplit("/", 1)[0] + f"/{APP_DB}"
    with psycopg.connect(app_db_admin, autocommit=True) as conn:
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(APP_DB), sql.Identifier(APP_ROLE)
            )
        )


def is_running(stack: Stack) -> bool:
    """True when the recorded postmaster is alive."""
    return procs.alive(stack.pids.get("postgres"))


def stop(stack: Stack) -> None:
    """pg_ctl stop -m fast; kill the postmaster's group when that does not work."""
    data = stack.paths.get("pg_data")
    pid = stack.pids.get("postgres")
    if data and Path(data).exists() and procs.alive(pid):
        try:
            _as_postgres(
                prereq.path("pg_ctl"),
                "-D",
                data,
                "-m",
                "fast",
                "-w",
                "-t",
                "20",
                "stop",
                cwd=Path("/"),
            )
        except RuntimeError:
            pass
    if pid and procs.alive(pid):
        procs.kill_group(pid)


def remove_data(stack: Stack) -> None:
    """Delete the cluster directory (after :func:`stop`)."""
    base = stack.paths.get("pg_base")
    if base:
        shutil.rmtree(base, ignore_errors=True)
