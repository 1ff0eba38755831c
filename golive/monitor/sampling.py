"""One sample of the live stack, measured through golive's shared targets.

A sample probes the API's health endpoint a few times (availability and latency), reads
the error rate from Prometheus (5xx over all requests, by the configured query or one
derived from the request counter the target exports: see `golive.monitor.errorrate`; the
probe's own failures when Prometheus has no figure, labelled as such, and 100 % when the
API answered none of the probe's requests, since Prometheus cannot count requests that
never reached it), the database's connections
and the task runs finished in the last hour, the alerts firing in Alertmanager (v2 API)
and the error-log lines of a configured command. Every source runs concurrently with its
own timeout; a source that fails is recorded in `Sample.problems` and its value stays
None (never "healthy").

The error-log *file* source needs the offset where the previous sample stopped, so it is
counted by the history while it records the sample (see `count_file_errors`).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from golive.monitor.model import Sample

if TYPE_CHECKING:
    from golive.config import Config, ErrorLogSource
    from golive.monitor.errorrate import ErrorRate
    from golive.targets import Targets

#: Label carried by the alerts golive monitor posts; they are not counted as firing alerts.
MONITOR_LABEL = "golive_monitor"
MAX_LINE = 1 << 20  # longest log line read at once (longer ones are split)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of the values, or None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def promql_duration(seconds: float) -> str:
    """A PromQL range such as '300s'."""
    return f"{max(1, round(seconds))}s"


async def probe_api(targets: Targets, path: str, requests: int) -> dict[str, Any]:
    """GET the health path `requests` times after one warm-up request (connection set-up,
    not measured); the API is up when most measured requests answer 2xx."""
    import httpx

    api = targets.api
    deadline = time.monotonic() + api.timeout * 2
    latencies: list[float] = []
    errors = 0
    ok = 0
    status: int | None = None
    detail: str | None = None
    try:
        await api.get(path)
    except (httpx.HTTPError, OSError):
        pass  # the measured requests say what is wrong
    for _ in range(requests):
        if time.monotonic() > deadline:
            errors += 1
            detail = detail or f"no answer within {api.timeout * 2:g}s"
            continue
        t0 = time.perf_counter()
        try:
            resp = await api.get(path)
        except (httpx.HTTPError, OSError) as exc:
            errors += 1
            detail = api.describe(exc)
            continue
        latencies.append((time.perf_counter() - t0) * 1000)
        status = resp.status_code
        if 200 <= resp.status_code < 300:
            ok += 1
            health = _health_status(resp)
            if health and health not in ("healthy", "ok", "pass", "up"):
                detail = f"{path} answered {resp.status_code} with status {health!r}"
        else:
            errors += resp.status_code >= 500
            detail = f"{path} answered HTTP {resp.status_code}{_health_suffix(resp)}"
    return {
        "api_ok": ok * 2 > requests,
        "api_status": status,
        "api_detail": None if ok * 2 > requests and detail is None else detail,
        "latencies_ms": tuple(round(v, 3) for v in latencies),
        "latency_p50_ms": _round(percentile(latencies, 50)),
        "latency_p95_ms": _round(percentile(latencies, 95)),
        "probe_requests": requests,
        "probe_errors": errors,
    }


def _health_status(resp: Any) -> str | None:
    try:
        body = resp.json()
    except ValueError:
        return None
    value = body.get("status") if isinstance(body, dict) else None
    return str(value).lower() if value is not None else None


def _health_suffix(resp: Any) -> str:
    health = _health_status(resp)
    return f" (status {health!r})" if health else ""


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 3)


async def database_figures(targets: Targets) -> dict[str, Any]:
    """Connections to the application database and task runs finished in the last hour."""
    out: dict[str, Any] = {}
    problems: dict[str, str] = {}
    db = targets.database
    async with db.session() as conn:
        cur = await conn.execute(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database()"
        )
        row = await cur.fetchone()
        out["db_connections"] = int(row["n"]) if row else None
        try:
            cur = await conn.execute(
                "SELECT count(*) AS n FROM task_run WHERE finished_at > now() - interval '1 hour'"
            )
            row = await cur.fetchone()
            out["tasks_last_hour"] = int(row["n"]) if row else None
        except Exception as exc:  # e.g. a variant schema without task_run
            problems["tasks finished in the last hour"] = db.describe(exc)
    out["problems"] = problems
    return out


async def firing_alerts(targets: Targets, critical: Sequence[str]) -> dict[str, Any]:
    """Active, unsilenced, uninhibited alerts (not golive's own verdict alerts)."""
    alerts = await targets.alertmanager.alerts(active="true", silenced="false", inhibited="false")
    firing = [
        a
        for a in alerts
        if (a.get("status") or {}).get("state", "active") == "active"
        and (a.get("labels") or {}).get(MONITOR_LABEL) != "true"
    ]
    crit = {c.lower() for c in critical}
    names = sorted({str((a.get("labels") or {}).get("alertname", "?")) for a in firing})
    return {
        "firing_alerts": len(firing),
        "critical_alerts": sum(
            1 for a in firing if str((a.get("labels") or {}).get("severity", "")).lower() in crit
        ),
        "alert_names": tuple(names),
    }


async def run_command(
    command: str | Sequence[str], timeout: float, on_line: Callable[[str], None] | None = None
) -> tuple[int, str]:
    """Run a command (a string runs in `sh -c`); stream its output lines; return (code, tail).

    The output is never held in memory whole: each line goes to `on_line`, and only the
    last 8 KiB are returned. A command still running at `timeout` is killed (its process
    group) and reported as exit code -9.
    """
    argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
        limit=MAX_LINE,
    )
    tail = bytearray()
    assert proc.stdout is not None

    async def pump() -> None:
        assert proc.stdout is not None
        while True:
            try:
                line = await proc.stdout.readline()
            except ValueError:  # a line longer than the limit: take what is buffered
                line = await proc.stdout.read(MAX_LINE)
            if not line:
                return
            tail.extend(line)
            del tail[: max(0, len(tail) - 8192)]
            if on_line is not None:
                on_line(line.decode("utf-8", "replace"))

    try:
        await asyncio.wait_for(asyncio.gather(pump(), proc.wait()), timeout)
    except (asyncio.TimeoutError, TimeoutError):
        try:
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass
        await proc.wait()
        return -9, tail.decode("utf-8", "replace")
    return proc.returncode if proc.returncode is not None else -1, tail.decode("utf-8", "replace")


