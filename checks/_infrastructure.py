"""Helpers of the infrastructure section (`checks/infrastructure.py`).

Engine and compose CLI versions, filesystem space, TCP probes and the ports of the
configured targets, compose-file strings and directory permissions. Standard library only
at import time: psycopg is imported inside the function that parses a DSN.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import socket
import stat
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from golive.api import Context
from golive.hosts.interface import DiskSpace, Host

GB = 1024**3


_VERSION = re.compile(r"(\d+(?:\.\d+)+)")


def _version_tuple(text: str) -> tuple[int, ...]:
    m = _VERSION.search(text)
    return tuple(int(p) for p in m.group(1).split(".")) if m else ()


def _space_row(space: DiskSpace) -> dict[str, Any]:
    """Size and free space (GB, percent, for unprivileged users) of a host's filesystem."""
    total, avail = space.total, space.available
    return {
        "mount": space.mount,
        "size_gb": round(total / GB, 2),
        "free_gb": round(avail / GB, 2),
        "free_pct": round(100.0 * avail / total, 1) if total else 0.0,
        "read_only": space.read_only,
    }


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


async def _compose_cli(
    commands: list[str], host: Host | None = None
) -> tuple[dict[str, str] | None, list[dict[str, str]]]:
    """The first of `commands` that answers `version` (on `host` when the engine is on one,
    else on this machine), and what each command tried said."""
    from golive import subproc

    tried: list[dict[str, str]] = []
    remote = host is not None and not host.is_local
    for command in commands:
        argv = shlex.split(command)
        if not argv or (not remote and shutil.which(argv[0]) is None):
            tried.append(
                {"command": command, "result": f"{argv[0] if argv else command} not on PATH"}
            )
            continue
        if remote:
            assert host is not None
            try:
                done = await host.run([*argv, "version"], timeout=15)
            except FileNotFoundError:  # the host's shell found no such command
                tried.append(
                    {"command": command, "result": f"{argv[0]} not on PATH on host {host.name}"}
                )
                continue
        else:
            done = await subproc.run([*argv, "version"], timeout=15)
        text = (done.stdout + done.stderr).strip()
        version = _VERSION.search(text.splitlines()[0] if text else "")
        if done.ok and version:
            found = {"command": command, "version": version.group(1)}
            tried.append({"command": command, "result": f"version {version.group(1)}"})
            return found, tried
        first = text.splitlines()[0][:200] if text else f"exit code {done.returncode}"
        tried.append({"command": command, "result": f"not usable: {first}"})
    return None, tried


DEFAULT_PORTS = {
    "api": 8080,
    "postgres": 5432,
    "redis": 6379,
    "prometheus": 9090,
    "grafana": 3000,
    "alertmanager": 9093,
}


async def _tcp(host: str, port: int, timeout: float) -> tuple[bool, str, float]:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (asyncio.TimeoutError, TimeoutError):
        return False, f"no answer within {timeout:g}s", timeout * 1000
    except socket.gaierror as exc:  # its errno is a resolver code, not an errno
        reason = f"host name {host} does not resolve ({exc.strerror or exc})"
        return False, reason, (loop.time() - t0) * 1000
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        return False, reason.lower(), (loop.time() - t0) * 1000
    elapsed = (loop.time() - t0) * 1000
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), 1)
    except (OSError, asyncio.TimeoutError, TimeoutError):
        pass
    return True, "open", elapsed


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _url_port(url: str) -> tuple[str, int]:
    """Host and TCP port of an http(s) URL (80/443 when the URL names none)."""
    from urllib.parse import urlsplit

    u = urlsplit(url)
    return u.hostname or "localhost", u.port or (443 if u.scheme == "https" else 80)


def _dsn_ports(dsn: str) -> tuple[list[tuple[str, int]], str | None]:
    """TCP (host, port) pairs of a libpq DSN (URL or key=value, several hosts allowed), or
    why it has none (a unix socket)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:  # its message may quote the password: not shown
        return [], "the DSN does not parse"
    hosts = str(info.get("hostaddr") or info.get("host") or "").split(",")
    ports = str(info.get("port") or "").split(",")
    pairs: list[tuple[str, int]] = []
    for i, h in enumerate(hosts):
        if not h or h.startswith("/") or h.startswith("@"):
            continue  # a unix-socket directory (or libpq's default socket): no TCP port
        raw = ports[i] if i < len(ports) else ports[-1]
        pairs.append((h, int(raw) if raw.strip().isdigit() else 5432))
    return pairs, None if pairs else "it connects through a unix socket"


def _target_ports(ctx: Context) -> tuple[list[dict[str, Any]], list[str]]:
    """Each configured target reached over TCP, as {service, host, port, from}, in the
    checklist's order; and why some configured targets have no port to probe."""
    from urllib.parse import urlsplit

    t = ctx.config.targets
    found: list[dict[str, Any]] = []
    notes: list[str] = []

    def add(service: str, host: str, port: int, source: str) -> None:
        found.append({"service": service, "host": host, "port": port, "from": source})

    if t.api is not None:
        add("api", *_url_port(t.api.url), "targets.api.url")
    if t.database is not None:
        pairs, why = _dsn_ports(t.database.dsn)
        for i, (h, p) in enumerate(pairs):
            add("postgres" if i == 0 else f"postgres-{i + 1}", h, p, "targets.database.dsn")
        if why:
            notes.append(f"postgres: not probed, {why}")
    if t.redis is not None:
        u = urlsplit(t.redis.url)
        if u.scheme in ("unix", "redis+unix"):
            notes.append("redis: not probed, it connects through a unix socket")
        else:
            add("redis", u.hostname or "localhost", u.port or 6379, "targets.redis.url")
    for kind in ("prometheus", "grafana", "alertmanager"):
        cfg = getattr(t, kind)
        if cfg is not None:
            add(kind, *_url_port(cfg.url), f"targets.{kind}.url")
    return found, notes


