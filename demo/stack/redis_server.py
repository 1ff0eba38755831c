"""Redis 7 on a free loopback port, no persistence (STACK.md)."""

from __future__ import annotations

from functools import partial

from demo.stack import prereq, procs
from demo.stack.model import Stack

BINARY = "redis-server"


def start(stack: Stack, attempts: int = 3) -> None:
    """Start redis-server and wait until it accepts connections."""
    try:
        binary = prereq.path(BINARY)
    except prereq.MissingTool as exc:
        raise procs.ServiceFailed("redis", str(exc)) from None
    log = stack.state_dir / "logs" / "redis.log"
    workdir = stack.state_dir / "redis"
    workdir.mkdir(parents=True, exist_ok=True)
    for attempt in range(attempts):
        port = procs.free_port()
        pid = procs.spawn(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(workdir),
            ],
            log,
            cwd=workdir,
        )
        try:
            procs.wait_until(
                partial(procs.port_open, port), 15, "redis", alive=partial(procs.alive, pid)
            )
            break
        except (RuntimeError, TimeoutError) as exc:
            procs.kill_group(pid)
            if attempt == attempts - 1:
                raise procs.ServiceFailed("redis", str(exc), log) from None
    stack.ports["redis"] = port
    stack.pids["redis"] = pid
    stack.redis_url = f"redis://127.0.0.1:{port}/0"
    stack.paths["redis_log"] = str(log)
