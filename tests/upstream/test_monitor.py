"""`golive monitor` against the real Ordinaut 2.2.2 and the real Prometheus scraping it.

Ordinaut counts requests as `ord_http_requests_total{method,path,status}`; the checklist's
default query (on `http_requests_total`) finds no series there, so the monitor derives the
error rate from Ordinaut's counter. The failing state is Ordinaut's own: a request with an
invalid bearer token answers 500 (its auth failure), counted by its metrics middleware.
Ordinaut's shipped alert rules watch `orchestrator_http_requests_total`, which it does not
export, so these 5xx fire none of its alerts for the tests that follow.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from golive.monitor.cycle import CycleResult
from golive.monitor.model import Verdict
from tests.golive.monitor.stackcfg import short_windows
from tests.golive.monitor.test_e2e import until

pytestmark = pytest.mark.integration


@pytest.fixture
def failing_requests(upstream: Any) -> Iterator[list[int]]:
    """Requests with an invalid bearer token in a loop (Ordinaut answers 500); yields the
    [5xx, other] counts so far."""
    stop = threading.Event()
    counts = [0, 0]

    def loop() -> None:
        headers = {"Authorization": "Bearer golive-invalid-token"}
        with httpx.Client(base_url=upstream.api_url, headers=headers, trust_env=False) as c:
            while not stop.is_set():
                try:
                    code = c.get("/tasks/", timeout=5).status_code
                    counts[0 if code >= 500 else 1] += 1
                except httpx.HTTPError:
                    pass
                stop.wait(0.1)  # a steady rate, not a flood

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield counts
    stop.set()
    thread.join(10)


def test_the_monitor_reports_ordinauts_error_rate_and_rolls_back(
    upstream: Any, tmp_path: Path, failing_requests: list[int]
) -> None:
    from golive.cli import app
    from golive.testing import write_config

    cfg = short_windows(upstream, tmp_path, sources={"error_rate_window": "60s"})
    seen: list[CycleResult] = []
    rollback = until(cfg, {Verdict.ROLLBACK}, 180, seen)
    assert failing_requests[0] > 0 and failing_requests[1] == 0  # every one answered 5xx
    reasons = rollback.evaluation.reasons
    assert any(
        r.startswith("The error rate has stayed above 20% for ")
        and "measured by the API's requests in Prometheus" in r
        for r in reasons
    ), reasons
    s = rollback.sample
    assert s is not None and s.api_ok is True
    assert s.error_rate_source == "prometheus, derived" and (s.error_rate or 0) > 0.2
    # "has no series", or "counted no request" when something else on this host happens to
    # answer on one of the exporter ports Ordinaut's prometheus.yml scrapes
    assert s.error_rate_note is not None
    assert s.error_rate_note.startswith("http_requests_total ")
    assert s.error_rate_note.endswith(
        "; derived from ord_http_requests_total by its 'status' label"
    )

    # the human output of `golive monitor`, with the checklist's own windows
    data = {
        "project": cfg.project,
        "targets": {
            "api": {"url": upstream.api_url},
            "prometheus": {"url": upstream.prometheus_url},
        },
        "monitor": {"history": str(tmp_path / "cli.sqlite")},
    }
    out = CliRunner().invoke(app, ["monitor", "-c", write_config(data, str(tmp_path))])
    lines = [ln for ln in out.output.splitlines() if ln.startswith("  error rate: ")]
    assert len(lines) == 1, out.output
    assert lines[0].endswith("(Prometheus, derived: ord_http_requests_total)"), lines
    rate = float(lines[0].removeprefix("  error rate: ").split("%", 1)[0])
    assert rate > 0, lines
