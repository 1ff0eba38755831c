"""Process plumbing for the launcher: ports, spawning, polling and killing.

Every long-running service is started in its own session (process group) with its
output in a log file, so that it outlives the ``up`` command and ``down`` can kill the
whole group. Nothing here sleeps a fixed time waiting for a service: callers poll a
predicate until a deadline.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

POLL = 0.05


class ServiceFailed(RuntimeError):
    """A service did not come up; carries its name and the tail of its log."""

    def __init__(self, service: str, reason: str, log: Path | None = None) -> None:
        self.service = service
        self.log = log
        self.tail = log_tail(log) if log else ""
        super().__init__(f"{service} failed to start: {reason}")


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now (the caller retries on collision)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """True when ``GET url`` answers 2xx."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return 200 <= int(resp.status) < 300
    except OSError:
        return False


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, alive: Callable[[], bool] | None = None
) -> None:
    """Poll ``check`` until it is true; raise TimeoutError after ``timeout`` seconds.

    ``alive`` (optional) is polled too: when it turns false the wait fails at once.
    """
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if alive is not None and not alive():
            raise RuntimeError(f"{what}: process exited")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not ready after {timeout:.0f}s")
        time.sleep(POLL)


def spawn(
    argv: Sequence[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> int:
    """Start ``argv`` detached in a new session, output appended to ``log``; return its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )
    return proc.pid


def run(
    argv: Sequence[str],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a short command, capturing output; raise with its output when it fails."""
    proc = subprocess.run(
        list(argv),
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may contain spaces: split after its closing parenthesis
    return raw[raw.rindex(")") + 2 :].split()


def alive(pid: int | None) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    if not pid:
        return False
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(int(entry.name))
        if fields and fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def kill_group(pgid: int, timeout: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL what is left after ``timeout``; verify."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            return
        deadline = time.monotonic() + wait
        while group_members(pgid) and time.monotonic() < deadline:
            _reap(pgid)
            time.sleep(POLL)
        if not group_members(pgid):
            _reap(pgid)
            return
    raise RuntimeError(f"process group {pgid} survived SIGKILL: {group_members(pgid)}")


def _reap(pid: int) -> None:
    """Collect ``pid`` if it is our own child (when the launcher runs in-process)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    except OSError as exc:
        if exc.errno != errno.ECHILD:
            raise


def processes_mentioning(text: str) -> list[tuple[int, str]]:
    """Live processes whose command line or working directory mentions ``text``, except this
    process and its ancestors (a wrapper such as ``timeout`` or ``sudo``, or the shell, may
    name the state dir too: ``down`` must not kill what started it)."""
    found = []
    mine = _self_and_ancestors()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine or not alive(int(entry.name)):
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if text in cmd or cwd == text or cwd.startswith(text + "/"):
            found.append((int(entry.name), cmd.strip()))
    return found


def _self_and_ancestors() -> set[int]:
    pids: set[int] = set()
    pid = os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:  # /proc/PID/stat: "PID (COMM) STATE PPID ..."; COMM may hold spaces and ")"
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def log_tail(path: Path | None, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file ('' when missing)."""
    if path is None or not path.exists():
        return ""
    data = path.read_bytes()[-20000:].decode("utf-8", "replace")
    return "\n".join(data.splitlines()[-lines:])


def report_failure(exc: ServiceFailed) -> None:
    """Write which service failed and its log tail to stderr."""
    print(f"ERROR: {exc}", file=sys.stderr)
    if exc.log is not None:
        print(f"--- last lines of {exc.log} ---", file=sys.stderr)
        print(exc.tail or "(empty log)", file=sys.stderr)
        print("--- end of log ---", file=sys.stderr)
