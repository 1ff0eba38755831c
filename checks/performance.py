"""Checks of the performance section: API latency, task throughput, container resources.

Measured properly: latency percentiles from many requests instead of one mean, task
completions observed in the database instead of a fixed `sleep 60`, container usage from
the engine's own statistics. Each check reports its figures as `measurements` (and the
latency probe its raw samples), which `golive baseline save` stores and
`golive run --baseline FILE` compares with tolerances and a Mann-Whitney U test.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urljoin, urlsplit

from golive.api import Context, Outcome, Severity, check

_STATUS_TEXT = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content"}


def _ms(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:.1f} ms" if value < 10 else f"{value:.0f} ms"


def _pct(value: float) -> str:
    return f"{value:.1%}" if 0 < value < 0.1 else f"{value:.0%}"


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
    `authenticated`, requests carry the API's bearer token (for endpoints behind auth)."""
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


# ---------------------------------------------------------------------------------------------
# performance.task_throughput


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _answer(status: int) -> str:
    return f"HTTP {status} {_STATUS_TEXT.get(status, '')}".rstrip()


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 1.0
    except ValueError:
        return 1.0


class _TaskApi:
    """Create / delete / cancel tasks through the API.

    Every request borrows a dedicated keep-alive connection (`ApiTarget.load_transport`):
    the shared client's pool costs more client time per request than the demo API needs to
    create a task. A 307/308 to the same origin is followed with the body (`/tasks` ->
    `/tasks/`); a 429 is retried after its Retry-After while that fits before `not_after`.
    """

    def __init__(self, ctx: Context, tasks_path: str, headers: dict[str, str]) -> None:
        self.ctx = ctx
        self.tasks_path = tasks_path
        self.headers = {
            **ctx.api.default_headers(),
            **headers,
            "accept": "application/json",
            "user-agent": "golive-task-probe",
        }
        self.not_after = math.inf
        self.redirects: Counter[str] = Counter()
        self.throttled = 0
        base = urlsplit(ctx.api.url)
        self.origin = (base.scheme, base.netloc)
        self._idle: list[Any] = []
        self._all: list[Any] = []

    async def _request(self, method: str, path: str, content: bytes | None) -> Any:
        import httpx

        headers = dict(self.headers)
        if content is not None:
            headers["content-type"] = "application/json"
        request = httpx.Request(
            method,
            self.ctx.api.url + path,
            headers=headers,
            content=content,
            extensions={"timeout": httpx.Timeout(self.ctx.api.timeout).as_dict()},
        )
        if self._idle:
            transport = self._idle.pop()
        else:
            transport = self.ctx.api.load_transport()
            self._all.append(transport)
        try:
            resp = await transport.handle_async_request(request)
            try:
                await resp.aread()
            finally:
                await resp.aclose()
        finally:
            self._idle.append(transport)
        return resp

    async def close(self) -> None:
        """Close the connections."""
        await asyncio.gather(*(t.aclose() for t in self._all), return_exceptions=True)
        self._all.clear()
        self._idle.clear()

    async def send(self, method: str, path: str, body: Any = None) -> Any:
        """One request, following same-origin redirects and waiting out rate limits."""
        hops = 0
        content = json.dumps(body).encode() if body is not None else None
        while True:
            resp = await self._request(method, path, content)
            location = resp.headers.get("location")
            if resp.status_code in (307, 308) and location and hops < 3:
                target = urlsplit(urljoin(self.ctx.api.url + path, location))
                if (target.scheme, target.netloc) != self.origin:
                    return resp  # never follow a write to another host
                new = target.path + (f"?{target.query}" if target.query else "")
                self.redirects[f"{method} {path} -> {new} ({resp.status_code})"] += 1
                path, hops = new, hops + 1
                continue
            if resp.status_code == 429:
                wait = _retry_after(resp.headers.get("retry-after"))
                if time.monotonic() + wait < self.not_after:
                    self.throttled += 1
                    await asyncio.sleep(wait)  # the API said when to come back
                    continue
            return resp

    async def create(self, body: dict[str, Any]) -> tuple[str, str | None]:
        """(what happened, task id when the answer names one)."""
        import httpx

        try:
            resp = await self.send("POST", self.tasks_path, body)
        except httpx.HTTPError as exc:
            return f"no answer ({self.ctx.api.describe(exc)})", None
        task_id = None
        if 200 <= resp.status_code < 300:
            try:
                data = resp.json()
            except ValueError:
                data = None
            if isinstance(data, dict) and data.get("id"):
                task_id = str(data["id"])
        return _answer(resp.status_code), task_id

    def task_path(self, task_id: str, action: str = "") -> str:
        """The path of one task (or of one of its actions)."""
        base = self.tasks_path.rstrip("/") or "/tasks"
        return f"{base}/{task_id}" + (f"/{action}" if action else "")

    async def remove(self, task_id: str) -> str:
        """'deleted', 'canceled' or why neither worked."""
        import httpx

        try:
            resp = await self.send("DELETE", self.task_path(task_id))
            if resp.status_code in (200, 202, 204, 404):
                return "deleted"
            deleted = _answer(resp.status_code)
            resp = await self.send("POST", self.task_path(task_id, "cancel"))
            if 200 <= resp.status_code < 300:
                return "canceled"
            return f"DELETE answered {deleted}, cancel answered {_answer(resp.status_code)}"
        except httpx.HTTPError as exc:
            return self.ctx.api.describe(exc)


