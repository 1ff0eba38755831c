"""Every external program the launchers, the tests and the benchmarks run, and its Debian package.

One list, :data:`TOOLS`, names each executable with the Debian package expected to provide
it, where the program that runs it looks for it, and who needs it (:data:`GROUPS`). The
launchers resolve binaries through :func:`path` (never ``shutil.which`` directly), so a
program that is not listed here cannot be run unnoticed: :func:`path` refuses names it does
not know, and ``tests/demo/test_prereq.py`` finds every program the code runs and fails
when one is missing from the list. The same test resolves each entry to the package that
really provides it (``dpkg -S``) and asserts that ``scripts/bootstrap`` installs that
package or one that hard-depends on it. ``python -m demo.stack doctor`` prints what is
missing as Debian package names.

Helpers that other programs run count too: podman runs ``conmon``, ``runc`` and
``netavark``, which runs ``iptables``; the backup script runs ``pg_dump``. A new consumer
(another launcher) adds one line per program, and a group name in :data:`GROUPS` if it is
a new kind of consumer.

Not listed one by one: the coreutils programs the backup script calls (``date``, ``stat``,
``sha256sum``...) and ``locale``, which come from Essential packages that every Debian
system has, and ``file``, which Python's ``platform`` module runs when it is there and
does without otherwise. (Checked by tracing ``demo.stack up`` with ``strace -f -e execve``.)

The packages of the ``bootstrap`` group (apt, dpkg) are what bootstrap itself needs to run:
:data:`PRECONDITIONS`. Python itself (the venv's interpreter) and Python packages
(podman-compose) are not in the list: they come from ``.venv``, which bootstrap creates
from ``pyproject.toml``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

PG_BIN = "/usr/lib/postgresql/15/bin"
# Where podman 4.3 (containers.conf defaults) looks for its helpers; PATH is not consulted.
PODMAN_HELPERS = (
    "/usr/local/libexec/podman",
    "/usr/local/lib/podman",
    "/usr/libexec/podman",
    "/usr/lib/podman",
)
CONMON_DIRS = (
    "/usr/libexec/podman",
    "/usr/local/libexec/podman",
    "/usr/local/lib/podman",
    "/usr/bin",
    "/usr/sbin",
    "/usr/local/bin",
    "/usr/local/sbin",
)
RUNC_DIRS = ("/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/sbin", "/bin")

GROUPS: Mapping[str, str] = {
    "bootstrap": "scripts/bootstrap itself (Debian's package tools, there before it runs)",
    "stack": "python -m demo.stack up: the services of the reference stack",
    "containers": "python -m demo.stack up: the compose project in podman (optional part)",
    "tests": "the test suite (beyond the stack it starts)",
    "benchmarks": "benchmarks/: the reference tools golive is compared with",
}


@dataclass(frozen=True)
class Tool:
    """One executable: its name, the Debian package that provides it, who runs it, where."""

    name: str
    package: str
    groups: tuple[str, ...]
    why: str
    dirs: tuple[str, ...] = ()  # where the program that runs it looks; () = PATH

    def find(self, path_env: str | None = None) -> str | None:
        """The absolute path this tool resolves to, or None.

        ``dirs`` are searched in order when given (the way its caller looks for it);
        otherwise ``path_env`` (default: this process's PATH)."""
        if self.dirs:
            search: Iterable[str] = self.dirs
        else:
            raw = os.environ.get("PATH", os.defpath) if path_env is None else path_env
            search = raw.split(os.pathsep)
        for directory in search:
            if not directory:
                continue
            candidate = Path(directory) / self.name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
        return None


_S, _C, _T, _B = ("stack",), ("containers",), ("tests",), ("benchmarks",)
TOOLS: tuple[Tool, ...] = (
    # PostgreSQL 15, as the postgres system user (runuser), from the fixed Debian directory
    Tool("runuser", "util-linux", _S, "runs initdb/pg_ctl as the postgres user"),
    Tool("initdb", "postgresql-15", _S, "creates the cluster", (PG_BIN,)),
    Tool("pg_ctl", "postgresql-15", _S, "starts and stops PostgreSQL", (PG_BIN,)),
    Tool("postgres", "postgresql-15", _S, "the server pg_ctl starts", (PG_BIN,)),
    Tool("pg_dump", "postgresql-client-15", _S, "ops/scripts/daily_backup.sh", (PG_BIN,)),
    Tool("pg_restore", "postgresql-client-15", _S, "daily_backup.sh verifies the dump", (PG_BIN,)),
    Tool("pg_restore", "postgresql-client-common", _T, "database.backups' default pg_restore"),
    Tool("bash", "bash", (*_S, *_T), "ops scripts; operations.scripts runs bash -n"),
    Tool("sh", "dash", _T, "uses: command checks with shell: true; monitor log commands"),
    Tool("find", "findutils", _S, "daily_backup.sh deletes old dumps"),
    Tool("umount", "mount", _S, "demo.stack down unmounts what podman left mounted"),
    Tool("redis-server", "redis-server", _S, "Redis"),
    Tool("prometheus", "prometheus", _S, "Prometheus"),
    Tool("prometheus-alertmanager", "prometheus-alertmanager", _S, "Alertmanager"),
    # podman and the helpers it runs itself (found with strace -f -e execve)
    Tool("podman", "podman", _C, "Docker Engine API and the containers"),
    Tool("conmon", "conmon", _C, "podman's container monitor", CONMON_DIRS),
    Tool("runc", "runc", _C, "the OCI runtime containers.conf names", RUNC_DIRS),
    Tool("netavark", "netavark", _C, "podman's network backend", PODMAN_HELPERS),
    Tool("iptables", "iptables", _C, "netavark's firewall rules for ordinaut-network"),
    Tool("ip6tables", "iptables", _C, "netavark's firewall rules (IPv6)"),
    Tool("busybox", "busybox-static", _C, "the image the containers run", ("/bin",)),
    # the test suite
    Tool("promtool", "prometheus", _T, "checks rules, configs and exposition text"),
    Tool("amtool", "prometheus-alertmanager", _T, "checks the Alertmanager config"),
    Tool("crontab", "cron", _T, "install-cron and the cron checks"),
    Tool("cron", "cron", _T, "the daemon that runs an installed monitor entry"),
    Tool("chromium", "chromium", _T, "browser tests of the HTML report"),
    Tool("strace", "strace", _T, "proves name resolution sends no packet"),
    Tool("mount", "mount", (*_S, *_T), "a full tmpfs for the disk-space check; SSH hosts"),
    Tool("make", "make", _T, "make test / make demo"),
    Tool("ssh-keygen", "openssh-client", (*_S, *_T), "keys of SSH hosts; signed sign-offs"),
    Tool("sshd", "openssh-server", (*_S, *_T), "SSH hosts (up --hosts N, tests)", ("/usr/sbin",)),
    Tool("unshare", "util-linux", (*_S, *_T), "a mount namespace per SSH host"),
    # what golive runs on a host (here: on the SSH test hosts)
    Tool("ps", "procps", _T, "operations.cron looks for the cron daemon on a host"),
    Tool("df", "coreutils", _T, "infrastructure.disk's mount point on a host without /proc"),
    Tool("sha256sum", "coreutils", _T, "security.secrets_scan hashes a host's files"),
    Tool("cat", "coreutils", _T, "a generic `uses: command` check in the SSH host tests"),
    Tool("ip", "iproute2", _T, "network namespaces of SSH test hosts"),
    Tool("nsenter", "util-linux", _T, "an SSH test host's SFTP server in its own network"),
    Tool(
        "sftp-server",
        "openssh-sftp-server",
        _T,
        "the SFTP server a test host runs in its own network namespace",
        ("/usr/lib/openssh", "/usr/libexec/openssh", "/usr/libexec"),
    ),
    # Debian's own tools: what bootstrap runs, and what the prerequisite test asks
    Tool("apt-get", "apt", ("bootstrap",), "installs the packages"),
    Tool("apt-cache", "apt", _T, "the hard dependencies of bootstrap's packages"),
    Tool("dpkg-query", "dpkg", ("bootstrap", *_T), "which packages are installed"),
    Tool("dpkg", "dpkg", _T, "which package owns a file (dpkg -S)"),
    # benchmarks: the reference each goal is a ratio to
    Tool("hey", "hey", _B, "HTTP load reference"),
    Tool("ab", "apache2-utils", _B, "HTTP load reference"),
)


# Packages scripts/bootstrap cannot install because it runs them: a Debian system has them.
PRECONDITIONS = frozenset({"apt", "dpkg"})


class MissingTool(RuntimeError):
    """A listed program is not installed; names the Debian package that provides it."""

    def __init__(self, tool: Tool) -> None:
        self.tool = tool
        where = ", ".join(tool.dirs) if tool.dirs else "PATH"
        super().__init__(
            f"{tool.name} not found in {where}: install the Debian package {tool.package}"
        )


def tool(name: str, group: str | None = None) -> Tool:
    """The listed entry for ``name`` (in ``group`` when a name has one per group).

    Raises KeyError for a program that is not listed: add it to :data:`TOOLS` first."""
    found = [t for t in TOOLS if t.name == name and (group is None or group in t.groups)]
    if not found:
        raise KeyError(f"{name!r} is not listed in demo/stack/prereq.py TOOLS: add a line for it")
    return found[0]


def path(name: str, group: str | None = None, path_env: str | None = None) -> str:
    """Absolute path of a listed program; :class:`MissingTool` when it is not installed."""
    entry = tool(name, group)
    found = entry.find(path_env)
    if found is None:
        raise MissingTool(entry)
    return found


def missing(groups: Iterable[str] | None = None, path_env: str | None = None) -> list[Tool]:
    """The listed programs of ``groups`` (default: all) that cannot be found."""
    wanted = set(GROUPS if groups is None else groups)
    unknown = wanted - set(GROUPS)
    if unknown:
        raise KeyError(f"unknown prerequisite groups: {', '.join(sorted(unknown))}")
    return [t for t in TOOLS if wanted & set(t.groups) and t.find(path_env) is None]


def packages(tools: Iterable[Tool]) -> list[str]:
    """The Debian packages of ``tools``, sorted and without duplicates."""
    return sorted({t.package for t in tools})
