"""SSH test hosts on this machine: real `sshd`, key authentication, a filesystem view each.

Each host is one OpenSSH `sshd` listening on 127.0.0.1 at its own port with its own host
key, started inside its own mount namespace (``unshare --mount``). In that namespace the
host's directory is bind-mounted over the deployed project path (`mount_at`) and over
/var/spool/cron/crontabs, so the same path shows a different project copy and a different
root crontab on each host, while the rest of the filesystem (binaries, /etc) is the
machine's. That is what host-level checks read: different trees and crontabs per host at
the same paths, reached over real SSH with key authentication and pinned host keys.
Traffic stays on loopback. No container engine or systemd is needed: root, `unshare` and
`mount` (util-linux) and `openssh-server` suffice.

    hosts = start(Path("/tmp/x"), 2, project_src=Path("proj"), mount_at=Path("/srv/app"))
    hosts.golive_block()      # the `targets.hosts` list for golive.yaml
    hosts.stop()
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demo.stack import prereq, procs

CRONTABS = Path("/var/spool/cron/crontabs")
STATE_FILE = "hosts.json"
PROGRAMS = ("sshd", "ssh-keygen", "unshare", "mount", "sh")  # all listed in prereq.TOOLS


def missing_binaries() -> list[str]:
    """What the test hosts cannot start without (with the Debian package to install)."""
    out = [f"{t.name} ({t.package})" for t in map(prereq.tool, PROGRAMS) if t.find() is None]
    if os.geteuid() != 0:
        out.append("root (mount namespaces and sshd)")
    return out


@dataclass
class TestHost:
    """One SSH host: its name, port, directory and sshd process (group) id."""

    name: str
    port: int
    dir: Path
    pid: int = 0
    roles: list[str] = field(default_factory=list)

    @property
    def project(self) -> Path:
        """This host's deployed project copy (seen at `mount_at` over SSH)."""
        return self.dir / "project"

    @property
    def crontabs(self) -> Path:
        """This host's /var/spool/cron/crontabs."""
        return self.dir / "crontabs"

    @property
    def host_key_pub(self) -> str:
        """The host's public key line (type and key)."""
        return " ".join((self.dir / "ssh_host_ed25519_key.pub").read_text().split()[:2])


@dataclass
class HostSet:
    """The running test hosts, the client key that logs in to them, and their known_hosts."""

    base: Path
    mount_at: Path
    hosts: list[TestHost] = field(default_factory=list)

    @property
    def client_key(self) -> Path:
        """The private key golive logs in with (authorized on every host)."""
        return self.base / "client_ed25519"

    @property
    def known_hosts(self) -> Path:
        """known_hosts pinning every host's key."""
        return self.base / "known_hosts"

    def golive_block(self) -> list[dict[str, Any]]:
        """The `targets.hosts` entries of golive.yaml for these hosts."""
        return [
            {
                "name": h.name,
                "ssh": f"ssh://root@127.0.0.1:{h.port}",
                "identity_file": str(self.client_key),
                "known_hosts": str(self.known_hosts),
                "roles": list(h.roles),
            }
            for h in self.hosts
        ]

    def overlay_yaml(self) -> str:
        """A golive.yaml overlay (`--config` it after the main file) that adds the hosts."""
        import yaml

        text: str = yaml.safe_dump({"targets": {"hosts": self.golive_block()}}, sort_keys=False)
        return text

    def save(self) -> None:
        """Record the hosts in BASE/hosts.json (for `down` in another process)."""
        data = {
            "mount_at": str(self.mount_at),
            "hosts": [
                {"name": h.name, "port": h.port, "dir": str(h.dir), "pid": h.pid, "roles": h.roles}
                for h in self.hosts
            ],
        }
        (self.base / STATE_FILE).write_text(json.dumps(data, indent=2))
        (self.base / "golive-hosts.yaml").write_text(self.overlay_yaml())

    @classmethod
    def load(cls, base: Path) -> HostSet | None:
        """The hosts recorded in BASE, or None."""
        path = base / STATE_FILE
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        hosts = [
            TestHost(h["name"], h["port"], Path(h["dir"]), h["pid"], h["roles"])
            for h in data["hosts"]
        ]
        return cls(base, Path(data["mount_at"]), hosts)

    def restart(self, host: TestHost, sshd_options: dict[str, str] | None = None) -> None:
        """Restart one host's sshd, e.g. with other options (fault tests)."""
        _stop_host(host)
        _launch(self, host, sshd_options or {})

    def stop(self) -> None:
        """Stop every sshd and every process left in the hosts' mount namespaces."""
        for h in self.hosts:
            _stop_host(h)


def _keygen(path: Path, comment: str) -> None:
    if path.exists():
        return
    subprocess.run(
        [
            prereq.path("ssh-keygen"),
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            comment,
            "-f",
            str(path),
        ],
        check=True,
        stdin=subprocess.DEVNULL,
    )