async def command_errors(src: ErrorLogSource) -> dict[str, Any]:
    """Error lines in the output of the configured log command."""
    assert src.command is not None
    pattern = re.compile(src.pattern)
    count = 0

    def on_line(line: str) -> None:
        nonlocal count
        if pattern.search(line):
            count += 1

    code, tail = await run_command(src.command, src.timeout, on_line)
    if code != 0:
        last = " ".join(tail.strip().splitlines()[-1:])[:300]
        why = "timed out" if code == -9 else f"exited with code {code}"
        raise RuntimeError(f"the log command {why}" + (f": {last}" if last else ""))
    return {"error_lines": count, "error_span": src.covers}


def count_file_errors(
    path: str, pattern: str, state: Mapping[str, Any] | None, now: float
) -> tuple[int, float | None, dict[str, Any]]:
    """Matching lines appended to a log file since the previous sample.

    `state` is what the previous call returned (inode, offset, time); a rotated or
    truncated file is read from its start. On the very first call the whole file counts
    (its lines' age is unknown, and unknown never counts as healthy). Returns the count,
    the span it covers (None on the first call) and the new state. Only complete lines
    are consumed: a line still being written is counted by the next sample.
    """
    regex = re.compile(pattern)
    st = os.stat(path)
    offset = 0
    span: float | None = None
    if state and state.get("inode") == st.st_ino and int(state.get("offset", 0)) <= st.st_size:
        offset = int(state["offset"])
        span = max(0.0, now - float(state.get("ts", now)))
    elif state:
        span = max(0.0, now - float(state.get("ts", now)))
    count = 0
    with open(path, "rb") as fh:
        fh.seek(offset)
        while True:
            line = fh.readline(MAX_LINE)
            if not line:
                break
            if not line.endswith(b"\n") and len(line) < MAX_LINE:
                break  # incomplete last line: leave it for the next sample
            offset += len(line)
            if regex.search(line.decode("utf-8", "replace")):
                count += 1
    return count, span, {"inode": st.st_ino, "offset": offset, "ts": now}


async def _guard(
    name: str,
    timeout: float,
    coro: Awaitable[dict[str, Any]],
    describe: Callable[[BaseException], str],
) -> tuple[str, dict[str, Any] | None, str | None]:
    try:
        return name, await asyncio.wait_for(coro, timeout), None
    except (asyncio.TimeoutError, TimeoutError):
        return name, None, f"no answer within {timeout:g}s"
    except Exception as exc:
        return name, None, describe(exc)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


