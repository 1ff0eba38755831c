"""The live Redis: it answers, and the scheduler keeps its heartbeat fresh. Read-only."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from demo.config import SCHEDULER_HEARTBEAT_KEY


@pytest.fixture(scope="module")
def client(redis_url: str) -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        yield conn
    finally:
        conn.close()


def test_redis_answers(client: redis.Redis) -> None:
    assert client.ping() is True


def test_the_scheduler_heartbeat_is_fresh(client: redis.Redis) -> None:
    raw = client.get(SCHEDULER_HEARTBEAT_KEY)
    assert raw is not None, f"{SCHEDULER_HEARTBEAT_KEY} is missing: is the scheduler running?"
    assert time.time() - float(raw) < 30
