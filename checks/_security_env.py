"""Where the security checks read a service's environment: compose files and containers.

Compose builds a service's environment from its `env_file:` files, then its `environment:`
(mapping or `KEY=VALUE` list), merged key by key over the compose files in order and
interpolated from `.env` and the shell; a running container's is `Config.Env`. Every value
whose name or content looks secret is registered with the redactor as soon as it is read.
With `targets.hosts`, a once-per-run check reads the compose files of every host.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from golive.api import Context

if TYPE_CHECKING:
    from golive.targets.project import ProjectTarget

from . import _security as sec


async def available(ctx: Context, kind: str) -> bool:
    """True when an optional target is configured and answered its (once-per-run) probe."""
    if kind == "project" and not ctx.host.is_local:
        return ctx.targets.configured(kind)  # the runner loaded the project on that host
    return ctx.targets.configured(kind) and await ctx.targets.probe(kind) is None


@dataclass
class EnvSource:
    """The environment one service would see, from one place (compose files or a container)."""

    name: str  # "compose:api" or "container:ordinaut_api_1"
    values: dict[str, str | None]
    problems: dict[str, str] = field(default_factory=dict)  # variable -> why it is unresolved

    def get(self, var: str) -> str | None:
        """The variable's value (None when absent or unresolved)."""
        return None if var in self.problems else self.values.get(var)


def register_secrets(ctx: Context, values: dict[str, str | None]) -> None:
    for k, v in values.items():
        if v and (sec.is_secret_name(k) or sec.url_password(v)):
            ctx.secret(v)
            pw = sec.url_password(v)
            if pw:
                ctx.secret(pw)


def _env_file_values(project: ProjectTarget, base: Path, spec: Any) -> dict[str, str]:
    from golive.interpolate import parse_env_file

    items = spec if isinstance(spec, list) else [spec]
    out: dict[str, str] = {}
    for item in items:
        path = item.get("path") if isinstance(item, dict) else item
        if not isinstance(path, str):
            continue
        p = Path(path) if os.path.isabs(path) else base / path
        try:
            out.update(parse_env_file(project.read_bytes(p).decode("utf-8", errors="replace")))
        except OSError:
            continue
    return out


def compose_envs(
    ctx: Context, services: list[str], project: Any = None, where: str = ""
) -> list[EnvSource]:
    """Each listed service's environment as Compose would build it (env_file, then environment,
    merged key by key over the compose files in order, interpolated with .env and the shell).
    `project` defaults to the check's; `where` prefixes the sources' names (a host's)."""
    project = project if project is not None else ctx.project
    fallback = project.env()
    per_service: dict[str, EnvSource] = {}
    for cf in project.compose():
        data = cf.data if isinstance(cf.data, dict) else {}
        for name, svc in (data.get("services") or {}).items():
            if str(name) not in services or not isinstance(svc, dict):
                continue
            src = per_service.setdefault(str(name), EnvSource(f"{where}compose:{name}", {}))
            if "env_file" in svc:
                src.values.update(_env_file_values(project, cf.path.parent, svc["env_file"]))
            env = sec.env_list_to_dict(svc.get("environment"), fallback)
            for var, value in env.items():
                src.values[var] = value
                if value is not None and "${" in value:
                    reason = next(
                        (e.split(": ", 1)[-1] for e in cf.errors if var in e),
                        "interpolation failed",
                    )
                    reason = reason.removeprefix(f"{var}: ")
                    src.problems[var] = f"cannot be resolved ({cf.path.name}: {reason})"
                else:
                    src.problems.pop(var, None)
    for src in per_service.values():
        register_secrets(ctx, src.values)
    return [per_service[s] for s in services if s in per_service]


async def container_envs(ctx: Context, services: list[str]) -> list[EnvSource]:
    """`Config.Env` of the running containers of the listed services (when an engine answers)."""
    if not await available(ctx, "docker"):
        return []
    out = []
    for c in await ctx.docker.containers():
        if ctx.docker.service_of(c) not in services:
            continue
        env = sec.env_list_to_dict(list((c.attrs.get("Config") or {}).get("Env") or []), {})
        register_secrets(ctx, env)
        out.append(EnvSource(f"container:{c.name}", env))
    return out


async def env_sources(ctx: Context, services: list[str]) -> list[EnvSource]:
    sources = compose_envs(ctx, services) if await available(ctx, "project") else []
    return sources + await container_envs(ctx, services)


async def compose_projects(ctx: Context) -> tuple[list[tuple[str, Any]], list[str]]:
    """The deployed projects whose compose files a once-per-run check reads: the local one,
    or with `targets.hosts` the one on each host ("HOST:" prefixes its files); and why a
    host's could not be read."""
    if not ctx.config.hosts:
        return ([("", ctx.project)] if await available(ctx, "project") else []), []
    if not ctx.targets.configured("project"):
        return [], []
    out: list[tuple[str, Any]] = []
    unread: list[str] = []
    for host in ctx.targets.hosts().values():
        if host.is_local:
            if await available(ctx, "project"):
                out.append((f"{host.name}:", ctx.targets.project))
            continue
        reason = await host.probe()
        if reason is None:
            try:
                out.append((f"{host.name}:", await ctx.targets.load_host_project(host)))
                continue
            except Exception as exc:
                reason = " ".join(str(exc).split()) or type(exc).__name__
        unread.append(f"compose files of host {host.name} not read: {reason}")
    return out, unread