def _sshd_config(hs: HostSet, h: TestHost, options: dict[str, str]) -> str:
    settings = {
        "Port": str(h.port),
        "ListenAddress": "127.0.0.1",
        "HostKey": str(h.dir / "ssh_host_ed25519_key"),
        "PidFile": str(h.dir / "sshd.pid"),
        "AuthorizedKeysFile": str(h.dir / "authorized_keys"),
        "PermitRootLogin": "prohibit-password",
        "PasswordAuthentication": "no",
        "KbdInteractiveAuthentication": "no",
        "UsePAM": "no",
        "StrictModes": "no",  # the host directories live under a test's temp dir
        "Subsystem": "sftp internal-sftp",
        "LogLevel": "ERROR",
        "MaxStartups": "100",
        "MaxSessions": "100",
    }
    # HOME is the host's directory: bash sources ~/.bashrc for commands run over SSH, and
    # the machine's root may have a slow one (it is not part of the host being checked)
    env = f"HOME={h.dir}"
    if "SetEnv" in options:
        options = {**options, "SetEnv": f"{env} {options['SetEnv']}"}
    settings["SetEnv"] = env
    settings.update(options)
    return "".join(f"{k} {v}\n" for k, v in settings.items())


def _launch(hs: HostSet, h: TestHost, options: dict[str, str]) -> None:
    conf = h.dir / "sshd_config"
    conf.write_text(_sshd_config(hs, h, options))
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
    mount = shlex.quote(prereq.path("mount"))
    script = " && ".join(
        [
            f"{mount} --bind {shlex.quote(str(h.project))} {shlex.quote(str(hs.mount_at))}",
            f"{mount} --bind {shlex.quote(str(h.crontabs))} {shlex.quote(str(CRONTABS))}",
            # -r: no re-exec per connection (saves CPU when many test hosts share a machine)
            f"exec {shlex.quote(prereq.path('sshd'))} -D -e -r -f {shlex.quote(str(conf))}",
        ]
    )
    unshare = prereq.path("unshare")
    h.pid = procs.spawn(
        [unshare, "--mount", "--propagation", "private", prereq.path("sh"), "-c", script],
        h.dir / "sshd.log",
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if not procs.alive(h.pid):
            raise procs.ServiceFailed(f"sshd {h.name}", "exited at start", h.dir / "sshd.log")
        if _banner(h.port):
            return
        time.sleep(0.05)
    raise procs.ServiceFailed(f"sshd {h.name}", "no SSH banner within 20s", h.dir / "sshd.log")


def _banner(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            return s.recv(8).startswith(b"SSH-")
    except OSError:
        return False


def _namespace(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def _stop_host(h: TestHost) -> None:
    if not h.pid:
        return
    ns = _namespace(h.pid)
    mine = _namespace(os.getpid())
    # every process in the host's mount namespace belongs to it (sshd's session children
    # start their own sessions, so the process group alone would miss them)
    for _ in range(3):
        members = []
        if ns is not None and ns != mine:
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit() and _namespace(int(entry.name)) == ns:
                    members.append(int(entry.name))
        for pid in members:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not members:
            break
        time.sleep(0.05)
    try:
        procs.kill_group(h.pid, timeout=2)
    except RuntimeError:
        pass
    h.pid = 0


def start(
    base: Path,
    n: int,
    *,
    project_src: Path,
    mount_at: Path,
    crontab: str | None = None,
    roles: list[list[str]] | None = None,
) -> HostSet:
    """Start `n` SSH hosts under `base`, each with a copy of `project_src` seen at
    `mount_at` and `crontab` (if given) as root's crontab; stop them all on failure."""
    missing = missing_binaries()
    if missing:
        raise procs.ServiceFailed("ssh hosts", "missing: " + ", ".join(missing))
    base.mkdir(parents=True, exist_ok=True)
    mount_at.mkdir(parents=True, exist_ok=True)
    hs = HostSet(base, mount_at)
    _keygen(hs.client_key, "golive-test-client")
    client_pub = hs.client_key.with_suffix(".pub").read_text()
    known: list[str] = []
    try:
        for i in range(1, n + 1):
            h = TestHost(f"host{i}", procs.free_port(), base / f"host{i}")
            h.roles = list(roles[i - 1]) if roles else ["app"]
            h.dir.mkdir(exist_ok=True)
            if h.project.exists():
                shutil.rmtree(h.project)
            shutil.copytree(project_src, h.project, symlinks=True)
            h.crontabs.mkdir(exist_ok=True)
            os.chmod(h.crontabs, 0o1730)
            if crontab is not None:
                tab = h.crontabs / "root"
                tab.write_text(crontab)
                os.chmod(tab, 0o600)
            _keygen(h.dir / "ssh_host_ed25519_key", f"golive-test-{h.name}")
            (h.dir / "authorized_keys").write_text(client_pub)
            hs.hosts.append(h)
            _launch(hs, h, {})
            known.append(f"[127.0.0.1]:{h.port} {h.host_key_pub}")
    except BaseException:
        hs.stop()
        raise
    hs.known_hosts.write_text("\n".join(known) + "\n")
    hs.save()
    return hs