_BARE_VAR = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_]\w*)\}|([A-Za-z_]\w*))")


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


async def _can_write(host: Host, path: str, uid: int, gids: set[int]) -> tuple[bool, str]:
    """Whether `uid` may create files in directory `path` on `host` (mode bits of the
    directory and its parents; ACLs not read)."""
    if uid == 0:
        return True, "root"
    target = PurePosixPath(path)
    for part in [*reversed(target.parents), target]:
        st = await host.stat(str(part))
        if st is None:
            return False, f"cannot reach {part} (it does not exist)"
        need = stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH
        bits = (
            need
            if part != target
            else tuple(
                x | w for x, w in zip(need, (stat.S_IWUSR, stat.S_IWGRP, stat.S_IWOTH), strict=True)
            )
        )
        mode = st.mode
        mask = bits[0] if st.uid == uid else bits[1] if st.gid in gids else bits[2]
        if mode & mask != mask:
            what = "write to" if part == target else "enter"
            return (
                False,
                f"cannot {what} {part} (mode {stat.S_IMODE(mode):04o}, "
                f"owner uid {st.uid} gid {st.gid})",
            )
    return True, "mode bits allow it"


@dataclass(frozen=True)
class Accounts:
    """A host's users and groups: name -> (uid, primary gid), gid -> name, and the
    supplementary groups of each user."""

    users: dict[str, tuple[int, int]]
    user_names: dict[int, str]
    group_names: dict[int, str]
    members: dict[str, set[int]]

    def gids(self, user: str) -> set[int]:
        """The user's primary and supplementary group ids."""
        return {self.users[user][1], *self.members.get(user, set())}


async def _host_accounts(host: Host) -> Accounts:
    """/etc/passwd and /etc/group of a remote host, read over its interface (accounts
    that only a directory service knows, e.g. LDAP through NSS, are not seen)."""
    users: dict[str, tuple[int, int]] = {}
    user_names: dict[int, str] = {}
    for line in (await host.read_text("/etc/passwd")).splitlines():
        f = line.split(":")
        if len(f) >= 4 and f[2].isdigit() and f[3].isdigit():
            users.setdefault(f[0], (int(f[2]), int(f[3])))
            user_names.setdefault(int(f[2]), f[0])
    group_names: dict[int, str] = {}
    members: dict[str, set[int]] = {}
    try:
        group_text = await host.read_text("/etc/group")
    except OSError:
        group_text = ""
    for line in group_text.splitlines():
        f = line.split(":")
        if len(f) >= 4 and f[2].isdigit():
            group_names.setdefault(int(f[2]), f[0])
            for member in filter(None, f[3].split(",")):
                members.setdefault(member.strip(), set()).add(int(f[2]))
    return Accounts(users, user_names, group_names, members)


#: /proc/net/tcp state of a listening socket (TCP_LISTEN)
_TCP_LISTEN = "0A"


def _proc_net_address(hex_addr: str) -> str:
    """The address of a /proc/net/tcp{,6} `local_address` field (hex, host byte order in
    32-bit words), e.g. ``0100007F`` -> 127.0.0.1."""
    import ipaddress

    raw = bytes.fromhex(hex_addr)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words))


def _parse_proc_net_tcp(text: str) -> dict[int, set[str]]:
    """Listening TCP ports of a /proc/net/tcp or tcp6 table: port -> bound addresses."""
    out: dict[int, set[str]] = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or fields[3] != _TCP_LISTEN or ":" not in fields[1]:
            continue
        addr, _, port = fields[1].rpartition(":")
        try:
            out.setdefault(int(port, 16), set()).add(_proc_net_address(addr))
        except ValueError:
            continue
    return out


async def _listening_on(host: Host) -> dict[int, set[str]]:
    """The TCP ports that listen on `host` (its network namespace as its SFTP server sees
    it): /proc/net/tcp and /proc/net/tcp6, read over the host interface. Raises OSError
    when neither can be read (no /proc: not Linux)."""
    found: dict[int, set[str]] = {}
    errors: list[OSError] = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            text = await host.read_text(name)
        except OSError as exc:
            errors.append(exc)
            continue
        for port, addrs in _parse_proc_net_tcp(text).items():
            found.setdefault(port, set()).update(addrs)
    if len(errors) == 2:
        raise errors[0]
    return found
