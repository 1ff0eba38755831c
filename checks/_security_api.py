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
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from golive.api import Context, Outcome
from golive.openapi import answer_reason
from golive.targets.http import retry_after_seconds

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


def _refusal_kind(resp: Any) -> str | None:
    """What a 400/422 validation answer complains about: 'credentials' when an error is
    about the Authorization header (FastAPI's answer to a missing required header), else
    'body' when one is about the request body (so the request got past authentication)."""
    try:
        doc = resp.json()
    except ValueError:
        return None
    detail = doc.get("detail") if isinstance(doc, dict) else None
    if not isinstance(detail, list) or not detail:
        return None
    locs = [
        [str(x).lower() for x in item.get("loc", [])] for item in detail if isinstance(item, dict)
    ]
    if any(loc[:2] == ["header", "authorization"] for loc in locs):
        return "credentials"
    if any(loc[:1] == ["body"] for loc in locs):
        return "body"
    return None


def _judge_auth(
    code: int, anonymous: int, is_anonymous: bool, refusal: str | None = None
) -> tuple[str, str]:
    """(verdict, what happened) of one unauthenticated or forged-token request; `refusal`
    is what a 400/422 answer complained about (see `_refusal_kind`)."""
    if code in (401, 403):
        return "rejected", f"answered {code}"
    if 200 <= code < 300:
        return "accepted", f"answered {code}"
    if code >= 500:
        return "server error", f"answered {code} (a server error, not 401/403)"
    if code in (400, 422) and refusal == "credentials":
        return "rejected", f"answered {code}: the Authorization header is required"
    if code in (400, 422) and not is_anonymous and refusal == "body":
        # the API went on to validate the body: the token was accepted
        return "accepted", f"let the request past authentication (answered {code} about the body)"
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


# ---------------------------------------------------------------------------------------------
# security.rate_limit_enforced: which endpoint to burst, and what the limiter says about itself

_LIMIT_HEADERS = (
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "ratelimit-policy",
    "ratelimit",
    "retry-after",
)
# endpoints that limiters exempt on purpose (probes, scrapes): tried last
_PROBE_WORDS = ("health", "ready", "live", "metrics", "ping", "status")


@dataclass
class Endpoint:
    """A candidate for the burst: how to call it and what one request showed."""

    method: str
    path: str
    found_by: str
    headers: dict[str, str] = field(default_factory=dict)  # sent with every request
    status: int | None = None
    limit_headers: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """`GET /tools`."""
        return f"{self.method} {self.path}"

    @property
    def header_limit(self) -> int | None:
        """The limit the answer's headers announce (X-RateLimit-Limit, RateLimit-Limit)."""
        for name in ("x-ratelimit-limit", "ratelimit-limit"):
            n = sec.parse_int((self.limit_headers.get(name) or "").split(",")[0].split(";")[0])
            if n is not None:
                return n
        return None

    @property
    def header_remaining(self) -> int | None:
        """The requests the answer's headers say are left in the window."""
        for name in ("x-ratelimit-remaining", "ratelimit-remaining"):
            n = sec.parse_int(self.limit_headers.get(name))
            if n is not None:
                return n
        return None


def limit_headers(resp: Any) -> dict[str, str]:
    """The rate-limit headers of an answer (lower-case names)."""
    return {k: resp.headers[k] for k in _LIMIT_HEADERS if k in resp.headers}


def _order(op: Any) -> tuple[int, int, int, int, str]:
    words = op.path.lower()
    probe_like = any(w in words for w in _PROBE_WORDS)
    queries = sum(1 for p in op.parameters() if p.get("in") == "query")
    return (int(probe_like), int(op.declares_auth), queries, op.path.count("/"), op.path)


