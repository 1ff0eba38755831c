"""API probes of the security section (`checks/security.py`).

The lifetime of a live access token, the configured rate limit, waiting out a 429 (and
until the limiter lets requests through again), the forged tokens that
`security.auth_required` sends and the verdict on each answer. Standard library only at
import time: httpx is imported inside the functions that use it. Secrets read here are
registered with `ctx.secret` before anything could print them.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from typing import Any

from golive.api import Context

from . import _security as sec
from ._security_env import available, env_sources


async def _live_token_lifetime(ctx: Context) -> tuple[str, float | None, str] | None:
    """(source, minutes, note) of an access token issued by the API right now, if possible."""
    if not await available(ctx, "api"):
        return None
    import httpx

    token = ctx.api.api_cfg.token
    if token and sec.jwt_claims(token) is None:
        token = None
    source = "configured API token"
    if token is None and ctx.api.api_cfg.agent_id:
        try:
            resp = await ctx.api.request(
                "POST", "/agents/auth/token", json={"agent_id": ctx.api.api_cfg.agent_id}
            )
        except httpx.HTTPError as exc:
            return ("token issued by the API", None, ctx.api.describe(exc))
        if resp.status_code != 200:
            return (
                "token issued by the API",
                None,
                f"POST /agents/auth/token answered {resp.status_code}",
            )
        try:
            body = resp.json()
        except ValueError:
            body = None
        token = body.get("access_token") if isinstance(body, dict) else None
        ctx.secret(token if isinstance(token, str) else None)
        source = "token issued by the API"
        if not isinstance(token, str):
            return (source, None, "the answer held no access_token")
        expires_in = body.get("expires_in") if isinstance(body, dict) else None
        if isinstance(expires_in, (int, float)) and sec.jwt_claims(token) is None:
            return (source, float(expires_in) / 60.0, "from expires_in")
    if not token:
        return None
    claims = sec.jwt_claims(token)
    if claims is None:
        return (source, None, "the token is not a JWT, so its lifetime cannot be read")
    minutes = sec.token_lifetime_minutes(claims, time.time())
    if minutes is None:
        return (source, math.inf, "the token carries no exp claim: it never expires")
    return (source, minutes, "from the token's exp and iat claims")


async def _configured_limit(
    ctx: Context, variable: str, services: list[str]
) -> tuple[int | None, bool | None, str]:
    """The configured per-minute limit, whether limiting is enabled, and where that came from."""
    for src in await env_sources(ctx, services):
        n = sec.parse_int(src.get(variable))
        if n is not None:
            return n, sec.parse_bool(src.get("RATE_LIMIT_ENABLED")), src.name
    return None, None, ""


async def _wait_for_reset(
    ctx: Context, method: str, path: str, retry_after: str | None, t_end: float
) -> float | None:
    """Seconds until the API stops answering 429 (None if not within the check's time).

    The first wait honours Retry-After. Later ones poll more often than Retry-After asks
    (1, 2, 4, then every 8 s): a sliding-window limiter lets requests through well before
    the end of the fixed window its Retry-After points at."""
    import httpx

    loop = asyncio.get_running_loop()
    start = loop.time()
    hint = sec.parse_int(retry_after)
    delay = float(hint) if hint is not None and hint > 0 else 1.0
    backoff = 1.0
    while True:
        wait = min(delay, t_end - loop.time())
        if wait <= 0:
            return None
        await asyncio.sleep(wait)
        try:
            resp = await ctx.api.request(method, path)
        except httpx.HTTPError:
            resp = None
        if resp is not None and resp.status_code != 429:
            return round(loop.time() - start, 1)
        hint = sec.parse_int(resp.headers.get("retry-after")) if resp is not None else None
        delay = min(float(hint), backoff) if hint is not None and hint > 0 else backoff
        backoff = min(backoff * 2, 8.0)


def _forged_tokens(agent_id: str | None, defaults: list[str]) -> list[tuple[str, str | None]]:
    now = int(time.time())
    claims = {"sub": agent_id or str(uuid.uuid4()), "iat": now, "exp": now + 600, "typ": "access"}
    import secrets

    out: list[tuple[str, str | None]] = [
        ("no token", None),
        ("malformed token", "not-a-token"),
        ("unknown agent id as token", str(uuid.uuid4())),
        ("unsigned token (alg none)", sec.unsigned_token(claims)),
        ("token signed with a wrong key", sec.hs256_token(claims, secrets.token_urlsafe(32))),
    ]
    if agent_id:
        out += [
            ("token signed with a well-known default key", sec.hs256_token(claims, key))
            for key in defaults
        ]
    return out


def _judge_auth(code: int, anonymous: int, is_anonymous: bool) -> tuple[str, str]:
    """(verdict, what happened) of one unauthenticated or forged-token request."""
    if code in (401, 403):
        return "rejected", f"answered {code}"
    if 200 <= code < 300:
        return "accepted", f"answered {code}"
    if code >= 500:
        return "server error", f"answered {code} (a server error, not 401/403)"
    if code in (400, 422) and not is_anonymous and anonymous in (401, 403):
        # without a token the API said 401; with this token it went on to validate the body
        return "accepted", f"let the request past authentication (answered {code}, not 401)"
    return "inconclusive", f"answered {code}, which proves nothing about authentication"


async def _request_honouring_429(
    ctx: Context, method: str, path: str, headers: dict[str, str], body: Any, t_end: float
) -> Any:
    loop = asyncio.get_running_loop()
    while True:
        resp = await ctx.api.request(method, path, headers=headers, json=body)
        if resp.status_code != 429:
            return resp
        hint = sec.parse_int(resp.headers.get("retry-after"))
        wait = float(hint) if hint is not None and hint > 0 else 2.0
        if loop.time() + wait >= t_end:
            return resp
        await asyncio.sleep(wait)
