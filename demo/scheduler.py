"""Scheduler process (``python -m demo.scheduler``).

Every ~0.5 s it turns due occurrences of active ``once``, ``cron`` and ``rrule`` tasks into
``due_work`` rows. The last occurrence queued per task is kept in a Redis hash, so each
occurrence is queued exactly once; a PostgreSQL advisory lock makes a second scheduler
stand by instead of double-queuing. Missed occurrences are coalesced into one.
"""

from __future__ import annotations

import argparse
import logging
import signal
import time
from datetime import datetime, timezone
from types import FrameType

import psycopg
import redis

from demo import schedules
from demo.config import SCHEDULER_CURSOR_KEY, SCHEDULER_HEARTBEAT_KEY, Settings

log = logging.getLogger("demo.scheduler")
LEADER_LOCK = 0x6F726431  # advisory lock key: one active scheduler per database
_stop = False


def _request_stop(signum: int, frame: FrameType | None) -> None:
    global _stop
    _stop = True


def _occurrence(
    kind: str, expr: str, tz: str, created: datetime, cursor: str | None, now: datetime
) -> datetime | None:
    """The latest occurrence that is due now and not queued yet, or None."""
    if kind == "once":
        if cursor is not None:
            return None
        when = schedules.parse_instant(expr, tz)
        return when if when <= now else None
    # A task without a cursor (new, or Redis lost its state) begins after `now`.
    start = datetime.fromisoformat(cursor) if cursor else now
    due = None
    nxt = schedules.next_after(kind, expr, tz, start, created)
    while nxt is not None and nxt <= now:
        due = nxt  # coalesce missed occurrences into the latest one
        nxt = schedules.next_after(kind, expr, tz, nxt, created)
    return due


def tick(conn: psycopg.Connection, red: redis.Redis) -> int:
    """Queue every due occurrence once; return how many due_work rows were inserted."""
    now = datetime.now(timezone.utc)
    rows = conn.execute(
        "SELECT t.id, t.schedule_kind::text, t.schedule_expr, t.timezone, t.created_at"
        " FROM task t WHERE t.status = 'active' AND (t.schedule_kind IN ('cron', 'rrule')"
        "  OR (t.schedule_kind = 'once'"
        "      AND NOT EXISTS (SELECT 1 FROM task_run r WHERE r.task_id = t.id)"
        "      AND NOT EXISTS (SELECT 1 FROM due_work d WHERE d.task_id = t.id)))"
    ).fetchall()
    if not rows:
        return 0
    cursors = red.hmget(SCHEDULER_CURSOR_KEY, [str(r[0]) for r in rows])
    queued = 0
    for (task_id, kind, expr, tz, created), raw in zip(rows, cursors, strict=True):
        cursor = raw.decode() if isinstance(raw, bytes) else raw
        try:
            when = _occurrence(kind, expr, tz, created, cursor, now)
        except (ValueError, TypeError) as exc:
            log.warning("task %s: bad schedule %r: %s", task_id, expr, exc)
            continue
        if when is None:
            if cursor is None and kind != "once":
                red.hset(SCHEDULER_CURSOR_KEY, str(task_id), now.isoformat())
            continue
        with conn.transaction():
            conn.execute("INSERT INTO due_work (task_id, run_at) VALUES (%s, %s)", (task_id, when))
        red.hset(SCHEDULER_CURSOR_KEY, str(task_id), when.isoformat())
        queued += 1
    return queued


def run(settings: Settings, interval: float) -> None:
    """Main loop: heartbeat, leader lock, tick; survives database and Redis outages."""
    red = redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
    conn: psycopg.Connection | None = None
    while not _stop:
        try:
            red.set(SCHEDULER_HEARTBEAT_KEY, f"{time.time():.3f}", ex=120)
            if conn is None or conn.closed:
                conn = psycopg.connect(settings.database_url, autocommit=True, connect_timeout=3)
            leader = conn.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK,)).fetchone()
            if leader and leader[0]:
                n = tick(conn, red)
                if n:
                    log.info("queued %d occurrence(s)", n)
        except (psycopg.Error, redis.RedisError) as exc:
            log.warning("scheduler tick failed: %s", exc)
            if conn is not None and conn.broken:
                conn = None
        time.sleep(interval)
    if conn is not None:
        conn.close()


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between ticks")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    log.info("scheduler started")
    run(Settings.from_env(), args.interval)
    log.info("scheduler stopped")


if __name__ == "__main__":
    main()
