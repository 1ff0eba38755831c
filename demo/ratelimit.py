"""Per-client request limits with a sliding-window counter, kept in Redis.

Each limit (per minute, per hour) keeps one counter per fixed window; a request is
judged on ``previous_window * (1 - elapsed_fraction) + current_window``, which
approximates a true sliding window without the burst a fixed window allows at its
boundary. Counters live in Redis so API replicas share them; when Redis is unreachable
the limiter counts in process memory, so an outage of Redis does not lift the limit.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import redis

from demo.config import RATE_LIMIT_PREFIX


@dataclass(frozen=True)
class Verdict:
    """Outcome of one check: allowed or not, and for how long the client must wait."""

    allowed: bool
    limit: int
    remaining: int
    retry_after: int
    reset: int = 0  # epoch second at which the current per-minute window ends


class RateLimiter:
    """Count requests per client in the current minute and hour windows."""

    def __init__(
        self, client: redis.Redis, per_minute: int, per_hour: int, *, window: int = 60
    ) -> None:
        self.redis = client
        # `window`: the first limit's window in seconds (a minute unless a test shortens it)
        self.windows = ((window, per_minute), (3600, per_hour))
        self._local: dict[str, int] = {}
        self._lock = threading.Lock()

    def _count(self, current: list[tuple[str, int]], previous: list[str]) -> list[int]:
        """INCR the current-window keys and read the previous-window ones."""
        try:
            pipe = self.redis.pipeline(transaction=False)
            for key, ttl in current:
                pipe.incr(key)
                pipe.expire(key, 2 * ttl + 5)
            for key in previous:
                pipe.get(key)
            replies = pipe.execute()
            counts = [int(v) for v in replies[0 : 2 * len(current) : 2]]
            return counts + [int(v or 0) for v in replies[2 * len(current) :]]
        except redis.RedisError:
            with self._lock:
                if len(self._local) > 10_000:
                    self._local.clear()
                for key, _ in current:
                    self._local[key] = self._local.get(key, 0) + 1
                return [self._local[k] for k, _ in current] + [
                    self._local.get(k, 0) for k in previous
                ]

    def check(self, client_id: str) -> Verdict:
        """Count one request from ``client_id`` and say whether it is within the limits."""
        now = time.time()
        current, previous = [], []
        for size, _ in self.windows:
            window = int(now // size)
            current.append((f"{RATE_LIMIT_PREFIX}{size}:{client_id}:{window}", size))
            previous.append(f"{RATE_LIMIT_PREFIX}{size}:{client_id}:{window - 1}")
        counts = self._count(current, previous)
        n = len(self.windows)
        minute_estimate = 0.0
        for i, (size, limit) in enumerate(self.windows):
            elapsed = (now % size) / size
            estimate = counts[n + i] * (1 - elapsed) + counts[i]
            if i == 0:
                minute_estimate = estimate
            if estimate > limit:
                wait = int(size - (now % size)) + 1
                return Verdict(False, limit, 0, wait, int(now) + wait)
        size, limit = self.windows[0]
        reset = int(now // size) * size + size
        return Verdict(True, limit, max(0, int(limit - minute_estimate)), 0, reset)


def reset(client: redis.Redis) -> int:
    """Delete every rate-limit counter; return how many keys were removed."""
    keys = list(client.scan_iter(match=f"{RATE_LIMIT_PREFIX}*", count=500))
    return int(client.delete(*keys)) if keys else 0
