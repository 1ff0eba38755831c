"""A host reached over SSH, with asyncssh.

Why asyncssh: golive's runner is asyncio, and asyncssh is a maintained, pure-asyncio SSH
client (SFTP included) that lets every check of every host share one event loop with no
thread per connection; paramiko is blocking and would need a thread for each call that may
hang. One connection per host is opened on first use and shared by that host's checks;
files, directories and stats are read over SFTP (one round trip per directory, no shell
parsing), commands run in a session channel.

Host keys are verified: against the host's `known_hosts` file when given, else
~/.ssh/known_hosts; a host with no entry is refused, as is a host whose key changed.
`accept_new: true` accepts the key of a host that has no entry (never a changed one) and
says so in the run's target list, with the key's fingerprint to pin. The known_hosts file
is never written, and ~/.ssh/config is not read (everything comes from golive.yaml).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import socket
import stat as stat_mod
import tempfile
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from golive import subproc
from golive.hosts.interface import (
    DiskSpace,
    FileStat,
    Host,
    HostUnavailable,
    WalkEntry,
    skip_dir,
)

if TYPE_CHECKING:
    import asyncssh

    from golive.config import HostConfig


#: AES-GCM first: OpenSSL seals each packet in one call (with the CPU's AES instructions),
#: where asyncssh's chacha20-poly1305 builds two cipher contexts per packet in Python, the
#: largest share of golive's CPU when it reads many hosts at once. Then asyncssh's defaults.
ENCRYPTION_ALGS = [
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes256-ctr",
    "aes192-ctr",
    "aes128-ctr",
]


def parse_ssh_url(url: str) -> tuple[str | None, str, int]:
    """(user, host, port) of ``ssh://[user@]host[:port]``; raises ValueError."""
    parts = urlsplit(url)
    if parts.scheme != "ssh" or not parts.hostname:
        raise ValueError(f"expected ssh://[user@]host[:port], got {url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.password:
        raise ValueError(f"expected ssh://[user@]host[:port] with no password or path, got {url!r}")
    return parts.username, parts.hostname, parts.port or 22


class SshHost(Host):
    """A remote machine read over one shared SSH connection."""

    def __init__(self, cfg: HostConfig) -> None:
        assert cfg.ssh is not None
        self.cfg = cfg
        self.name = cfg.name
        self.roles = tuple(cfg.roles)
        self.user, self.hostname, self.port = parse_ssh_url(cfg.ssh)
        self.connect_timeout = float(cfg.connect_timeout)
        self.accepted_key: str | None = None  # fingerprint accepted under accept_new
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None
        self._lock = asyncio.Lock()
        self._failed: str | None = None
        self._mount_points: list[str] | None = None
        self._walks: dict[tuple[str, frozenset[str]], asyncio.Future[list[WalkEntry]]] = {}
        self._sockets: dict[str, str] = {}  # remote socket path -> local forwarded socket
        self._forwards: list[tuple[Any, str]] = []  # (listener, its temporary directory)
        self._socket_lock = asyncio.Lock()

    @property
    def address(self) -> str:
        """``ssh://user@host:port``."""
        user = f"{self.user}@" if self.user else ""
        return f"ssh://{user}{self.hostname}:{self.port}"

    @property
    def where(self) -> str:
        """host:port, as reasons name it."""
        return f"{self.hostname}:{self.port}"

    # -- connection -------------------------------------------------------------------------

    def _known_hosts_file(self) -> str:
        return os.path.expanduser(self.cfg.known_hosts or "~/.ssh/known_hosts")

    def _pinned(self, addr: str) -> tuple[Any, bool]:
        """(known_hosts argument for asyncssh, whether an entry names this host)."""
        import asyncssh

        path = self._known_hosts_file()
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except FileNotFoundError:
            if self.cfg.known_hosts:
                raise HostUnavailable(f"known_hosts file {path} does not exist") from None
            text = ""
        except OSError as exc:
            raise HostUnavailable(f"cannot read known_hosts file {path}: {exc}") from None
        try:
            known = asyncssh.import_known_hosts(text)
        except (ValueError, asyncssh.KeyImportError) as exc:
            raise HostUnavailable(f"cannot parse known_hosts file {path}: {exc}") from None
        keys = known.match(self.hostname, addr, self.port)
        return known, any(keys[:2])

    async def _connect(self) -> asyncssh.SSHClientConnection:
        import asyncssh

        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(self.hostname, self.port, type=socket.SOCK_STREAM),
                self.connect_timeout,
            )
        except (socket.gaierror, UnicodeError):
            raise HostUnavailable(f"host name {self.hostname} does not resolve") from None
        except (asyncio.TimeoutError, TimeoutError):
            raise HostUnavailable(
                f"host name {self.hostname} did not resolve within {self.connect_timeout:g}s"
            ) from None
        known, pinned = self._pinned(str(infos[0][4][0]))
        accept = self.cfg.accept_new and not pinned
        options: dict[str, Any] = {
            "port": self.port,
            "known_hosts": None if accept else known,
            "connect_timeout": self.connect_timeout,
            "login_timeout": self.connect_timeout,
            "keepalive_interval": max(1.0, self.connect_timeout / 2),
            "keepalive_count_max": 2,
            "config": None,
            "encryption_algs": ENCRYPTION_ALGS,
        }
        if self.user:
            options["username"] = self.user
        if self.cfg.identity_file:
            options["client_keys"] = [os.path.expanduser(self.cfg.identity_file)]
            options["agent_path"] = None
        try:
            conn = await asyncio.wait_for(
                asyncssh.connect(self.hostname, **options), self.connect_timeout + 1
            )
        except (asyncio.TimeoutError, TimeoutError):
            raise HostUnavailable(
                f"no SSH answer from {self.where} within {self.connect_timeout:g}s"
            ) from None
        except asyncssh.HostKeyNotVerifiable:
            kh = self._known_hosts_file()
            if pinned:
                raise HostUnavailable(
                    f"host key of {self.where} does not match the one pinned in {kh} "
                    "(changed host key: refused)"
                ) from None
            raise HostUnavailable(
                f"host key of {self.where} is not pinned in {kh} (unknown host key: refused; "
                "pin it, or set accept_new: true)"
            ) from None
        except asyncssh.PermissionDenied:
            who = f"{self.user}@{self.where}" if self.user else self.where
            key = self.cfg.identity_file or "the default keys"
            raise HostUnavailable(f"key authentication refused by {who} ({key})") from None
        except asyncssh.KeyImportError as exc:
            raise HostUnavailable(
                f"cannot load identity_file {self.cfg.identity_file}: {exc}"
            ) from None
        except ConnectionRefusedError:
            raise HostUnavailable(f"connection refused by {self.where}") from None
        except socket.gaierror:
            raise HostUnavailable(f"host name {self.hostname} does not resolve") from None
        except (OSError, asyncssh.Error) as exc:
            text = " ".join(str(exc).split()) or type(exc).__name__
            raise HostUnavailable(f"cannot connect to {self.where}: {text}") from None
        if accept:
            server_key = conn.get_server_host_key()
            self.accepted_key = (
                server_key.get_fingerprint() if server_key is not None else "unknown"
            )
        return conn

    async def _session(self) -> tuple[asyncssh.SSHClientConnection, asyncssh.SFTPClient]:
        if self._failed is not None:
            raise HostUnavailable(self._failed)
        async with self._lock:
            if self._failed is not None:
                raise HostUnavailable(self._failed)
            if self._conn is None or self._sftp is None:
                try:
                    self._conn = await self._connect()
                    try:
                        self._sftp = await asyncio.wait_for(
                            self._conn.start_sftp_client(), self.connect_timeout
                        )
                    except (asyncio.TimeoutError, TimeoutError):
                        raise HostUnavailable(
                            f"{self.where} accepted the SSH login but did not answer within "
                            f"{self.connect_timeout:g}s (SFTP)"
                        ) from None
                    except Exception as exc:
                        raise HostUnavailable(
                            f"{self.where} refused SFTP: {' '.join(str(exc).split())}"
                        ) from None
                except HostUnavailable as exc:
                    self._failed = str(exc)
                    if self._conn is not None:
                        self._conn.abort()
                    self._conn = None
                    raise
            return self._conn, self._sftp

    async def probe(self) -> str | None:
        """Connect, verify the host key, log in and open SFTP: None, or the one reason."""
        try:
            _, sftp = await self._session()
            await asyncio.wait_for(sftp.stat("/"), self.connect_timeout)
        except HostUnavailable as exc:
            return str(exc)
        except (asyncio.TimeoutError, TimeoutError):
            self._failed = (
                f"{self.where} accepted the SSH login but did not answer within "
                f"{self.connect_timeout:g}s"
            )
            return self._failed
        except Exception as exc:
            return f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        return None

    # -- reads ------------------------------------------------------------------------------

    async def stat(self, path: str) -> FileStat | None:
        """SFTP stat (links followed); None when absent."""
        _, sftp = await self._session()
        try:
            return _fs(await _sftp_call(sftp.stat(path), path))
        except (FileNotFoundError, NotADirectoryError):
            return None

    async def read_bytes(self, path: str, limit: int | None = None) -> bytes:
        """SFTP read of up to `limit` bytes."""
        _, sftp = await self._session()

        async def read() -> bytes:
            # not read(-1): asyncssh sizes read(-1) by the file's stat, and /proc files say
            # size 0. A file that states its size is read as read(-1) did (one request of
            # that size, which asyncssh splits into parallel ones); one that says 0 is read
            # 256 KiB at a time until EOF.
            parts: list[bytes] = []
            got = 0
            async with sftp.open(path, "rb") as fh:
                stated = 0
                if limit is None:
                    stated = int((await fh.stat()).size or 0)
                while limit is None or got < limit:
                    want = max(_CHUNK, stated if not parts else 0) if limit is None else limit - got
                    data: Any = await fh.read(want)
                    chunk = data if isinstance(data, bytes) else str(data).encode()
                    if not chunk:
                        break
                    parts.append(chunk)
                    got += len(chunk)
                    if limit is None and stated and got >= stated:
                        break
            return b"".join(parts)

        data: bytes = await _sftp_call(read(), path)
        return data

    async def listdir(self, path: str) -> list[str]:
        """SFTP readdir."""
        _, sftp = await self._session()
        names = await _sftp_call(sftp.listdir(path), path)
        return sorted(str(n) for n in names if n not in (".", ".."))

    async def walk(self, root: str, skip_dirs: frozenset[str] = frozenset()) -> list[WalkEntry]:
        """SFTP readdir of each directory, a level at a time (directories of a level are
        listed concurrently, so the walk costs one round trip per depth, not per directory).
        A host lives for one run: the checks that walk the same tree share one walk."""
        key = (root, skip_dirs)
        fut = self._walks.get(key)
        if fut is None:
            fut = self._walks[key] = asyncio.ensure_future(self._walk(root, skip_dirs))
        try:
            return list(await asyncio.shield(fut))
        except BaseException:
            if fut.done():
                self._walks.pop(key, None)  # a failed walk is tried again by the next check
            raise

    async def _walk(self, root: str, skip_dirs: frozenset[str]) -> list[WalkEntry]:
        _, sftp = await self._session()
        top = await _sftp_call(sftp.stat(root), root)
        out = [WalkEntry(".", _fs(top))]
        level = [(root.rstrip("/") or "/", "")]
        while level:
            listings = await asyncio.gather(
                *(_readdir(sftp, path) for path, _ in level), return_exceptions=True
            )
            nxt: list[tuple[str, str]] = []
            for (path, rel), listing in zip(level, listings, strict=True):
                if isinstance(listing, BaseException):
                    if isinstance(listing, (HostUnavailable, asyncio.CancelledError)):
                        raise listing
                    continue  # unreadable directory: skipped, as os.walk does
                if rel and any(name == "pyvenv.cfg" for name, _ in listing):
                    continue
                for name, st in sorted(listing):
                    sub = f"{rel}/{name}" if rel else name
                    if st.is_dir:
                        if skip_dir(name, skip_dirs):
                            continue
                        out.append(WalkEntry(sub, st))
                        nxt.append((f"{path.rstrip('/')}/{name}", sub))
                    else:
                        out.append(WalkEntry(sub, st))
            level = nxt
        out.sort(key=lambda e: e.rel)
        return out

    async def disk_space(self, path: str) -> DiskSpace:
        """SFTP statvfs (OpenSSH extension) for the sizes; the mount point is the longest
        mount of /proc/self/mounts (read once) that holds the path's real path, else
        `df -P PATH` on a host without /proc."""
        _, sftp = await self._session()
        vfs = await _sftp_call(sftp.statvfs(path), path)
        real = str(await _sftp_call(sftp.realpath(path), path))
        mounts = await self._mounts()
        inside = [m for m in mounts if real == m or real.startswith(m.rstrip("/") + "/")]
        mount = max(inside, key=len) if inside else await self._df_mount(path)
        return DiskSpace(
            mount,
            vfs.blocks * vfs.frsize,
            vfs.bavail * vfs.frsize,
            bool(vfs.flags & 1),  # ST_RDONLY
        )

    async def _mounts(self) -> list[str]:
        if self._mount_points is None:
            try:
                text = await self.read_text("/proc/self/mounts")
            except OSError:
                text = ""
            points = []
            for line in text.splitlines():
                fields = line.split()
                if len(fields) >= 2:
                    points.append(fields[1].replace("\\040", " "))
            self._mount_points = points
        return self._mount_points

    async def _df_mount(self, path: str) -> str:
        done = await self.run(["df", "-P", path], timeout=10)
        lines = done.stdout.strip().splitlines()
        if done.ok and len(lines) >= 2 and len(lines[-1].split()) >= 6:
            return lines[-1].split(None, 5)[5]
        return path

    async def run(self, argv: Sequence[str], *, timeout: float) -> subproc.Completed:
        """Run `argv` in the remote user's shell, quoted; at `timeout` the remote process is
        sent KILL and the channel closed. Output is kept as `golive.subproc` keeps it.

        The command runs under a small `sh` wrapper that first says its process group
        (from /proc) and then `exec`s it. At the deadline that whole group is killed with
        `kill -KILL -- -PGID` in a second channel: OpenSSH refuses the SSH `signal` request
        for root logins (no privilege separation), and closing the channel alone leaves a
        command that does not write running on the host."""
        conn, _ = await self._session()
        t0 = time.monotonic()
        command = shlex.join(["sh", "-c", _WRAPPER, "golive", *argv])
        process = await conn.create_process(command, encoding=None, stdin=asyncssh_devnull())
        pgid: str | None = None
        head = ""
        try:
            head, pgid = await asyncio.wait_for(_read_pgid(process), max(0.01, timeout))
            remaining = max(0.01, timeout - (time.monotonic() - t0))
            result = await asyncio.wait_for(process.wait(check=False), remaining)
        except (asyncio.TimeoutError, TimeoutError):
            _kill(process)
            await self._kill_group(conn, pgid)
            return subproc.Completed(
                tuple(argv), None, "", "", time.monotonic() - t0, timed_out=True
            )
        except asyncio.CancelledError:
            _kill(process)
            await asyncio.shield(self._kill_group(conn, pgid))
            raise
        out, err = _text(result.stdout), head + _text(result.stderr)
        code = result.exit_status
        if code == 127 and "not found" in err:
            raise FileNotFoundError(2, f"{argv[0]}: command not found on host {self.name}")
        return subproc.Completed(
            tuple(argv),
            code if code is not None and code >= 0 else None,
            out,
            err,
            time.monotonic() - t0,
        )

    async def _kill_group(self, conn: Any, pgid: str | None) -> None:
        """Kill what a command left running on the host (its process group), best effort."""
        if pgid is None or not pgid.isdigit() or int(pgid) <= 1:
            return
        with contextlib.suppress(Exception):
            killer = await conn.create_process(
                shlex.join(["kill", "-KILL", "--", f"-{pgid}"]),
                encoding=None,
                stdin=asyncssh_devnull(),
            )
            await asyncio.wait_for(killer.wait(check=False), 5)

    async def unix_socket(self, path: str) -> str:
        """A local socket (in a private temporary directory) forwarded over this host's SSH
        connection to the socket `path` on the host, as `ssh -L local.sock:path` does
        (direct-streamlocal; sshd's AllowStreamLocalForwarding, on by default, must allow it).
        One channel is opened first, so a missing socket or a refusing sshd is reported here
        with its reason rather than as a dropped connection later."""
        import asyncssh

        async with self._socket_lock:
            if path in self._sockets:
                return self._sockets[path]
            conn, _ = await self._session()
            st = await self.stat(path)
            if st is None:
                raise FileNotFoundError(f"no socket at {path} on host {self.name}")
            if not stat_mod.S_ISSOCK(st.mode):
                raise OSError(f"{path} on host {self.name} is not a socket")
            try:
                _, writer = await asyncio.wait_for(
                    conn.open_unix_connection(path), self.connect_timeout
                )
            except asyncssh.ChannelOpenError as exc:
                raise OSError(
                    f"sshd on {self.where} did not connect to {path}: "
                    f"{' '.join(str(exc.reason).split())} (is stream-local forwarding "
                    "allowed? AllowStreamLocalForwarding in sshd_config)"
                ) from None
            except (asyncio.TimeoutError, TimeoutError):
                raise OSError(
                    f"sshd on {self.where} did not open a channel to {path} within "
                    f"{self.connect_timeout:g}s"
                ) from None
            writer.close()
            tmp = tempfile.mkdtemp(prefix="golive-ssh-")
            local = os.path.join(tmp, "forward.sock")
            try:
                listener = await conn.forward_local_path(local, path)
            except Exception:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            self._forwards.append((listener, tmp))
            self._sockets[path] = local
            return local

    async def close(self) -> None:
        """Close forwarded sockets (removing them), SFTP and the connection."""
        for listener, tmp in self._forwards:
            listener.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(listener.wait_closed(), 2)
            shutil.rmtree(tmp, ignore_errors=True)
        self._forwards.clear()
        self._sockets.clear()
        if self._sftp is not None:
            self._sftp.exit()
        if self._conn is not None:
            self._conn.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._conn.wait_closed(), 2)
        self._sftp = self._conn = None


