"""Checks of the security section: secrets, JWT, rate limits, auth, permissions, roles, containers.

Every value read from a secret (env values, container environments, tokens, keys found by
the scanner) is registered with `ctx.secret` before anything could print it; summaries and
evidence name variables, files and lines, never values. Helpers: `_security.py` (pure
functions: secret strength, JWTs, compose values, ports), `_security_env.py` (a service's
environment from compose files and containers), `_secretscan.py` (the detect-secrets engine),
`_security_scan.py` (the secrets scan of one host's project tree), `_security_api.py`
(live tokens, rate-limit candidates, bursts and waits, the documented endpoints, forged
tokens and verdicts), `_security_host.py` (file permissions, key files, role attributes,
container hardening, published ports, compose entries as written).
"""

from __future__ import annotations

import asyncio
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from golive.api import Context, Finding, Outcome, Severity, check

from . import _security as sec
from ._security_api import (
    _configured_limit,
    _forged_tokens,
    _live_token_lifetime,
    _wait_for_reset,
    auth_probes,
    burst_endpoints,
    documented_endpoints,
    limit_headers,
    rate_limit_candidates,
    recovery,
)
from ._security_env import (
    EnvSource,
    available,
    compose_envs,
    compose_projects,
    container_envs,
    env_sources,
)
from ._security_host import (
    _ATTR_NAME,
    _DANGEROUS_MEMBERSHIPS,
    _ROLE_ATTRS,
    _container_problems,
    compose_plaintext,
    permission_problems,
    published_ports,
)
from ._security_scan import secrets_scan_on_host


@check(
    id="security.secrets_scan",
    title="No secrets are committed in the project tree",
    severity=Severity.HIGH,
    needs=("project", "host"),
    remediation="Move each reported secret to the .env file or a secret store, rotate it (it "
    "has been exposed), and record reviewed false positives in a detect-secrets baseline "
    "(`detect-secrets scan --all-files > .secrets.baseline`) or mark the line with "
    "`# pragma: allowlist secret`.",
    tags=("secrets",),
)
async def secrets_scan(
    ctx: Context,
    baseline: str | None = None,
    exclude: list[str] = [],  # noqa: B006 - read-only default, validated by pydantic
    secret_files: list[str] | None = None,
    max_file_bytes: int = 1_000_000,
    max_findings: int = 200,
) -> Outcome:
    """Scans every file of the project tree (walked by golive, so release archives that are
    not git checkouts and absolute paths work) with detect-secrets' plugins (AWS keys, private
    keys, tokens of known services, high-entropy strings, secret keywords) and its heuristic
    filters (templates, `${VAR}` references, UUIDs, sequential strings, lock files), plus
    golive's placeholder filter (`changeme`, `<password>`, `example`). Skips .git,
    virtualenvs and build output, files matching `exclude` globs, files larger than
    `max_file_bytes`, and the deployment's secret files (`secret_files`, by default the
    project's env_files such as `.env`: secrets belong there; security.file_permissions
    checks that they are private). Secrets listed in a detect-secrets `baseline` file are
    known and not reported, unless audited as real (`is_secret: true`). Reports file:line and
    the kind of secret, never its value. Runs on every host of `targets.hosts`: a remote
    tree is walked over SFTP and its files are copied into a private temporary directory
    (mode 0700, removed at the end) for detect-secrets, which reads files by path."""
    if not ctx.host.is_local:
        with tempfile.TemporaryDirectory(prefix="golive-secrets-") as tmp:
            return await secrets_scan_on_host(
                ctx, baseline, exclude, secret_files, max_file_bytes, max_findings, Path(tmp)
            )
    return await secrets_scan_on_host(
        ctx, baseline, exclude, secret_files, max_file_bytes, max_findings
    )


# ---------------------------------------------------------------------------------------------
# JWT


@check(
    id="security.jwt_secret",
    title="JWT signing secret is set and strong",
    severity=Severity.CRITICAL,
    needs=("project", "host"),
    remediation="Set JWT_SECRET_KEY to at least 32 random bytes (e.g. `openssl rand -base64 48`) "
    "in the .env file or a secret store, reference it as ${JWT_SECRET_KEY:?} without a default, "
    "and recreate the api container so that it runs with the new key.",
    tags=("secrets", "jwt"),
)
async def jwt_secret(
    ctx: Context,
    variable: str = "JWT_SECRET_KEY",
    services: list[str] = ["api"],  # noqa: B006
    min_length: int = 32,
    min_entropy_bits: float = 100.0,
    known_defaults: list[str] = list(sec.KNOWN_DEFAULT_SECRETS),  # noqa: B006
) -> Outcome:
    """Resolves the JWT signing key the way Compose does (the service's `environment:` and
    `env_file:`, interpolated from `.env` and the shell, including `${VAR:-default}` and
    `${VAR:?error}`) and, when a container engine is configured and answers, reads it from
    the running containers of the same services. Fails when the key is missing, equals a
    well-known default or placeholder (e.g. `dev-secret-key-change-in-production`,
    `changeme`, `secret`), is shorter than `min_length`, is a repeated or sequential
    pattern, or has an estimated entropy below `min_entropy_bits`. Warns when the running
    container uses another key than the compose files would set (it was started from an
    older configuration). The key itself never appears in any output."""
    sources = compose_envs(ctx, services) + await container_envs(ctx, services)
    if not sources:
        env = ctx.project.env()
        sources = [
            EnvSource(
                "environment (.env and shell)",
                {variable: env.get(variable)} if variable in env else {},
            )
        ]
    rows: list[dict[str, Any]] = []
    failures: list[str] = []
    for src in sources:
        value = src.get(variable)
        ctx.secret(value)
        if variable in src.problems:
            reason = src.problems[variable]
        elif variable not in src.values:
            reason = "is not set"
        else:
            reason = (
                sec.secret_weakness(
                    value,
                    min_length=min_length,
                    min_entropy_bits=min_entropy_bits,
                    known=known_defaults,
                )
                or ""
            )
        rows.append(
            {
                "source": src.name,
                "set": bool(value),
                "length": len(value or ""),
                "entropy_bits": round(sec.entropy_estimate(value or ""), 1),
                "verdict": reason or "strong",
            }
        )
        if reason:
            failures.append(f"{variable} {reason} ({src.name})")
    evidence: dict[str, Any] = {"variable": variable, "sources": rows}
    if failures:
        more = f" (+{len(failures) - 1} more)" if len(failures) > 1 else ""
        return Outcome.failed(failures[0] + more, evidence=evidence)
    values = {src.get(variable) for src in sources}
    if len(values) > 1:
        return Outcome.warn(
            f"{variable} is strong everywhere, but the running containers and the compose "
            "files hold different keys: recreate the containers so that they run the "
            "configuration you reviewed",
            evidence=evidence,
        )
    names = ", ".join(s.name for s in sources)
    return Outcome.passed(f"{variable} is set and strong ({names})", evidence=evidence)


