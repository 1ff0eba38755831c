"""Redis, spoken to with a minimal RESP exchange (PING, INFO) over asyncio streams."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from golive.config import RedisTarget as RedisConfig


class RedisTarget:
    """Redis: enough to prove it answers and read INFO, without a client library."""

    kind = "redis"

    def __init__(self, cfg: RedisConfig) -> None:
        self.cfg = cfg
        u = urlsplit(cfg.url)
        self.host = u.hostname or "localhost"
        self.port = u.port or 6379
        self.password = unquote(u.password) if u.password else None
        self.username = unquote(u.username) if u.username else None
        self.timeout = float(cfg.timeout)

    async def command(self, *args: str) -> str:
        """Send one command and return its reply as text (errors raise RuntimeError)."""

        async def run() -> str:
            reader, writer = await asyncio.open_connection(self.host, self.port)
            try:
                if self.password:
                    auth = [self.username, self.password] if self.username else [self.password]
                    await _send(writer, "AUTH", *auth)
                    await _reply(reader)
                await _send(writer, *args)
                return await _reply(reader)
            finally:
                writer.close()

        return await asyncio.wait_for(run(), self.timeout)

    async def probe(self) -> str | None:
        """None when Redis answers PING with PONG."""
        try:
            reply = await self.command("PING")
        except (OSError, asyncio.TimeoutError, RuntimeError) as exc:
            return f"Redis at {self.host}:{self.port}: {exc or type(exc).__name__}"
        return None if reply == "PONG" else f"unexpected reply to PING: {reply!r}"

    async def close(self) -> None:
        """Nothing to close: connections are per command."""


async def _send(writer: asyncio.StreamWriter, *args: str) -> None:
    parts = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    writer.write(b"".join(parts))
    await writer.drain()


async def _reply(reader: asyncio.StreamReader) -> str:
    line = (await reader.readline()).decode().rstrip("\r\n")
    if not line:
        raise RuntimeError("connection closed")
    kind, rest = line[0], line[1:]
    if kind == "+":
        return rest
    if kind == "-":
        raise RuntimeError(rest)
    if kind == ":":
        return rest
    if kind == "$":
        n = int(rest)
        if n < 0:
            return ""
        data = await reader.readexactly(n + 2)
        return data[:-2].decode()
    raise RuntimeError(f"unsupported reply {line!r}")
