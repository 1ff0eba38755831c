"""checks/final.py (`final.health`) against the reference stack's real API.

Failing states are real: every worker stopped with stale heartbeats
(``demo.faults.dead_heartbeats``: /health reports ``degraded``, workers ``unhealthy``),
an endpoint that is not a JSON health document (``/metrics``) and one that reports only
an overall status (``/health/live``). The document parser is also tested on its own with
the other shapes real services use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from golive.models import Status
from golive.testing import run_check

if TYPE_CHECKING:
    from demo.stack import Stack

from checks.final import _components


def _api(stack: Stack) -> dict[str, Any]:
    return {"api": {"url": stack.api_url, "timeout": 10}}


def test_components_understands_common_shapes() -> None:
    ordinaut = {"checks": {"db": {"status": "healthy", "latency_ms": 2}, "redis": "down"}}
    assert _components(ordinaut) == [("db", "healthy", "latency_ms=2"), ("redis", "down", "")]
    spring = {"components": {"db": {"status": "UP", "details": {"x": 1}}}}
    assert _components(spring)[0][:2] == ("db", "UP")
    listed = {"checks": [{"name": "queue", "status": "fail", "error": "no  consumer"}]}
    assert _components(listed) == [("queue", "fail", "no consumer")]
    assert _components({"status": "ok"}) == []


@pytest.mark.integration
def test_healthy_stack_passes(stack: Stack) -> None:
    r = run_check("final.health", targets=_api(stack))
    assert r.status is Status.PASS, r.summary
    assert "'healthy'" in r.summary and "4 components healthy" in r.summary
    names = {row["component"] for row in r.evidence["components"]}
    assert names == {"database", "redis", "workers", "scheduler"}
    assert r.evidence["http"]["status"] == 200
    assert r.measurements["health_ms"] > 0


@pytest.mark.integration
def test_dead_workers_fail(stack: Stack) -> None:
    from demo import faults

    with faults.dead_heartbeats(stack):
        r = run_check("final.health", targets=_api(stack))
    assert r.status is Status.FAIL
    assert "overall status is 'degraded'" in r.summary
    assert "workers is unhealthy" in r.summary
    workers = next(row for row in r.evidence["components"] if row["component"] == "workers")
    assert workers["status"] == "unhealthy"
    assert "active=0" in workers["detail"]
    # restored: passes again
    assert run_check("final.health", targets=_api(stack)).status is Status.PASS


@pytest.mark.integration
def test_required_component_missing_fails(stack: Stack) -> None:
    r = run_check("final.health", targets=_api(stack), params={"require": ["database", "queue"]})
    assert r.status is Status.FAIL
    assert "no status for required component(s) queue" in r.summary


@pytest.mark.integration
def test_not_a_health_document_fails(stack: Stack) -> None:
    r = run_check("final.health", targets=_api(stack), params={"path": "/metrics"})
    assert r.status is Status.FAIL
    assert r.summary.startswith("/metrics answered HTTP 200 with text/plain")
    assert "not a JSON health document" in r.summary


@pytest.mark.integration
def test_overall_status_without_components_warns(stack: Stack) -> None:
    r = run_check("final.health", targets=_api(stack), params={"path": "/health/live"})
    assert r.status is Status.WARN
    assert "reports 'alive' but no component checks" in r.summary


def test_unreachable_api_is_skipped_with_reason() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = run_check("final.health", targets={"api": {"url": f"http://127.0.0.1:{port}"}})
    assert r.status is Status.SKIP
    assert "api unreachable: connection refused" in r.summary