_PROGRESS_SQL = """
SELECT t.id::text AS id, t.status, min(r.started_at) AS started,
       min(r.finished_at) AS finished,
       count(r.id) FILTER (WHERE r.success IS FALSE) AS failed, max(r.error) AS error
FROM task t LEFT JOIN task_run r ON r.task_id = t.id
WHERE t.title LIKE %s ESCAPE '\\' AND t.created_at >= %s
GROUP BY t.id
"""


@dataclass
class _Probe:
    """What the task probe saw; filled in as it goes, judged by `_throughput_outcome`."""

    tasks: int
    due: datetime
    verdict: str = "timeout"  # done | never_ran | none_accepted | timeout
    answers: Counter[str] = field(default_factory=Counter)
    rows: list[dict[str, Any]] = field(default_factory=list)
    submit_s: float = 0.0
    submitted_at: datetime | None = None  # database clock, when the last create returned
    throttled: int = 0
    cleanup: dict[str, Any] = field(default_factory=dict)
    leftovers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def effective_due(self) -> datetime:
        """The due time, or the end of the submission when that came later."""
        if self.submitted_at is not None and self.submitted_at > self.due:
            return self.submitted_at
        return self.due


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
    marker and reports any it could not remove. Tasks are created as
    `targets.api.agent_id`, else as the agent named `agent`."""
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
        probe = _Probe(tasks, db_now + timedelta(seconds=due_in))
        await _submit(ctx, api, probe, prefix, str(created_by), submit_concurrency, ids)
        probe.submitted_at = datetime.now(timezone.utc) + skew
        probe.throttled = api.throttled
        await _wait_for_runs(
            ctx, probe, prefix, since, skew, grace, poll_interval, end - reserve, ids
        )
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


async def _submit(
    ctx: Context,
    api: _TaskApi,
    probe: _Probe,
    prefix: str,
    created_by: str,
    concurrency: int,
    ids: set[str],
) -> None:
    """Create the probe's tasks, `concurrency` at a time."""
    sem = asyncio.Semaphore(concurrency)

    async def create(i: int) -> None:
        body = {
            "title": f"{prefix}{i:05d}",
            "description": "golive performance.task_throughput probe; removed when it ends",
            "created_by": created_by,
            "schedule_kind": "once",
            "schedule_expr": probe.due.isoformat(),
            "timezone": "UTC",
            "payload": {"pipeline": [{"id": "s1", "uses": "noop"}]},
            "priority": 5,
            "max_retries": 0,
        }
        async with sem:
            answer, task_id = await api.create(body)
        probe.answers[answer] += 1
        if task_id:
            ids.add(task_id)
        ctx.progress(sum(probe.answers.values()), probe.tasks, "tasks submitted")

    t0 = time.monotonic()
    await asyncio.gather(*(create(i) for i in range(probe.tasks)))
    probe.submit_s = time.monotonic() - t0
    ctx.record("submissions", [{"answer": a, "count": n} for a, n in probe.answers.most_common()])
    if api.redirects:
        ctx.record("redirects", dict(api.redirects))


async def _wait_for_runs(
    ctx: Context,
    probe: _Probe,
    prefix: str,
    since: datetime,
    skew: timedelta,
    grace: float,
    poll_interval: float,
    stop_at: float,
    ids: set[str],
) -> None:
    """Poll the database until every accepted task finished, none can start, or `stop_at`."""
    while True:
        probe.rows = await ctx.db.fetch(_PROGRESS_SQL, (_like_prefix(prefix), since))
        ids.update(r["id"] for r in probe.rows)
        started = sum(1 for r in probe.rows if r["started"] is not None)
        finished = sum(1 for r in probe.rows if r["finished"] is not None)
        ctx.progress(finished, len(probe.rows) or probe.tasks, "tasks finished")
        now_db = datetime.now(timezone.utc) + skew
        if not probe.rows:
            probe.verdict = "none_accepted"
            return
        if finished == len(probe.rows):
            probe.verdict = "done"
            return
        if started == 0 and now_db >= probe.effective_due + timedelta(seconds=grace):
            probe.verdict = "never_ran"
            return
        if time.monotonic() + poll_interval >= stop_at:
            probe.verdict = "timeout"
            return
        await asyncio.sleep(poll_interval)


