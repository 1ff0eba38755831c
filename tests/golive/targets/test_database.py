"""golive/targets/database.py: readable reasons when PostgreSQL cannot be reached."""

from __future__ import annotations

import asyncio
import socket

from golive.config import DatabaseTarget as DatabaseConfig
from golive.targets.database import DatabaseTarget


def test_server_that_never_speaks_is_a_timeout_a_newcomer_understands() -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # handshakes complete in the kernel; nothing ever answers
    port = silent.getsockname()[1]
    try:
        cfg = DatabaseConfig(dsn=f"postgresql://golive@127.0.0.1:{port}/x", connect_timeout=1)
        reason = asyncio.run(DatabaseTarget(cfg).probe())
    finally:
        silent.close()
    assert reason == "no answer from PostgreSQL within 1s"


def test_refused_port_names_the_server() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = DatabaseConfig(dsn=f"postgresql://golive@127.0.0.1:{port}/x", connect_timeout=1)
    reason = asyncio.run(DatabaseTarget(cfg).probe())
    assert reason is not None
    assert reason == f"connection refused by PostgreSQL at 127.0.0.1:{port}"