@check(
    id="security.jwt_expiry",
    title="Access tokens expire within the allowed lifetime",
    severity=Severity.MEDIUM,
    remediation="Set JWT_ACCESS_TOKEN_EXPIRE_MINUTES to 60 or less in the api service's "
    "environment and recreate the containers; use refresh tokens for long sessions.",
    tags=("jwt",),
)
async def jwt_expiry(
    ctx: Context,
    max_minutes: int = 60,
    variable: str = "JWT_ACCESS_TOKEN_EXPIRE_MINUTES",
    services: list[str] = ["api"],  # noqa: B006
    issue_token: bool = True,
) -> Outcome:
    """The access-token lifetime is at most `max_minutes`, as configured for the api service
    (compose files with .env, and the running containers' environment when a container
    engine answers) and, when the API target is configured with an agent id (or a JWT as
    token) and `issue_token` is on, as measured on a token the API issues right now (`exp`
    minus `iat`). A lifetime that is not a number, or longer than the maximum in any source,
    fails; no source at all is a warning because the application's built-in default then
    applies unseen. With `targets.hosts`, the compose files of every host are read (over
    SSH; the source names the host), the containers and the API once: one result."""
    projects, unread = await compose_projects(ctx)
    sources = [
        src for where, project in projects for src in compose_envs(ctx, services, project, where)
    ] + await container_envs(ctx, services)
    rows: list[dict[str, Any]] = []
    bad: list[str] = []
    for src in sources:
        raw = src.get(variable)
        if raw is None:
            rows.append({"source": src.name, "minutes": None, "verdict": "not set"})
            continue
        minutes = sec.parse_int(raw)
        if minutes is None:
            bad.append(f"{variable}={raw!r} is not a whole number of minutes ({src.name})")
            verdict = "not a number"
        elif minutes > max_minutes or minutes <= 0:
            what = "never expires" if minutes <= 0 else f"is {minutes} minutes"
            bad.append(
                f"access tokens live too long: {variable} {what}, more than the "
                f"allowed {max_minutes} ({src.name})"
            )
            verdict = "too long"
        else:
            verdict = "ok"
        rows.append({"source": src.name, "minutes": minutes, "verdict": verdict})
    live = await _live_token_lifetime(ctx) if issue_token else None
    if live is not None:
        source, lifetime, note = live
        verdict = (
            "unknown"
            if lifetime is None
            else ("too long" if lifetime > max_minutes + 0.5 else "ok")
        )
        rows.append(
            {
                "source": source,
                "minutes": None if lifetime is None or math.isinf(lifetime) else round(lifetime, 1),
                "verdict": verdict,
                "note": note,
            }
        )
        if lifetime is not None and math.isinf(lifetime):
            bad.append("the API issues tokens without an expiry (no exp claim): they never expire")
        elif lifetime is not None and lifetime > max_minutes + 0.5:
            bad.append(
                f"the API issues tokens that live {lifetime:.0f} minutes, more than the "
                f"allowed {max_minutes}"
            )
    evidence: dict[str, Any] = {"max_minutes": max_minutes, "sources": rows}
    if unread:
        evidence["not_read"] = unread
    if bad:
        return Outcome.failed(bad[0], evidence=evidence)
    known = [r for r in rows if isinstance(r.get("minutes"), (int, float))]
    if not known:
        if not rows:
            return Outcome.skip(
                "no compose file, container or API to read the token lifetime from",
                evidence=evidence,
            )
        return Outcome.warn(
            f"{variable} is not set for {', '.join(services)}: the "
            "application's built-in default lifetime applies unseen",
            evidence=evidence,
        )
    longest = max(float(r["minutes"]) for r in known)
    text = f"access tokens live at most {longest:.0f} minutes (limit {max_minutes})"
    measured = {"token_lifetime_minutes": longest}
    if unread:
        return Outcome.warn(
            text + ", but " + "; ".join(unread), evidence=evidence, measurements=measured
        )
    return Outcome.passed(text, evidence=evidence, measurements=measured)


