"""Running a program from a check: no shell, a deadline, and nothing left behind.

The program runs in its own process group; when the deadline passes, or the check itself
is cancelled (its timeout, Ctrl-C), the whole group is killed, so a test suite or a hung
script cannot outlive the check that started it.

    done = await run(["crontab", "-l"], timeout=5)
    if done.timed_out: ...
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Output kept per stream (the end of it, where errors are): enough for any summary.
MAX_OUTPUT = 256 * 1024


@dataclass(frozen=True)
class Completed:
    """A finished (or killed) program: exit code, output, and how long it took."""

    argv: tuple[str, ...]
    returncode: int | None  # None when it was killed at the deadline
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        """True when it finished on its own with exit code 0."""
        return self.returncode == 0 and not self.timed_out


def tail(text: str, lines: int = 20, width: int = 300) -> list[str]:
    """The last non-empty lines of some output, each cut to `width` characters."""
    kept = [line.rstrip()[:width] for line in text.splitlines() if line.strip()]
    return kept[-lines:]


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


async def _read(stream: asyncio.StreamReader | None) -> bytes:
    if stream is None:
        return b""
    buf = bytearray()
    while chunk := await stream.read(65536):
        buf += chunk
        if len(buf) > 2 * MAX_OUTPUT:
            del buf[: len(buf) - MAX_OUTPUT]
    return bytes(buf[-MAX_OUTPUT:])


async def run(
    argv: Sequence[str],
    *,
    timeout: float,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
) -> Completed:
    """Run `argv` (no shell) until it exits or `timeout` seconds pass; never raises on a
    non-zero exit. Raises OSError (FileNotFoundError, PermissionError) when the program
    cannot be started at all."""
    t0 = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    timed_out = False
    readers: list[asyncio.Future[bytes]] = []
    try:
        if stdin is not None and proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                proc.stdin.write(stdin)
                await proc.stdin.drain()
            proc.stdin.close()
        readers = [
            asyncio.ensure_future(_read(proc.stdout)),
            asyncio.ensure_future(_read(proc.stderr)),
        ]
        try:
            await asyncio.wait_for(proc.wait(), max(0.01, timeout))
        except (asyncio.TimeoutError, TimeoutError):
            timed_out = True
            _kill_group(proc)
            with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                await asyncio.wait_for(proc.wait(), 5)
        # a grandchild that left the group may hold the pipes open: do not wait for ever
        await asyncio.wait(readers, timeout=5)
        out, err = (r.result() if r.done() and not r.cancelled() else b"" for r in readers)
    finally:
        # also when cancelled (the check's own timeout, Ctrl-C): leave nothing running, and
        # reap the process so that its transport is closed before the event loop is
        if proc.returncode is None:
            _kill_group(proc)
            with contextlib.suppress(asyncio.TimeoutError, TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(proc.wait(), 5)
        for r in readers:
            r.cancel()
    return Completed(
        argv=tuple(argv),
        returncode=None if timed_out else proc.returncode,
        stdout=out.decode("utf-8", "replace"),
        stderr=err.decode("utf-8", "replace"),
        duration=time.monotonic() - t0,
        timed_out=timed_out,
    )
