"""Start and stop the real Ordinaut 2.2.2 on 127.0.0.1 with real servers.

PostgreSQL, Redis, Alertmanager (with a loopback webhook sink) and Prometheus are the
demo launcher's pieces (:mod:`demo.stack`); the API, the scheduler and two workers are
Ordinaut's own code, run from a copy of the release in the state directory with the
Python environment of :mod:`demo.upstream.pyenv` and the environment of its compose file
(:mod:`demo.upstream.tree`). Nothing is changed in Ordinaut's code or configuration
beyond what :mod:`demo.upstream.tree` lists.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import psycopg

from demo.stack import observability, postgres, procs, redis_server
from demo.stack.app import stop_named
from demo.stack.lifecycle import (
    finish_stop,
    prepare_dir,
    require_programs,
    running,
    stop_each,
    stop_postgres,
)
from demo.upstream import pyenv, tree
from demo.upstream.model import UpstreamStack

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STATE_DIR = REPO_ROOT / ".golive-upstream"
RELEASE = "ordinaut-2.2.2"
SOURCE_ENV = "GOLIVE_UPSTREAM_SOURCE"
WORKERS = ("worker-1", "worker-2")
PROCESSES = (
    "api",
    "scheduler",
    *WORKERS,
    "prometheus",
    "alertmanager",
    "webhook_sink",
    "redis",
)
# the compose targets of upstream's prometheus.yml that no process here serves
UNSERVED = (
    "worker-1:8090",
    "worker-2:8090",
    "worker-3:8090",
    "scheduler:8091",
    "postgres-exporter:9187",
    "redis-exporter:9121",
    "node-exporter:9100",
)


def find_source() -> Path | None:
    """The release tree: ``$GOLIVE_UPSTREAM_SOURCE``, else ``shared/upstream/ordinaut-2.2.2``
    beside the repository or one of its parents."""
    configured = os.environ.get(SOURCE_ENV)
    if configured:
        return Path(configured).resolve()
    for parent in REPO_ROOT.parents:
        candidate = parent / "shared" / "upstream" / RELEASE
        if (candidate / "api" / "main.py").is_file():
            return candidate
    return None


def _migrate(sql_file: Path, dsn: str) -> None:
    """Apply Ordinaut's migration as the app role, as the postgres image's initdb does."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql_file.read_text())  # a trusted file: Ordinaut's own migration


def process_env(stack: UpstreamStack, service: str, extra: dict[str, str]) -> dict[str, str]:
    """The compose ``environment:`` of ``service`` for this host, plus a minimal base."""
    hosts = {
        "postgres:5432": f"127.0.0.1:{stack.ports['postgres']}",
        "redis:6379": f"127.0.0.1:{stack.ports['redis']}",
    }
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL")}
    env["PYTHONUNBUFFERED"] = "1"  # as Ordinaut's Dockerfiles set
    env.update(tree.service_env(stack.project_root, service, hosts))
    env["PYTHONPATH"] = str(stack.project_root)  # /app in the images
    env.update(extra)
    return env


def _python(stack: UpstreamStack) -> str:
    return str(Path(stack.python_env) / "bin" / "python")


def _spawn(stack: UpstreamStack, name: str, argv: list[str], env: dict[str, str]) -> int:
    log = stack.state_dir / "logs" / f"{name}.log"
    pid = procs.spawn(argv, log, env=env, cwd=stack.project_root)
    stack.pids[name] = pid
    stack.paths[f"{name}_log"] = str(log)
    return pid


def _start_api(stack: UpstreamStack, attempts: int = 3) -> None:
    for attempt in range(attempts):
        port = procs.free_port()
        env = process_env(stack, "api", {"UVICORN_HOST": "127.0.0.1", "UVICORN_PORT": str(port)})
        argv = [_python(stack), "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1"]
        pid = _spawn(stack, "api", [*argv, "--port", str(port), "--log-level", "info"], env)
        try:
            procs.wait_until(
                partial(procs.http_ok, f"http://127.0.0.1:{port}/health/live", 2.0),
                60,
                "api",
                alive=partial(procs.alive, pid),
            )
        except (RuntimeError, TimeoutError) as exc:
            stop_named(stack, ["api"])
            log = Path(stack.paths["api_log"])
            # a port taken between choosing and binding: try another; anything else fails
            if attempt == attempts - 1 or "address already in use" not in procs.log_tail(log, 5):
                raise procs.ServiceFailed("api", str(exc), log) from None
            continue
        stack.ports["api"] = port
        stack.api_url = f"http://127.0.0.1:{port}"
        return


def _heartbeats(stack: UpstreamStack) -> int:
    pids = [stack.pids[name] for name in WORKERS]
    with psycopg.connect(stack.database_dsn, connect_timeout=3) as conn:
        row = conn.execute(
            "SELECT count(DISTINCT pid) FROM worker_heartbeat WHERE pid = ANY(%s)", (pids,)
        ).fetchone()
    return int(row[0]) if row else 0


def _scheduler_ready(stack: UpstreamStack) -> bool:
    with psycopg.connect(stack.database_dsn, connect_timeout=3) as conn:
        row = conn.execute("SELECT to_regclass('public.apscheduler_jobs')").fetchone()
    return bool(row and row[0])


