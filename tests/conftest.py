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
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest

if TYPE_CHECKING:
    from demo.stack import Stack

S = TypeVar("S", bound="Stack")


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers used by the stack tests."""
    config.addinivalue_line(
        "markers",
        "integration: needs real services (PostgreSQL, Redis, Prometheus, Alertmanager, podman)",
    )
    # pytest-xdist registers it too; without xdist the mark is inert
    config.addinivalue_line("markers", "xdist_group(name): run these tests on one worker")
    if config.getoption("dist", None) == "loadgroup" and not hasattr(config, "workerinput"):
        from importlib.metadata import version

        pytest_version = tuple(int(p) for p in version("pytest").split(".")[:2])
        xdist_version = tuple(int(p) for p in version("pytest-xdist").split(".")[:2])
        if pytest_version >= (9, 2) and xdist_version <= (3, 8):
            raise pytest.UsageError(
                f"pytest {version('pytest')} with pytest-xdist {version('pytest-xdist')}: "
                "--dist loadgroup would not group the tests (pytest-dev/pytest-xdist#1386); "
                "install the versions pyproject.toml asks for (pip install -e '.[dev]')"
            )


# Tests that change or read state the whole machine shares (root's crontab and the cron
# daemon, podman's storage and networks, the demo's ops files): with pytest-xdist they run
# on one worker, in order, together with every test of the demo stack.
MACHINE_WIDE = (
    "golive/monitor/test_cli.py",
    "golive/monitor/test_cron.py",
    "checks/test_operations.py",
    "checks/test_database.py",
    "demo/",
    "reliability/",
)
TESTS = Path(__file__).resolve().parent


def xdist_group(item: pytest.Item) -> str | None:
    """The pytest-xdist group of a test (`--dist loadgroup` runs a group on one worker):
    "stack" for the tests of the one demo stack and of machine-wide state, "upstream" for
    those of the real Ordinaut, "hosts" for the SSH test hosts; None (any worker) for
    tests that start nothing shared."""
    names = set(getattr(item, "fixturenames", ()))
    rel = item.path.resolve().relative_to(TESTS).as_posix()
    if "stack" in names or rel.startswith(MACHINE_WIDE):
        return "stack"
    if "upstream" in names:
        return "upstream"
    if "ssh_hosts" in names:
        return "hosts"
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist's worker reads the marks into the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group the tests for pytest-xdist (see `xdist_group`); a plain run ignores the mark."""
    for item in items:
        group = xdist_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Refuse a pytest-xdist run whose groups did not take (the node ids of grouped tests
    carry no ``@group``): the demo stack's tests would be spread over both workers, each
    starting its own stack beside the other's."""
    if not getattr(session.config.option, "loadgroup", False):
        return
    lost = [
        i.nodeid
        for i in session.items
        if i.get_closest_marker("xdist_group") and "@" not in i.nodeid
    ]
    if lost:
        raise pytest.UsageError(
            f"pytest-xdist --dist loadgroup did not group {len(lost)} tests (e.g. {lost[0]}): "
            "this pytest and pytest-xdist do not work together (pytest-dev/pytest-xdist#1386)"
        )


def _missing(
    what: str,
    *,
    reason: str = "not installed",
    required: str = "integration services are required",
) -> None:
    """Skip, or fail under CI=true (saying what is ``required`` there), because ``what`` is
    ``reason`` (not installed, not available)."""
    message = f"{reason}: {what}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: {required})")
    pytest.skip(message)


@contextmanager
def demo_api_process(env: dict[str, str], log_dir: Path, cwd: Path) -> Iterator[str]:
    """One demo API process (uvicorn) with `env` on a free loopback port: its URL once it
    answers /health/live; killed with its process group afterwards."""
    from demo.stack import procs

    port = procs.free_port()
    argv = [sys.executable, "-m", "uvicorn", "demo.api:app", "--host", "127.0.0.1"]
    pid = procs.spawn(
        [*argv, "--port", str(port), "--no-access-log"],
        log_dir / f"api-{port}.log",
        env=env,
        cwd=cwd,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        procs.wait_until(
            lambda: procs.http_ok(f"{url}/health/live"),
            60,
            "the demo API",
            alive=lambda: procs.alive(pid),
        )
        yield url
    finally:
        procs.kill_group(pid)


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


def launched(
    *,
    reuse: str,
    record: type[S],
    unavailable: Callable[[], str | None],
    start: Callable[[Path], S],
    stop: Callable[..., object],
    prefix: str,
    missing: Callable[[str], None] = _missing,
) -> Iterator[S]:
    """Yield a running stack of one launcher (:mod:`demo.stack`, :mod:`demo.upstream`) for a
    session fixture: the one (of the launcher's record type ``record``) in the state dir
    named by the environment variable ``reuse`` when it is up (left running), else one
    started with ``start`` in a new temporary dir named ``prefix...`` and stopped (purged)
    with ``stop`` at the end.

    What ``unavailable`` names (missing programs, a missing release tree) goes to
    ``missing`` (skip, or fail under CI=true); a start that fails fails the test with the
    failing service's log tail.
    """
    from demo.stack.lifecycle import running
    from demo.stack.procs import ServiceFailed

    reused = os.environ.get(reuse)
    if reused:
        existing = running(Path(reused), record)
        if existing is not None:
            yield existing
            return
    what = unavailable()
    if what:
        missing(what)
    # a short, postgres-traversable path (pytest's tmp dirs are 0700 and long)
    state_dir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        started = start(state_dir)
    except ServiceFailed as exc:
        pytest.fail(f"{exc}\n--- log tail ---\n{exc.tail}", pytrace=False)
    try:
        yield started
    finally:
        stop(started, purge=True)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """A running reference stack (:class:`demo.stack.Stack`)."""
    try:
        from demo import stack as launcher
    except ImportError as exc:  # the demo extra is not installed
        _missing(f"demo extra ({exc.name})")
    yield from launched(
        reuse="GOLIVE_TEST_STACK_DIR",
        record=launcher.Stack,
        unavailable=lambda: ", ".join(launcher.missing_required()) or None,
        start=launcher.start,
        stop=launcher.stop,
        prefix="golive-stack-",
    )


@pytest.fixture(scope="session")
def stack_containers(stack: Stack) -> Stack:
    """The stack, when it runs the compose project in podman (skip/fail otherwise)."""
    from demo.stack import containers

    if not stack.docker_host:
        missing = ", ".join(containers.missing_binaries()) or "containers disabled"
        _missing(missing)
    return stack
