"""Runtime settings of the reference orchestrator, read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    return int(raw) if raw.strip() else default


@dataclass(frozen=True)
class Settings:
    """Environment-driven configuration (same names as the production stack)."""

    database_url: str
    redis_url: str
    jwt_secret_key: str
    jwt_expire_minutes: int
    rate_limit_enabled: bool
    max_requests_per_minute: int
    max_requests_per_hour: int
    # the length of the "minute" window; 60 in production, shorter only where a test
    # waits for a throttle to lift
    rate_limit_window_seconds: int
    max_request_size: int

    @classmethod
    def from_env(cls) -> Settings:
        """Read the settings; DATABASE_URL and JWT_SECRET_KEY are required."""
        try:
            database_url = os.environ["DATABASE_URL"]
            secret = os.environ["JWT_SECRET_KEY"]
        except KeyError as exc:
            raise RuntimeError(f"environment variable {exc.args[0]} is required") from None
        return cls(
            database_url=database_url,
            redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            jwt_secret_key=secret,
            jwt_expire_minutes=_int("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", 30),
            rate_limit_enabled=_bool(os.environ.get("RATE_LIMIT_ENABLED"), True),
            max_requests_per_minute=_int("MAX_REQUESTS_PER_MINUTE", 600),
            max_requests_per_hour=_int("MAX_REQUESTS_PER_HOUR", 20000),
            rate_limit_window_seconds=max(1, _int("RATE_LIMIT_WINDOW_SECONDS", 60)),
            max_request_size=_int("MAX_REQUEST_SIZE", 1_048_576),
        )


# Redis names shared by the API, the scheduler and the workers.
EVENT_STREAM = "orchestrator:events"
SCHEDULER_HEARTBEAT_KEY = "orchestrator:scheduler:heartbeat"
SCHEDULER_CURSOR_KEY = "orchestrator:scheduler:cursor"
RATE_LIMIT_PREFIX = "orchestrator:ratelimit:"
# A component is healthy while its heartbeat is younger than this many seconds.
HEARTBEAT_FRESH_SECONDS = 30
