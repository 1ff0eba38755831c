"""The host interface: what a host-level check may ask of the host it runs on.

Everything here is read-only: stat a path, read a file, list a directory, walk a tree,
measure a filesystem, run a read-only command. A host that cannot be reached raises
`HostUnavailable` (its message is the one reason shown for that host's checks).
"""

from __future__ import annotations

import abc
import stat as stat_mod
from collections.abc import Sequence
from dataclasses import dataclass

from golive.subproc import Completed

__all__ = ["Completed", "DiskSpace", "FileStat", "Host", "HostUnavailable", "WalkEntry"]


class HostUnavailable(Exception):
    """The host cannot be reached (or stopped answering); the message says why."""


@dataclass(frozen=True)
class FileStat:
    """What `stat` says about a path (symbolic links followed unless asked otherwise)."""

    mode: int  # st_mode, type bits included
    size: int
    mtime: float
    uid: int = 0
    gid: int = 0

    @property
    def is_file(self) -> bool:
        """A regular file."""
        return stat_mod.S_ISREG(self.mode)

    @property
    def is_dir(self) -> bool:
        """A directory."""
        return stat_mod.S_ISDIR(self.mode)

    @property
    def is_link(self) -> bool:
        """A symbolic link (only from `lstat`-style listings)."""
        return stat_mod.S_ISLNK(self.mode)

    @property
    def perm(self) -> int:
        """The permission bits (with setuid/setgid/sticky)."""
        return stat_mod.S_IMODE(self.mode)


@dataclass(frozen=True)
class WalkEntry:
    """One entry met while walking a tree: its path relative to the root, and its lstat."""

    rel: str
    stat: FileStat


@dataclass(frozen=True)
class DiskSpace:
    """The filesystem holding a path: sizes in bytes, as available to unprivileged users."""

    mount: str
    total: int
    available: int
    read_only: bool = False


class Host(abc.ABC):
    """A machine that host-level checks read: the local one or one reached over SSH."""

    name: str
    roles: tuple[str, ...]

    @property
    @abc.abstractmethod
    def address(self) -> str:
        """Where the host is, for reports: ``local`` or ``ssh://user@host:port``."""

    @property
    def is_local(self) -> bool:
        """True for the machine golive runs on."""
        return False

    @abc.abstractmethod
    async def probe(self) -> str | None:
        """None when the host answers; else the one reason why not (never raises)."""

    @abc.abstractmethod
    async def stat(self, path: str) -> FileStat | None:
        """The stat of `path` (links followed), or None when it does not exist."""

    @abc.abstractmethod
    async def read_bytes(self, path: str, limit: int | None = None) -> bytes:
        """The file's bytes (at most `limit`); raises OSError when it cannot be read."""

    async def read_text(self, path: str, limit: int | None = None) -> str:
        """The file's text, decoded as UTF-8 with replacement; raises OSError."""
        return (await self.read_bytes(path, limit)).decode("utf-8", "replace")

    @abc.abstractmethod
    async def listdir(self, path: str) -> list[str]:
        """The names in a directory, sorted; raises OSError."""

    @abc.abstractmethod
    async def walk(self, root: str, skip_dirs: frozenset[str] = frozenset()) -> list[WalkEntry]:
        """Every directory and file under `root` (lstat, links not followed), sorted by path;
        directories named in `skip_dirs` (and virtualenvs) are not entered."""

    @abc.abstractmethod
    async def disk_space(self, path: str) -> DiskSpace:
        """Size and free space of the filesystem holding `path`; raises OSError."""

    @abc.abstractmethod
    async def run(self, argv: Sequence[str], *, timeout: float) -> Completed:
        """Run a read-only command (no shell locally; quoted for the remote shell over SSH)
        until it exits or `timeout` passes; raises OSError when it cannot be started."""

    @abc.abstractmethod
    async def unix_socket(self, path: str) -> str:
        """A UNIX socket path on this machine that reaches the socket `path` on the host
        (the path itself locally; a socket forwarded over the SSH connection remotely, removed
        by `close`). Raises HostUnavailable, or OSError when the host has no socket there."""

    async def close(self) -> None:  # noqa: B027 - optional: only remote hosts hold resources
        """Release connections (nothing to do for the local host)."""


def skip_dir(name: str, skip_dirs: frozenset[str]) -> bool:
    """True for a directory a walk does not enter."""
    return name in skip_dirs or name.endswith(".egg-info")