# ---------------------------------------------------------------------------------------------
# rate limiting


@check(
    id="security.rate_limit_config",
    title="Rate limiting is enabled with explicit limits",
    severity=Severity.MEDIUM,
    needs=("project", "host"),
    remediation="Set RATE_LIMIT_ENABLED=true and positive MAX_REQUESTS_PER_MINUTE, "
    "MAX_REQUESTS_PER_HOUR and MAX_REQUEST_SIZE in the api service's environment.",
    tags=("rate-limit",),
)
async def rate_limit_config(
    ctx: Context,
    services: list[str] = ["api"],  # noqa: B006
    enabled_variable: str = "RATE_LIMIT_ENABLED",
    limit_variables: list[str] = [  # noqa: B006
        "MAX_REQUESTS_PER_MINUTE",
        "MAX_REQUESTS_PER_HOUR",
        "MAX_REQUEST_SIZE",
    ],
    max_per_minute: int | None = None,
) -> Outcome:
    """Rate limiting is switched on (`RATE_LIMIT_ENABLED` true) and every limit variable is
    set to a positive whole number, in the api service's environment as Compose resolves it
    and in its running containers when a container engine answers. With `max_per_minute`,
    a per-minute limit above it fails too. A limit that is missing fails: the checklist asks
    for explicit limits, not the application's unseen defaults."""
    sources = await env_sources(ctx, services)
    if not sources:
        return Outcome.failed(
            f"no compose service named {', '.join(services)} was found, so "
            "no rate limit is configured for it",
            evidence={"compose_files": [str(p) for p in ctx.project.compose_paths()]},
        )
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    for src in sources:
        row: dict[str, Any] = {"source": src.name}
        enabled = src.get(enabled_variable)
        row[enabled_variable] = enabled
        flag = sec.parse_bool(enabled)
        if flag is None:
            why = "is not set" if enabled is None else f"is {enabled!r}, not true or false"
            problems.append(f"{enabled_variable} {why} ({src.name})")
        elif not flag:
            problems.append(f"rate limiting is disabled: {enabled_variable}={enabled} ({src.name})")
        for var in limit_variables:
            raw = src.get(var)
            row[var] = raw
            n = sec.parse_int(raw)
            if raw is None:
                problems.append(f"{var} is not set ({src.name})")
            elif n is None or n <= 0:
                problems.append(f"{var}={raw!r} is not a positive whole number ({src.name})")
            elif (
                max_per_minute is not None
                and var == "MAX_REQUESTS_PER_MINUTE"
                and n > max_per_minute
            ):
                problems.append(f"{var}={n} is above the allowed {max_per_minute} ({src.name})")
        rows.append(row)
    evidence = {"sources": rows}
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        return Outcome.failed(problems[0] + more, evidence=evidence)
    first = rows[0]
    limits = ", ".join(f"{v}={first[v]}" for v in limit_variables)
    return Outcome.passed(f"rate limiting is enabled with {limits}", evidence=evidence)


