"""The orchestrator's own processes: API (uvicorn), scheduler and workers."""

from __future__ import annotations

import os
import secrets
import sys
import time
from functools import partial
from pathlib import Path

import psycopg
import redis

from demo.config import SCHEDULER_HEARTBEAT_KEY
from demo.stack import procs
from demo.stack.model import Stack

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_IDS = ("w1", "w2")
RATE_LIMIT_PER_MINUTE = 600


def python_env() -> dict[str, str]:
    """This environment with the repository on PYTHONPATH (for ``python -m demo.*``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOLIVE_", "DOCKER_"))}
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])
    )
    env["PYTHONUNBUFFERED"] = "1"
    return env


def app_env(stack: Stack) -> dict[str, str]:
    """Environment of the API, scheduler and workers (same names as production)."""
    stack.secrets.setdefault("jwt_secret_key", secrets.token_urlsafe(48))
    env = python_env()
    env.update(
        {
            "DATABASE_URL": stack.database_dsn,
            "REDIS_URL": stack.redis_url,
            "JWT_SECRET_KEY": stack.secrets["jwt_secret_key"],
            "JWT_ACCESS_TOKEN_EXPIRE_MINUTES": "60",
            "RATE_LIMIT_ENABLED": "true",
            "MAX_REQUESTS_PER_MINUTE": str(RATE_LIMIT_PER_MINUTE),
            "MAX_REQUESTS_PER_HOUR": "36000",
            "MAX_REQUEST_SIZE": "1048576",
        }
    )
    return env


def start_api(stack: Stack, port: int | None = None, attempts: int = 3) -> None:
    """Start uvicorn on a free port and wait for ``/health/live``."""
    log = stack.state_dir / "logs" / "api.log"
    for attempt in range(attempts):
        chosen = port if (port and attempt == 0) else procs.free_port()
        pid = procs.spawn(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "demo.api:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(chosen),
                "--no-access-log",
                "--timeout-graceful-shutdown",
                "3",
            ],
            log,
            env=app_env(stack),
            cwd=stack.state_dir,
        )
        try:
            procs.wait_until(
                partial(procs.http_ok, f"http://127.0.0.1:{chosen}/health/live"),
                30,
                "api",
                alive=partial(procs.alive, pid),
            )
        except (RuntimeError, TimeoutError) as exc:
            procs.kill_group(pid)
            if attempt == attempts - 1:
                raise procs.ServiceFailed("api", str(exc), log) from None
            continue
        stack.pids["api"] = pid
        stack.ports["api"] = chosen
        stack.paths["api_log"] = str(log)
        stack.api_url = f"http://127.0.0.1:{chosen}"
        stack.api_token = stack.agent_id  # the system agent's UUID is a valid bearer token
        return


def start_scheduler(stack: Stack) -> None:
    """Start the scheduler (no wait: see :func:`scheduler_ready`)."""
    log = stack.state_dir / "logs" / "scheduler.log"
    pid = procs.spawn(
        [sys.executable, "-m", "demo.scheduler"], log, env=app_env(stack), cwd=stack.state_dir
    )
    stack.pids["scheduler"] = pid
    stack.paths["scheduler_log"] = str(log)


def start_workers(stack: Stack, ids: tuple[str, ...] = WORKER_IDS) -> None:
    """Start one process per worker id (no wait: see :func:`wait_workers`)."""
    env = app_env(stack)
    for wid in ids:
        log = stack.state_dir / "logs" / f"worker-{wid}.log"
        pid = procs.spawn(
            [sys.executable, "-m", "demo.worker", "--id", wid], log, env=env, cwd=stack.state_dir
        )
        stack.pids[f"worker-{wid}"] = pid
        stack.paths[f"worker-{wid}_log"] = str(log)


def _fresh_heartbeats(stack: Stack, ids: tuple[str, ...], since: float) -> bool:
    with psycopg.connect(stack.database_dsn, connect_timeout=3) as conn:
        row = conn.execute(
            "SELECT count(*) FROM worker_heartbeat WHERE worker_id = ANY(%s)"
            " AND last_seen >= to_timestamp(%s)",
            (list(ids), since),
        ).fetchone()
    return bool(row and row[0] == len(ids))


def wait_workers(
    stack: Stack, since: float, ids: tuple[str, ...] = WORKER_IDS, timeout: float = 30
) -> None:
    """Wait until each worker wrote a heartbeat after ``since`` (epoch seconds)."""
    for wid in ids:
        name = f"worker-{wid}"
        if not procs.alive(stack.pids.get(name)):
            raise procs.ServiceFailed(name, "process exited", Path(stack.paths[f"{name}_log"]))
    try:
        procs.wait_until(lambda: _fresh_heartbeats(stack, ids, since), timeout, "workers")
    except TimeoutError as exc:
        log = Path(stack.paths[f"worker-{ids[0]}_log"])
        raise procs.ServiceFailed("worker", str(exc), log) from None


def scheduler_ready(stack: Stack) -> bool:
    """True when the scheduler has written its heartbeat key."""
    client = redis.Redis.from_url(stack.redis_url, socket_timeout=1)
    try:
        return client.get(SCHEDULER_HEARTBEAT_KEY) is not None
    finally:
        client.close()


def stop_named(stack: Stack, names: list[str]) -> None:
    """Kill the process groups of the named processes and forget them."""
    for name in names:
        pid = stack.pids.pop(name, None)
        if pid:
            procs.kill_group(pid)


def restart_api(stack: Stack) -> None:
    """Start the API again, on its old port when that is free."""
    old = stack.ports.get("api")
    start_api(stack, port=old)
    if stack.ports["api"] != old and "prometheus" in stack.pids:
        from demo.stack.observability import reload_prometheus

        reload_prometheus(stack)


def restart_workers(stack: Stack, ids: tuple[str, ...] = WORKER_IDS) -> None:
    """Start the workers again and wait for their fresh heartbeats."""
    since = time.time() - 1
    start_workers(stack, ids)
    wait_workers(stack, since, ids)


def reset_rate_limits(stack: Stack) -> int:
    """Forget every client's request counts (the API keeps them in Redis)."""
    from demo.ratelimit import reset

    client = redis.Redis.from_url(stack.redis_url, socket_timeout=2)
    try:
        return reset(client)
    finally:
        client.close()