async def _clean_up(
    ctx: Context, api: _TaskApi, ids: set[str], prefix: str, since: datetime, end: float
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Delete (else cancel) every task with the marker; what remains is reported."""
    api.not_after = end - 1.0
    found = await ctx.db.fetch(
        "SELECT id::text AS id FROM task WHERE title LIKE %s ESCAPE '\\' AND created_at >= %s",
        (_like_prefix(prefix), since),
    )
    ids = ids | {r["id"] for r in found}
    sem = asyncio.Semaphore(10)
    results: dict[str, str] = {}

    async def remove(task_id: str) -> None:
        async with sem:
            if time.monotonic() < end - 0.5:
                results[task_id] = await api.remove(task_id)
            else:
                results[task_id] = "no time left before the check's timeout"

    await asyncio.gather(*(remove(i) for i in sorted(ids)))
    remaining = await ctx.db.fetch(
        "SELECT id::text AS id, title, status FROM task"
        " WHERE title LIKE %s ESCAPE '\\' AND created_at >= %s ORDER BY title",
        (_like_prefix(prefix), since),
    )
    leftovers = [
        {
            "task": r["id"],
            "title": r["title"],
            "status": r["status"],
            "why": results.get(r["id"], "not removed"),
        }
        for r in remaining
    ]
    done = Counter(v if v in ("deleted", "canceled") else "failed" for v in results.values())
    summary: dict[str, Any] = {"tasks": len(ids), **done}
    if leftovers:
        summary["leftovers"] = leftovers
        summary["remove_with"] = (
            f"DELETE {api.task_path('<id>')} for each, or in SQL delete the task_run and "
            f"due_work rows of the tasks titled '{prefix}%', then the tasks"
        )
    return summary, leftovers


def _throughput_outcome(
    ctx: Context, probe: _Probe | None, min_per_minute: float, grace: float
) -> Outcome:
    from golive.loadprobe import percentile

    if probe is None:
        return Outcome.error("the database gave no current time")
    rows, answers = probe.rows, probe.answers
    accepted = len(rows)
    created_ok = sum(n for a, n in answers.items() if a.startswith("HTTP 2"))
    stored_anyway = max(0, accepted - created_ok)
    starts = sorted(r["started"] for r in rows if r["started"] is not None)
    finishes = sorted(r["finished"] for r in rows if r["finished"] is not None)
    failed = [r for r in rows if r["failed"]]
    begin = probe.effective_due
    lags = sorted(max(0.0, (s - begin).total_seconds()) for s in starts)
    evidence: dict[str, Any] = {
        "tasks": {
            "requested": probe.tasks,
            "answered_2xx": created_ok,
            "stored_despite_error_answer": stored_anyway,
            "accepted_in_database": accepted,
            "started": len(starts),
            "finished": len(finishes),
            "failed_runs": len(failed),
        },
        "submissions": [{"answer": a, "count": n} for a, n in answers.most_common()],
        "timeline": {
            "due_at": probe.due.isoformat(timespec="milliseconds"),
            "submitted_at": probe.submitted_at.isoformat(timespec="milliseconds")
            if probe.submitted_at
            else None,
            "submit_seconds": round(probe.submit_s, 3),
            "first_start": starts[0].isoformat(timespec="milliseconds") if starts else None,
            "last_finish": finishes[-1].isoformat(timespec="milliseconds") if finishes else None,
        },
        "cleanup": probe.cleanup,
    }
    if probe.throttled:
        evidence["rate_limited_retries"] = probe.throttled
    if begin > probe.due:
        evidence["note_due"] = (
            "the submission ended after the due time; the rate counts from its end"
        )
    measurements: dict[str, float] = {
        "finished": float(len(finishes)),
        "accepted": float(accepted),
    }
    if probe.submit_s > 0 and not probe.throttled:
        measurements["submit_per_second"] = probe.tasks / probe.submit_s
    if lags:
        measurements["lag_p95_s"] = percentile(lags, 95)
    problems: list[str] = []
    rate = None
    if finishes:
        span = max((finishes[-1] - min(begin, starts[0])).total_seconds(), 0.001)
        rate = len(finishes) / span * 60.0
        measurements["per_minute"] = rate
        evidence["timeline"]["span_seconds"] = round(span, 3)
    if probe.verdict == "none_accepted":
        reasons = ", ".join(f"{n} x {a}" for a, n in answers.most_common(3))
        if all(a.startswith(("HTTP 401", "HTTP 403")) for a in answers):
            return Outcome.error(f"the API refused the credentials ({reasons})", evidence=evidence)
        hint = (
            "an API that answers 5xx to bad credentials looks like this too"
            if all(a.startswith("HTTP 5") for a in answers)
            else "if the API answered 2xx, golive's database target is not the API's database"
        )
        problems.append(
            f"no task of the {probe.tasks} created is in the database ({reasons}); {hint}"
        )
    elif probe.verdict == "never_ran" or (probe.verdict == "timeout" and not starts):
        waited = (
            f"within {grace:g}s of their due time"
            if probe.verdict == "never_ran"
            else f"before the check's {ctx.timeout:g}s timeout"
        )
        problems.append(
            f"the API accepted {accepted} tasks but none started {waited}: "
            "the scheduler or the workers are not running tasks"
        )
    elif probe.verdict == "timeout":
        problems.append(
            f"only {len(finishes)} of {accepted} accepted tasks finished before the check's "
            f"{ctx.timeout:g}s timeout ({len(starts)} started)"
        )
    if rate is not None and rate < min_per_minute:
        problems.append(f"{rate:.0f} tasks/min is below the required {min_per_minute:g}/min")
    if failed:
        problems.append(f"{len(failed)} runs failed (first error: {failed[0]['error']})")
    not_canceled = [t for t in probe.leftovers if t["status"] != "canceled"]
    if not_canceled:
        problems.append(f"{len(not_canceled)} probe tasks could not be removed (see cleanup)")
    if stored_anyway:
        evidence["note"] = (
            f"{stored_anyway} creates were answered with an error but the task was stored; "
            "they were counted and cleaned up"
        )
    if problems:
        return Outcome.failed("; ".join(problems), evidence=evidence, measurements=measurements)
    summary = (
        f"{len(finishes)} of {probe.tasks} tasks finished at {rate or 0:.0f} tasks/min "
        f"(required >= {min_per_minute:g}/min), p95 start delay "
        f"{measurements.get('lag_p95_s', 0):.1f}s"
    )
    if probe.leftovers:
        return Outcome.warn(
            f"{summary}; {len(probe.leftovers)} probe tasks could only be canceled, not deleted",
            evidence=evidence,
            measurements=measurements,
        )
    return Outcome.passed(summary, evidence=evidence, measurements=measurements)


# ---------------------------------------------------------------------------------------------
# performance.container_resources

_MIB = 1024 * 1024


def _memory_used(stats: dict[str, Any]) -> int | None:
    """Memory in use as `docker stats` shows it: usage minus inactive page cache."""
    mem = stats.get("memory_stats") or {}
    usage = mem.get("usage")
    if not isinstance(usage, int):
        return None
    inner = mem.get("stats") or {}
    cache = inner.get("total_inactive_file", inner.get("inactive_file", 0))
    return usage - cache if isinstance(cache, int) and 0 <= cache < usage else usage


def _cpu_seconds(stats: dict[str, Any]) -> tuple[float, float] | None:
    cpu = stats.get("cpu_stats") or {}
    total = (cpu.get("cpu_usage") or {}).get("total_usage")
    system = cpu.get("system_cpu_usage")
    if not isinstance(total, int):
        return None
    return total / 1e9, (system / 1e9 if isinstance(system, int) else math.nan)


def _cpu_percent(first: dict[str, Any], second: dict[str, Any], elapsed: float) -> float | None:
    """CPU use between two snapshots, in % of one core (docker stats' formula)."""
    a, b = _cpu_seconds(first), _cpu_seconds(second)
    if a is None or b is None or b[0] < a[0]:
        return None
    cpus = (second.get("cpu_stats") or {}).get("online_cpus") or 1
    system = b[1] - a[1]
    if system > 0:
        return (b[0] - a[0]) / system * cpus * 100.0
    return (b[0] - a[0]) / elapsed * 100.0 if elapsed > 0 else None


def _cpu_limit(host: dict[str, Any]) -> float | None:
    """The container's CPU limit in cores, or None."""
    nano = host.get("NanoCpus") or 0
    if nano:
        return float(nano) / 1e9
    quota, period = host.get("CpuQuota") or 0, host.get("CpuPeriod") or 0
    return quota / period if quota > 0 and period > 0 else None


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
