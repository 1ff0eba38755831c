"""Container healthchecks: ``python -m demo.healthcheck worker|scheduler``.

``worker``: a heartbeat row from this host is younger than HEARTBEAT_FRESH_SECONDS.
``scheduler``: the scheduler's Redis heartbeat is that fresh. Exit 0 healthy, 1 not.
"""

from __future__ import annotations

import socket
import sys
import time

import psycopg
import redis

from demo.config import HEARTBEAT_FRESH_SECONDS, SCHEDULER_HEARTBEAT_KEY, Settings


def worker_fresh(settings: Settings) -> bool:
    """True when a worker on this host sent a fresh heartbeat."""
    with psycopg.connect(settings.database_url, connect_timeout=3) as conn:
        row = conn.execute(
            "SELECT count(*) FROM worker_heartbeat WHERE hostname = %s"
            " AND last_seen > now() - make_interval(secs => %s)",
            (socket.gethostname(), HEARTBEAT_FRESH_SECONDS),
        ).fetchone()
    return bool(row and row[0])


def scheduler_fresh(settings: Settings) -> bool:
    """True when the scheduler's heartbeat key is fresh."""
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=3)
    try:
        beat = client.get(SCHEDULER_HEARTBEAT_KEY)
    finally:
        client.close()
    return beat is not None and time.time() - float(beat) < HEARTBEAT_FRESH_SECONDS


def main() -> int:
    """Entry point."""
    if len(sys.argv) != 2 or sys.argv[1] not in ("worker", "scheduler"):
        print("usage: python -m demo.healthcheck worker|scheduler", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    try:
        ok = worker_fresh(settings) if sys.argv[1] == "worker" else scheduler_fresh(settings)
    except (psycopg.Error, redis.RedisError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    print("healthy" if ok else "unhealthy: no fresh heartbeat")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
