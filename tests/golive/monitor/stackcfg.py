"""A monitor configuration pointing at the reference stack, with shortened windows."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from golive.config import Config, load_config
from golive.redact import Redactor
from golive.testing import write_config


def stack_targets(stack: Any) -> dict[str, Any]:
    """The stack's API, database, Prometheus and Alertmanager as golive targets."""
    return {
        "api": {"url": stack.api_url},
        "database": {"dsn": stack.database_dsn},
        "prometheus": {"url": stack.prometheus_url},
        "alertmanager": {"url": stack.alertmanager_url},
    }


def short_windows(
    stack: Any,
    tmp_path: Path,
    *,
    notify: dict[str, Any] | None = None,
    targets: dict[str, Any] | None = None,
    **monitor: Any,
) -> Config:
    """Windows of seconds instead of minutes and hours; a unique project name (so that the
    alerts this test posts to the shared Alertmanager are its own). `targets` replace the
    stack's of the same kind."""
    data: dict[str, Any] = {
        "project": f"golive-test-{uuid.uuid4().hex[:8]}",
        "environment": "e2e",
        "targets": {**stack_targets(stack), **(targets or {})},
        "monitor": {
            "history": str(tmp_path / "history.sqlite"),
            "every": "2s",
            "sources": {
                "probe_requests": 3,
                "error_rate_window": "15s",
                "error_log": {"file": str(stack.paths["api_log"])},
            },
            "baseline": {"latency_ms": 1000},
            "criteria": {
                "rollback": {
                    "api_unavailable_for": "2s",
                    "error_rate_for": "3s",
                    "performance_degraded_for": "3s",
                },
                "attention": {"window": "3s", "errors_per_hour": 1000},
                "success": {"after": "5s"},
                "gap_factor": 10,
            },
            "notify": notify or {},
            **monitor,
        },
    }
    # kept on disk (in tmp_path): `golive monitor -c FILE` processes read it too
    return load_config([write_config(data, str(tmp_path))], env={})


def redactor_for(cfg: Config) -> Redactor:
    r = Redactor()
    r.add_all(cfg.secrets)
    return r


def await_prometheus_traffic(stack: Any, window: str = "15s", deadline: float = 45.0) -> None:
    """Send the API some requests and poll Prometheus until it computes a request rate over
    `window` (a fresh stack has none yet: the error-rate source would fall back to the
    probe)."""
    import time

    import httpx

    query = f"sum(rate(ord_http_requests_total[{window}]))"
    end = time.monotonic() + deadline
    with httpx.Client(timeout=5, trust_env=False) as client:
        while time.monotonic() < end:
            for _ in range(5):
                client.get(f"{stack.api_url}/health")
            body = client.get(
                f"{stack.prometheus_url}/api/v1/query", params={"query": query}
            ).json()
            result = body.get("data", {}).get("result", [])
            if result and float(result[0]["value"][1]) > 0:
                return
            time.sleep(0.5)  # poll interval; bounded by the deadline
    raise AssertionError(f"Prometheus computed no request rate within {deadline:g}s")