@check(
    id="security.rate_limit_enforced",
    title="The API enforces its rate limit (answers 429 to a burst)",
    severity=Severity.HIGH,
    needs=("api",),
    remediation="Make the API enforce its limit (with slowapi: add SlowAPIMiddleware or "
    "decorate the routes, since default_limits alone limit nothing; counters shared "
    "through Redis; the proxy forwarding the real client address) and send Retry-After "
    "with every 429.",
    tags=("rate-limit",),
    # the burst throttles golive's own address until the limiter's window ends: run it
    # alone, last, so that no other check of the run is throttled
    isolation="final",
)
async def rate_limit_enforced(
    ctx: Context,
    path: str | None = None,
    method: str = "GET",
    limit: int | None = None,
    limit_variable: str = "MAX_REQUESTS_PER_MINUTE",
    services: list[str] = ["api"],  # noqa: B006
    extra: int = 10,
    max_requests: int = 1000,
    max_endpoints: int = 3,
    concurrency: int = 8,
    wait_for_reset: bool = False,
) -> Outcome:
    """Finds an endpoint that the API serves and rate-limits, bursts it, and expects a 429
    before the burst ends.

    The endpoint comes from the API's OpenAPI document unless `path` names one: `method`
    operations without path or required query parameters, health- and metrics-like ones
    (which limiters exempt on purpose) last; each is called once (again with the API's
    token when the answer asks for credentials: a configured token, or with --allow-writes
    one requested for `targets.api.agent_id`) and those answering 2xx are kept, the ones
    whose answer carries rate-limit headers (`X-RateLimit-*`, `RateLimit-*`) first.
    Up to `max_endpoints` of them are burst in turn with `remaining + extra` requests (the
    header's count), else `limit + extra` (the `limit` param, else the api service's
    `MAX_REQUESTS_PER_MINUTE` from compose files and running containers), at most
    `max_requests` in all; each burst stops at the first 429. A burst that crosses a minute
    boundary without a 429 is repeated once, so that a fixed-window limiter cannot slip
    through. The evidence names the endpoint, how it was found, the limit announced and
    observed, and every burst. No 429 anywhere is a FAIL (configured but not enforced, or
    no limit at all); no endpoint to burst is an ERROR saying why.

    Recovery is read, not waited for: the 429's `Retry-After` (else `X-RateLimit-Reset`,
    `RateLimit-Reset`, or a `retry_after` field of its JSON body) says when the throttle
    lifts, and the evidence states it (`recovery`); a 429 without any of them is noted
    there (a client cannot know when to retry). The check runs last, so no check of this
    run is throttled; golive's address stays throttled until then. With `wait_for_reset`
    it also waits (within its timeout) until the endpoint answers again, and records after
    how long. Read-only: only `method` requests are sent (GET by default)."""
    source = "param"
    enabled: bool | None = None
    if limit is None:
        limit, enabled, source = await _configured_limit(ctx, limit_variable, services)
    method = method.upper()
    found = await rate_limit_candidates(ctx, path, method, max(max_endpoints * 3, 8))
    if isinstance(found, str):
        return Outcome.error(found, evidence={"limit_per_minute": limit})
    loop = asyncio.get_running_loop()
    t_end = loop.time() + ctx.timeout - 1.0
    run = await burst_endpoints(
        ctx, found, limit, extra, max_requests, max_endpoints, concurrency, t_end
    )
    bursts, errors, hit, hit_resp, total = run.bursts, run.errors, run.hit, run.hit_resp, run.total
    evidence: dict[str, Any] = {
        "limit_per_minute": limit,
        "limit_source": source or "unknown",
        "candidates": [
            {"endpoint": ep.label, "status": ep.status, "limit_headers": ep.limit_headers or None}
            for ep in found
        ],
        "bursts": bursts,
        "connection_errors": errors[:5],
    }
    if hit:
        ep = hit["endpoint"]
        announced = ep.header_limit
        rec = recovery(hit_resp, time.time())
        rec["waited"] = False
        evidence["endpoint"] = {"endpoint": ep.label, "found_by": ep.found_by}
        evidence["first_429"] = {
            "after_requests": hit["after_requests"],
            "announced_limit": announced,
            "headers": limit_headers(hit_resp) or None,
        }
        when = ""
        if rec["lifts_in_s"] is not None:
            when = f"; it lifts in {rec['lifts_in_s']:g}s ({rec['source']})"
            rec["note"] = (
                "as the API announces it; not verified by waiting (wait_for_reset: true "
                "verifies it, at the cost of the rest of the window)"
            )
        else:
            rec["note"] = (
                "the 429 carried no Retry-After, reset header or retry_after: a client "
                "cannot know when to retry"
                + (f"; the configured window is one minute ({limit}/min)" if limit else "")
            )
            when = "; the 429 says nothing about when to retry"
        if wait_for_reset:
            lifted = await _wait_for_reset(
                ctx, ep.method, ep.path, (hit_resp.headers.get("retry-after")), t_end
            )
            rec["waited"] = True
            rec["throttle_lifted_after_s"] = lifted
            rec.pop("note", None)
            when += (
                f"; it answered again after {lifted:g}s"
                if lifted is not None
                else "; still throttled at the check's timeout"
            )
        evidence["recovery"] = rec
        limits = []
        if announced is not None:
            limits.append(f"X-RateLimit-Limit {announced}")
        if limit is not None:
            limits.append(f"{limit}/min configured")
        limit_text = ", ".join(limits) or "no limit configured or announced"
        return Outcome.passed(
            f"{ep.label} answered 429 after {hit['after_requests']} requests of a burst "
            f"({limit_text}){when}",
            evidence=evidence,
            measurements={"requests_before_429": float(hit["after_requests"])},
        )
    sent = sum(total.values())
    where = ", ".join(b["endpoint"] for b in bursts) or "no endpoint"
    if errors and sent < max(1, sum(b["planned_requests"] for b in bursts)) // 2:
        return Outcome.error(
            f"the API stopped answering during the burst ({len(errors)} "
            f"connection errors, e.g. {errors[0]})",
            evidence=evidence,
        )
    judged = sum(v for k, v in total.items() if k < 400 or k in (401, 403))
    if judged < sent / 2:
        common = ", ".join(f"{k}x{v}" for k, v in total.most_common(3))
        return Outcome.error(
            f"cannot judge rate limiting: {where} answered {common} during the burst; "
            "set `path` to a cheap endpoint that answers 2xx",
            evidence=evidence,
        )
    if limit is not None and limit + extra > max_requests:
        return Outcome.warn(
            f"no 429 in {sent} requests, but the limit of {limit}/min is above "
            f"max_requests={max_requests}: raise max_requests to prove it",
            evidence=evidence,
        )
    elapsed = sum(b["seconds"] for b in bursts)
    if limit is None:
        return Outcome.failed(
            f"{sent} requests to {where} in {elapsed:.1f}s all got through and no limit "
            "is configured: the API has no effective rate limit",
            evidence=evidence,
        )
    why = (
        f"{'RATE_LIMIT_ENABLED is false' if enabled is False else 'it is configured'} "
        f"({limit}/min, {source or 'param'})"
    )
    return Outcome.failed(
        f"rate limit not enforced: {sent} requests to {where} in {elapsed:.1f}s all got "
        f"through without a 429, though {why}",
        evidence=evidence,
    )


# ---------------------------------------------------------------------------------------------
# authentication