_CHUNK = 256 * 1024  # bytes per SFTP read request
_PGID_TAG = "golive-pgid "
#: Says the process group (field 5 of /proc/$$/stat) on stderr, then becomes the command.
_WRAPPER = (
    "{ read -r _ _ _ _ g _ < /proc/$$/stat; } 2>/dev/null; "
    'printf "golive-pgid %s\\n" "${g:--}" >&2; exec "$@"'
)


async def _read_pgid(process: Any) -> tuple[str, str | None]:
    """The wrapper's process group line from stderr, and what came before it (a login
    shell's own messages): read until the tag, at most 100 lines."""
    before: list[str] = []
    for _ in range(100):
        line = _text(await process.stderr.readline())
        if not line:
            break
        if line.startswith(_PGID_TAG):
            return "".join(before), line[len(_PGID_TAG) :].strip()
        before.append(line)
    return "".join(before), None


def _text(data: Any) -> str:
    if isinstance(data, bytes):
        return data[-subproc.MAX_OUTPUT :].decode("utf-8", "replace")
    return str(data or "")[-subproc.MAX_OUTPUT :]


def asyncssh_devnull() -> Any:
    """stdin for remote commands: nothing (the channel's input is closed at once)."""
    import asyncssh

    return asyncssh.DEVNULL


