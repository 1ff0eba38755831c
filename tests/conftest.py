"""Shared fixtures: the real reference stack (``demo.stack``) for integration tests.

``stack`` (session scope) starts PostgreSQL, Redis, Prometheus, Alertmanager, the webhook
sink, the demo API/scheduler/workers and, where podman is installed, the compose project
in podman, all on 127.0.0.1, once per test session; it is stopped at the end. Set
``GOLIVE_TEST_STACK_DIR`` to the state dir of a stack started with
``python -m demo.stack up --state-dir DIR`` to reuse it (it is then left running).

A missing binary skips the tests that need it on a developer machine, and fails them
when ``CI=true``.

pytest-docker is not used for the compose part: the launcher itself drives
podman-compose, because the same containers must come up from the command line
(``python -m demo.stack up``) and be shared with a reused stack across processes;
pytest-docker's fixtures would run a second ``compose up`` of the same project.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from demo.stack import Stack


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers used by the stack tests."""
    config.addinivalue_line(
        "markers",
        "integration: needs real services (PostgreSQL, Redis, Prometheus, Alertmanager, podman)",
    )


def _missing(what: str) -> None:
    """Skip, or fail under CI=true, because ``what`` is not installed."""
    reason = f"not installed: {what}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: integration services are required)")
    pytest.skip(reason)


def tool(name: str) -> str:
    """Path of a program listed in demo/stack/prereq.py; skip (fail under CI=true) naming its
    Debian package when it is not installed."""
    from demo.stack import prereq

    entry = prereq.tool(name)
    path = entry.find()
    if path is None:
        _missing(f"{name} (Debian package {entry.package})")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """A running reference stack (:class:`demo.stack.Stack`)."""
    try:
        from demo import stack as launcher
    except ImportError as exc:  # the demo extra is not installed
        _missing(f"demo extra ({exc.name})")
    reuse = os.environ.get("GOLIVE_TEST_STACK_DIR")
    if reuse:
        existing = launcher.load(Path(reuse))
        if existing is not None and launcher.is_up(existing):
            yield existing
            return
    missing = launcher.missing_required()
    if missing:
        _missing(", ".join(missing))
    # a short, postgres-traversable path (pytest's tmp dirs are 0700 and long)
    state_dir = Path(tempfile.mkdtemp(prefix="golive-stack-"))
    try:
        started = launcher.start(state_dir)
    except launcher.ServiceFailed as exc:
        pytest.fail(f"{exc}\n--- log tail ---\n{exc.tail}", pytrace=False)
    try:
        yield started
    finally:
        launcher.stop(started, purge=True)


@pytest.fixture(scope="session")
def stack_containers(stack: Stack) -> Stack:
    """The stack, when it runs the compose project in podman (skip/fail otherwise)."""
    from demo.stack import containers

    if not stack.docker_host:
        missing = ", ".join(containers.missing_binaries()) or "containers disabled"
        _missing(missing)
    return stack