@check(
    id="security.auth_required",
    title="Protected endpoints reject requests without a valid token",
    severity=Severity.CRITICAL,
    needs=("api",),
    remediation="Require a verified bearer token on every protected route (a dependency or "
    "middleware that answers 401), reject unsigned and wrongly signed JWTs, and make auth "
    "failures answer 401/403 instead of 5xx.",
    tags=("auth",),
)
async def auth_required(
    ctx: Context,
    endpoints: list[str] = ["POST /tasks/", "GET /agents/"],  # noqa: B006
    default_keys: list[str] = list(sec.KNOWN_DEFAULT_SECRETS[:12]),  # noqa: B006
) -> Outcome:
    """Each protected endpoint (`METHOD /path`) answers 401 or 403 to a request without a
    token, with a malformed token, with an unknown agent id, with an unsigned `alg: none`
    JWT, with a JWT signed by a random key and, when the API target names an agent id, with
    JWTs for that agent signed by well-known default keys (an accepted one means the real
    signing key is a default). A 2xx is a FAIL (the endpoint is open), a 5xx is a FAIL (auth
    failures must be 401, not crashes). A validation answer (400/422) is read: one about
    the missing Authorization header is a rejection, one about the body means the token got
    past authentication (a FAIL for a forged token); other 4xx are warnings because they
    prove nothing, with the API's reason in the evidence. Write methods get an empty JSON
    body, so that nothing valid can be created. A 429 is retried after Retry-After within
    the check's timeout. When the API serves an OpenAPI document, each endpoint must be one
    of its operations (its documented path is used, `/tasks` becoming `/tasks/`); one that
    is not is an ERROR naming it."""
    documented = await documented_endpoints(ctx, endpoints)
    if isinstance(documented, Outcome):
        return documented
    endpoints = documented
    agent_id = ctx.api.api_cfg.agent_id
    variants = _forged_tokens(agent_id, default_keys)
    for _, token in variants:
        ctx.secret(token)
    loop = asyncio.get_running_loop()
    t_end = loop.time() + ctx.timeout - 1.0
    probed = await auth_probes(ctx, endpoints, variants, agent_id, len(default_keys), t_end)
    if isinstance(probed, Outcome):
        return probed
    rows, fails, unclear = probed
    evidence = {
        "requests": rows,
        "default_key_tokens": "tried" if agent_id else "skipped: targets.api.agent_id is not set",
    }
    if fails:
        more = f" (+{len(fails) - 1} more)" if len(fails) > 1 else ""
        return Outcome.failed(fails[0] + more, evidence=evidence)
    if unclear:
        return Outcome.warn(f"could not prove authentication: {unclear[0]}", evidence=evidence)
    return Outcome.passed(
        f"{len(endpoints)} protected endpoint(s) answered 401/403 to every "
        f"request without a valid token ({len(variants)} kinds each)",
        evidence=evidence,
    )


# ---------------------------------------------------------------------------------------------
# files


_WRITABLE_DEFAULT = [
    "*.py",
    "*.sh",
    "*.sql",
    "docker-compose*.yml",
    "docker-compose*.yaml",
    "compose*.yml",
    "compose*.yaml",
    "Dockerfile*",
    "migrations/*",
    "ops/scripts/*",
    "crontab",
]
_SECRET_DEFAULT = [
    ".env",
    "*.env",
    ".env.*",
    "*.key",
    "id_rsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "*.p12",
    "*.pfx",
    ".pgpass",
    "*.keystore",
    "*.jks",
    "*.pem",
]


@check(
    id="security.file_permissions",
    title="Code, compose files and scripts are not world-writable; secret files are private",
    severity=Severity.HIGH,
    needs=("project", "host"),
    remediation="`chmod o-w` the reported code, compose, migration and script files (and "
    "`chmod +t` or `o-w` their directories); `chmod 600` secret files such as .env and keys.",
    tags=("files",),
)
async def file_permissions(
    ctx: Context,
    writable_patterns: list[str] = _WRITABLE_DEFAULT,
    secret_patterns: list[str] = _SECRET_DEFAULT,
    extra_paths: list[str] = [  # noqa: B006
        "/usr/local/bin/daily_backup.sh",
        "/usr/local/bin/health_check.sh",
        "/usr/local/bin/service_restart.sh",
    ],
) -> Outcome:
    """Walks the project tree: code (`*.py`), compose files, migrations, Dockerfiles and ops
    scripts (`writable_patterns`, plus the configured compose files) must not be
    world-writable, nor may a directory of the tree be world-writable without the sticky bit
    (anyone could replace the files in it). Secret-bearing files (`secret_patterns`: `.env`
    and the configured env files, keys, keystores, `.pgpass`; a `*.pem` only when it holds a
    private key; `*.example` and friends excepted) must not be readable by others. The ops
    scripts installed outside the tree (`extra_paths`) are checked when they exist. Runs
    on every host of `targets.hosts` (the project tree at its `project_root`), over SSH for
    remote ones."""
    cfg = ctx.config.targets.project
    assert cfg is not None  # the runner skips the check without a project target
    root = ctx.project_root
    host = ctx.host
    compose = {os.path.normpath(f) for f in cfg.compose_files if not os.path.isabs(f)}
    env_files = {os.path.normpath(f) for f in cfg.env_files}
    problems, checked, absent = await permission_problems(
        host, root, compose, env_files, writable_patterns, secret_patterns, extra_paths
    )
    evidence: dict[str, Any] = {
        "files_checked": checked,
        "problems": problems,
        "extra_paths_absent": absent,
    }
    findings = [
        Finding(p["path"], f"{p['problem']} (mode {p['mode']})", rule="security.file_permissions")
        for p in problems
    ]
    if problems:
        first = problems[0]
        return Outcome.failed(
            f"{len(problems)} permission problem(s), e.g. {first['path']} "
            f"(mode {first['mode']}): {first['problem']}",
            evidence=evidence,
            findings=findings,
        )
    return Outcome.passed(
        f"{checked} code, script and secret files have safe permissions", evidence=evidence
    )


