"""Checks of the performance section: API latency, task throughput, container resources.

Measured properly: latency percentiles from many requests instead of one mean, task
completions observed in the database instead of a fixed `sleep 60`, container usage from
the engine's own statistics. Each check reports its figures as `measurements` (and the
latency probe its raw samples), which `golive baseline save` stores and
`golive run --baseline FILE` compares with tolerances and a Mann-Whitney U test.
Helpers: `_taskprobe.py` (the task probe: API client, submission, polling, clean-up,
verdict), `_perf.py` (figures, `docker stats` arithmetic).
"""

from __future__ import annotations

import asyncio
import math
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from golive.api import Context, Outcome, Severity, check

from ._perf import (
    _MIB,
    _cpu_limit,
    _cpu_percent,
    _memory_used,
    _ms,
    _pct,
)
from ._taskprobe import (
    _PROGRESS_SQL,
    _clean_up,
    _like_prefix,
    _plan,
    _Probe,
    _submit,
    _TaskApi,
    _throughput_outcome,
    _wait_for_runs,
)

# ---------------------------------------------------------------------------------------------
# performance.api_latency


@check(
    id="performance.api_latency",
    severity=Severity.HIGH,
    title="API latency percentiles and error rate are within the SLA",
    needs=("api",),
    tags=("sla",),
    isolation="exclusive",  # alone: concurrent checks would skew the percentiles
    remediation=(
        "Find what the slow endpoint waits for (database queries, connection pool size, "
        "Redis, worker threads), fix it or scale the API, then rerun "
        "`golive run --check performance.api_latency`."
    ),
)
async def api_latency(
    ctx: Context,
    endpoints: list[str] = ["/health"],  # noqa: B006 - read-only default, validated by pydantic
    requests: int = 100,
    concurrency: int = 10,
    warmup: int = 10,
    p50_ms: float | None = None,
    p90_ms: float | None = None,
    p95_ms: float | None = 200.0,
    p99_ms: float | None = 500.0,
    max_ms: float | None = None,
    max_error_rate: float = 0.01,
    authenticated: bool = False,
) -> Outcome:
    """Sends `requests` GET requests at `concurrency` to each endpoint (after `warmup`
    unmeasured ones, at least one per connection) and measures, per endpoint, the p50, p90,
    p95, p99 and maximum latency, the error rate (transport errors and HTTP status >= 400)
    and requests per second. It fails when any endpoint exceeds a set threshold: by default
    p95 <= 200 ms, p99 <= 500 ms and at most 1 % errors (p50, p90 and max are unset). Every
    concurrent worker owns one keep-alive connection, as `hey` and `ab` do. The evidence
    holds a latency histogram; the raw samples are kept for baseline comparisons. With
    `authenticated`, requests carry the API's bearer token (for endpoints behind auth). An
    endpoint that answers the same 4xx (other than 429) to every request refused golive's
    request (a path the API does not serve, missing credentials): that is an ERROR naming
    the status, not a latency verdict."""
    from golive.baseline import Metric, apply_baseline
    from golive.loadprobe import histogram, measure, summarize

    if requests < 1 or concurrency < 1 or warmup < 0:
        return Outcome.error("requests and concurrency must be at least 1, warmup at least 0")
    if not endpoints or any(not e.startswith("/") for e in endpoints):
        return Outcome.error("endpoints must be a non-empty list of paths starting with '/'")
    limits = {"p50_ms": p50_ms, "p90_ms": p90_ms, "p95_ms": p95_ms, "p99_ms": p99_ms}
    limits["max_ms"] = max_ms
    sla = {k: v for k, v in limits.items() if v is not None}
    ctx.record(
        "sla",
        {**{k: f"<= {v:g} ms" for k, v in sla.items()}, "error_rate": f"<= {max_error_rate:.1%}"},
    )
    headers: dict[str, str] = {}
    if authenticated:
        headers = await ctx.api.auth_headers()
        if not headers:
            return Outcome.error("authenticated: no API credentials (targets.api.token/agent_id)")
        ctx.secret(headers["Authorization"].partition(" ")[2])
    began = time.monotonic()  # the runner's timeout counts from about here
    total = requests * len(endpoints)
    results = []
    for index, path in enumerate(endpoints):

        def progress(done: int, planned: int, offset: int = index * requests) -> None:
            ctx.progress(offset + done, total, "requests")

        results.append(
            await measure(
                ctx.api,
                path,
                requests=requests,
                concurrency=concurrency,
                warmup=warmup,
                deadline=began + max(1.0, ctx.timeout * 0.9),
                progress=progress,
                headers=headers,
            )
        )
    refused = _refused_everywhere(endpoints, results)
    if refused:
        return Outcome.error(refused, evidence={"statuses": _statuses(endpoints, results)})
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    measurements: dict[str, float] = {}
    samples: dict[str, list[float]] = {}
    hist: list[dict[str, Any]] = []
    pooled: list[float] = []
    errors = completed = 0
    busy = 0.0
    for path, result in zip(endpoints, results, strict=True):
        stats = result.stats()
        rows.append(
            {
                "endpoint": path,
                "requests": f"{result.completed}/{requests}",
                "errors": result.errors,
                "error_rate": _pct(result.error_rate),
                "req/s": round(result.rps, 1),
                **{
                    k.removesuffix("_ms"): round(v, 1)
                    for k, v in stats.items()
                    if k.endswith("_ms")
                },
            }
        )
        ctx.record("endpoints", rows)
        hist += [{"endpoint": path, **row} for row in histogram(result.latencies_ms)]
        samples[path] = [round(v, 3) for v in result.latencies_ms]
        if len(endpoints) > 1:
            measurements.update({f"{path}:{k}": v for k, v in stats.items() if not math.isnan(v)})
        pooled += result.latencies_ms
        errors += result.errors
        completed += result.completed
        busy += result.duration_s
        if result.completed < requests:
            problems.append(
                f"{path}: only {result.completed} of {requests} requests finished within the "
                f"check's {ctx.timeout:g}s timeout"
            )
        if result.error_rate > max_error_rate:
            reasons = ", ".join(result.error_reasons())
            problems.append(
                f"{path}: {result.errors} of {result.completed} requests failed "
                f"({_pct(result.error_rate)} > {max_error_rate:.1%}: {reasons})"
            )
            if result.statuses.get(429):
                problems.append(
                    f"{path} answered 429: the rate limiter counts the probe; exempt health "
                    "endpoints from it or lower `requests`"
                )
        for key, limit in sla.items():
            value = stats[key]
            if not math.isnan(value) and value > limit:
                problems.append(f"{path} {key.removesuffix('_ms')} {_ms(value)} > {limit:g} ms")
    ctx.record("histogram", hist)
    overall = summarize(
        pooled, errors / completed if completed else 1.0, completed / busy if busy else 0.0
    )
    measurements.update({k: v for k, v in overall.items() if not math.isnan(v)})
    where = endpoints[0] if len(endpoints) == 1 else f"{len(endpoints)} endpoints"
    figures = (
        f"p50 {_ms(overall['p50_ms'])}, p95 {_ms(overall['p95_ms'])}, "
        f"p99 {_ms(overall['p99_ms'])}, {errors} errors, {overall['rps']:.0f} req/s"
    )
    evidence = {"endpoints": rows, "histogram": hist}
    if problems:
        outcome = Outcome.failed(
            "; ".join(problems[:4])
            + (f" (+{len(problems) - 4} more)" if len(problems) > 4 else ""),
            evidence={**evidence, "problems": problems},
            measurements=measurements,
            samples=samples,
        )
    else:
        limits_text = ", ".join(f"{k.removesuffix('_ms')} <= {v:g} ms" for k, v in sla.items())
        outcome = Outcome.passed(
            f"{completed} requests at concurrency {concurrency} to {where}: {figures} "
            f"(SLA {limits_text or 'none'}, errors <= {max_error_rate:.1%})",
            evidence=evidence,
            measurements=measurements,
            samples=samples,
        )
    metrics: dict[str, Metric] = {}
    for key in measurements:
        path, _, name = key.rpartition(":")
        series = path or (endpoints[0] if len(endpoints) == 1 else None)
        if name.endswith("_ms"):
            metrics[key] = Metric("lower", floor=2.0, unit="ms", samples=series)
        elif name == "error_rate":
            metrics[key] = Metric("lower", floor=0.005)
        elif name == "rps":
            metrics[key] = Metric("higher", unit="req/s", samples=series)
    return apply_baseline(ctx, outcome, metrics)