async def take_sample(
    cfg: Config,
    targets: Targets,
    *,
    now: float,
    interval: float,
    baseline_ms: float | None = None,
    baseline_problem: str | None = None,
) -> Sample:
    """Measure every configured source once, concurrently; never raises for a source."""
    m = cfg.monitor
    t = cfg.targets
    t0 = time.perf_counter()
    _prepare(targets)
    jobs: list[Awaitable[tuple[str, dict[str, Any] | None, str | None]]] = []
    if t.api is not None:
        path = m.sources.probe_path or t.api.health_path
        budget = t.api.timeout * 2 + 1
        jobs.append(
            _guard("the API", budget, probe_api(targets, path, m.sources.probe_requests), _reason)
        )
    if t.prometheus is not None:

        async def rate() -> dict[str, Any]:
            from golive.monitor.errorrate import measure

            window = m.sources.error_rate_window
            found = await measure(
                targets.prometheus, m.sources.error_rate_query, promql_duration(window), window
            )
            return {"prom_rate": found}

        jobs.append(
            _guard(
                "the error rate in Prometheus",
                t.prometheus.timeout + 1,
                rate(),
                lambda e: targets.prometheus.describe(e) if _is_http(e) else _reason(e),
            )
        )
    if t.database is not None:
        budget = t.database.connect_timeout + t.database.statement_timeout * 2 + 1
        jobs.append(
            _guard("the database", budget, database_figures(targets), targets.database.describe)
        )
    if t.alertmanager is not None:
        jobs.append(
            _guard(
                "firing alerts in Alertmanager",
                t.alertmanager.timeout + 1,
                firing_alerts(targets, m.sources.critical_severities),
                lambda e: targets.alertmanager.describe(e) if _is_http(e) else _reason(e),
            )
        )
    src = m.sources.error_log
    if src is not None and src.command is not None:
        jobs.append(_guard("error-log lines", src.timeout + 1, command_errors(src), _reason))

    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    prom_note: str | None = None
    for name, result, problem in await asyncio.gather(*jobs):
        if problem is not None:
            if name == "the error rate in Prometheus":
                prom_note = problem  # the probe's own errors stand in for it
            else:
                problems[name] = problem
            continue
        assert result is not None
        problems.update(result.pop("problems", {}))
        values.update(result)
    if baseline_problem:
        problems["the performance baseline"] = baseline_problem

    found: ErrorRate | None = values.pop("prom_rate", None)
    if found is not None:
        values["error_rate_query"] = found.query
        values["error_rate_note"] = found.note
        prom_note = found.note
        if found.unusable and found.note:
            # not a quiet API: nothing in Prometheus counts its requests (needs ATTENTION)
            problems["the error rate in Prometheus"] = found.note
    unreachable = values.get("probe_requests") and not values.get("latencies_ms")
    if unreachable:
        # Prometheus only counts requests that reached the API: its ratio would be stale
        values["error_rate"] = 1.0
        values["error_rate_source"] = "probe (the API answered no request)"
    elif found is not None and found.value is not None:
        values["error_rate"] = round(found.value, 6)
        values["error_rate_source"] = "prometheus, derived" if found.derived else "prometheus"
    elif values.get("probe_requests"):
        # golive's own probe requests stand in; every output labels them as such
        values["error_rate"] = round(values["probe_errors"] / values["probe_requests"], 6)
        why = prom_note or "no value"
        values["error_rate_source"] = f"probe (Prometheus: {why})" if t.prometheus else "probe"
    p95 = values.get("latency_p95_ms")
    if baseline_ms and p95 is not None:
        values["perf_ratio"] = round(p95 / baseline_ms, 4)
    return Sample(
        id=uuid.uuid4().hex,
        ts=now,
        interval=interval,
        duration=round(time.perf_counter() - t0, 3),
        baseline_ms=baseline_ms,
        problems=problems,
        **values,
    )


def _prepare(targets: Targets) -> None:
    """Import the client libraries and build the HTTP clients (TLS contexts) up front.

    Both are CPU work that blocks the event loop; done inside the timed sources, a starved
    CPU (a busy host, twenty overlapping cron runs) would turn them into false timeouts.
    """
    for kind in ("api", "prometheus", "alertmanager"):
        if targets.configured(kind):
            _ = targets.get(kind).client
    if targets.configured("database"):
        import psycopg.rows  # noqa: F401


def _is_http(exc: BaseException) -> bool:
    import httpx

    return isinstance(exc, (httpx.HTTPError, OSError))


def with_file_errors(
    sample: Sample, lines: int | None, span: float | None, problem: str | None
) -> Sample:
    """The sample with the error-log file's count (or the reason it could not be read)."""
    if problem is not None:
        return replace(sample, problems={**sample.problems, "error-log lines": problem})
    return replace(sample, error_lines=lines, error_span=span)


def dumps(sample: Sample) -> str:
    """The sample as compact JSON."""
    return json.dumps(sample.to_json(), separators=(",", ":"), sort_keys=True)
