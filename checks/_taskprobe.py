"""The task probe of `performance.task_throughput` (`checks/performance.py`).

Its API client (keep-alive connections, same-origin redirects, Retry-After on 429), the
submission of the probe's tasks, the database polling until they finish, the clean-up of
every task carrying the run's marker, and the verdict drawn from what the probe saw.
Standard library only at import time: httpx is imported inside the functions that use it.
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

from golive.api import Context, Outcome

_STATUS_TEXT = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content"}


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
        self.abandoned = 0  # requests whose caller was cancelled after they were sent
        self._inflight: set[asyncio.Future[Any]] = set()  # requests still on their way
        self.reasons: dict[str, str] = {}  # answer -> the API's reason, for error answers
        # which removals the API documents (None: no OpenAPI document, try both)
        self.can_delete: bool | None = None
        self.can_cancel: bool | None = None

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
        # the request runs on in its own task when its caller is cancelled (an interrupted
        # run): the API may commit a create it has received, and `settle` then learns its
        # answer (the new task's id) instead of guessing when the API is done with it
        sent = asyncio.ensure_future(self._exchange(request))
        self._inflight.add(sent)
        sent.add_done_callback(self._inflight.discard)
        try:
            return await asyncio.shield(sent)
        except asyncio.CancelledError:
            self.abandoned += 1
            raise

    async def _exchange(self, request: Any) -> Any:
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

    async def settle(self, until: float) -> list[Any]:
        """Wait (until monotonic time `until`) for the requests still on their way; their
        answers, for those that got one."""
        pending = set(self._inflight)
        if not pending:
            return []
        done, late = await asyncio.wait(pending, timeout=max(0.0, until - time.monotonic()))
        for f in late:  # no answer in time: given up (the settle loop still watches for it)
            f.cancel()
        return [f.result() for f in done if not f.cancelled() and f.exception() is None]

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
        """(what happened, task id when the answer names one); the API's reason for the
        first answer of each error status is kept in `reasons`."""
        import httpx

        from golive.openapi import answer_reason

        try:
            resp = await self.send("POST", self.tasks_path, body)
        except httpx.HTTPError as exc:
            return f"no answer ({self.ctx.api.describe(exc)})", None
        task_id = None
        answer = _answer(resp.status_code)
        if 200 <= resp.status_code < 300:
            try:
                data = resp.json()
            except ValueError:
                data = None
            if isinstance(data, dict) and data.get("id"):
                task_id = str(data["id"])
        elif answer not in self.reasons:
            self.reasons[answer] = self.ctx.redactor.redact(answer_reason(resp))
        return answer, task_id

    def task_path(self, task_id: str, action: str = "") -> str:
        """The path of one task (or of one of its actions)."""
        base = self.tasks_path.rstrip("/") or "/tasks"
        return f"{base}/{task_id}" + (f"/{action}" if action else "")

    async def remove(self, task_id: str) -> str:
        """'deleted', 'canceled' or why neither worked (only documented removals are tried
        when the API serves an OpenAPI document)."""
        import httpx

        tried: list[str] = []
        try:
            if self.can_delete is not False:
                resp = await self.send("DELETE", self.task_path(task_id))
                if resp.status_code in (200, 202, 204, 404):
                    return "deleted"
                tried.append(f"DELETE answered {_answer(resp.status_code)}")
            if self.can_cancel is not False:
                resp = await self.send("POST", self.task_path(task_id, "cancel"))
                if 200 <= resp.status_code < 300:
                    return "canceled"
                tried.append(f"cancel answered {_answer(resp.status_code)}")
        except httpx.HTTPError as exc:
            return self.ctx.api.describe(exc)
        return ", ".join(tried) or "the API documents no way to delete or cancel a task"


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
    operation: str = "POST /tasks/"
    refused: tuple[str, str] | None = None  # (answer, the API's reason) to the first create
    reasons: dict[str, str] = field(default_factory=dict)
    cleanup: dict[str, Any] = field(default_factory=dict)
    leftovers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def effective_due(self) -> datetime:
        """The due time, or the end of the submission when that came later."""
        if self.submitted_at is not None and self.submitted_at > self.due:
            return self.submitted_at
        return self.due


_DESCRIPTION = "golive performance.task_throughput probe; removed when it ends"
# fields golive fills (TARGET.md names them), each with its preferred values in order: the
# first one that the API's schema for that field accepts is sent
_ESSENTIAL = ("title", "schedule_kind", "schedule_expr")


def _wanted(
    prefix: str, created_by: str, due: datetime, task_fields: dict[str, Any]
) -> dict[str, list[Any]]:
    wanted: dict[str, list[Any]] = {
        "title": [f"{prefix}00000"],
        "description": [_DESCRIPTION],
        "created_by": [created_by],
        "schedule_kind": ["once"],
        "schedule_expr": [due.isoformat()],
        # the due time carries its UTC offset: any zone name the API accepts will do
        "timezone": ["UTC", "Etc/UTC", "Europe/London"],
        "payload": [{"pipeline": [{"id": "s1", "uses": "noop"}]}],
        "priority": [5],
        "max_retries": [0],
    }
    for name, value in task_fields.items():
        wanted[name] = [value]
    return wanted


async def _plan(
    ctx: Context,
    api: _TaskApi,
    tasks_path: str,
    prefix: str,
    created_by: str,
    due: datetime,
    task_fields: dict[str, Any],
) -> dict[str, Any] | Outcome:
    """The body of the probe's creates, built from the API's OpenAPI document and validated
    against its request schema; an ERROR outcome when that cannot be done. Without a
    document, golive's own body is sent to `tasks_path` (the evidence says so)."""
    from golive.openapi import OpenApiUnavailable, UnsatisfiableBody, build_body

    wanted = _wanted(prefix, created_by, due, task_fields)
    try:
        doc = await ctx.api.openapi(ctx.deadline)
    except OpenApiUnavailable as exc:
        ctx.record(
            "request",
            {
                "operation": f"POST {tasks_path}",
                "source": f"params (no OpenAPI document: {exc}); the body was not validated",
            },
        )
        return {name: values[0] for name, values in wanted.items()}
    op = doc.find("POST", tasks_path)
    if op is None:
        posts = ", ".join(doc.labels("POST")[:8]) or "none"
        return Outcome.error(
            f"the API's OpenAPI document has no operation POST {tasks_path} (its POST "
            f"operations: {posts}); set `tasks_path` to the one that creates tasks"
        )
    try:
        body = build_body(op, wanted, essential=_ESSENTIAL, exact=list(task_fields))
    except UnsatisfiableBody as exc:
        return Outcome.error(
            ctx.redactor.redact(f"{exc} (nothing was sent; `task_fields` sets a field's value)"),
            evidence={"operation": op.label, "field": exc.field},
        )
    api.tasks_path = op.path
    base = op.path.rstrip("/")
    api.can_delete = doc.find("DELETE", base + "/{id}") is not None
    api.can_cancel = doc.find("POST", base + "/{id}/cancel") is not None
    adjusted = {k: v for k, v in body.items() if k in wanted and v != wanted[k][0] and k != "title"}
    ctx.record(
        "request",
        {
            "operation": op.label,
            "source": f"{doc.source}: body validated against the request schema",
            "fields": sorted(body),
            **({"adjusted_to_schema": adjusted} if adjusted else {}),
            "removal": " then ".join(
                w for w, ok in (("DELETE", api.can_delete), ("cancel", api.can_cancel)) if ok
            )
            or "none documented",
        },
    )
    return body