def _statuses(endpoints: list[str], results: list[Any]) -> dict[str, dict[str, int]]:
    return {
        path: {str(k): v for k, v in sorted(r.statuses.items())}
        for path, r in zip(endpoints, results, strict=False)
    }


def _refused_everywhere(endpoints: list[str], results: list[Any]) -> str | None:
    """Why the probe measured nothing, when every request to an endpoint got the same 4xx
    (other than 429): golive's request was refused (a path the API does not serve, missing
    credentials), which says nothing about the API's latency."""
    for path, result in zip(endpoints, results, strict=False):
        codes = set(result.statuses)
        if result.completed and not result.failures and len(codes) == 1:
            code = next(iter(codes))
            if 400 <= code < 500 and code != 429:
                hint = {
                    404: "not an endpoint the API serves: set `endpoints`",
                    405: "the API does not serve GET there: set `endpoints`",
                    401: "it needs credentials: set `authenticated: true`",
                    403: "golive's credentials may not read it",
                }.get(code, "golive's request was refused")
                return (
                    f"GET {path} answered {code} to every one of golive's requests, so its "
                    f"latency was not measured ({hint})"
                )
    return None


# ---------------------------------------------------------------------------------------------
# performance.task_throughput


@check(
    id="performance.task_throughput",
    severity=Severity.HIGH,
    title="Scheduler and workers run tasks at the required rate (100 per minute by default)",
    needs=("api", "database"),
    writes=True,
    tags=("sla",),
    isolation="exclusive",  # alone: its burst would skew other checks and theirs its rate
    remediation=(
        "If no task ran, check that the scheduler and the workers are running and reach the "
        "database; if they ran too slowly, add worker replicas, look for slow queries on "
        "due_work/task_run, and check the scheduler's tick interval."
    ),
)
async def task_throughput(
    ctx: Context,
    tasks: int = 50,
    min_per_minute: float = 100.0,
    due_in: float = 3.0,
    grace: float = 30.0,
    agent: str = "system",
    tasks_path: str = "/tasks/",
    submit_concurrency: int = 10,
    poll_interval: float = 0.5,
    task_fields: dict[str, Any] = {},  # noqa: B006 - read-only default, validated by pydantic
) -> Outcome:
    """Creates `tasks` one-shot tasks (a no-op pipeline) through the API, all due `due_in`
    seconds ahead and titled with the run's marker, then polls the database until every
    one has a finished task_run. The rate is completions per minute from the due time (or
    the end of the submission, if that came later) to the last finish; it fails below
    `min_per_minute`, when tasks are not finished by the check's deadline, and - as soon as
    `grace` seconds after the due time have passed - when the API accepted tasks but none
    of them started. A create answered with 500 that still stored the task counts as
    accepted (the database decides); a 307 from `/tasks` is followed; a 429 is retried
    after its Retry-After. Afterwards it deletes (else cancels) every task carrying the
    marker and reports any it could not remove; canceled tasks of an API that documents
    no DELETE are then deleted in SQL, with their runs and queued work. Tasks are created as
    `targets.api.agent_id`, else as the agent named `agent`.

    The request comes from the API's OpenAPI document (`targets.api.openapi_path`): the
    operation `POST tasks_path` (with or without its trailing slash), and a body of the
    fields golive fills (title with the marker, description, created_by, schedule_kind
    `once`, schedule_expr the due time, timezone, a no-op pipeline as payload, priority,
    max_retries), each set to the first of golive's values that the field's schema
    accepts (timezone `UTC`, else `Etc/UTC`, else `Europe/London`: the due time carries
    its offset, so any zone gives the same instant). `task_fields` sets fields to your
    own values (e.g. one the API requires that golive does not know). The body is
    validated against the request schema before anything is sent: a field golive cannot
    satisfy is an ERROR naming the operation and the field. The first task is sent alone:
    a 4xx answer to it is an ERROR quoting the API's reason (golive's request was refused;
    nothing about the stack is proven), not a FAIL. Only removals the document lists
    (DELETE, else `POST .../cancel`) are tried. Without a document the body is golive's
    own, sent to `tasks_path` unvalidated (the evidence says so)."""
    from golive.baseline import Metric, apply_baseline

    if tasks < 1 or submit_concurrency < 1 or due_in < 0 or grace <= 0 or poll_interval <= 0:
        return Outcome.error(
            "tasks and submit_concurrency must be >= 1, due_in >= 0, grace and poll_interval > 0"
        )
    end = time.monotonic() + ctx.timeout
    reserve = min(20.0, max(3.0, ctx.timeout * 0.2))  # kept for the clean-up
    created_by = ctx.api.api_cfg.agent_id
    if not created_by:
        created_by = await ctx.db.fetchval("SELECT id::text FROM agent WHERE name = %s", (agent,))
        if not created_by:
            return Outcome.error(
                f"no agent to create tasks as: set targets.api.agent_id or create agent {agent!r}"
            )
    headers = await ctx.api.auth_headers()
    if not headers:
        return Outcome.error(
            "no API credentials: set targets.api.token or targets.api.agent_id to create tasks"
        )
    ctx.secret(headers["Authorization"].partition(" ")[2])
    api = _TaskApi(ctx, tasks_path, headers)
    api.not_after = end - reserve
    prefix = f"{ctx.marker} throughput "
    ctx.record("marker", ctx.marker)
    ids: set[str] = set()
    since = datetime.now(timezone.utc) - timedelta(minutes=5)
    probe: _Probe | None = None
    try:
        db_now: datetime = await ctx.db.fetchval("SELECT now()")
        skew = db_now - datetime.now(timezone.utc)  # the database's clock minus ours
        since = db_now - timedelta(minutes=1)
        due = db_now + timedelta(seconds=due_in)
        plan = await _plan(ctx, api, tasks_path, prefix, str(created_by), due, task_fields)
        if isinstance(plan, Outcome):
            return plan  # nothing was sent
        probe = _Probe(tasks, due, operation=f"POST {api.tasks_path}")
        await _submit(ctx, api, probe, plan, prefix, submit_concurrency, ids)
        probe.submitted_at = datetime.now(timezone.utc) + skew
        probe.throttled = api.throttled
        probe.reasons = dict(api.reasons)
        if probe.refused is None:
            await _wait_for_runs(
                ctx, probe, prefix, since, skew, grace, poll_interval, end - reserve, ids
            )
        else:
            probe.rows = await ctx.db.fetch(_PROGRESS_SQL, (_like_prefix(prefix), since))
    finally:
        throttled = api.throttled
        try:
            cleanup, leftovers = await _clean_up(ctx, api, ids, prefix, since, end)
        finally:
            await api.close()
        if api.throttled > throttled:
            cleanup["rate_limited_retries"] = api.throttled - throttled
        ctx.record("cleanup", cleanup)
        if probe is not None:
            probe.cleanup, probe.leftovers = cleanup, leftovers
    return apply_baseline(
        ctx,
        _throughput_outcome(ctx, probe, min_per_minute, grace),
        {
            "per_minute": Metric("higher", unit="tasks/min"),
            "lag_p95_s": Metric("lower", floor=1.0, unit="s"),
            "submit_per_second": Metric("higher", unit="tasks/s"),
        },
    )