def _prometheus_ready(stack: UpstreamStack) -> bool:
    """Alertmanager discovered and the API scraped at least once, successfully."""
    discovered = observability.prometheus_discovery(stack)
    if discovered is None:
        return False
    managers, targets = discovered
    api = f"127.0.0.1:{stack.ports['api']}"
    scraped = [t for t in targets if t.get("discoveredLabels", {}).get("__address__") == api]
    return bool(managers) and bool(scraped) and all(t["health"] == "up" for t in scraped)


def _wait(
    stack: UpstreamStack, name: str, check: Callable[[], bool], timeout: float, what: str
) -> None:
    log = Path(stack.paths.get(f"{name}_log", stack.state_dir / "logs" / f"{name}.log"))
    try:
        procs.wait_until(
            check,
            timeout,
            what,
            alive=partial(procs.alive, stack.pids.get(name)),
        )
    except (RuntimeError, TimeoutError) as exc:
        raise procs.ServiceFailed(name, str(exc), log) from None


def start(
    state_dir: Path | str = DEFAULT_STATE_DIR, *, source: Path | None = None
) -> UpstreamStack:
    """Start Ordinaut in ``state_dir`` (or return it when it already runs there).

    On failure everything started so far is stopped and :class:`procs.ServiceFailed`
    (naming the service, with its log tail) is raised.
    """
    state_dir = Path(state_dir).resolve()
    existing = running(state_dir, UpstreamStack)
    if existing is not None:
        return existing
    require_programs("upstream")
    source = source or find_source()
    if source is None or not (source / "requirements.txt").is_file():
        raise procs.ServiceFailed(
            "upstream",
            f"Ordinaut's release tree not found (set {SOURCE_ENV} to its directory)",
        )
    began = time.monotonic()
    prepare_dir(state_dir, UpstreamStack, stop, "run")
    stack = UpstreamStack(state_dir=state_dir, version=RELEASE)
    env_log = state_dir / "logs" / "python-env.log"
    try:
        stack.python_env = str(pyenv.ensure(source / "requirements.txt", log=env_log))
    except (pyenv.EnvBuildFailed, OSError) as exc:
        raise procs.ServiceFailed("python-env", str(exc), env_log) from None
    try:
        stack.project_root = tree.copy_tree(source, state_dir / RELEASE)
        _start_all(stack)
        stack.startup_seconds = round(time.monotonic() - began, 2)
        stack.save()
        return stack
    except BaseException as exc:
        try:
            stop(stack)
        except RuntimeError as stop_exc:
            print(f"warning: stopping the failed start: {stop_exc}", file=sys.stderr)
        if isinstance(exc, (ValueError, OSError, psycopg.Error)):
            raise procs.ServiceFailed("upstream", str(exc)) from exc
        raise


def _start_all(stack: UpstreamStack) -> None:
    root = stack.project_root
    redis_server.start(stack)
    postgres.start(
        stack,
        app_password=tree.compose_password(root),
        migrate=partial(_migrate, root / tree.MIGRATION),
        # the compose file's postgres image makes POSTGRES_USER (orchestrator) the cluster's
        # superuser and leaves default privileges; Ordinaut connects as it: so here too
        as_postgres_image=True,
    )
    stack.save()
    observability.start_webhook_sink(stack)
    stack.paths["alertmanager_source"] = str(root / tree.ALERTMANAGER_FILE)
    observability.start_alertmanager(
        stack, config=tree.alertmanager_config(root, stack.ports["webhook_sink"])
    )
    stack.save()
    python = _python(stack)
    _spawn(stack, "scheduler", [python, "scheduler/tick.py"], process_env(stack, "scheduler", {}))
    worker_env = process_env(stack, "worker", {})
    for name in WORKERS:
        _spawn(stack, name, [python, "workers/runner.py"], worker_env)
    stack.save()
    _start_api(stack)
    stack.save()
    unserved = {target: f"127.0.0.1:{procs.free_port()}" for target in UNSERVED}
    served = {
        "api:8080": f"127.0.0.1:{stack.ports['api']}",
        "alertmanager:9093": f"127.0.0.1:{stack.ports['alertmanager']}",
    }
    stack.paths["prometheus_unserved"] = ",".join(f"{k}={v}" for k, v in unserved.items())
    observability.start_prometheus(
        stack,
        root / tree.RULES_FILE,
        config=lambda port: tree.prometheus_config(root, port, served, unserved),
    )
    stack.save()
    for name in WORKERS:
        _wait(stack, name, lambda: _heartbeats(stack) == len(WORKERS), 60, "worker heartbeats")
    _wait(stack, "scheduler", lambda: _scheduler_ready(stack), 60, "scheduler job store")
    with psycopg.connect(stack.database_dsn, connect_timeout=3) as conn:
        row = conn.execute("SELECT id FROM agent WHERE name = 'system'").fetchone()
    if row is None:
        raise procs.ServiceFailed("postgres", "agent 'system' not seeded")
    stack.agent_id = str(row[0])
    _wait(
        stack,
        "prometheus",
        lambda: _prometheus_ready(stack),
        60,
        "prometheus (API scraped, alertmanager discovered)",
    )


def stop(stack: UpstreamStack, *, purge: bool = False) -> list[tuple[int, str]]:
    """Stop everything started for ``stack``; return the processes that had to be killed."""
    errors: list[str] = []
    stop_each(stack, PROCESSES, errors)
    stop_postgres(stack, errors)
    stop_each(stack, list(stack.pids), errors)  # anything recorded that PROCESSES does not name
    return finish_stop(stack, errors, purge=purge)
