"""The :class:`Stack` record: addresses, credentials and processes of a running stack.

It is saved as ``STATE/stack.json`` (mode 0600: it holds generated secrets) so that
``status``, ``env`` and ``down`` in later commands, and test fixtures in other
processes, find the same stack.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

STATE_FILE = "stack.json"
S = TypeVar("S", bound="Stack")


@dataclass
class Stack:
    """A stack started by :func:`demo.stack.start`."""

    state_dir: Path
    api_url: str = ""
    api_token: str = ""
    agent_id: str = ""
    database_dsn: str = ""
    admin_dsn: str = ""
    redis_url: str = ""
    prometheus_url: str = ""
    alertmanager_url: str = ""
    webhook_sink: Path = Path()
    docker_host: str | None = None
    compose_project: str | None = None
    project_root: Path = Path()
    backup_dir: Path = Path()
    # internals: ports, pids (= process group ids), secrets and paths
    ports: dict[str, int] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    startup_seconds: float = 0.0

    @property
    def state_file(self) -> Path:
        """Where this record is saved."""
        return self.state_dir / STATE_FILE

    def path(self, name: str) -> Path:
        """A named path recorded by the launcher (e.g. ``pg_data``, ``podman_conf``)."""
        return Path(self.paths[name])

    def env(self) -> dict[str, str]:
        """The ``GOLIVE_*`` variables (plus DOCKER_HOST) that describe this stack."""
        env = {
            "GOLIVE_API_URL": self.api_url,
            "GOLIVE_API_TOKEN": self.api_token,
            "GOLIVE_AGENT_ID": self.agent_id,
            "GOLIVE_DATABASE_DSN": self.database_dsn,
            "GOLIVE_ADMIN_DSN": self.admin_dsn,
            "GOLIVE_REDIS_URL": self.redis_url,
            "GOLIVE_PROMETHEUS_URL": self.prometheus_url,
            "GOLIVE_ALERTMANAGER_URL": self.alertmanager_url,
            "GOLIVE_WEBHOOK_SINK": str(self.webhook_sink),
            "GOLIVE_PROJECT_ROOT": str(self.project_root),
            "GOLIVE_BACKUP_DIR": str(self.backup_dir),
            "GOLIVE_STACK_DIR": str(self.state_dir),
        }
        # where the demo keeps what production keeps in fixed places (demo/golive.yaml)
        env["GOLIVE_SCRIPTS_DIR"] = str(self.project_root / "ops" / "scripts")
        env["GOLIVE_CRONTAB"] = str(self.project_root / "ops" / "crontab")
        if "pg_data" in self.paths:
            env["GOLIVE_PG_DATA"] = self.paths["pg_data"]
        if "tls" in self.ports:
            env["GOLIVE_TLS_ENDPOINT"] = f"127.0.0.1:{self.ports['tls']}"
            env["GOLIVE_TLS_CA"] = self.paths["tls_ca"]
        if self.compose_project:
            env["GOLIVE_COMPOSE_PROJECT"] = self.compose_project
        if self.docker_host:
            env["DOCKER_HOST"] = self.docker_host
            if "podman_base" in self.paths:
                env["GOLIVE_CONTAINER_STORAGE"] = str(Path(self.paths["podman_base"]) / "storage")
        return env

    def save(self) -> None:
        """Write the record atomically with mode 0600."""
        data = dataclasses.asdict(self)
        for key, value in data.items():
            if isinstance(value, Path):
                data[key] = str(value)
        tmp = self.state_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
        os.replace(tmp, self.state_file)

    @classmethod
    def load(cls: type[S], state_dir: Path) -> S | None:
        """The record saved in ``state_dir``, or None."""
        path = Path(state_dir) / STATE_FILE
        if not path.exists():
            return None
        data: dict[str, Any] = json.loads(path.read_text())
        names = {f.name: f for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        for key in ("state_dir", "webhook_sink", "project_root", "backup_dir"):
            kwargs[key] = Path(kwargs.get(key) or ".")
        return cls(**kwargs)