def _kill(process: Any) -> None:
    with contextlib.suppress(Exception):
        process.send_signal("KILL")
    with contextlib.suppress(Exception):
        process.close()


def _fs(attrs: Any) -> FileStat:
    mode = attrs.permissions or 0
    if not stat_mod.S_IFMT(mode):
        kinds = {1: stat_mod.S_IFREG, 2: stat_mod.S_IFDIR, 3: stat_mod.S_IFLNK}
        mode |= kinds.get(attrs.type, 0)
    return FileStat(mode, attrs.size or 0, float(attrs.mtime or 0), attrs.uid or 0, attrs.gid or 0)


async def _readdir(sftp: Any, path: str) -> list[tuple[str, FileStat]]:
    names = await _sftp_call(sftp.readdir(path), path)
    return [(str(n.filename), _fs(n.attrs)) for n in names if n.filename not in (".", "..")]


async def _sftp_call(aw: Any, path: str) -> Any:
    """Await an SFTP call; SFTP status codes become the OSError a local read would raise,
    a lost connection becomes HostUnavailable."""
    import asyncssh

    try:
        return await aw
    except asyncssh.SFTPNoSuchFile:
        raise FileNotFoundError(2, "No such file or directory", path) from None
    except asyncssh.SFTPPermissionDenied:
        raise PermissionError(13, "Permission denied", path) from None
    except asyncssh.SFTPError as exc:
        if "not a directory" in str(exc).lower():
            raise NotADirectoryError(20, "Not a directory", path) from None
        raise OSError(5, " ".join(str(exc.reason).split()) or "SFTP error", path) from None
    except (asyncssh.DisconnectError, asyncssh.ChannelOpenError, ConnectionError) as exc:
        raise HostUnavailable(f"connection lost: {' '.join(str(exc).split())}") from None