# ---------------------------------------------------------------------------------------------
# performance.container_resources


@check(
    id="performance.container_resources",
    severity=Severity.MEDIUM,
    title="Containers run below 80 % of their memory and CPU limits",
    needs=("docker",),
    remediation=(
        "Set a memory limit on every service (deploy.resources.limits.memory in the compose "
        "file); raise it, or find the leak, for containers close to their limit."
    ),
)
async def container_resources(
    ctx: Context,
    warn_pct: float = 80.0,
    fail_pct: float = 95.0,
    require_memory_limit: bool = True,
    services: list[str] = [],  # noqa: B006 - read-only default, validated by pydantic
    cpu_window: float = 1.0,
) -> Outcome:
    """Reads each stack container's statistics from the engine (Docker API; podman works
    too): memory in use (without inactive page cache, as `docker stats` shows it) against
    the container's memory limit, and CPU use over `cpu_window` seconds against its CPU
    limit. It warns above `warn_pct` % of a limit and when a container has no memory limit
    (`require_memory_limit`), and fails at `fail_pct` % of the memory limit or when a
    container of the stack was killed for running out of memory. `services` restricts the
    check to some compose services."""
    from golive.baseline import Metric, apply_baseline

    found = await ctx.docker.containers(all=True)
    if services:
        found = [c for c in found if ctx.docker.service_of(c) in services]
    running = [c for c in found if getattr(c, "status", "") == "running"]
    oom = [c for c in found if ((c.attrs.get("State") or {}).get("OOMKilled"))]
    if not running and not oom:
        where = ctx.config.targets.docker.compose_project if ctx.config.targets.docker else None
        scope = f"compose project {where!r}" if where else "the configured containers"
        return Outcome.error(f"no running container found for {scope}")

    def snapshot(c: Any) -> dict[str, Any]:
        data = c.stats(stream=False)
        return data if isinstance(data, dict) else {}

    t0 = time.monotonic()
    first = await asyncio.gather(*(ctx.docker.call(snapshot, c) for c in running))
    second = first
    if any(
        not ((s.get("precpu_stats") or {}).get("cpu_usage") or {}).get("total_usage") for s in first
    ):
        # No previous CPU reading in the answer (podman): CPU use needs a second reading,
        # `cpu_window` seconds later. This is the measuring interval, not a wait for the stack.
        await asyncio.sleep(max(0.1, min(cpu_window, ctx.timeout / 4)))
        second = await asyncio.gather(*(ctx.docker.call(snapshot, c) for c in running))
    elapsed = time.monotonic() - t0
    rows: list[dict[str, Any]] = []
    fails: list[str] = []
    warns: list[str] = []
    measurements: dict[str, float] = {}
    metrics: dict[str, Metric] = {}
    sampled_twice = second is not first
    for c, s1, s2 in zip(running, first, second, strict=True):
        host = c.attrs.get("HostConfig") or {}
        limit = int(host.get("Memory") or 0)
        used = _memory_used(s2)
        if sampled_twice:
            cpu = _cpu_percent(s1, s2, elapsed)
        else:  # Docker answered with its own previous reading (about 1 s earlier)
            cpu = _cpu_percent({"cpu_stats": s1.get("precpu_stats") or {}}, s1, 1.0)
        cores = _cpu_limit(host)
        mem_pct = used / limit * 100.0 if used is not None and limit else None
        cpu_of_limit = cpu / cores if cpu is not None and cores else None
        name = c.name
        rows.append(
            {
                "container": name,
                "service": ctx.docker.service_of(c),
                "memory": f"{used / _MIB:.1f} MiB" if used is not None else "n/a",
                "limit": f"{limit / _MIB:.0f} MiB" if limit else "none",
                "memory_%": round(mem_pct, 1) if mem_pct is not None else None,
                "cpu_%": round(cpu, 1) if cpu is not None else None,
                "cpu_limit": f"{cores:g} cores" if cores else "none",
            }
        )
        if used is not None:
            measurements[f"{name}:memory_mib"] = used / _MIB
            metrics[f"{name}:memory_mib"] = Metric("lower", floor=32.0, unit="MiB")
        if cpu is not None:
            measurements[f"{name}:cpu_pct"] = cpu
            metrics[f"{name}:cpu_pct"] = Metric("lower", floor=25.0, unit="%")
        if mem_pct is not None:
            measurements[f"{name}:memory_pct"] = mem_pct
            text = f"{name} uses {mem_pct:.0f} % of its {limit / _MIB:.0f} MiB memory limit"
            if mem_pct >= fail_pct:
                fails.append(text)
            elif mem_pct >= warn_pct:
                warns.append(text)
        elif used is None:
            warns.append(f"{name}: the engine reported no memory figure")
        elif require_memory_limit:
            warns.append(f"{name} has no memory limit")
        if cpu_of_limit is not None and cpu_of_limit >= warn_pct:
            warns.append(f"{name} uses {cpu_of_limit:.0f} % of its {cores:g}-core CPU limit")
    for c in oom:
        fails.append(f"{c.name} was killed for running out of memory (OOMKilled)")
    evidence = {"containers": rows, "thresholds": {"warn_pct": warn_pct, "fail_pct": fail_pct}}
    count = f"{len(running)} containers"
    if fails:
        outcome = Outcome.failed(
            "; ".join(fails + warns), evidence=evidence, measurements=measurements
        )
    elif warns:
        unlimited = [w for w in warns if w.endswith("has no memory limit")]
        text = "; ".join(w for w in warns if w not in unlimited)
        if unlimited:
            names = ", ".join(w.removesuffix(" has no memory limit") for w in unlimited)
            text = "; ".join(filter(None, [text, f"no memory limit on {names}"]))
        outcome = Outcome.warn(text, evidence=evidence, measurements=measurements)
    else:
        top = max((r["memory_%"] or 0 for r in rows), default=0)
        outcome = Outcome.passed(
            f"{count} within their limits (highest memory use {top:.0f} % of its limit, "
            f"warning at {warn_pct:g} %)",
            evidence=evidence,
            measurements=measurements,
        )
    return apply_baseline(ctx, outcome, metrics)