async def rate_limit_candidates(
    ctx: Context, path: str | None, method: str, tries: int
) -> list[Endpoint] | str:
    """The endpoints to burst, best first, each already called once; or why there is none.

    `path` given: that endpoint only. Otherwise the API's OpenAPI document is read for
    operations of `method` without path parameters or required query parameters; the first
    `tries` of them (endpoints limiters usually exempt, such as health and metrics, last)
    are called once, again with the API's token when the answer asks for credentials
    (401/403, or a 422 about the Authorization header); a token is only requested from the
    API with --allow-writes (the API may record the request), else only a configured one is
    used. Those answering 2xx (or 429) are kept, the ones whose answer carries rate-limit
    headers first."""
    import httpx

    from golive.openapi import OpenApiUnavailable

    credentials: dict[str, str] | None = None

    async def auth() -> dict[str, str]:
        # Requesting a token is a request some APIs record (an audit row): only a
        # configured token is used in a read-only run, and only once an endpoint asks for one.
        nonlocal credentials
        if credentials is None:
            credentials = {}
            if ctx.api.api_cfg.token or ctx.settings.allow_writes:
                credentials = await ctx.api.auth_headers()
            if credentials:
                ctx.secret(credentials["Authorization"].partition(" ")[2])
        return credentials

    if path is not None:
        found = [Endpoint(method, path, "the check's `path` parameter")]
    else:
        try:
            doc = await ctx.api.openapi(ctx.deadline)
        except OpenApiUnavailable as exc:
            return (
                f"cannot find an endpoint to burst: {exc}; set `path` to a cheap {method} "
                "endpoint that the API rate-limits"
            )
        ops = [
            op
            for op in doc.operations()
            if op.method == method
            and not op.has_path_params
            and not op.required_params("query")
            and not [h for h in op.required_params("header") if h.lower() != "authorization"]
        ]
        ops.sort(key=_order)
        found = [
            Endpoint(op.method, op.path, f"{doc.source}: {method} without parameters")
            for op in ops[:tries]
        ]
        if not found:
            return (
                f"the API's OpenAPI document has no {method} operation without parameters "
                f"to burst; set `path` to a cheap {method} endpoint that the API rate-limits"
            )
    for ep in found:
        try:
            resp = await ctx.api.request(ep.method, ep.path, headers=ep.headers)
            refused = resp.status_code in (401, 403) or (
                resp.status_code in (400, 422) and _refusal_kind(resp) == "credentials"
            )
            if refused and await auth():
                ep.headers = dict(await auth())
                resp = await ctx.api.request(ep.method, ep.path, headers=ep.headers)
        except httpx.HTTPError as exc:
            ep.found_by += f"; {ctx.api.describe(exc)}"
            continue
        ep.status = resp.status_code
        ep.limit_headers = limit_headers(resp)
        if ep.limit_headers:
            ep.found_by += f"; its answer carries {', '.join(sorted(ep.limit_headers))}"
    usable = [
        ep for ep in found if ep.status is not None and (200 <= ep.status < 300 or ep.status == 429)
    ]
    if not usable:
        tried = ", ".join(f"{ep.label} {ep.status or 'no answer'}" for ep in found[:6])
        return (
            f"no candidate endpoint answered 2xx to golive ({tried}); set `path` to a "
            f"cheap {method} endpoint that answers 2xx"
        )
    usable.sort(key=lambda ep: (ep.status != 429, not ep.limit_headers))
    return usable


def recovery(resp: Any, now: float) -> dict[str, Any]:
    """When the API says its throttle lifts, from a 429 answer: `Retry-After`, else
    `X-RateLimit-Reset` (epoch seconds, or seconds when small), else `RateLimit-Reset`
    (seconds), else a `retry_after` field of a JSON body. `lifts_in_s` is None when the
    answer says nothing."""
    out: dict[str, Any] = {"lifts_in_s": None, "source": None}
    headers = limit_headers(resp)
    wait = retry_after_seconds(headers.get("retry-after"), now)
    if wait is not None:
        return {"lifts_in_s": round(wait, 1), "source": "Retry-After header"}
    reset = sec.parse_int(headers.get("x-ratelimit-reset"))
    if reset is not None:
        wait = reset - now if reset > 1_000_000_000 else reset
        return {"lifts_in_s": round(max(0.0, wait), 1), "source": "X-RateLimit-Reset header"}
    reset = sec.parse_int(headers.get("ratelimit-reset"))
    if reset is not None:
        return {"lifts_in_s": float(max(0, reset)), "source": "RateLimit-Reset header"}
    try:
        body = resp.json()
    except ValueError:
        body = None
    hint = body.get("retry_after") if isinstance(body, dict) else None
    if isinstance(hint, (int, float)) and not isinstance(hint, bool) and hint >= 0:
        return {"lifts_in_s": float(hint), "source": "retry_after in the 429's JSON body"}
    return out


async def documented_endpoints(ctx: Context, endpoints: list[str]) -> list[str] | Outcome:
    """`security.auth_required`'s endpoints (`METHOD /path`) as the API's OpenAPI document
    names them (`/tasks` becoming `/tasks/`), or as configured when the API serves no
    document; an ERROR outcome naming an endpoint that is not one of its operations."""
    from golive.openapi import OpenApiUnavailable

    try:
        doc = await ctx.api.openapi(ctx.deadline)
    except OpenApiUnavailable:
        doc = None  # the endpoints are taken as configured
    if doc is not None:
        listed = []
        for endpoint in endpoints:
            method, _, path = endpoint.strip().partition(" ")
            op = doc.find(method, path.strip() or "/")
            if op is None:
                return Outcome.error(
                    f"{method.upper()} {path.strip()} is not an operation of the API's "
                    f"OpenAPI document ({doc.source}): set `endpoints` to protected "
                    "operations the API serves"
                )
            listed.append(op.label)
        endpoints = listed
    return endpoints


