"""Bearer tokens: HS256 JWTs signed with JWT_SECRET_KEY, or the raw agent UUID."""

from __future__ import annotations

import time
import uuid

import jwt

ALGORITHM = "HS256"


def issue_token(agent_id: uuid.UUID, secret: str, lifetime_minutes: int) -> tuple[str, int]:
    """Return ``(jwt, expires_in_seconds)`` for ``agent_id``."""
    now = int(time.time())
    expires_in = lifetime_minutes * 60
    claims = {"sub": str(agent_id), "iat": now, "exp": now + expires_in, "typ": "access"}
    return jwt.encode(claims, secret, algorithm=ALGORITHM), expires_in


def agent_id_from_token(token: str, secret: str) -> uuid.UUID | None:
    """Return the agent id a token names, or None when the token is invalid or expired.

    The caller still has to check that the agent exists.
    """
    token = token.strip()
    try:
        return uuid.UUID(token)
    except ValueError:
        pass
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
        return uuid.UUID(str(claims["sub"]))
    except (jwt.PyJWTError, ValueError, TypeError):
        return None


def bearer(header: str | None) -> str | None:
    """Extract the token from an ``Authorization: Bearer ...`` header value."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
