"""The check API: everything a check author (built-in or plugin) needs, in one module.

A check is a plain ``async`` function decorated with :func:`check`. Its parameters after
``ctx`` are typed keyword arguments with defaults; golive.yaml may override them under
``params:`` and an unknown or mistyped parameter is a configuration error. The function
returns an :class:`Outcome`; it does not catch unexpected exceptions (the runner turns them
into ERROR) and never builds its own clients: ``ctx`` hands it shared, lazily-built targets.

    @check(id="security.jwt_secret", severity=Severity.CRITICAL,
           title="JWT signing secret is set and strong", needs=("project",),
           remediation="Set JWT_SECRET_KEY to at least 32 random bytes from a secret store.")
    async def jwt_secret(ctx: Context, min_length: int = 32) -> Outcome:
        ...

The decorator only attaches metadata (``func.__golive_check__``); nothing is registered as
an import side effect. The registry collects decorated functions from the modules named by
the ``golive.checks`` entry-point group and by ``plugin_paths:`` in golive.yaml.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from golive.models import Finding, Outcome, Severity, Status

if TYPE_CHECKING:
    from golive.config import Config
    from golive.hosts.interface import Host
    from golive.redact import Redactor
    from golive.targets import Targets
    from golive.targets.alertmanager import AlertmanagerTarget
    from golive.targets.api import ApiTarget
    from golive.targets.database import DatabaseTarget
    from golive.targets.docker import DockerTarget
    from golive.targets.grafana import GrafanaTarget
    from golive.targets.project import ProjectTarget
    from golive.targets.prometheus import PrometheusTarget
    from golive.targets.redis import RedisTarget

__all__ = [
    "TARGET_KINDS",
    "CheckFunc",
    "CheckSpec",
    "Context",
    "Finding",
    "Isolation",
    "Outcome",
    "RunSettings",
    "Severity",
    "Status",
    "check",
    "spec_of",
]

#: The kinds of target a check may declare in ``needs``.
TARGET_KINDS = (
    "api",
    "database",
    "redis",
    "docker",
    "prometheus",
    "alertmanager",
    "grafana",
    "project",
    "host",
)

_ID = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")

CheckFunc = Callable[..., Awaitable[Outcome]]

#: How a check shares the run: `shared` checks run concurrently; `exclusive` ones run one
#: at a time after them with nothing else running (load tests); `final` ones run alone at
#: the very end (checks that disturb the target afterwards, e.g. exhausting a rate limit).
Isolation = Literal["shared", "exclusive", "final"]
F = TypeVar("F", bound=CheckFunc)


@dataclass(frozen=True)
class CheckSpec:
    """A check's metadata, as declared by :func:`check`."""

    id: str
    title: str
    severity: Severity
    func: CheckFunc
    needs: tuple[str, ...] = ()
    writes: bool = False
    remediation: str = ""
    tags: tuple[str, ...] = ()
    generic: bool = False  # a generic kind, used from YAML with `uses: <name>`
    isolation: Isolation = "shared"
    source: str = ""  # module:function, for error messages and `golive explain`

    @property
    def section(self) -> str:
        """The section is the first part of the id."""
        return self.id.split(".", 1)[0]

    @property
    def name(self) -> str:
        """The part of the id after the section."""
        return self.id.split(".", 1)[1]

    @property
    def description(self) -> str:
        """What the check proves: the function's docstring, its indentation removed (so
        that YAML examples in it keep their shape in `golive explain` and docs/checks.md)."""
        import inspect

        return inspect.cleandoc(self.func.__doc__ or "")


def check(
    *,
    id: str,
    title: str,
    severity: Severity | str = Severity.MEDIUM,
    needs: tuple[str, ...] = (),
    writes: bool = False,
    remediation: str = "",
    tags: tuple[str, ...] = (),
    section: str | None = None,
    generic: bool = False,
    isolation: Isolation = "shared",
) -> Callable[[F], F]:
    """Declare an async function as a check; attaches a :class:`CheckSpec` and nothing else."""
    if not _ID.match(id):
        raise ValueError(f"check id {id!r} must look like 'section.name' (lower case)")
    if section is not None and id.split(".", 1)[0] != section:
        raise ValueError(f"check id {id!r} is not in section {section!r}")
    if isolation not in ("shared", "exclusive", "final"):
        raise ValueError(f"check {id!r}: isolation must be 'shared', 'exclusive' or 'final'")
    unknown = [n for n in needs if n not in TARGET_KINDS]
    if unknown:
        raise ValueError(f"check {id!r} needs unknown target kind(s): {', '.join(unknown)}")

    def wrap(func: F) -> F:
        import inspect

        if not inspect.iscoroutinefunction(func):
            raise TypeError(f"check {id!r} must be an async function")
        spec = CheckSpec(
            id=id,
            title=title,
            severity=Severity(severity),
            func=func,
            needs=tuple(needs),
            writes=writes,
            remediation=remediation,
            tags=tuple(tags),
            generic=generic,
            isolation=isolation,
            source=f"{func.__module__}:{func.__qualname__}",
        )
        func.__golive_check__ = spec  # type: ignore[attr-defined]
        return func  # type: ignore[return-value]

    return wrap