async def auth_probes(
    ctx: Context,
    endpoints: list[str],
    variants: list[tuple[str, str | None]],
    agent_id: str | None,
    default_keys: int,
    t_end: float,
) -> tuple[list[dict[str, Any]], list[str], list[str]] | Outcome:
    """Send each endpoint a request with each token of `variants` (a 429 waited out until
    the loop time `t_end`) and judge the answers: (evidence rows, failures, inconclusive
    answers), or an ERROR outcome when the API cannot be reached. `default_keys` is how many
    of the variants are signed with well-known default keys (sent when `agent_id` is set)."""
    import httpx

    rows: list[dict[str, Any]] = []
    fails: list[str] = []
    unclear: list[str] = []
    for endpoint in endpoints:
        method, _, path = endpoint.strip().partition(" ")
        method, path = method.upper(), path.strip() or "/"
        body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
        anonymous: int | None = None  # the status of the request without a token
        for label, token in variants:
            headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
            try:
                resp = await _request_honouring_429(ctx, method, path, headers, body, t_end)
            except httpx.HTTPError as exc:
                return Outcome.error(
                    f"{method} {path}: {ctx.api.describe(exc)}", evidence={"requests": rows}
                )
            code = resp.status_code
            if anonymous is None:
                anonymous = code
            refusal = _refusal_kind(resp) if code in (400, 422) else None
            verdict, problem = _judge_auth(code, anonymous, token is None, refusal)
            default_key = "well-known default key" in label
            if verdict == "accepted":
                fails.append(
                    f"{method} {path} accepted a token signed with a well-known default "
                    "key: the signing key is a default (see security.jwt_secret)"
                    if default_key
                    else f"{method} {path} {problem} to a request with {label}"
                )
            elif verdict == "server error":
                fails.append(f"{method} {path} {problem} to a request with {label}")
            elif verdict == "inconclusive":
                unclear.append(f"{method} {path} {problem} to a request with {label}")
            if not default_key or verdict != "rejected":
                row = {
                    "endpoint": f"{method} {path}",
                    "request": label,
                    "status": code,
                    "verdict": verdict,
                }
                if code >= 400 and code not in (401, 403):
                    row["reason"] = ctx.redactor.redact(answer_reason(resp, 160))
                rows.append(row)
            if default_key and verdict == "accepted":
                break
        if agent_id:
            rows.append(
                {
                    "endpoint": f"{method} {path}",
                    "request": f"{default_keys} tokens signed with default keys",
                    "status": None,
                    "verdict": "see above if any was not rejected",
                }
            )
    return rows, fails, unclear


@dataclass
class Bursts:
    """What the bursts of `security.rate_limit_enforced` saw."""

    bursts: list[dict[str, Any]] = field(default_factory=list)  # one row per endpoint
    errors: list[str] = field(default_factory=list)  # connection errors, described
    hit: dict[str, Any] = field(default_factory=dict)  # the first 429: endpoint, after_requests
    hit_resp: Any = None  # the first 429 answer
    total: Counter[int] = field(default_factory=Counter)  # statuses of every request sent


async def burst_endpoints(
    ctx: Context,
    found: list[Endpoint],
    limit: int | None,
    extra: int,
    max_requests: int,
    max_endpoints: int,
    concurrency: int,
    t_end: float,
) -> Bursts:
    """Burst up to `max_endpoints` of the candidates in turn, `concurrency` requests at a
    time, until one answers 429 (see `security.rate_limit_enforced`): `remaining + extra`
    requests each (the endpoint's header), else `limit + extra`, at most `max_requests` in
    all, none started after the loop time `t_end`. A burst that crosses a minute boundary
    without a 429 is repeated once. The bursts so far are recorded as evidence after each."""
    import httpx

    loop = asyncio.get_running_loop()
    run = Bursts()
    bursts, errors, hit, total = run.bursts, run.errors, run.hit, run.total
    budget = max_requests

    async def burst(ep: Endpoint, n: int, statuses: Counter[int]) -> None:
        sent = 0

        async def worker() -> None:
            nonlocal sent
            while sent < n and not hit and loop.time() < t_end and len(errors) < 20:
                sent += 1
                try:
                    resp = await ctx.api.request(ep.method, ep.path, headers=ep.headers)
                except httpx.HTTPError as exc:
                    errors.append(ctx.api.describe(exc))
                    continue
                statuses[resp.status_code] += 1
                if resp.status_code == 429 and not hit:
                    hit.update(endpoint=ep, after_requests=sum(statuses.values()))
                    run.hit_resp = resp

        await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))

    tried = found[: max(1, max_endpoints)]
    for ep in tried:
        if budget <= 0 or loop.time() >= t_end:
            break
        want = ep.header_remaining if ep.header_remaining is not None else None
        if want is None:
            want = ep.header_limit if ep.header_limit is not None else limit
        planned = min(want + extra, budget) if want is not None else budget
        statuses: Counter[int] = Counter()
        t0, started = time.time(), loop.time()
        await burst(ep, planned, statuses)
        repeats = 1
        if not hit and int(t0 // 60) != int(time.time() // 60) and loop.time() < t_end:
            repeats = 2  # a fixed window may have reset in the middle of the burst
            await burst(ep, planned, statuses)
        sent = sum(statuses.values())
        budget -= sent
        total.update(statuses)
        bursts.append(
            {
                "endpoint": ep.label,
                "found_by": ep.found_by,
                "limit_headers": ep.limit_headers or None,
                "planned_requests": planned,
                "bursts": repeats,
                "seconds": round(loop.time() - started, 2),
                "statuses": {str(k): v for k, v in sorted(statuses.items())},
            }
        )
        ctx.record("bursts", bursts)
        if hit or (errors and sent < planned // 2):
            break
    return run