# ---------------------------------------------------------------------------------------------
# database


@check(
    id="security.db_roles",
    title="The application's database role has no administrative attributes",
    severity=Severity.CRITICAL,
    needs=("database",),
    remediation="ALTER ROLE <app role> NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS "
    "NOREPLICATION, revoke its membership in administrative roles, and run migrations and "
    "administration with a separate role.",
    tags=("database",),
)
async def db_roles(ctx: Context, app_role: str | None = None) -> Outcome:
    """Lists every login role with SUPERUSER, CREATEROLE, CREATEDB, BYPASSRLS or REPLICATION
    (from `pg_roles`), and fails when the application role (`app_role`, by default the user
    of the database DSN) has any of them, or is a member of a role that has (it can `SET
    ROLE` to it) or of a predefined role that reaches the server's files or programs
    (`pg_execute_server_program`, `pg_read_server_files`, `pg_write_server_files`,
    `pg_write_all_data`)."""
    role = app_role or ctx.db.user
    if not role:
        return Outcome.error("the database DSN names no user; set params.app_role")
    attrs = ", ".join(_ROLE_ATTRS)
    privileged = await ctx.db.fetch(
        f"SELECT rolname, {attrs} FROM pg_roles WHERE rolcanlogin AND "
        f"({' OR '.join(_ROLE_ATTRS)}) ORDER BY rolname LIMIT 200"
    )
    me = await ctx.db.fetchone(
        f"SELECT rolname, rolcanlogin, {attrs} FROM pg_roles WHERE rolname = %s", (role,)
    )
    if me is None:
        return Outcome.error(
            f"the application role {role!r} does not exist in this cluster",
            evidence={"privileged_login_roles": privileged},
        )
    memberships = await ctx.db.fetch(
        f"SELECT r.rolname, {', '.join('r.' + a for a in _ROLE_ATTRS)} FROM pg_roles r "
        "WHERE r.rolname <> %(role)s AND (r.rolsuper OR r.rolcreaterole OR r.rolcreatedb "
        "OR r.rolbypassrls OR r.rolname = ANY(%(dangerous)s)) "
        "AND pg_has_role(%(role)s, r.oid, 'MEMBER') ORDER BY r.rolname LIMIT 50",
        {"role": role, "dangerous": _DANGEROUS_MEMBERSHIPS},
    )
    table = [
        {
            "role": r["rolname"],
            "attributes": ", ".join(_ATTR_NAME[a] for a in _ROLE_ATTRS if r[a]),
            "is_app_role": r["rolname"] == role,
        }
        for r in privileged
    ]
    own = [_ATTR_NAME[a] for a in _ROLE_ATTRS if me[a]]
    inherited = [
        r["rolname"]
        + (
            f" ({', '.join(_ATTR_NAME[a] for a in _ROLE_ATTRS if r[a])})"
            if any(r[a] for a in _ROLE_ATTRS)
            else ""
        )
        for r in memberships
    ]
    evidence = {
        "app_role": role,
        "app_role_attributes": own,
        "app_role_privileged_memberships": inherited,
        "privileged_login_roles": table,
    }
    if own:
        return Outcome.failed(
            f"the application role {role} has {', '.join(own)}: a "
            "compromised app would own the whole database server",
            evidence=evidence,
        )
    if inherited:
        return Outcome.failed(
            f"the application role {role} is a member of {inherited[0]}, so "
            "it can take over that role's powers",
            evidence=evidence,
        )
    others = ", ".join(r["role"] for r in table) or "none"
    return Outcome.passed(
        f"the application role {role} has no administrative attributes "
        f"(privileged login roles: {others})",
        evidence=evidence,
    )


