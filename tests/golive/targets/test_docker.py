"""golive/targets/docker.py: a silent engine never blocks the event loop; readable reasons."""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path

from golive.config import DockerTarget as DockerConfig
from golive.targets.docker import DockerTarget


class _SilentEngine:
    """A unix socket server that accepts connections and never answers; `accepted` is set
    once a client has connected."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(16)
        self.accepted = threading.Event()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            self.accepted.set()

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()


async def _probe_while_watching(
    target: DockerTarget, engine: _SilentEngine
) -> tuple[str | None, bool]:
    """The probe's reason, and whether another coroutine ran while the probe was waiting
    on the engine (connected, not yet answered)."""
    probe = asyncio.ensure_future(target.probe())
    ran_meanwhile = False
    while not probe.done():
        if engine.accepted.is_set() and not probe.done():
            ran_meanwhile = True  # this coroutine runs while the probe waits: the loop is free
            break
        await asyncio.sleep(0.01)
    return await probe, ran_meanwhile


def test_probe_of_a_silent_engine_keeps_the_event_loop_running(tmp_path: Path) -> None:
    engine = _SilentEngine(tmp_path / "engine.sock")
    try:
        target = DockerTarget(DockerConfig(base_url=f"unix://{tmp_path}/engine.sock", timeout=2))
        reason, ran_meanwhile = asyncio.run(_probe_while_watching(target, engine))
    finally:
        engine.close()
    # building the client asks the engine for its API version: it must not freeze the loop.
    # A probe that blocked the loop would have finished (after its 2 s timeout) before this
    # coroutine could run again, so it could never see the connection open and the probe busy.
    assert ran_meanwhile
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
