"""golive/subproc.py: real programs, timeouts that kill the whole process group, output."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from golive.subproc import run, tail


def test_output_exit_code_and_stdin() -> None:
    done = asyncio.run(run(["sh", "-c", "cat; echo err >&2; exit 4"], timeout=10, stdin=b"in\n"))
    assert (done.returncode, done.stdout, done.stderr, done.timed_out) == (
        4,
        "in\n",
        "err\n",
        False,
    )
    assert not done.ok
    assert asyncio.run(run(["true"], timeout=10)).ok


def test_cwd_and_env(tmp_path: Path) -> None:
    done = asyncio.run(
        run(
            ["sh", "-c", "pwd; echo $GOLIVE_X"],
            timeout=10,
            cwd=tmp_path,
            env={"GOLIVE_X": "y", "PATH": os.environ["PATH"]},
        )
    )
    assert done.stdout.split() == [str(tmp_path), "y"]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except OSError:
        return False
    return state != "Z"


def test_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = f"sleep 60 & echo $! > {pidfile}; echo started; wait"
    done = asyncio.run(run(["sh", "-c", script], timeout=1))
    assert done.timed_out and done.returncode is None
    assert done.stdout == "started\n"  # output so far is kept
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 60  # a wait, not a bound: ends when it dies
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)  # the grandchild died with its group


def test_cancelling_the_caller_kills_the_program(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"

    async def main() -> None:
        task = asyncio.ensure_future(
            run(["sh", "-c", f"echo $$ > {pidfile}; exec sleep 60"], timeout=60)
        )
        while not pidfile.exists() or not pidfile.read_text().strip():  # noqa: ASYNC110 - another process writes it
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 60  # a wait, not a bound: ends when it dies
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def test_a_missing_program_raises_oserror() -> None:
    with pytest.raises(FileNotFoundError):
        asyncio.run(run(["golive-no-such-program"], timeout=5))


def test_tail() -> None:
    assert tail("a\n\n b \nc\n" + "x" * 500, lines=2, width=10) == ["c", "x" * 10]
