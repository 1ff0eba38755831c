"""golive/hosts/ssh.py against a real sshd (see conftest.py), and the faults of reaching one."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from golive.config import HostConfig
from golive.hosts.local import LocalHost
from golive.hosts.ssh import SshHost


def _host(hosts: Any, i: int = 0, **kw: Any) -> SshHost:
    return SshHost(HostConfig(**{**hosts.golive_block()[i], "connect_timeout": 5, **kw}))


@pytest.mark.integration
def test_reads_match_the_local_view_of_the_same_tree(hosts: Any) -> None:
    """Over SSH, host1's deployed path shows host1's copy, as LocalHost shows that copy."""
    h1 = hosts.hosts[0]
    remote_root, local_root = str(hosts.mount_at), str(h1.project)

    async def main() -> None:
        ssh, local = _host(hosts), LocalHost()
        try:
            assert await ssh.probe() is None
            remote_walk = [(e.rel, e.stat.mode, e.stat.size) for e in await ssh.walk(remote_root)]
            local_walk = [(e.rel, e.stat.mode, e.stat.size) for e in await local.walk(local_root)]
            assert remote_walk == local_walk
            rel = "ops/docker-compose.yml"
            assert await ssh.read_bytes(f"{remote_root}/{rel}") == await local.read_bytes(
                f"{local_root}/{rel}"
            )
            assert await ssh.stat(f"{remote_root}/nope") is None
            with pytest.raises(FileNotFoundError):
                await ssh.read_text(f"{remote_root}/nope")
            assert await ssh.listdir(remote_root) == await local.listdir(local_root)
            # /proc files say size 0: read to their end all the same
            assert (await ssh.read_text("/proc/self/mounts")).count("\n") > 1
            assert await ssh.read_bytes(f"{remote_root}/{rel}", 5) == b"servi"
            done = await ssh.run(["crontab", "-l"], timeout=10)
            assert done.ok and "daily_backup.sh" in done.stdout
            with pytest.raises(FileNotFoundError):
                await ssh.run(["golive-no-such-command"], timeout=10)
            failed = await ssh.run(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=10)
            assert (failed.returncode, failed.stdout, failed.stderr) == (3, "out\n", "err\n")
            t0 = time.monotonic()
            n = str(random.randint(100000, 999999))  # a command and its child, both hung
            slow = await ssh.run(["sh", "-c", f"sleep {n} & sleep {n}; wait"], timeout=1)
            assert slow.timed_out and slow.returncode is None
            assert time.monotonic() - t0 < 30  # killed, not waited for
            for _ in range(50):  # the whole process group is gone from the host
                left = [p for p in os.listdir("/proc") if p.isdigit() and n in _cmdline(p)]
                if not left:
                    break
                await asyncio.sleep(0.2)
            assert left == []
            space = await ssh.disk_space(remote_root)
            assert space.total > 0 and 0 <= space.available <= space.total
        finally:
            await ssh.close()

    asyncio.run(main())


def test_silent_listener_is_reported_within_the_connect_timeout() -> None:
    """A loopback socket that accepts and never speaks stands in for a host whose SSH
    server hangs before its banner."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(5)
        port = srv.getsockname()[1]
        host = SshHost(HostConfig(name="x", ssh=f"ssh://root@127.0.0.1:{port}", connect_timeout=1))
        assert asyncio.run(host.probe()) == f"no SSH answer from 127.0.0.1:{port} within 1s"


def test_unresolvable_name() -> None:
    host = SshHost(HostConfig(name="x", ssh="ssh://root@no-such-host.invalid"))
    assert asyncio.run(host.probe()) == "host name no-such-host.invalid does not resolve"


def test_missing_known_hosts_file_is_a_reason(tmp_path: Path) -> None:
    host = SshHost(
        HostConfig(name="x", ssh="ssh://root@127.0.0.1:1", known_hosts=str(tmp_path / "kh"))
    )
    assert asyncio.run(host.probe()) == f"known_hosts file {tmp_path}/kh does not exist"


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""
