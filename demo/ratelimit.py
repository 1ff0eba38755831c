"""Per-client fixed-window request limits, counted in Redis (shared by API replicas).

Windows are one minute and one hour. When Redis is unreachable the limiter falls back
to counting in process memory, so that an outage of Redis does not lift the limit.
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


class RateLimiter:
    """Count requests per client in the current minute and hour windows."""

    def __init__(self, client: redis.Redis, per_minute: int, per_hour: int) -> None:
        self.redis = client
        self.windows = ((60, per_minute), (3600, per_hour))
        self._local: dict[str, int] = {}
        self._lock = threading.Lock()

    def _count(self, keys: list[tuple[str, int]]) -> list[int]:
        try:
            pipe = self.redis.pipeline(transaction=False)
            for key, ttl in keys:
                pipe.incr(key)
                pipe.expire(key, ttl + 5)
            replies = pipe.execute()
            return [int(v) for v in replies[0::2]]
        except redis.RedisError:
            with self._lock:
                counts = []
                for key, _ in keys:
                    self._local[key] = self._local.get(key, 0) + 1
                    counts.append(self._local[key])
                if len(self._local) > 10_000:
                    self._local.clear()
                return counts

    def check(self, client_id: str) -> Verdict:
        """Count one request from ``client_id`` and say whether it is within the limits."""
        now = time.time()
        keys = []
        for size, _ in self.windows:
            window = int(now // size)
            keys.append((f"{RATE_LIMIT_PREFIX}{size}:{client_id}:{window}", size))
        counts = self._count(keys)
        minute_limit = self.windows[0][1]
        for (size, limit), count in zip(self.windows, counts, strict=True):
            if count > limit:
                retry = int(size - (now % size)) + 1
                return Verdict(False, limit, 0, retry)
        return Verdict(True, minute_limit, max(0, minute_limit - counts[0]), 0)


def reset(client: redis.Redis) -> int:
    """Delete every rate-limit counter; return how many keys were removed."""
    keys = list(client.scan_iter(match=f"{RATE_LIMIT_PREFIX}*", count=500))
    return int(client.delete(*keys)) if keys else 0
