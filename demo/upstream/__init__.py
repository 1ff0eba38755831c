"""Launcher of the real Ordinaut 2.2.2 on loopback: ``python -m demo.upstream up|down|status|env``.

Python API for tests::

    from demo.upstream import start, stop
    stack = start(".golive-upstream")
    ...
    stop(stack)

:mod:`~demo.upstream.pyenv` (the cached Python environment), :mod:`~demo.upstream.tree`
(the release copy and its compose, Prometheus and Alertmanager files adapted to this
host), :mod:`~demo.upstream.lifecycle` (start/stop), :mod:`~demo.upstream.model` (the
record and its ``GOLIVE_*`` variables).
"""

from demo.stack.lifecycle import is_up, status
from demo.stack.procs import ServiceFailed
from demo.upstream.lifecycle import DEFAULT_STATE_DIR, find_source, start, stop
from demo.upstream.model import UpstreamStack

__all__ = [
    "DEFAULT_STATE_DIR",
    "ServiceFailed",
    "UpstreamStack",
    "find_source",
    "is_up",
    "start",
    "status",
    "stop",
]
