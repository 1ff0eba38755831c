"""A deployed-project copy under ``STATE/project`` that tests may mutate freely.

It holds ``ops/`` and ``migrations/`` from the repository, the application package
``demo/`` (the modules the image ships: not the launcher, the fault injectors or the
demo's stand-ins for external services), the project's own test suites ``tests/``
(from ``demo/project_tests``), a ``.env`` with the stack's generated secrets (mode
0600), and ``STATE/backups/postgres`` holds a real ``pg_dump -Fc`` made by running
``ops/scripts/daily_backup.sh``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from demo.stack import procs
from demo.stack.app import RATE_LIMIT_PER_MINUTE
from demo.stack.model import Stack
from demo.stack.postgres import BIN

DEMO_DIR = Path(__file__).resolve().parents[1]
# demo/*.py that are not the application: fault injection and stand-ins (webhook receiver,
# TLS-terminating reverse proxy) for what a production deployment runs elsewhere
NOT_SHIPPED = frozenset({"faults.py", "webhook_sink.py", "tls_proxy.py"})


def env_file_text(stack: Stack) -> str:
    """The compose deployment's .env, with this stack's secrets."""
    s = stack.secrets
    return "".join(
        f"{k}={v}\n"
        for k, v in (
            ("POSTGRES_PASSWORD", s["postgres_app_password"]),
            ("JWT_SECRET_KEY", s["jwt_secret_key"]),
            ("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "60"),
            ("RATE_LIMIT_ENABLED", "true"),
            ("MAX_REQUESTS_PER_MINUTE", str(RATE_LIMIT_PER_MINUTE)),
            ("MAX_REQUESTS_PER_HOUR", "36000"),
            ("MAX_REQUEST_SIZE", "1048576"),
            ("GRAFANA_ADMIN_PASSWORD", s["grafana_admin_password"]),
            ("ORDINAUT_VERSION", "1.0.0"),
            ("BACKUP_RETENTION_DAYS", "14"),
        )
    )


def create(stack: Stack) -> None:
    """Copy ops/, migrations/, the application and its tests; write .env (0600)."""
    import secrets

    root = stack.state_dir / "project"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    shutil.copytree(DEMO_DIR / "ops", root / "ops")
    shutil.copytree(DEMO_DIR / "migrations", root / "migrations")
    (root / "demo").mkdir()
    for module in sorted(DEMO_DIR.glob("*.py")):
        if module.name not in NOT_SHIPPED:
            shutil.copy2(module, root / "demo" / module.name)
    shutil.copytree(
        DEMO_DIR / "project_tests",
        root / "tests",
        ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"),
    )
    stack.secrets.setdefault("grafana_admin_password", secrets.token_urlsafe(24))
    env_path = root / ".env"
    fd = os.open(env_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(env_file_text(stack))
    stack.project_root = root
    stack.backup_dir = stack.state_dir / "backups" / "postgres"


def run_backup(stack: Stack) -> Path:
    """Run the project's daily_backup.sh against the app database; return the dump."""
    stack.backup_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        ENV_FILE=str(stack.project_root / ".env"),
        BACKUP_DATABASE_URL=stack.database_dsn,
        BACKUP_DIR=str(stack.backup_dir),
        PG_DUMP=str(BIN / "pg_dump"),
        PG_RESTORE=str(BIN / "pg_restore"),
    )
    script = stack.project_root / "ops" / "scripts" / "daily_backup.sh"
    try:
        procs.run([str(script)], env=env, cwd=stack.project_root, timeout=120)
    except RuntimeError as exc:
        raise procs.ServiceFailed("backup", str(exc)) from None
    dumps = sorted(stack.backup_dir.glob("orchestrator_*.dump"))
    if not dumps:
        raise procs.ServiceFailed("backup", f"no dump written in {stack.backup_dir}")
    return dumps[-1]
