"""Hosts: where host-level checks read files, list directories and run read-only commands.

`interface.Host` is what a check sees (`ctx.host`); `local.LocalHost` reads the machine
golive runs on, `ssh.SshHost` reads a remote one over SSH (asyncssh), as testinfra separates
how to reach a host from what to ask it. `build_host` picks the implementation from a
host's configuration; nothing here is imported before a run needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from golive.config import HostConfig
    from golive.hosts.interface import Host


def build_host(cfg: HostConfig) -> Host:
    """The host a configuration entry describes: local without `ssh`, else over SSH."""
    if cfg.ssh is None:
        from golive.hosts.local import LocalHost

        return LocalHost(cfg.name, tuple(cfg.roles))
    from golive.hosts.ssh import SshHost

    return SshHost(cfg)
