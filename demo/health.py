"""Component checks behind ``GET /health``."""

from __future__ import annotations

import time
from typing import Any

import redis

from demo.config import HEARTBEAT_FRESH_SECONDS, SCHEDULER_HEARTBEAT_KEY
from demo.state import AppState

Check = dict[str, Any]


def _timed(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def check_database_and_workers(state: AppState) -> tuple[Check, Check]:
    """Ping PostgreSQL and count fresh worker heartbeats in the same connection."""
    start = time.perf_counter()
    try:
        with state.pool.connection(timeout=2) as conn:
            row = conn.execute(
                "SELECT count(*) FILTER (WHERE last_seen > now() - make_interval(secs => %s)),"
                " count(*), extract(epoch FROM now() - max(last_seen))"
                " FROM worker_heartbeat",
                (HEARTBEAT_FRESH_SECONDS,),
            ).fetchone()
    except Exception as exc:  # any failure means the database is not usable
        db: Check = {"status": "unhealthy", "error": f"{type(exc).__name__}: {exc}"[:300]}
        return db, {"status": "unknown", "error": "database unavailable"}
    assert row is not None
    fresh, known, newest_age = int(row[0]), int(row[1]), row[2]
    db = {"status": "healthy", "latency_ms": _timed(start)}
    workers: Check = {
        "status": "healthy" if fresh > 0 else "unhealthy",
        "active": fresh,
        "known": known,
        "newest_heartbeat_age_seconds": None if newest_age is None else round(float(newest_age), 1),
        "fresh_within_seconds": HEARTBEAT_FRESH_SECONDS,
    }
    return db, workers


def check_redis_and_scheduler(state: AppState) -> tuple[Check, Check]:
    """Ping Redis and read the scheduler's heartbeat key."""
    start = time.perf_counter()
    try:
        state.redis.ping()
        beat = state.redis.get(SCHEDULER_HEARTBEAT_KEY)
    except redis.RedisError as exc:
        bad = {"status": "unhealthy", "error": f"{type(exc).__name__}: {exc}"[:300]}
        return bad, {"status": "unknown", "error": "redis unavailable"}
    red = {"status": "healthy", "latency_ms": _timed(start)}
    if beat is None:
        return red, {"status": "unhealthy", "error": "no scheduler heartbeat"}
    age = max(0.0, time.time() - float(beat))
    fresh = age < HEARTBEAT_FRESH_SECONDS
    sched = {"status": "healthy" if fresh else "unhealthy", "heartbeat_age_seconds": round(age, 1)}
    return red, sched


def overall(checks: dict[str, Check]) -> str:
    """``unhealthy`` when the database is down, ``degraded`` when anything else is."""
    if checks["database"]["status"] != "healthy":
        return "unhealthy"
    if any(c["status"] != "healthy" for c in checks.values()):
        return "degraded"
    return "healthy"


def health_report(state: AppState) -> dict[str, Any]:
    """The full ``/health`` document."""
    database, workers = check_database_and_workers(state)
    red, scheduler = check_redis_and_scheduler(state)
    checks = {"database": database, "redis": red, "workers": workers, "scheduler": scheduler}
    return {"status": overall(checks), "timestamp": time.time(), "checks": checks}
