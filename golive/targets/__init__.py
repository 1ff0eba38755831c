"""Targets: one thin client per kind of thing golive checks, built lazily and shared.

`Targets` builds each client on first use, probes each kind at most once per run (every
check that needs an unreachable target is then skipped with the probe's reason), and
closes everything at the end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from golive.errors import TargetUnavailable

if TYPE_CHECKING:
    from golive.config import Config
    from golive.hosts.interface import Host
    from golive.redact import Redactor
    from golive.targets.alertmanager import AlertmanagerTarget
    from golive.targets.api import ApiTarget
    from golive.targets.database import DatabaseTarget
    from golive.targets.docker import DockerTarget
    from golive.targets.grafana import GrafanaTarget
    from golive.targets.project import ProjectTarget
    from golive.targets.prometheus import PrometheusTarget
    from golive.targets.redis import RedisTarget


class Targets:
    """The run's targets, built from configuration on first use."""

    def __init__(
        self,
        config: Config,
        redactor: Redactor,
        *,
        allow_writes: bool = False,
        baseline: Mapping[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.redactor = redactor
        self.allow_writes = allow_writes
        self.baseline = baseline
        self._built: dict[str, Any] = {}
        self.memo: dict[str, Any] = {}  # run-wide state checks share (e.g. across hosts)
        self._probes: dict[str, asyncio.Future[str | None]] = {}
        self._hosts: dict[str, Host] | None = None
        self._local: Host | None = None
        self._host_probes: dict[str, asyncio.Future[str | None]] = {}
        self._host_projects: dict[str, asyncio.Future[ProjectTarget]] = {}

    # -- hosts ------------------------------------------------------------------------------

    @property
    def local_host(self) -> Host:
        """The machine golive runs on (the implicit host when targets.hosts is not set)."""
        if self._local is None:
            from golive.hosts.local import LocalHost

            self._local = LocalHost()
        return self._local

    def hosts(self) -> dict[str, Host]:
        """The configured hosts by name, in configuration order (built on first use)."""
        if self._hosts is None:
            from golive.hosts import build_host

            self._hosts = {h.name: build_host(h) for h in self.config.hosts}
        return self._hosts

    def hosts_for(self, selectors: tuple[str, ...] | None) -> list[Host]:
        """The hosts a host-level check runs on: those whose name or a role is selected
        (all hosts without a selection)."""
        hosts = list(self.hosts().values())
        if selectors is None:
            return hosts
        return [h for h in hosts if h.name in selectors or set(h.roles) & set(selectors)]

    def engine_host(self) -> Host | None:
        """The host whose engine socket `targets.docker` reaches over SSH: the one named by
        `host:`, or the host of `targets.hosts` whose address `base_url: ssh://...` is
        (so that its pinned key and identity are used); None for a socket or $DOCKER_HOST."""
        cfg = self.config.targets.docker
        if cfg is None:
            return None
        if cfg.host is not None:
            return self.hosts()[cfg.host]
        if cfg.base_url and cfg.base_url.startswith("ssh://"):
            from golive.hosts.ssh import parse_ssh_url

            wanted = parse_ssh_url(cfg.base_url)
            for h in self.config.hosts:
                if h.ssh is not None and parse_ssh_url(h.ssh) == wanted:
                    return self.hosts()[h.name]
        return None

    def project_root(self, host: Host) -> str:
        """Where the deployed project tree is on a host."""
        for h in self.config.hosts:
            if h.name == host.name and h.project_root:
                return h.project_root
        project = self.config.targets.project
        return project.root if project is not None else "."

    async def load_host_project(self, host: Host) -> ProjectTarget:
        """The project as deployed on a remote host (compose and env files read over the
        host interface once per run); its secrets are registered with the redactor."""
        fut = self._host_projects.get(host.name)
        if fut is None:
            from golive.targets.project import HostProject

            cfg = self.config.targets.project
            if cfg is None:
                raise TargetUnavailable("no project target is configured (targets.project)")
            root = self.project_root(host)

            async def load() -> ProjectTarget:
                return await HostProject.load(cfg, host, root)

            fut = self._host_projects[host.name] = asyncio.ensure_future(load())
        project = await asyncio.shield(fut)
        self.redactor.add_all(project.secrets)
        return project

    def project_on(self, host: Host) -> ProjectTarget:
        """The project of a host: the local tree for the local machine, else the one
        `load_host_project` read (the runner loads it before a check that needs it)."""
        if host.is_local:
            return self.project
        fut = self._host_projects.get(host.name)
        if fut is None or not fut.done() or fut.exception() is not None:
            raise TargetUnavailable(
                f"the project on host {host.name} was not loaded (declare needs=('project',))"
            )
        return fut.result()

    async def probe_host(self, host: Host) -> str | None:
        """Probe a host once per run (connect, host key, login): None, or the reason."""
        fut = self._host_probes.get(host.name)
        if fut is None:
            fut = asyncio.ensure_future(host.probe())
            self._host_probes[host.name] = fut
        reason = await asyncio.shield(fut)
        return self.redactor.redact(reason) if reason else None

    def configured(self, kind: str) -> bool:
        """True when golive.yaml configures this kind of target."""
        return getattr(self.config.targets, kind, None) is not None

    def _build(self, kind: str) -> Any:
        cfg = getattr(self.config.targets, kind, None)
        if cfg is None:
            raise TargetUnavailable(
                f"no {kind} target is configured in golive.yaml (targets.{kind})"
            )
        if kind == "api":
            from golive.targets.api import ApiTarget

            return ApiTarget(cfg)
        if kind == "database":
            from golive.targets.database import DatabaseTarget

            return DatabaseTarget(cfg, allow_writes=self.allow_writes)
        if kind == "redis":
            from golive.targets.redis import RedisTarget

            return RedisTarget(cfg)
        if kind == "docker":
            from golive.targets.docker import DockerTarget

            return DockerTarget(cfg, host=self.engine_host())
        if kind == "prometheus":
            from golive.targets.prometheus import PrometheusTarget

            return PrometheusTarget(cfg)
        if kind == "alertmanager":
            from golive.targets.alertmanager import AlertmanagerTarget

            return AlertmanagerTarget(cfg)
        if kind == "grafana":
            from golive.targets.grafana import GrafanaTarget

            return GrafanaTarget(cfg)
        if kind == "project":
            from golive.targets.project import ProjectTarget

            project = ProjectTarget(cfg)
            project.env()
            self.redactor.add_all(project.secrets)
            return project
        raise TargetUnavailable(f"unknown target kind {kind!r}")

    def get(self, kind: str) -> Any:
        """The target of a kind (built on first use)."""
        if kind not in self._built:
            self._built[kind] = self._build(kind)
        return self._built[kind]

    def built(self, kind: str) -> Any | None:
        """The target of a kind if a check used it, else None (never builds one)."""
        return self._built.get(kind)

    async def probe(self, kind: str) -> str | None:
        """Probe a kind once per run: None when reachable, else the reason."""
        fut = self._probes.get(kind)
        if fut is None:
            fut = asyncio.ensure_future(self._probe(kind))
            self._probes[kind] = fut
        return await asyncio.shield(fut)

    async def _probe(self, kind: str) -> str | None:
        if not self.configured(kind):
            return f"no {kind} target is configured in golive.yaml (targets.{kind})"
        try:
            target = self.get(kind)
            reason: str | None = await target.probe()
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
        return self.redactor.redact(reason) if reason else None

    def describe(self) -> dict[str, str]:
        """Where each configured target is, with credentials masked (for reports)."""
        t = self.config.targets
        out: dict[str, str] = {}
        for kind in ("api", "prometheus", "alertmanager", "grafana"):
            cfg = getattr(t, kind)
            if cfg is not None:
                out[kind] = cfg.url
        if t.database is not None:
            out["database"] = t.database.dsn
        if t.redis is not None:
            out["redis"] = t.redis.url
        if t.docker is not None:
            engine_host = self.engine_host()
            if engine_host is not None:
                out["docker"] = (
                    f"{t.docker.socket} on host {engine_host.name} ({engine_host.address})"
                )
            else:
                out["docker"] = t.docker.base_url or "$DOCKER_HOST"
            if t.docker.compose_project:
                out["docker"] += f" (compose project {t.docker.compose_project})"
        if t.project is not None:
            out["project"] = t.project.root
        for host in (self._hosts or {}).values():
            text = host.address + (f" (roles {', '.join(host.roles)})" if host.roles else "")
            accepted = getattr(host, "accepted_key", None)
            if accepted:
                text += f"; host key {accepted} accepted on first use (accept_new), not pinned"
            out[f"host {host.name}"] = text
        return {k: self.redactor.redact(v) for k, v in out.items()}

    def baseline_for(self, check_id: str) -> Mapping[str, Any] | None:
        """The baseline's entry for a check, if a baseline was loaded."""
        if not self.baseline:
            return None
        entry = self.baseline.get("checks", {}).get(check_id)
        return entry if isinstance(entry, Mapping) else None

    async def close(self) -> None:
        """Close every built target; errors while closing are ignored."""
        for target in self._built.values():
            try:
                await asyncio.wait_for(target.close(), 5)
            except Exception:
                continue
        self._built.clear()
        hosts = list((self._hosts or {}).values())
        if hosts:  # connections close concurrently, not one host after another
            await asyncio.gather(
                *(asyncio.wait_for(h.close(), 5) for h in hosts), return_exceptions=True
            )

    # typed accessors used by Context
    @property
    def api(self) -> ApiTarget:
        """The API target."""
        return self.get("api")  # type: ignore[no-any-return]

    @property
    def database(self) -> DatabaseTarget:
        """The database target."""
        return self.get("database")  # type: ignore[no-any-return]

    @property
    def redis(self) -> RedisTarget:
        """The Redis target."""
        return self.get("redis")  # type: ignore[no-any-return]

    @property
    def docker(self) -> DockerTarget:
        """The container engine target."""
        return self.get("docker")  # type: ignore[no-any-return]

    @property
    def prometheus(self) -> PrometheusTarget:
        """The Prometheus target."""
        return self.get("prometheus")  # type: ignore[no-any-return]

    @property
    def alertmanager(self) -> AlertmanagerTarget:
        """The Alertmanager target."""
        return self.get("alertmanager")  # type: ignore[no-any-return]

    @property
    def grafana(self) -> GrafanaTarget:
        """The Grafana target."""
        return self.get("grafana")  # type: ignore[no-any-return]

    @property
    def project(self) -> ProjectTarget:
        """The project tree target."""
        return self.get("project")  # type: ignore[no-any-return]
