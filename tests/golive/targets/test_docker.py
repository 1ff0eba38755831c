"""golive/targets/docker.py: a silent engine never blocks the event loop; readable reasons."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

from golive.config import DockerTarget as DockerConfig
from golive.targets.docker import DockerTarget


def _silent_engine(path: Path) -> socket.socket:
    """A unix socket that accepts connections (kernel backlog) and never answers."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.listen(16)
    return sock


async def _probe_while_ticking(target: DockerTarget, seconds: float) -> tuple[str | None, int]:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    ticker = asyncio.ensure_future(tick())
    try:
        reason = await asyncio.wait_for(target.probe(), seconds)
    finally:
        ticker.cancel()
    return reason, ticks


def test_probe_of_a_silent_engine_keeps_the_event_loop_running(tmp_path: Path) -> None:
    sock = _silent_engine(tmp_path / "engine.sock")
    try:
        target = DockerTarget(DockerConfig(base_url=f"unix://{tmp_path}/engine.sock", timeout=2))
        t0 = time.monotonic()
        reason, ticks = asyncio.run(_probe_while_ticking(target, 10))
        elapsed = time.monotonic() - t0
    finally:
        sock.close()
    # building the client asks the engine for its API version: it must not freeze the loop
    assert ticks >= 0.5 * elapsed / 0.05, f"only {ticks} ticks in {elapsed:.1f}s"
    assert reason == (
        f"container engine at unix://{tmp_path}/engine.sock accepted the connection but did "
        "not answer within 2s"
    )


def test_missing_socket_reason(tmp_path: Path) -> None:
    target = DockerTarget(DockerConfig(base_url=f"unix://{tmp_path}/none.sock", timeout=2))
    reason = asyncio.run(target.probe())
    assert reason == f"container engine socket not found at unix://{tmp_path}/none.sock"


def test_ssh_engine_url_uses_the_ssh_transport_and_gives_one_reason() -> None:
    """ssh:// goes through the Docker SDK's SSH transport (the OpenSSH client); a closed
    port gives a SKIP reason that says what to look at, not a traceback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends
    target = DockerTarget(DockerConfig(base_url=f"ssh://root@127.0.0.1:{port}", timeout=5))
    reason = asyncio.run(target.probe())
    assert reason is not None
    assert reason.startswith(
        f"container engine at ssh://root@127.0.0.1:{port}: the ssh command ended"
    )
