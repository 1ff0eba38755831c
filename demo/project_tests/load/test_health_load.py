"""A short load test of the running API: concurrent clients on the health endpoints.

Read-only, and the health endpoints are exempt from the rate limit, so it neither
changes data nor throttles other clients. 200 requests from 10 concurrent clients must
all succeed, with a 95th percentile under 500 ms (the SLA's p99 bound: the machine
running the suite is often busy).
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

REQUESTS = 200
CLIENTS = 10
P95_LIMIT_MS = 500.0


@pytest.mark.parametrize("path", ["/health/live", "/health"])
def test_concurrent_clients_are_served_without_errors(api_url: str, path: str) -> None:
    def one(client: httpx.Client) -> tuple[int, float]:
        t0 = time.perf_counter()
        status = client.get(path).status_code
        return status, (time.perf_counter() - t0) * 1000

    limits = httpx.Limits(max_connections=CLIENTS)
    with httpx.Client(base_url=api_url, timeout=10, limits=limits) as client:
        client.get(path)  # warm the connection pool
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = list(pool.map(lambda _: one(client), range(REQUESTS)))
    errors = [s for s, _ in results if s != 200]
    assert not errors, f"{len(errors)} of {REQUESTS} requests failed: {sorted(set(errors))}"
    p95 = statistics.quantiles([ms for _, ms in results], n=20)[-1]
    assert p95 < P95_LIMIT_MS, f"p95 {p95:.0f} ms over {P95_LIMIT_MS:.0f} ms"