async def _submit(
    ctx: Context,
    api: _TaskApi,
    probe: _Probe,
    template: dict[str, Any],
    prefix: str,
    concurrency: int,
    ids: set[str],
) -> None:
    """Create the probe's tasks: one first, then (unless the API refused it with a 4xx)
    the rest, `concurrency` at a time."""
    sem = asyncio.Semaphore(concurrency)

    async def create(i: int) -> None:
        body = {**template, "title": f"{prefix}{i:05d}"}
        async with sem:
            answer, task_id = await api.create(body)
        probe.answers[answer] += 1
        if task_id:
            ids.add(task_id)
        ctx.progress(sum(probe.answers.values()), probe.tasks, "tasks submitted")

    t0 = time.monotonic()
    await create(0)
    first = next(iter(probe.answers))
    if first.startswith("HTTP 4"):
        probe.refused = (first, api.reasons.get(first, ""))
    else:
        await asyncio.gather(*(create(i) for i in range(1, probe.tasks)))
    probe.submit_s = time.monotonic() - t0
    ctx.record("submissions", _submissions(probe.answers, api.reasons))
    if api.redirects:
        ctx.record("redirects", dict(api.redirects))


def _submissions(answers: Counter[str], reasons: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {"answer": a, "count": n, **({"reason": reasons[a]} if a in reasons else {})}
        for a, n in answers.most_common()
    ]


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
    sem = asyncio.Semaphore(10)
    results: dict[str, str] = {}

    async def marked() -> set[str]:
        found = await ctx.db.fetch(
            "SELECT id::text AS id FROM task WHERE title LIKE %s ESCAPE '\\' AND created_at >= %s",
            (_like_prefix(prefix), since),
        )
        return {r["id"] for r in found}

    async def remove(task_id: str) -> None:
        async with sem:
            if time.monotonic() < end - 0.5:
                results[task_id] = await api.remove(task_id)
            else:
                results[task_id] = "no time left before the check's timeout"

    # creates still on their way when the run was interrupted: their answers come first,
    # so that a task the API commits for one of them is in the listing below
    await api.settle(min(end - 1.0, time.monotonic() + ctx.api.timeout))
    ids = ids | await marked()
    await asyncio.gather(*(remove(i) for i in sorted(ids)))
    if api.abandoned:
        # a create the API received but had not answered when its connection ended may still
        # be committed after the listing above: poll until two listings in a row find nothing
        # new.
        settle_until = min(end - 1.0, time.monotonic() + max(2.0, ctx.api.timeout))
        quiet = 0
        while quiet < 2 and time.monotonic() < settle_until:
            await asyncio.sleep(0.25)
            new = await marked() - set(results)
            quiet = 0 if new else quiet + 1
            ids |= new
            await asyncio.gather(*(remove(i) for i in sorted(new)))
    purged: dict[str, Any] = {}
    canceled = sorted(i for i, r in results.items() if r == "canceled")
    if canceled and api.can_delete is False:
        # the API documents no way to delete a task: the canceled ones go from the database
        purged = await _purge(ctx, canceled, prefix, since)
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
    summary: dict[str, Any] = {"tasks": len(ids), **done, **purged}
    if leftovers:
        summary["leftovers"] = leftovers
        summary["remove_with"] = (
            f"DELETE {api.task_path('<id>')} for each, or in SQL delete the task_run and "
            f"due_work rows of the tasks titled '{prefix}%', then the tasks"
        )
    return summary, leftovers


