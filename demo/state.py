"""Shared resources of the API process and the request dependencies built on them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import psycopg
import redis
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import ConnectionPool

from demo.auth import agent_id_from_token, bearer
from demo.config import Settings
from demo.ratelimit import RateLimiter


@dataclass
class AppState:
    """Connection pool, Redis client and limiter of one API process."""

    settings: Settings
    pool: ConnectionPool
    redis: redis.Redis
    limiter: RateLimiter

    @classmethod
    def create(cls, settings: Settings) -> AppState:
        """Open the pool lazily (the API starts even when the database is down)."""
        pool = ConnectionPool(
            settings.database_url,
            min_size=1,
            max_size=8,
            timeout=5,
            open=False,
            kwargs={"autocommit": True, "connect_timeout": 3},
            name="api",
        )
        pool.open(wait=False)
        client = redis.Redis.from_url(
            settings.redis_url, socket_timeout=1, socket_connect_timeout=1
        )
        limiter = RateLimiter(
            client,
            settings.max_requests_per_minute,
            settings.max_requests_per_hour,
            window=settings.rate_limit_window_seconds,
        )
        return cls(settings, pool, client, limiter)

    def close(self) -> None:
        """Release the pool and the Redis connections."""
        self.pool.close()
        self.redis.close()


def app_state(request: Request) -> AppState:
    """FastAPI dependency: the process's :class:`AppState`."""
    state: AppState = request.app.state.core
    return state


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


# Declares the bearer scheme in the OpenAPI document (as Ordinaut does); the token itself is
# read and judged below, so that every failure is a 401 with the same shape.
_BEARER = HTTPBearer(scheme_name="AgentJWT", auto_error=False)


def current_agent(
    request: Request, _: HTTPAuthorizationCredentials | None = Depends(_BEARER)
) -> uuid.UUID:
    """FastAPI dependency: the authenticated agent's id, or 401."""
    state = app_state(request)
    token = bearer(request.headers.get("authorization"))
    if token is None:
        raise _unauthorized("missing bearer token")
    agent_id = agent_id_from_token(token, state.settings.jwt_secret_key)
    if agent_id is None:
        raise _unauthorized("invalid or expired token")
    with state.pool.connection() as conn:
        row = conn.execute("SELECT 1 FROM agent WHERE id = %s", (agent_id,)).fetchone()
    if row is None:
        raise _unauthorized("unknown agent")
    return agent_id


def db_unavailable(exc: Exception) -> HTTPException:
    """The 503 answered when the database cannot be reached."""
    kind = type(exc).__name__
    return HTTPException(status_code=503, detail=f"database unavailable ({kind})")


DB_ERRORS = (psycopg.OperationalError,)
