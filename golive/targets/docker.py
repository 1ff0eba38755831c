"""The container engine, through the Docker SDK (podman's compatible socket works too).

The SDK is synchronous: every call runs in a worker thread with the client's own socket
timeout, so a hung engine cannot outlive a check's timeout by much. Building the client
talks to the engine too (it asks for the API version), so it is built in a worker thread
as well: on the event loop, a silent engine would freeze every check of the run.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from golive.hosts.interface import HostUnavailable

if TYPE_CHECKING:
    from golive.config import DockerTarget as DockerConfig
    from golive.hosts.interface import Host

T = TypeVar("T")
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


class DockerTarget:
    """The engine and the stack's containers (found by compose labels, or by name)."""

    kind = "docker"

    def __init__(self, cfg: DockerConfig, host: Host | None = None) -> None:
        self.cfg = cfg
        self.host = host  # `host:` in golive.yaml: the engine's socket on that host
        self.base_url = (
            cfg.base_url or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        )
        self._client: Any = None
        self._lock = threading.Lock()
        self._socket: asyncio.Future[str] | None = None

    @property
    def where(self) -> str:
        """Where the engine is, as reasons name it."""
        if self.host is not None:
            return f"{self.cfg.socket} on host {self.host.name}"
        return self.base_url

    async def _connect_socket(self) -> None:
        """With `host:`, point the client at the engine socket on that host (forwarded over
        its SSH connection once per run; the plain path for the local machine)."""
        if self.host is None:
            return
        if self._socket is None:
            self._socket = asyncio.ensure_future(self.host.unix_socket(self.cfg.socket))
        self.base_url = "unix://" + await asyncio.shield(self._socket)

    @property
    def client(self) -> Any:
        """The docker.DockerClient (built on first use; blocking: use it inside `call`)."""
        with self._lock:
            if self._client is None:
                import docker

                # ssh://user@host: the Docker SDK's SSH transport with the OpenSSH client
                # (`ssh ... docker system dial-stdio`), which verifies the host key against
                # ~/.ssh/known_hosts and, with no terminal to ask on, refuses an unknown one;
                # its paramiko transport would accept unknown keys with a warning
                self._client = docker.DockerClient(
                    base_url=self.base_url,
                    timeout=int(max(1, self.cfg.timeout)),
                    use_ssh_client=self.base_url.startswith("ssh://"),
                )
            return self._client

    async def call(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """Run a blocking SDK call in a thread."""
        await self._connect_socket()
        return await asyncio.to_thread(fn, *args, **kw)

    async def containers(self, *, all: bool = False) -> list[Any]:
        """The stack's containers: by compose project label, plus explicitly named ones."""

        def find() -> list[Any]:
            found: dict[str, Any] = {}
            if self.cfg.compose_project:
                label = f"{PROJECT_LABEL}={self.cfg.compose_project}"
                for c in self.client.containers.list(all=all, filters={"label": label}):
                    found[c.id] = c
            for name in self.cfg.containers.values():
                try:
                    c = self.client.containers.get(name)
                except Exception:
                    continue
                found[c.id] = c
            if not self.cfg.compose_project and not self.cfg.containers:
                for c in self.client.containers.list(all=all):
                    found[c.id] = c
            return sorted(found.values(), key=lambda c: c.name)

        return await self.call(find)

    async def container(self, service: str) -> Any | None:
        """The first container of a compose service (or the explicit name for it)."""
        for c in await self.containers():
            if self.service_of(c) == service:
                return c
        return None

    def service_of(self, container: Any) -> str:
        """The compose service a container belongs to (label, else explicit mapping, else name)."""
        labels = container.labels or {}
        if SERVICE_LABEL in labels:
            return str(labels[SERVICE_LABEL])
        for service, name in self.cfg.containers.items():
            if container.name == name:
                return service
        return str(container.name)

    def describe(self, exc: BaseException) -> str:
        """A readable reason for an engine failure."""
        text = " ".join(str(exc).split())
        if self.base_url.startswith("ssh://") and ("Broken pipe" in text or "aborted" in text):
            return (
                f"container engine at {self.where}: the ssh command ended (connection "
                "refused, host key not in ~/.ssh/known_hosts, key refused, or no docker "
                "command on the host; ssh printed why on stderr)"
            )
        if "No such file or directory" in text or "FileNotFoundError" in text:
            return f"container engine socket not found at {self.where}"
        if "Connection refused" in text:
            return f"container engine at {self.where} refused the connection"
        if "timed out" in text.lower():
            return (
                f"container engine at {self.where} accepted the connection but did not "
                f"answer within {self.cfg.timeout:g}s"
            )
        return f"container engine at {self.where}: {text or type(exc).__name__}"

    async def probe(self) -> str | None:
        """None when the engine answers a ping."""
        try:
            await self._connect_socket()
        except (HostUnavailable, OSError) as exc:
            self._socket = None
            return f"container engine at {self.where}: {' '.join(str(exc).split())}"
        try:
            await self.call(lambda: self.client.ping())
        except Exception as exc:
            self._client = None
            return self.describe(exc)
        return None

    async def close(self) -> None:
        """Close the SDK client."""
        if self._client is not None:
            client, self._client = self._client, None
            await asyncio.to_thread(client.close)