async def _purge(ctx: Context, task_ids: list[str], prefix: str, since: datetime) -> dict[str, Any]:
    """Delete canceled probe tasks (with their runs and queued work) from the database, in
    one transaction, by id and marker; what happened, for the evidence."""
    import psycopg

    marked = (_like_prefix(prefix), since)
    try:
        async with ctx.db.session(write=True) as conn, conn.transaction():
            for table in ("due_work", "task_run"):
                await conn.execute(
                    f"DELETE FROM {table} WHERE task_id::text = ANY(%s) AND task_id IN "
                    "(SELECT id FROM task WHERE title LIKE %s ESCAPE '\\' AND created_at >= %s)",
                    (task_ids, *marked),
                )
            cur = await conn.execute(
                "DELETE FROM task WHERE id::text = ANY(%s) AND title LIKE %s ESCAPE '\\'"
                " AND created_at >= %s",
                (task_ids, *marked),
            )
            return {
                "removed_from_database": cur.rowcount,
                "why_database": "the API documents no DELETE for tasks: golive canceled them "
                "through the API, then deleted them, their runs and queued work in SQL",
            }
    except psycopg.Error as exc:
        return {"database_removal_failed": ctx.redactor.redact(str(exc).strip())}


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
        "submissions": _submissions(answers, probe.reasons),
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
    if probe.refused is not None and not accepted:
        # golive's own request was refused: that says nothing about the target's throughput
        answer, why = probe.refused
        if answer.startswith(("HTTP 401", "HTTP 403")):
            return Outcome.error(
                f"the API refused golive's credentials: {probe.operation} answered {answer}: "
                f"{why} (set targets.api.token or targets.api.agent_id)",
                evidence=evidence,
            )
        return Outcome.error(
            f"{probe.operation} answered {answer} to golive's probe request, so throughput "
            f"was not measured: {why}",
            evidence=evidence,
        )
    if probe.verdict == "none_accepted":
        reasons = ", ".join(f"{n} x {a}" for a, n in answers.most_common(3))
        if all(a.startswith(("HTTP 401", "HTTP 403")) for a in answers):
            return Outcome.error(f"the API refused the credentials ({reasons})", evidence=evidence)
        if all(a.startswith("HTTP 2") for a in answers):
            hint = (
                "either the API does not store what it accepts, or golive's database "
                "target is not the API's database"
            )
        elif all(a.startswith("HTTP 5") for a in answers):
            hint = "an API that answers 5xx to bad credentials looks like this too"
        else:
            hint = "see submissions for the API's answers"
        problems.append(
            f"no task of the {probe.tasks} created is in the database ({reasons}); {hint}"
        )
    elif probe.verdict == "never_ran" or (probe.verdict == "timeout" and not starts):
        waited = (
            f"within {grace:g}s of their due time"
            if probe.verdict == "never_ran"
            else f"before the check's {ctx.timeout:g}s timeout"
        )
        answered_error = f" ({stored_anyway} answered with an error)" if stored_anyway else ""
        problems.append(
            f"{accepted} probe tasks are stored{answered_error} but none started {waited}: "
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
