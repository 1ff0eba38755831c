"""Bring a whole stack up or down, and report its state."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from demo.stack import (
    app,
    containers,
    observability,
    postgres,
    prereq,
    procs,
    project,
    redis_server,
    smoke,
    sshhosts,
    tls,
)
from demo.stack.model import Stack

S = TypeVar("S", bound=Stack)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STATE_DIR = REPO_ROOT / ".golive-stack"
# Processes stopped in this order by :func:`stop` (postgres and podman have their own).
APP_PROCESSES = (
    "tls_proxy",
    "api",
    "scheduler",
    "worker-w1",
    "worker-w2",
    "prometheus",
    "alertmanager",
    "webhook_sink",
    "redis",
)


def missing_required() -> list[str]:
    """Programs the stack cannot start without, each with its Debian package."""
    return [f"{t.name} (Debian package {t.package})" for t in prereq.missing(["stack"])]


def containers_available() -> bool:
    """True when podman, runc, busybox and podman-compose are installed."""
    return not containers.missing_binaries()


def is_up(stack: Stack) -> bool:
    """True when every recorded process lives and the API answers."""
    if not stack.pids:
        return False
    if not all(procs.alive(pid) for pid in stack.pids.values()):
        return False
    return procs.http_ok(f"{stack.api_url}/health/live")


def running(state_dir: Path, record: type[S]) -> S | None:
    """The record (of the launcher's type ``record``) in ``state_dir`` when every process it
    records lives and its API answers (:func:`is_up`), else None."""
    existing = record.load(state_dir)
    return existing if existing is not None and is_up(existing) else None


def require_programs(service: str) -> None:
    """Raise :class:`procs.ServiceFailed` for ``service``, naming the programs of
    :func:`missing_required`, when any of them is not installed."""
    missing = missing_required()
    if missing:
        raise procs.ServiceFailed(service, "missing binaries: " + ", ".join(missing))


def status(stack: Stack) -> dict[str, bool]:
    """Liveness of each recorded process."""
    return {name: procs.alive(pid) for name, pid in sorted(stack.pids.items())}


def prepare_dir(
    state_dir: Path,
    record: type[S],
    stop_old: Callable[[S], object],
    what: str = "stack",
) -> None:
    """Stop with ``stop_old`` whatever the record in ``state_dir`` (of the launcher's type
    ``record``) says was started there, then make the directory afresh: empty but for ``logs/`` and
    a ``.gitignore``. A failure to stop is reported (naming the previous ``what``), not raised.
    """
    old = record.load(state_dir)
    if old is not None:
        try:
            stop_old(old)
        except RuntimeError as exc:  # leftovers of a crashed run: report, then start afresh
            print(f"warning: cleaning the previous {what}: {exc}", file=sys.stderr)
    if state_dir.exists():
        shutil.rmtree(state_dir)
    state_dir.mkdir(parents=True)
    os.chmod(state_dir, 0o711)  # the postgres user must traverse it; listing stays private
    (state_dir / "logs").mkdir()
    (state_dir / ".gitignore").write_text("*\n")


def _container_thread(stack: Stack, errors: list[BaseException]) -> threading.Thread:
    def work() -> None:
        try:
            containers.start_engine(stack)
            containers.compose_up(stack)
        except procs.ServiceFailed as exc:  # reported by the main thread
            errors.append(exc)
        except BaseException as exc:
            errors.append(
                procs.ServiceFailed("containers", str(exc), stack.state_dir / "logs" / "podman.log")
            )

    thread = threading.Thread(target=work, name="containers", daemon=True)
    thread.start()
    return thread


def start(
    state_dir: Path | str = DEFAULT_STATE_DIR,
    *,
    with_containers: bool | None = None,
    alert_rules: Path | None = None,
    timeout: float = 60,
) -> Stack:
    """Start the stack in ``state_dir`` (or return it when it is already up).

    ``with_containers`` defaults to whether podman is installed; ``alert_rules`` replaces
    the project's ``ops/alert_rules.yml`` that Prometheus loads. On failure everything
    started so far is stopped and :class:`procs.ServiceFailed` is raised.
    """
    state_dir = Path(state_dir).resolve()
    existing = running(state_dir, Stack)
    if existing is not None:
        return existing
    require_programs("stack")
    if with_containers is None:
        with_containers = containers_available()
    began = time.monotonic()
    prepare_dir(state_dir, Stack, stop)
    stack = Stack(state_dir=state_dir)
    for name in (
        "postgres_superuser_password",
        "postgres_app_password",
        "jwt_secret_key",
        "grafana_admin_password",
    ):
        stack.secrets[name] = secrets.token_urlsafe(48 if name == "jwt_secret_key" else 24)
    errors: list[BaseException] = []
    thread = None
    try:
        project.create(stack)
        if alert_rules is not None:
            shutil.copyfile(alert_rules, stack.project_root / "ops" / "alert_rules.yml")
        if with_containers:
            thread = _container_thread(stack, errors)
        redis_server.start(stack)
        postgres.start(stack)
        stack.save()
        observability.start_webhook_sink(stack)
        observability.start_alertmanager(stack)
        since = time.time() - 1
        app.start_scheduler(stack)
        app.start_workers(stack)
        app.start_api(stack)
        observability.start_prometheus(stack, stack.project_root / "ops" / "alert_rules.yml")
        app.wait_workers(stack, since)
        procs.wait_until(
            lambda: app.scheduler_ready(stack),
            20,
            "scheduler",
            alive=lambda: procs.alive(stack.pids["scheduler"]),
        )
        tls.start(stack)
        smoke.run(stack)
        project.run_backup(stack)
        procs.wait_until(
            lambda: observability.monitoring_ready(stack),
            30,
            "prometheus (targets scraped, alertmanager discovered)",
            alive=lambda: procs.alive(stack.pids["prometheus"]),
        )
        if thread is not None:
            thread.join(max(5.0, timeout - (time.monotonic() - began)))
            if thread.is_alive():
                raise procs.ServiceFailed(
                    "compose", "containers not up in time", stack.state_dir / "logs" / "compose.log"
                )
            if errors:
                raise errors[0]
        stack.startup_seconds = round(time.monotonic() - began, 2)
        stack.save()
        return stack
    except BaseException as exc:
        if thread is not None:
            thread.join(60)
        try:
            stop(stack)
        except RuntimeError as stop_exc:
            print(f"warning: stopping the failed stack: {stop_exc}", file=sys.stderr)
        if isinstance(exc, (TimeoutError, RuntimeError)) and not isinstance(
            exc, procs.ServiceFailed
        ):
            raise procs.ServiceFailed(str(exc).split(":")[0], str(exc)) from exc
        raise


def _leftovers(stack: Stack) -> list[tuple[int, str]]:
    roots = [str(stack.state_dir)]
    for key in ("pg_base", "podman_socket"):
        if key in stack.paths:
            roots.append(
                str(Path(stack.paths[key]).parent if key == "podman_socket" else stack.paths[key])
            )
    found: dict[int, str] = {}
    for root in roots:
        found.update(dict(procs.processes_mentioning(root)))
    return sorted(found.items())


def _kill_leftovers(stack: Stack) -> list[tuple[int, str]]:
    """Force-kill every process still mentioning the state dir, the PostgreSQL base or the
    podman socket's directory, wait until they are gone and return them (pid, command)."""
    leftovers = _leftovers(stack)
    for pid, _ in leftovers:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    if leftovers:
        procs.wait_until(lambda: not _leftovers(stack), 10, "leftover processes")
    return leftovers


def _unmount_under(root: Path) -> None:
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return
    targets = [m.split()[1] for m in mounts if m.split()[1].startswith(str(root) + "/")]
    for target in sorted(targets, key=len, reverse=True):
        subprocess.run([prereq.path("umount"), "-l", target], check=False, capture_output=True)


def start_hosts(stack: Stack, n: int) -> sshhosts.HostSet:
    """N SSH hosts, each with its own copy of the deployed project (seen at the project's
    path over SSH) and root's crontab from ops/crontab."""
    crontab = (stack.project_root / "ops" / "crontab").read_text()
    return sshhosts.start(
        stack.state_dir / "hosts",
        n,
        project_src=stack.project_root,
        mount_at=stack.project_root,
        crontab=crontab,
    )


def stop_each(stack: Stack, names: Iterable[str], errors: list[str]) -> None:
    """Stop the recorded processes ``names`` in this order; add what fails to ``errors``."""
    for name in names:
        try:
            app.stop_named(stack, [name])
        except Exception as exc:
            errors.append(f"{name}: {exc}")


def stop_postgres(stack: Stack, errors: list[str]) -> None:
    """Stop PostgreSQL (and no longer record it); add a failure to ``errors``."""
    try:
        postgres.stop(stack)
    except Exception as exc:
        errors.append(f"postgres: {exc}")
    stack.pids.pop("postgres", None)


def finish_stop(stack: Stack, errors: list[str], *, purge: bool) -> list[tuple[int, str]]:
    """The end of a launcher's ``stop``, once its processes were asked to stop: kill the
    leftovers, unmount what is mounted under the state dir, record that nothing runs,
    with ``purge`` remove the state (data, state dir, podman's socket dir), then raise
    :class:`RuntimeError` listing ``errors`` if there are any. Returns the killed leftovers.
    """
    leftovers = _kill_leftovers(stack)
    _unmount_under(stack.state_dir)
    stack.pids.clear()
    if stack.state_dir.exists():
        stack.save()
    if purge:
        postgres.remove_data(stack)
        shutil.rmtree(stack.state_dir, ignore_errors=True)
        sock = stack.paths.get("podman_socket")
        if sock and not str(sock).startswith(str(stack.state_dir)):
            shutil.rmtree(Path(sock).parent, ignore_errors=True)
    if errors:
        raise RuntimeError("stop: " + "; ".join(errors))
    return leftovers


def stop(stack: Stack, *, purge: bool = False) -> list[tuple[int, str]]:
    """Stop everything the stack started; return processes that had to be force-killed."""
    errors: list[str] = []
    hosts = sshhosts.HostSet.load(stack.state_dir / "hosts")
    if hosts is not None:
        hosts.stop()
    try:
        containers.stop(stack)
    except Exception as exc:
        errors.append(f"containers: {exc}")
    stop_each(stack, APP_PROCESSES, errors)
    stop_postgres(stack, errors)
    return finish_stop(stack, errors, purge=purge)
