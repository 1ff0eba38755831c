"""The deployed project tree: files, env files and compose files interpolated as Compose does."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from golive.interpolate import InterpolationError, interpolate, parse_env_file
from golive.redact import looks_secret

if TYPE_CHECKING:
    from golive.config import ProjectTarget as ProjectConfig
    from golive.hosts.interface import Host

SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "env",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        "build",
        "dist",
        ".eggs",
        "site-packages",
        ".golive-stack",
    }
)


@dataclass
class ComposeFile:
    """One compose file: raw YAML, interpolated model, and what interpolation found."""

    path: Path
    raw: Any = None
    data: Any = None
    errors: list[str] = field(default_factory=list)
    variables: dict[str, str | None] = field(default_factory=dict)


class ProjectTarget:
    """A project tree on disk (often a release archive, not a git checkout)."""

    kind = "project"

    def __init__(self, cfg: ProjectConfig, *, environ: dict[str, str] | None = None) -> None:
        self.cfg = cfg
        self.root = Path(cfg.root).resolve()
        self._environ = dict(os.environ if environ is None else environ)
        self._env: dict[str, str] | None = None
        self.secrets: set[str] = set()

    def path(self, rel: str) -> Path:
        """A path inside the project (absolute paths are kept as they are)."""
        p = Path(rel)
        return p if p.is_absolute() else self.root / p

    def read_bytes(self, p: Path) -> bytes:
        """A file of the deployment (raises OSError)."""
        return p.read_bytes()

    def is_file(self, p: Path) -> bool:
        """True for a regular file of the deployment."""
        return p.is_file()

    def compose_paths(self) -> list[Path]:
        """The configured compose files that exist."""
        return [p for p in (self.path(f) for f in self.cfg.compose_files) if self.is_file(p)]

    def env(self) -> dict[str, str]:
        """The variables Compose would see: `.env` files, then the process environment."""
        if self._env is None:
            env: dict[str, str] = {}
            for f in self.cfg.env_files:
                p = self.path(f)
                if self.is_file(p):
                    try:
                        text = self.read_bytes(p).decode("utf-8", errors="replace")
                    except OSError:
                        continue
                    env.update(parse_env_file(text))
            env.update(self._environ)
            for k, v in env.items():
                if looks_secret(k) and v:
                    self.secrets.add(v)
            self._env = env
        return self._env

    def compose(self) -> list[ComposeFile]:
        """Each compose file parsed and interpolated (errors recorded, not raised)."""
        import yaml

        out = []
        for p in self.compose_paths():
            cf = ComposeFile(p)
            try:
                cf.raw = yaml.safe_load(self.read_bytes(p).decode("utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
                cf.errors.append(f"cannot parse: {' '.join(str(exc).split())}")
                out.append(cf)
                continue
            cf.data = self._interpolate(cf.raw, cf, "")
            out.append(cf)
        return out

    def _interpolate(self, value: Any, cf: ComposeFile, path: str) -> Any:
        if isinstance(value, dict):
            return {
                k: self._interpolate(v, cf, f"{path}.{k}" if path else str(k))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self._interpolate(v, cf, f"{path}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, str):
            try:
                res = interpolate(value, self.env())
            except InterpolationError as exc:
                cf.errors.append(f"{path}: {exc}")
                return value
            cf.variables.update(res.used)
            return res.text
        return value

    def services(self) -> dict[str, dict[str, Any]]:
        """Services of all compose files merged by name (later files override keys)."""
        merged: dict[str, dict[str, Any]] = {}
        for cf in self.compose():
            services = (cf.data or {}).get("services") if isinstance(cf.data, dict) else None
            for name, svc in (services or {}).items():
                if isinstance(svc, dict):
                    merged.setdefault(str(name), {}).update(svc)
        return merged

    def walk(self, skip_dirs: frozenset[str] = SKIP_DIRS) -> Iterator[Path]:
        """Every regular file under the root, skipping VCS, virtualenvs and build output."""
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(
                d
                for d in dirnames
                if d not in skip_dirs
                and not d.endswith(".egg-info")
                and not os.path.isfile(os.path.join(dirpath, d, "pyvenv.cfg"))
            )
            for name in sorted(filenames):
                p = Path(dirpath) / name
                if p.is_file() and not p.is_symlink():
                    yield p

    def relative(self, p: Path) -> str:
        """A path relative to the root, for reports."""
        try:
            return str(p.relative_to(self.root))
        except ValueError:
            return str(p)

    async def probe(self) -> str | None:
        """None when the project root is a readable directory."""
        if not self.root.is_dir():
            return f"project root {self.root} is not a directory"
        if not os.access(self.root, os.R_OK | os.X_OK):
            return f"project root {self.root} is not readable"
        return None

    async def close(self) -> None:
        """Nothing to close."""


class HostProject(ProjectTarget):
    """The deployed tree on a remote host, as far as the project's checks read it: the
    compose files, env files and the env_file files the services name, read over the host
    interface once (`load`) and kept in memory. Interpolation uses those env files and the
    environment golive runs in, as locally."""

    def __init__(self, cfg: ProjectConfig, root: str, files: dict[str, bytes]) -> None:
        super().__init__(cfg)
        self.root = Path(root)
        self.files = files

    def read_bytes(self, p: Path) -> bytes:
        """From the snapshot; FileNotFoundError for a file that was not there."""
        try:
            return self.files[str(p)]
        except KeyError:
            raise FileNotFoundError(2, "No such file or directory on the host", str(p)) from None

    def is_file(self, p: Path) -> bool:
        """True when the host had it."""
        return str(p) in self.files

    def walk(self, skip_dirs: frozenset[str] = SKIP_DIRS) -> Iterator[Path]:
        """Not available for a remote tree: walk it with `ctx.host.walk`."""
        raise NotImplementedError("walk a remote project tree with ctx.host.walk")

    async def probe(self) -> str | None:
        """The runner probes the root on the host itself."""
        return None

    @classmethod
    async def load(cls, cfg: ProjectConfig, host: Host, root: str) -> HostProject:
        """Read the compose and env files (and the env_file files they name) from `host`."""
        import asyncio

        files: dict[str, bytes] = {}

        async def grab(path: str) -> None:
            if path in files:
                return
            try:
                files[path] = await host.read_bytes(path, 4 * 1024 * 1024)
            except OSError:
                return

        project = cls(cfg, root, files)
        first = [str(project.path(f)) for f in [*cfg.compose_files, *cfg.env_files]]
        await asyncio.gather(*(grab(p) for p in first))
        refs: list[str] = []
        for cf in project.compose():
            services = cf.data.get("services") if isinstance(cf.data, dict) else None
            for svc in (services or {}).values():
                spec = svc.get("env_file") if isinstance(svc, dict) else None
                for item in spec if isinstance(spec, list) else [spec]:
                    path = item.get("path") if isinstance(item, dict) else item
                    if isinstance(path, str):
                        refs.append(path if os.path.isabs(path) else str(cf.path.parent / path))
        await asyncio.gather(*(grab(p) for p in refs))
        project._env = None  # read again with everything loaded
        project.env()
        return project
