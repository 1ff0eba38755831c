"""The machine golive runs on, as a host: the standard library and `golive.subproc`."""

from __future__ import annotations

import asyncio
import os
import stat as stat_mod
from collections.abc import Sequence

from golive import subproc
from golive.hosts.interface import DiskSpace, FileStat, Host, WalkEntry, skip_dir


def _fs(st: os.stat_result) -> FileStat:
    return FileStat(st.st_mode, st.st_size, st.st_mtime, st.st_uid, st.st_gid)


class LocalHost(Host):
    """The local machine: the implicit host when golive.yaml lists no `targets.hosts`."""

    def __init__(self, name: str = "local", roles: tuple[str, ...] = ()) -> None:
        self.name = name
        self.roles = roles

    @property
    def address(self) -> str:
        """Always ``local``."""
        return "local"

    @property
    def is_local(self) -> bool:
        """True."""
        return True

    async def probe(self) -> str | None:
        """The local machine always answers."""
        return None

    async def stat(self, path: str) -> FileStat | None:
        """os.stat, None when absent (or unreachable through a broken link)."""
        try:
            return _fs(await asyncio.to_thread(os.stat, path))
        except (FileNotFoundError, NotADirectoryError):
            return None

    async def read_bytes(self, path: str, limit: int | None = None) -> bytes:
        """Read up to `limit` bytes."""

        def read() -> bytes:
            with open(path, "rb") as fh:
                return fh.read() if limit is None else fh.read(limit)

        return await asyncio.to_thread(read)

    async def listdir(self, path: str) -> list[str]:
        """Sorted names."""
        return sorted(await asyncio.to_thread(os.listdir, path))

    async def walk(self, root: str, skip_dirs: frozenset[str] = frozenset()) -> list[WalkEntry]:
        """os.scandir, depth first, links not followed."""
        return await asyncio.to_thread(walk_local, root, skip_dirs)

    async def disk_space(self, path: str) -> DiskSpace:
        """os.statvfs plus the mount point found by walking up."""

        def measure() -> DiskSpace:
            st = os.statvfs(path)
            mount = os.path.realpath(path)
            while not os.path.ismount(mount):
                mount = os.path.dirname(mount)
            return DiskSpace(
                mount,
                st.f_blocks * st.f_frsize,
                st.f_bavail * st.f_frsize,
                bool(st.f_flag & os.ST_RDONLY),
            )

        return await asyncio.to_thread(measure)

    async def unix_socket(self, path: str) -> str:
        """The path itself (it must be a socket)."""
        st = await self.stat(path)
        if st is None:
            raise FileNotFoundError(f"no socket at {path}")
        if not stat_mod.S_ISSOCK(st.mode):
            raise OSError(f"{path} is not a socket")
        return path

    async def run(self, argv: Sequence[str], *, timeout: float) -> subproc.Completed:
        """golive.subproc.run: its own process group, killed at the deadline."""
        return await subproc.run(argv, timeout=timeout)


def walk_local(root: str, skip_dirs: frozenset[str]) -> list[WalkEntry]:
    """The tree under `root` as WalkEntry rows (the root itself as ``.``)."""
    out: list[WalkEntry] = [WalkEntry(".", _fs(os.stat(root)))]

    def visit(path: str, rel: str) -> None:
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError:
            return
        if rel and any(e.name == "pyvenv.cfg" for e in entries):
            return  # a virtualenv
        for e in entries:
            sub = f"{rel}/{e.name}" if rel else e.name
            try:
                st = _fs(e.stat(follow_symlinks=False))
            except OSError:
                continue
            if e.is_dir(follow_symlinks=False):
                if skip_dir(e.name, skip_dirs):
                    continue
                out.append(WalkEntry(sub, st))
                visit(e.path, sub)
            else:
                out.append(WalkEntry(sub, st))

    visit(root, "")
    return out