def spec_of(obj: object) -> CheckSpec | None:
    """The spec attached to a decorated function, or None."""
    spec = getattr(obj, "__golive_check__", None)
    return spec if isinstance(spec, CheckSpec) else None


@dataclass(frozen=True)
class RunSettings:
    """Settings of the current run that checks may consult."""

    run_id: str
    allow_writes: bool = False
    verbose: bool = False
    interactive: bool = False  # a TTY is attached: progress bars are welcome
    baseline_path: str | None = None


@dataclass
class Context:
    """What a check receives: shared targets, its timeout, run settings and an evidence recorder.

    Targets are built on first use and shared by every check of the run; a check only sees
    targets it declared in ``needs`` as reachable (the runner probes them first).
    """

    check_id: str
    timeout: float
    settings: RunSettings
    config: Config
    targets: Targets
    redactor: Redactor
    evidence: dict[str, Any] = field(default_factory=dict)
    #: the event-loop time (`asyncio.get_running_loop().time()`) by which the check must
    #: finish: its timeout from when it started (None outside a run)
    deadline: float | None = None
    _progress: Callable[[float, float, str], None] | None = None
    _host: Host | None = None

    @property
    def host(self) -> Host:
        """The host this run of the check reads (files, directories, commands): one of
        `targets.hosts` for a check that needs ``host``, else the local machine."""
        return self._host if self._host is not None else self.targets.local_host

    @property
    def project_root(self) -> str:
        """The deployed project tree on `host` (its `project_root`, else targets.project.root)."""
        return self.targets.project_root(self.host)

    def host_path(self, path: str) -> str:
        """`path` on the check's host: relative paths start at the host's project root
        (`~` is expanded only on the local machine)."""
        import os

        if path.startswith("~") and self.host.is_local:
            path = os.path.expanduser(path)
        if os.path.isabs(path) or self.config.targets.project is None:
            return path
        return os.path.join(self.project_root, path)

    @property
    def run_id(self) -> str:
        """The run's unique id (use it to mark anything a check creates)."""
        return self.settings.run_id

    @property
    def marker(self) -> str:
        """A unique, recognisable marker for objects this run creates: `golive-<run id>`."""
        return f"golive-{self.settings.run_id}"

    @property
    def api(self) -> ApiTarget:
        """The orchestrator's HTTP API."""
        return self.targets.api

    @property
    def db(self) -> DatabaseTarget:
        """The PostgreSQL database (read-only sessions unless the check writes)."""
        return self.targets.database

    @property
    def redis(self) -> RedisTarget:
        """The Redis server."""
        return self.targets.redis

    @property
    def docker(self) -> DockerTarget:
        """The container engine (Docker API)."""
        return self.targets.docker

    @property
    def prometheus(self) -> PrometheusTarget:
        """The Prometheus server."""
        return self.targets.prometheus

    @property
    def alertmanager(self) -> AlertmanagerTarget:
        """The Alertmanager (v2 API)."""
        return self.targets.alertmanager

    @property
    def grafana(self) -> GrafanaTarget:
        """The Grafana server."""
        return self.targets.grafana

    @property
    def project(self) -> ProjectTarget:
        """The deployed project tree (files, compose files, env files), on `host` for a
        check that needs ``host`` (its compose and env files, read over SSH)."""
        if self._host is not None:
            return self.targets.project_on(self._host)
        return self.targets.project

    def record(self, key: str, value: Any) -> None:
        """Record evidence now; it is kept even if the check later times out or raises."""
        self.evidence[key] = value

    def secret(self, value: str | None) -> None:
        """Register a value that must never appear in any output."""
        self.redactor.add(value)

    def progress(self, done: float, total: float, description: str = "") -> None:
        """Report progress of a long check (shown as a progress bar on a TTY)."""
        if self._progress is not None:
            self._progress(done, total, description)

    @property
    def baseline(self) -> Mapping[str, Any] | None:
        """The saved baseline entry for this check, when a baseline was given."""
        return self.targets.baseline_for(self.check_id)
