"""Launcher of the reference stack on loopback: ``python -m demo.stack up|down|status|env``.

Python API for tests::

    from demo.stack import Stack, start, stop
    stack = start(".golive-stack")   # or reuse: Stack.load(dir)
    ...
    stop(stack)

One module per job: :mod:`~demo.stack.postgres`, :mod:`~demo.stack.redis_server`,
:mod:`~demo.stack.observability` (Prometheus, Alertmanager, webhook sink),
:mod:`~demo.stack.app` (API, scheduler, workers), :mod:`~demo.stack.tls` (TLS proxy in
front of the API, with a CA of its own), :mod:`~demo.stack.containers` (podman +
podman-compose), :mod:`~demo.stack.project` (project copy and backup),
:mod:`~demo.stack.smoke` (the post-deploy smoke test), :mod:`~demo.stack.lifecycle`
(start/stop), :mod:`~demo.stack.procs` (process plumbing).
"""

from demo.stack.lifecycle import (
    DEFAULT_STATE_DIR,
    containers_available,
    is_up,
    missing_required,
    start,
    status,
    stop,
)
from demo.stack.model import Stack
from demo.stack.procs import ServiceFailed

__all__ = [
    "DEFAULT_STATE_DIR",
    "ServiceFailed",
    "Stack",
    "containers_available",
    "is_up",
    "load",
    "missing_required",
    "start",
    "status",
    "stop",
]


def load(state_dir: object = DEFAULT_STATE_DIR) -> Stack | None:
    """The stack recorded in ``state_dir`` (running or not), or None."""
    from pathlib import Path

    return Stack.load(Path(str(state_dir)))
