"""An HTTP latency probe and the statistics golive reports about it.

`measure` sends N GET requests at concurrency C to one path of an HTTP target: every
concurrent worker owns one keep-alive connection (as `hey` and `ab` do) and sends its
requests back to back; the first requests (the warm-up, at least one per connection, so
that connection set-up is not counted) are not measured. Latency is the time from sending
the request to having read the whole body. Statistics are computed here, with the standard
library only: percentiles (linear interpolation between closest ranks, numpy's default),
error rate, requests per second, and a histogram in fixed millisecond buckets.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from golive.targets.http import HttpService

#: Upper edges (ms) of the histogram buckets; the last bucket is open-ended.
BUCKETS_MS: tuple[float, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
#: The percentiles reported (and compared with a baseline).
PERCENTILES: tuple[int, ...] = (50, 90, 95, 99)


@dataclass
class ProbeResult:
    """What one probe of one path measured."""

    path: str
    planned: int
    latencies_ms: list[float] = field(default_factory=list)  # every measured response
    statuses: Counter[int] = field(default_factory=Counter)  # HTTP status -> count
    failures: Counter[str] = field(default_factory=Counter)  # transport error -> count
    duration_s: float = 0.0  # wall time of the measured phase
    stopped_early: bool = False  # the deadline ended the probe before `planned` requests

    @property
    def completed(self) -> int:
        """Measured requests that got an answer or failed (warm-up excluded)."""
        return len(self.latencies_ms) + sum(self.failures.values())

    @property
    def errors(self) -> int:
        """Transport failures plus answers with a status of 400 or more."""
        return sum(self.failures.values()) + sum(n for s, n in self.statuses.items() if s >= 400)

    @property
    def error_rate(self) -> float:
        """Errors over completed requests (1.0 when nothing completed)."""
        return self.errors / self.completed if self.completed else 1.0

    @property
    def rps(self) -> float:
        """Completed requests per second of the measured phase."""
        return self.completed / self.duration_s if self.duration_s > 0 else 0.0

    def stats(self) -> dict[str, float]:
        """p50/p90/p95/p99/max latency (ms), error rate and requests per second."""
        return summarize(self.latencies_ms, self.error_rate, self.rps)

    def error_reasons(self, limit: int = 3) -> list[str]:
        """The most frequent reasons requests failed, e.g. '12 x HTTP 503'."""
        reasons = Counter({f"HTTP {s}": n for s, n in self.statuses.items() if s >= 400})
        reasons.update(self.failures)
        return [f"{n} x {why}" for why, n in reasons.most_common(limit)]


def percentile(ordered: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of sorted values, interpolating between closest ranks."""
    if not ordered:
        return math.nan
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarize(latencies_ms: Sequence[float], error_rate: float, rps: float) -> dict[str, float]:
    """The reported figures of a set of latencies (NaN percentiles when there are none)."""
    ordered = sorted(latencies_ms)
    out = {f"p{q}_ms": percentile(ordered, q) for q in PERCENTILES}
    out["max_ms"] = ordered[-1] if ordered else math.nan
    out["error_rate"] = error_rate
    out["rps"] = rps
    return out


def histogram(latencies_ms: Sequence[float], width: int = 30) -> list[dict[str, Any]]:
    """Counts per latency bucket, as table rows; empty buckets at either end are dropped."""
    counts = [0] * (len(BUCKETS_MS) + 1)
    for v in latencies_ms:
        i = 0
        while i < len(BUCKETS_MS) and v > BUCKETS_MS[i]:
            i += 1
        counts[i] += 1
    total = len(latencies_ms)
    if not total:
        return []
    used = [i for i, n in enumerate(counts) if n]
    rows = []
    peak = max(counts)
    for i in range(used[0], used[-1] + 1):
        lo = BUCKETS_MS[i - 1] if i > 0 else 0
        label = f"{lo:g}-{BUCKETS_MS[i]:g} ms" if i < len(BUCKETS_MS) else f"> {lo:g} ms"
        rows.append(
            {
                "latency": label,
                "count": counts[i],
                "share": f"{counts[i] / total:.0%}",
                "bar": "#" * max(1 if counts[i] else 0, round(width * counts[i] / peak)),
            }
        )
    return rows


async def measure(
    service: HttpService,
    path: str,
    *,
    requests: int,
    concurrency: int,
    warmup: int = 0,
    deadline: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    headers: dict[str, str] | None = None,
) -> ProbeResult:
    """GET `path` `requests` times from `concurrency` connections; see the module docstring.

    `deadline` is a `time.monotonic()` instant after which no new request starts; the
    result then says `stopped_early`. `headers` are sent besides the service's own.
    Transport errors are counted, never raised.
    """
    import httpx

    concurrency = max(1, min(concurrency, requests))
    warm_total = max(warmup, concurrency)
    result = ProbeResult(path=path, planned=requests)
    url = service.url + path
    sent = {"user-agent": "golive-latency-probe", **service.default_headers(), **(headers or {})}
    timeout = httpx.Timeout(service.timeout).as_dict()
    transports = [service.load_transport() for _ in range(concurrency)]
    state = {"warm": 0, "next": 0}
    every = max(1, requests // 100)
    started: list[float] = []

    async def one(
        transport: httpx.AsyncHTTPTransport, request: httpx.Request
    ) -> tuple[int | str, float]:
        """(status or failure reason, when the whole answer was in)."""
        try:
            resp = await transport.handle_async_request(request)
            try:
                await resp.aread()
                done_at = time.perf_counter()  # before handing the connection back
            finally:
                await resp.aclose()
        except (httpx.HTTPError, OSError) as exc:
            return service.describe(exc), time.perf_counter()
        return resp.status_code, done_at

    async def worker(transport: httpx.AsyncHTTPTransport) -> None:
        request = httpx.Request("GET", url, headers=sent, extensions={"timeout": timeout})
        await one(transport, request)  # opens this worker's connection; not measured
        state["warm"] += 1
        while state["warm"] < warm_total:
            state["warm"] += 1
            await one(transport, request)
        if not started:
            started.append(time.perf_counter())
        while state["next"] < requests:
            if deadline is not None and time.monotonic() >= deadline:
                result.stopped_early = True
                return
            state["next"] += 1
            t0 = time.perf_counter()
            outcome, done_at = await one(transport, request)
            elapsed = (done_at - t0) * 1000.0
            if isinstance(outcome, int):
                result.latencies_ms.append(elapsed)
                result.statuses[outcome] += 1
            else:
                result.failures[outcome] += 1
            done = result.completed
            if progress is not None and (done % every == 0 or done == requests):
                progress(done, requests)

    try:
        await asyncio.gather(*(worker(t) for t in transports))
    finally:
        await asyncio.gather(*(t.aclose() for t in transports), return_exceptions=True)
    if started:
        result.duration_s = time.perf_counter() - started[0]
    return result
