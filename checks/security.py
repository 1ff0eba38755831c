"""Checks of the security section: secrets, JWT, rate limits, auth, permissions, roles, containers.

Every value read from a secret (env values, container environments, tokens, keys found by
the scanner) is registered with `ctx.secret` before anything could print it; summaries and
evidence name variables, files and lines, never values. Helpers: `_security.py` (pure
functions: secret strength, JWTs, compose values, ports), `_security_env.py` (a service's
environment from compose files and containers), `_secretscan.py` (the detect-secrets engine),
`_security_api.py` (live tokens, rate-limit waits, forged tokens and verdicts),
`_security_host.py` (key files, role attributes, container hardening, compose entries).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import stat
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from golive.api import Context, Finding, Outcome, Severity, check
from golive.openapi import answer_reason

if TYPE_CHECKING:
    from golive.hosts.interface import Host

from . import _secretscan as secretscan
from . import _security as sec
from ._security_api import (
    Endpoint,
    _configured_limit,
    _forged_tokens,
    _judge_auth,
    _live_token_lifetime,
    _refusal_kind,
    _request_honouring_429,
    _wait_for_reset,
    limit_headers,
    rate_limit_candidates,
    recovery,
)
from ._security_env import (
    EnvSource,
    available,
    compose_envs,
    container_envs,
    env_sources,
)
from ._security_host import (
    _ATTR_NAME,
    _DANGEROUS_MEMBERSHIPS,
    _ROLE_ATTRS,
    _container_problems,
    _raw_entries,
)


async def _is_private_key_on(host: Host, path: str) -> bool:
    try:
        return b"PRIVATE KEY" in await host.read_bytes(path, 8192)
    except OSError:
        return False


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], *args: Any) -> None:
    loop.call_soon_threadsafe(fn, *args)


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
            return await _secrets_scan(
                ctx, baseline, exclude, secret_files, max_file_bytes, max_findings, Path(tmp)
            )
    return await _secrets_scan(ctx, baseline, exclude, secret_files, max_file_bytes, max_findings)


async def _fetch(host: Host, root: str, rels: list[str], into: Path) -> list[str]:
    """Copy files of a remote tree into a private local directory (at most 16 reads at a
    time); returns the ones that could not be read."""
    sem = asyncio.Semaphore(16)
    failed: list[str] = []

    async def one(rel: str) -> None:
        async with sem:
            try:
                data = await host.read_bytes(os.path.join(root, rel))
            except OSError:
                failed.append(rel)
                return
        dest = into / rel
        dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        dest.write_bytes(data)

    await asyncio.gather(*(one(r) for r in rels))
    return failed


async def _digests(host: Host, root: str, rels: list[str]) -> dict[str, str]:
    """sha256 of each file, computed on the host (`sha256sum`, 200 files a call); files it
    cannot hash are left out (they are then copied and scanned)."""
    out: dict[str, str] = {}
    for i in range(0, len(rels), 200):
        chunk = {os.path.join(root, rel): rel for rel in rels[i : i + 200]}
        try:
            done = await host.run(["sha256sum", "--", *chunk], timeout=60)
        except OSError:
            return out
        for line in done.stdout.splitlines():
            digest, _, path = line.partition("  ")
            if path in chunk and len(digest) == 64:
                out[chunk[path]] = digest
    return out


async def _scan_remote(
    ctx: Context,
    chosen: list[str],
    plugins: list[dict[str, Any]] | None,
    deadline: float,
    copy_dir: Path,
    skipped: Counter[str],
    stop: threading.Event,
) -> tuple[list[secretscan.Hit], int, int]:
    """Scan a remote host's files: (hits, files scanned, files to scan).

    The hosts of a stack usually hold the same release, so a file whose path and content
    (sha256 on the host) were already scanned on another host in this run is not copied
    or scanned again: its result is reused. Only new or changed files travel and are read
    by detect-secrets (which scans one file at a time for the whole process anyway).
    """
    host, root = ctx.host, ctx.project_root
    digests = await _digests(host, root, chosen)
    memo = ctx.targets.memo.setdefault("security.secrets_scan", {"lock": asyncio.Lock()})
    seen: dict[tuple[str, str, str], list[secretscan.Hit]] = memo.setdefault("seen", {})
    pkey = json.dumps(plugins, sort_keys=True, default=str)
    loop = asyncio.get_running_loop()
    hits: list[secretscan.Hit] = []
    scanned = 0
    async with memo["lock"]:
        todo = []
        for rel in chosen:
            key = (rel, digests.get(rel, ""), pkey)
            if key[1] and key in seen:
                hits += seen[key]
                scanned += 1
            else:
                todo.append(rel)
        tree = copy_dir / "tree"
        unreadable = set(await _fetch(host, root, todo, tree))
        if unreadable:
            skipped["unreadable"] += len(unreadable)
        files = [(tree / rel, rel) for rel in todo if rel not in unreadable]
        found, done = await asyncio.to_thread(
            secretscan.scan_files,
            files,
            plugins,
            deadline,
            lambda v: _call_soon(loop, ctx.secret, v),
            lambda d, t: _call_soon(loop, ctx.progress, d, t, "scanning for secrets"),
            stop,
        )
        by_rel: dict[str, list[secretscan.Hit]] = {}
        for h in found:
            by_rel.setdefault(h.path, []).append(h)
        for _, rel in files[:done]:
            if digests.get(rel):
                seen[(rel, digests[rel], pkey)] = by_rel.get(rel, [])
        hits += found
        scanned += done
    return hits, scanned, len(chosen) - len(unreadable)


async def _secrets_scan(
    ctx: Context,
    baseline: str | None,
    exclude: list[str],
    secret_files: list[str] | None,
    max_file_bytes: int,
    max_findings: int,
    copy_dir: Path | None = None,
) -> Outcome:
    """The scan; with `copy_dir`, the host is remote and its files are copied there first
    (a private temporary directory, removed afterwards) for detect-secrets to read."""
    from golive.targets.project import SKIP_DIRS

    deadline = time.monotonic() + max(1.0, ctx.timeout * 0.85)
    cfg = ctx.config.targets.project
    assert cfg is not None  # the runner skips the check without a project target
    host = ctx.host
    root = ctx.project_root if copy_dir is not None else str(ctx.project.root)
    stores = {
        os.path.normpath(s) for s in (secret_files if secret_files is not None else cfg.env_files)
    }
    known: set[tuple[str, str]] = set()
    plugins = None
    baseline_rel = None
    if baseline:
        if os.path.isabs(baseline):
            bsource = baseline
            baseline_rel = os.path.relpath(baseline, root)
        else:
            bsource = os.path.join(root, baseline)
            baseline_rel = os.path.normpath(baseline)
        bpath = Path(bsource)
        try:
            if copy_dir is not None:
                bpath = copy_dir / ".golive-baseline.json"
                bpath.write_bytes(await host.read_bytes(bsource))
            known, plugins = secretscan.load_baseline(bpath)
        except FileNotFoundError:
            return Outcome.error(f"the detect-secrets baseline {baseline} does not exist")
        except (OSError, ValueError) as exc:
            return Outcome.error(f"cannot read the detect-secrets baseline {baseline}: {exc}")

    skipped: Counter[str] = Counter()
    chosen: list[str] = []
    for entry in await host.walk(root, SKIP_DIRS):
        rel, st = entry.rel, entry.stat
        if not st.is_file:
            continue
        if rel == baseline_rel:
            skipped["baseline file"] += 1
        elif os.path.normpath(rel) in stores:
            skipped["secret files (expected to hold secrets)"] += 1
        elif secretscan.matches(rel, exclude):
            skipped["excluded by pattern"] += 1
        elif st.size > max_file_bytes:
            skipped[f"larger than {max_file_bytes} bytes"] += 1
        else:
            chosen.append(rel)
    loop = asyncio.get_running_loop()
    stop = threading.Event()  # set when this check is cancelled: the scan ends its workers
    try:
        if copy_dir is not None:
            hits, scanned, total = await _scan_remote(
                ctx, chosen, plugins, deadline, copy_dir, skipped, stop
            )
        else:
            files = [(Path(root) / rel, rel) for rel in chosen]
            total = len(files)
            hits, scanned = await asyncio.to_thread(
                secretscan.scan_files,
                files,
                plugins,
                deadline,
                lambda v: _call_soon(loop, ctx.secret, v),
                lambda d, t: _call_soon(loop, ctx.progress, d, t, "scanning for secrets"),
                stop,
            )
    finally:
        stop.set()
    await asyncio.sleep(0)  # let the secrets registered from the thread land first
    new = [h for h in hits if (os.path.normpath(h.path), h.hashed) not in known]
    suppressed = len(hits) - len(new)
    by_line: dict[tuple[str, int], list[str]] = {}
    for h in new:
        kinds = by_line.setdefault((h.path, h.line), [])
        if h.type not in kinds:
            kinds.append(h.type)
    rows = [
        {"file": p, "line": line, "type": ", ".join(kinds)}
        for (p, line), kinds in sorted(by_line.items())
    ]
    evidence: dict[str, Any] = {
        "root": str(root),
        "files_scanned": scanned,
        "files_skipped": dict(skipped),
        "known_in_baseline": suppressed,
        "findings": rows[:max_findings],
    }
    if len(rows) > max_findings:
        evidence["findings_not_shown"] = len(rows) - max_findings
    findings = [
        Finding(
            p, f"possible secret: {', '.join(kinds)}", line or None, rule="security.secrets_scan"
        )
        for (p, line), kinds in sorted(by_line.items())
    ]
    if scanned < total:
        return Outcome.error(
            f"scanned only {scanned} of {total} files before the time limit; raise this "
            "check's timeout or exclude large generated directories",
            evidence=evidence,
            findings=findings,
        )
    if rows:
        first = rows[0]
        files_hit = len({r["file"] for r in rows})
        return Outcome.failed(
            f"{len(rows)} possible secret(s) in {files_hit} file(s), e.g. "
            f"{first['file']}:{first['line']} ({first['type']})",
            evidence=evidence,
            findings=findings,
            measurements={"secrets": float(len(rows))},
        )
    extra = f"; {suppressed} known in the baseline" if suppressed else ""
    return Outcome.passed(
        f"no secrets found in {scanned} files{extra}",
        evidence=evidence,
        measurements={"secrets": 0.0},
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
    projects, unread = await _compose_projects(ctx)
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
    import httpx

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
    budget = max_requests
    bursts: list[dict[str, Any]] = []
    errors: list[str] = []
    hit: dict[str, Any] = {}
    hit_resp: Any = None
    total: Counter[int] = Counter()

    async def burst(ep: Endpoint, n: int, statuses: Counter[int]) -> None:
        nonlocal hit_resp
        sent = 0

        async def worker() -> None:
            nonlocal sent, hit_resp
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
                    hit_resp = resp

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
    import httpx

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
    agent_id = ctx.api.api_cfg.agent_id
    variants = _forged_tokens(agent_id, default_keys)
    for _, token in variants:
        ctx.secret(token)
    loop = asyncio.get_running_loop()
    t_end = loop.time() + ctx.timeout - 1.0
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
                    "request": f"{len(default_keys)} tokens signed with default keys",
                    "status": None,
                    "verdict": "see above if any was not rejected",
                }
            )
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
_NOT_SECRET = ["*.example", "*.sample", "*.template", "*.dist", "*.pub", "*.md"]


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
    from golive.targets.project import SKIP_DIRS

    cfg = ctx.config.targets.project
    assert cfg is not None  # the runner skips the check without a project target
    root = ctx.project_root
    host = ctx.host
    compose = {os.path.normpath(f) for f in cfg.compose_files if not os.path.isabs(f)}
    env_files = {os.path.normpath(f) for f in cfg.env_files}
    problems: list[dict[str, Any]] = []
    checked = 0
    for entry in await host.walk(root, SKIP_DIRS):
        rel, st = entry.rel, entry.stat
        if st.is_dir:
            if st.mode & stat.S_IWOTH and not st.mode & stat.S_ISVTX:
                problems.append(
                    {
                        "path": rel,
                        "mode": f"{st.perm:04o}",
                        "problem": "directory is world-writable without the sticky "
                        "bit: anyone can replace the files in it",
                    }
                )
            continue
        if not st.is_file:
            continue
        mode = st.perm
        code = rel in compose or secretscan.matches(rel, writable_patterns)
        secret = rel in env_files or secretscan.matches(rel, secret_patterns)
        secret = secret and not secretscan.matches(rel, _NOT_SECRET)
        if secret and rel.endswith((".pem", ".crt")):
            secret = await _is_private_key_on(host, os.path.join(root, rel))
        if code or secret:
            checked += 1
        if code and mode & stat.S_IWOTH:
            problems.append(
                {
                    "path": rel,
                    "mode": f"{mode:04o}",
                    "problem": "world-writable: anyone can change what runs",
                }
            )
        if secret and mode & stat.S_IROTH:
            problems.append(
                {
                    "path": rel,
                    "mode": f"{mode:04o}",
                    "problem": "secret file readable by every local user",
                }
            )
    absent = []
    for extra in extra_paths:
        found = await host.stat(extra)
        if found is None:
            absent.append(extra)
            continue
        checked += 1
        if found.perm & stat.S_IWOTH:
            problems.append(
                {
                    "path": extra,
                    "mode": f"{found.perm:04o}",
                    "problem": "world-writable: anyone can change what runs",
                }
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


async def _compose_projects(ctx: Context) -> tuple[list[tuple[str, Any]], list[str]]:
    """The deployed projects whose compose files a once-per-run check reads: the local one,
    or with `targets.hosts` the one on each host ("HOST:" prefixes its files); and why a
    host's could not be read."""
    if not ctx.config.hosts:
        return ([("", ctx.project)] if await available(ctx, "project") else []), []
    if not ctx.targets.configured("project"):
        return [], []
    out: list[tuple[str, Any]] = []
    unread: list[str] = []
    for host in ctx.targets.hosts().values():
        if host.is_local:
            if await available(ctx, "project"):
                out.append((f"{host.name}:", ctx.targets.project))
            continue
        reason = await host.probe()
        if reason is None:
            try:
                out.append((f"{host.name}:", await ctx.targets.load_host_project(host)))
                continue
            except Exception as exc:
                reason = " ".join(str(exc).split()) or type(exc).__name__
        unread.append(f"compose files of host {host.name} not read: {reason}")
    return out, unread


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
    projects, unread = await _compose_projects(ctx)
    use_project = bool(projects)
    use_docker = await available(ctx, "docker")
    if not use_project and not use_docker:
        if unread:
            return Outcome.skip("; ".join(unread), evidence={"not_read": unread})
        return Outcome.skip("needs a project (compose files) or a container engine target")
    rows: list[dict[str, Any]] = []
    fails: list[str] = []
    findings: list[Finding] = []
    private = set(private_ports)

    def judge(where: str, service: str, pub: sec.Published) -> None:
        ports = sec.container_port_numbers(pub.container_port)
        if (service in private_services or ports & private) and pub.is_public:
            fails.append(f"{service} publishes {pub.describe()} ({where})")
            rows.append(
                {
                    "source": where,
                    "service": service,
                    "published": pub.describe(),
                    "verdict": "exposed",
                }
            )
        else:
            rows.append(
                {"source": where, "service": service, "published": pub.describe(), "verdict": "ok"}
            )

    for where, project in projects:
        for cf in project.compose():
            data = cf.data if isinstance(cf.data, dict) else {}
            rel = where + project.relative(cf.path)
            for name, svc in (data.get("services") or {}).items():
                if not isinstance(svc, dict):
                    continue
                for entry in svc.get("ports") or []:
                    for pub in sec.parse_compose_port(entry):
                        judge(rel, str(name), pub)
                if svc.get("network_mode") == "host" and str(name) in no_host_network:
                    fails.append(f"{name} uses network_mode: host ({rel})")
                    findings.append(
                        Finding(
                            rel, f"{name} uses network_mode: host", rule="security.exposed_ports"
                        )
                    )
    containers = await ctx.docker.containers() if use_docker else []
    for c in containers:
        service = ctx.docker.service_of(c)
        ports = (c.attrs.get("NetworkSettings") or {}).get("Ports") or {}
        for container_port, bindings in ports.items():
            for b in bindings or []:
                judge(
                    f"container {c.name}",
                    service,
                    sec.Published(
                        str(b.get("HostIp") or ""),
                        str(b.get("HostPort") or ""),
                        container_port.split("/")[0],
                        container_port.split("/")[1] if "/" in container_port else "tcp",
                    ),
                )
        mode = (c.attrs.get("HostConfig") or {}).get("NetworkMode")
        if mode == "host" and service in no_host_network:
            fails.append(f"{service} runs with the host's network (container {c.name})")
    findings += [
        Finding(
            r["source"], f"{r['service']} publishes {r['published']}", rule="security.exposed_ports"
        )
        for r in rows
        if r["verdict"] == "exposed" and not r["source"].startswith("container ")
    ]
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
    from golive.yamlpos import load

    fails: list[dict[str, Any]] = []
    findings: list[Finding] = []
    extra = {n.upper() for n in extra_names}
    for path in ctx.project.compose_paths():
        rel = ctx.project.relative(path)
        text = ctx.project.read_bytes(path).decode("utf-8", errors="replace")
        data, _ = load(str(path), text)
        if not isinstance(data, dict):
            continue
        for svc_name, svc in (data.get("services") or {}).items():
            if not isinstance(svc, dict):
                continue
            blocks = [("environment", svc.get("environment"))]
            build = svc.get("build")
            if isinstance(build, dict):
                blocks.append(("build.args", build.get("args")))
            for block_name, block in blocks:
                for name, raw, line in _raw_entries(block):
                    hit = sec.literal_secret(name, raw) or (
                        ("value", raw)
                        if name.upper() in extra and raw and not sec.is_reference(raw)
                        else None
                    )
                    if hit is None:
                        continue
                    kind, value = hit
                    ctx.secret(value)
                    what = {
                        "value": "a plaintext value",
                        "url": "a plaintext password in a URL",
                        "default": "a plaintext default (${VAR:-...})",
                    }[kind]
                    weak = sec.password_weakness(value)
                    if weak:
                        what = f"{what}, a weak one ({weak})"
                    fails.append(
                        {
                            "file": rel,
                            "line": line,
                            "service": str(svc_name),
                            "variable": f"{block_name}.{name}",
                            "problem": what,
                            "weak": weak is not None,
                        }
                    )
                    findings.append(
                        Finding(
                            rel,
                            f"{svc_name}: {name} holds {what}",
                            line,
                            rule="security.compose_plaintext_secrets",
                        )
                    )
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