@check(
    id="security.db_privileges",
    title="Database and schema grants are minimal (PUBLIC cannot create objects)",
    severity=Severity.HIGH,
    needs=("database",),
    remediation="REVOKE CREATE ON SCHEMA public FROM PUBLIC; REVOKE ALL ON DATABASE <db> FROM "
    "PUBLIC; revoke table grants to PUBLIC and to unexpected roles, and fix ALTER DEFAULT "
    "PRIVILEGES that grant to PUBLIC.",
    tags=("database",),
)
async def db_privileges(
    ctx: Context,
    schemas: list[str] = ["public"],  # noqa: B006
    expected_grantees: list[str] = [],  # noqa: B006
) -> Outcome:
    """Reads the ACLs of the current database, of `schemas` and of the tables, views and
    sequences in them (catalog only, bounded). Fails when PUBLIC may CREATE in a schema or
    in the database, when a table, view or sequence is granted to PUBLIC, or when default
    privileges grant to PUBLIC. Warns when PUBLIC may still CONNECT to or create TEMPORARY
    tables in the database, and when objects are granted to roles other than their owner,
    the application role and `expected_grantees`."""
    app_role = ctx.db.user or ""
    db_acl = await ctx.db.fetch(
        "SELECT d.datname, a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' "
        "ELSE pg_get_userbyid(a.grantee) END AS grantee, pg_get_userbyid(d.datdba) AS owner "
        "FROM pg_database d, aclexplode(COALESCE(d.datacl, acldefault('d', d.datdba))) a "
        "WHERE d.datname = current_database()"
    )
    schema_acl = await ctx.db.fetch(
        "SELECT n.nspname, a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' "
        "ELSE pg_get_userbyid(a.grantee) END AS grantee, pg_get_userbyid(n.nspowner) AS owner "
        "FROM pg_namespace n, aclexplode(COALESCE(n.nspacl, acldefault('n', n.nspowner))) a "
        "WHERE n.nspname = ANY(%s) ORDER BY n.nspname, a.privilege_type",
        (schemas,),
    )
    object_acl = await ctx.db.fetch(
        "SELECT n.nspname || '.' || c.relname AS object, c.relkind::text AS kind, "
        "a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' "
        "ELSE pg_get_userbyid(a.grantee) END AS grantee, pg_get_userbyid(c.relowner) AS owner "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a "
        "WHERE c.relacl IS NOT NULL AND n.nspname = ANY(%s) AND c.relkind IN "
        "('r', 'v', 'm', 'p', 'S', 'f') AND a.grantee <> c.relowner "
        "ORDER BY 1, 4, 3 LIMIT 500",
        (schemas,),
    )
    default_acl = await ctx.db.fetch(
        "SELECT pg_get_userbyid(d.defaclrole) AS for_role, d.defaclobjtype::text AS objtype, "
        "a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' "
        "ELSE pg_get_userbyid(a.grantee) END AS grantee "
        "FROM pg_default_acl d, aclexplode(d.defaclacl) a LIMIT 200"
    )
    fails: list[str] = []
    warns: list[str] = []
    for r in schema_acl:
        if r["grantee"] == "PUBLIC" and r["privilege_type"] == "CREATE":
            fails.append(
                f"PUBLIC may CREATE objects in schema {r['nspname']}: any role that "
                "can log in can plant tables or functions the app will use"
            )
    for r in db_acl:
        if r["grantee"] == "PUBLIC" and r["privilege_type"] == "CREATE":
            fails.append(f"PUBLIC may CREATE schemas in database {r['datname']}")
        elif r["grantee"] == "PUBLIC":
            warns.append(f"PUBLIC may {r['privilege_type']} on database {r['datname']}")
    public_objects = sorted({r["object"] for r in object_acl if r["grantee"] == "PUBLIC"})
    if public_objects:
        fails.append(
            f"{len(public_objects)} table(s)/sequence(s) are granted to PUBLIC, e.g. "
            f"{public_objects[0]}"
        )
    for r in default_acl:
        if r["grantee"] == "PUBLIC":
            fails.append(
                f"default privileges of {r['for_role']} grant {r['privilege_type']} "
                "to PUBLIC on every new object"
            )
    allowed = {app_role, *expected_grantees}
    unexpected = sorted(
        {
            r["grantee"]
            for r in object_acl
            if r["grantee"] not in allowed and r["grantee"] != "PUBLIC"
        }
    )
    if unexpected:
        warns.append(
            f"objects are granted to role(s) not in expected_grantees: {', '.join(unexpected)}"
        )
    evidence = {
        "database_acl": db_acl,
        "schema_acl": schema_acl,
        "object_grants": object_acl[:100],
        "default_privileges": default_acl,
    }
    if fails:
        more = f" (+{len(fails) - 1} more)" if len(fails) > 1 else ""
        return Outcome.failed(fails[0] + more, evidence=evidence)
    if warns:
        return Outcome.warn(
            warns[0] + (f" (+{len(warns) - 1} more)" if len(warns) > 1 else ""), evidence=evidence
        )
    return Outcome.passed(
        f"PUBLIC has no privileges on the database nor CREATE on "
        f"{', '.join(schemas)}, and no object is granted beyond its owner "
        "and expected roles",
        evidence=evidence,
    )


# ---------------------------------------------------------------------------------------------
# containers


@check(
    id="security.container_hardening",
    title="Stack containers run unprivileged with no-new-privileges",
    severity=Severity.HIGH,
    needs=("docker",),
    remediation="In the compose file set, for each service: `security_opt: "
    "[no-new-privileges:true]`, `user: <uid>:<gid>`, `cap_drop: [ALL]` without `cap_add`, no "
    "`privileged: true`, no docker.sock volume, and `read_only: true` with tmpfs for scratch.",
    tags=("containers",),
)
async def container_hardening(
    ctx: Context,
    services: list[str] = [],  # noqa: B006
    allow_root: list[str] = [],  # noqa: B006
    writable_rootfs_ok: list[str] = [],  # noqa: B006
) -> Outcome:
    """Inspects every container of the stack (found by compose labels, or the configured
    names) through the engine API: no-new-privileges is set, it is not privileged, it does
    not run as root (unless its service is in `allow_root`), adds no capabilities, does not
    mount the container engine's socket, and does not share the host's PID namespace. A
    writable root filesystem is a warning (unless its service is in `writable_rootfs_ok`).
    `services` limits the check to some services (default: all)."""
    containers = await ctx.docker.containers()
    if services:
        containers = [c for c in containers if ctx.docker.service_of(c) in services]
    if not containers:
        where = ctx.docker.cfg.compose_project or "the engine"
        return Outcome.failed(
            f"no container of the stack was found ({where}); is it "
            "running, and is targets.docker.compose_project right?"
        )
    rows: list[dict[str, Any]] = []
    failing: list[str] = []
    warning: list[str] = []
    for c in containers:
        service = ctx.docker.service_of(c)
        fails, warns = _container_problems(c.attrs)
        if service in allow_root:
            fails = [f for f in fails if not f.startswith("runs as root")]
        if service in writable_rootfs_ok:
            warns = []
        rows.append(
            {
                "container": c.name,
                "service": service,
                "user": (c.attrs.get("Config") or {}).get("User") or "",
                "problems": "; ".join(fails) or "",
                "warnings": "; ".join(warns) or "",
            }
        )
        failing += [f"{c.name}: {f}" for f in fails]
        warning += [f"{c.name}: {w}" for w in warns]
    evidence = {"containers": rows}
    if failing:
        more = f" (+{len(failing) - 1} more)" if len(failing) > 1 else ""
        return Outcome.failed(failing[0] + more, evidence=evidence)
    if warning:
        return Outcome.warn(
            f"{len(containers)} containers are hardened, but "
            f"{len(warning)} have a writable root filesystem (e.g. "
            f"{warning[0].split(':')[0]})",
            evidence=evidence,
        )
    return Outcome.passed(
        f"{len(containers)} containers run unprivileged, as non-root, "
        "with no-new-privileges and a read-only root filesystem",
        evidence=evidence,
    )


