"""golive/loadprobe.py: statistics, and the probe against a real loopback HTTP server.

The server is the standard library's ThreadingHTTPServer on 127.0.0.1 (it answers /ok with
200, /err with 503, /slow after 30 ms); a refused connection is a port nobody listens on.
"""

from __future__ import annotations

import asyncio
import math
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from golive.config import HttpTarget
from golive.loadprobe import histogram, measure, percentile, summarize
from golive.targets.http import HttpService


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile(values, 0) == 1 and percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7
    assert math.isnan(percentile([], 50))


def test_summarize_reports_every_figure() -> None:
    stats = summarize([3.0, 1.0, 2.0, 10.0], error_rate=0.25, rps=40.0)
    assert stats["p50_ms"] == pytest.approx(2.5)
    assert stats["max_ms"] == 10 and stats["error_rate"] == 0.25 and stats["rps"] == 40
    assert set(stats) == {"p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "error_rate", "rps"}


def test_histogram_buckets_and_trims_empty_ends() -> None:
    rows = histogram([0.5, 3.0, 4.0, 4.5, 30.0, 9000.0])
    assert [r["latency"] for r in rows][:3] == ["0-1 ms", "1-2 ms", "2-5 ms"]
    assert rows[-1]["latency"] == "> 5000 ms" and rows[-1]["count"] == 1
    assert sum(r["count"] for r in rows) == 6
    by = {r["latency"]: r for r in rows}
    assert by["2-5 ms"]["count"] == 3 and by["2-5 ms"]["share"] == "50%"
    assert by["2-5 ms"]["bar"] == "#" * 30 and by["1-2 ms"]["bar"] == ""
    assert histogram([]) == []


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(0.03)
        status = 503 if self.path == "/err" else 200
        body = b'{"status": "ok"}'
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def _probe(url: str, path: str, **kw: Any) -> Any:
    async def go() -> Any:
        service = HttpService(HttpTarget(url=url, timeout=5))
        try:
            return await measure(service, path, **kw)
        finally:
            await service.close()

    return asyncio.run(go())


def test_measure_counts_every_request_after_the_warmup(server: str) -> None:
    seen: list[tuple[int, int]] = []
    r = _probe(server, "/ok", requests=50, concurrency=5, warmup=10,
               progress=lambda d, t: seen.append((d, t)))  # fmt: skip
    assert r.completed == 50 and len(r.latencies_ms) == 50
    assert r.statuses == {200: 50} and r.errors == 0 and r.error_rate == 0
    assert r.rps > 0 and r.duration_s > 0 and not r.stopped_early
    assert seen[-1] == (50, 50)
    assert all(v > 0 for v in r.latencies_ms)


def test_measure_times_the_whole_response(server: str) -> None:
    r = _probe(server, "/slow", requests=10, concurrency=2)
    assert min(r.latencies_ms) >= 30
    assert r.stats()["p50_ms"] >= 30


def test_measure_counts_error_statuses(server: str) -> None:
    r = _probe(server, "/err", requests=20, concurrency=4)
    assert r.statuses == {503: 20} and r.errors == 20 and r.error_rate == 1
    assert r.error_reasons() == ["20 x HTTP 503"]


def test_measure_counts_refused_connections_without_raising() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = _probe(f"http://127.0.0.1:{port}", "/ok", requests=6, concurrency=2)
    assert r.completed == 6 and r.latencies_ms == []
    assert r.error_rate == 1
    assert r.error_reasons() == [f"6 x connection refused by http://127.0.0.1:{port}"]


def test_measure_stops_at_the_deadline(server: str) -> None:
    # 10 000 answers of at least 30 ms, two at a time, take over 150 s: stopping at a
    # deadline 0.5 s ahead leaves most unsent. How many were sent before it depends on how
    # busy the machine is (possibly none), so only what was sent is checked, not how many.
    r = _probe(server, "/slow", requests=10_000, concurrency=2, deadline=time.monotonic() + 0.5)
    assert r.stopped_early and r.completed < 10_000
    assert len(r.latencies_ms) == r.completed and r.statuses == (
        {200: r.completed} if r.completed else {}
    )