@check(
    id="security.exposed_ports",
    title="Database and Redis ports are not published on all interfaces",
    severity=Severity.HIGH,
    remediation="Remove the `ports:` of postgres and redis (services reach them on the compose "
    "network) or bind them to 127.0.0.1 (`127.0.0.1:5432:5432`); do not run the api with "
    "`network_mode: host`.",
    tags=("containers", "network"),
)
async def exposed_ports(
    ctx: Context,
    private_services: list[str] = ["postgres", "redis"],  # noqa: B006
    private_ports: list[int] = [5432, 6379],  # noqa: B006
    no_host_network: list[str] = ["api"],  # noqa: B006
) -> Outcome:
    """In the compose files (when a project is configured) and on the live containers (when a
    container engine answers): the services in `private_services`, and any service whose
    container port is in `private_ports`, publish no port on a non-loopback address (a bare
    `5432` or `5432:5432` listens on 0.0.0.0), and the services in `no_host_network` do not
    use the host's network. Publishing on 127.0.0.1 is fine. With `targets.hosts`, the
    compose files of every host are read (over SSH; the source names the host), and the
    containers once: one result for the whole stack."""
    projects, unread = await compose_projects(ctx)
    use_project = bool(projects)
    use_docker = await available(ctx, "docker")
    if not use_project and not use_docker:
        if unread:
            return Outcome.skip("; ".join(unread), evidence={"not_read": unread})
        return Outcome.skip("needs a project (compose files) or a container engine target")
    containers = await ctx.docker.containers() if use_docker else []
    rows, fails, findings = published_ports(
        ctx, projects, containers, private_services, private_ports, no_host_network
    )
    evidence: dict[str, Any] = {
        "published_ports": rows,
        "compose_checked": use_project,
        "containers_checked": len(containers),
    }
    if unread:
        evidence["not_read"] = unread
    if fails:
        more = f" (+{len(fails) - 1} more)" if len(fails) > 1 else ""
        return Outcome.failed(fails[0] + more, evidence=evidence, findings=findings)
    checked = " and ".join(
        x
        for x, on in (("compose files", use_project), (f"{len(containers)} containers", use_docker))
        if on
    )
    text = f"no database or Redis port is published beyond loopback ({checked})"
    if unread:
        return Outcome.warn(text + ", but " + "; ".join(unread), evidence=evidence)
    return Outcome.passed(text, evidence=evidence)


@check(
    id="security.compose_plaintext_secrets",
    title="Compose files hold no plaintext passwords",
    severity=Severity.HIGH,
    needs=("project", "host"),
    remediation="Replace each literal with a reference such as ${POSTGRES_PASSWORD:?must be "
    "set} whose value lives in the .env file (mode 0600) or a secret store, or use Compose "
    "secrets (`secrets:` + `POSTGRES_PASSWORD_FILE: /run/secrets/...`); rotate the exposed "
    "password (a weak one to at least 16 random characters).",
    tags=("secrets", "containers"),
)
async def compose_plaintext_secrets(ctx: Context, extra_names: list[str] = []) -> Outcome:  # noqa: B006
    """Reads the compose files as written (before interpolation) and fails on every
    `environment:` (and `build.args`) entry of a service (or an `x-` extension merged into it)
    whose name looks secret (`*PASSWORD*`, `*SECRET*`, `*TOKEN*`, `*API_KEY*`, ... and
    `extra_names`) and whose value is a literal, on a literal default in `${VAR:-default}`,
    and on a literal password inside a URL such as `DATABASE_URL`. `${VAR}` references,
    `*_FILE` paths, templates and masked values are fine; a literal that looks like a
    placeholder (`changeme`, `admin`) is the password the service gets, and is reported as
    weak, as is one shorter than 8 characters, a single word or a sequence. Reports
    file:line and the variable, never the value."""
    fails, findings = compose_plaintext(ctx, extra_names)
    files = [ctx.project.relative(p) for p in ctx.project.compose_paths()]
    evidence = {"compose_files": files, "plaintext": fails}
    if not files:
        return Outcome.skip("no compose file found (targets.project.compose_files)")
    if fails:
        weak_ones = [f for f in fails if f["weak"]]
        f = (weak_ones or fails)[0]
        return Outcome.failed(
            f"{len(fails)} plaintext secret(s) in compose files"
            + (f" ({len(weak_ones)} of them weak)" if weak_ones else "")
            + ", e.g. "
            f"{f['service']} {f['variable']} at {f['file']}:{f['line']} "
            f"holds {f['problem']}",
            evidence=evidence,
            findings=findings,
        )
    return Outcome.passed(
        f"no plaintext secret in {len(files)} compose "
        "file(s): secrets come from ${VAR} references",
        evidence=evidence,
    )
