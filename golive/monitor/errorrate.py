"""The API's error rate from Prometheus: the configured query, or one derived from what the
target exports.

The configured query (`monitor.sources.error_rate_query`, by default 5xx over all
`http_requests_total`) is tried first. When it gives no number, golive tells apart:

- *absent*: a metric the query names has no series in Prometheus (a renamed or prefixed
  counter: Ordinaut exports `ord_http_requests_total{status=...}`). The error rate is then
  derived from the request counter the target does export: a metric named
  `*http_requests_total` (else `*_requests_total`) that has a status label (`status`,
  `code`, `status_code`, ...), the one closest to the configured name first, as
  `sum(rate(X{L=~"5.."}[w])) / sum(rate(X[w]))`. The evidence says which metric and query
  and why. When nothing fits, the error rate is unknown and the reason names the closest
  existing metrics;
- *no traffic*: the metrics exist but counted no request in the window (0/0). Another
  request counter that did count requests in the window is used instead, derived as above
  (the configured metric may belong to another service: a shared Prometheus); with none,
  the error rate is unknown, with that reason;
- *zero*: a series whose value is 0 is a measured 0 %.

Counters of the observability stack itself (`prometheus_http_requests_total`, the
`promhttp_metric_handler_requests_total` of every Go exporter, ...) are never taken for the
API's.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from golive.targets.prometheus import PrometheusTarget

#: Labels that carry an HTTP status code, in order of preference.
STATUS_LABELS = ("status", "code", "status_code", "http_status", "response_code", "status_class")
#: Metric name prefixes of the monitoring stack's own HTTP servers (not the API's traffic).
FOREIGN_PREFIXES = (
    "prometheus_",
    "alertmanager_",
    "grafana_",
    "loki_",
    "promtail_",
    "promhttp_",  # every Go exporter's own /metrics handler
    "go_",
)


@dataclass(frozen=True)
class ErrorRate:
    """What Prometheus says about the API's error rate."""

    value: float | None  # 5xx / all requests; None: unknown
    query: str | None = None  # the PromQL that gave the value (window filled in)
    derived: bool = False  # the query was derived from the target's own metric
    note: str | None = None  # why derived, or why unknown
    unusable: bool = False  # no request counter fits: the query needs configuring


def derived_query(metric: str, label: str, window: str) -> str:
    """5xx over all requests of `metric`, by its status label, over `window`."""
    return (
        f'(sum(rate({metric}{{{label}=~"5.."}}[{window}])) or vector(0))'
        f" / sum(rate({metric}[{window}]))"
    )


def _values(rows: list[dict[str, object]]) -> list[float]:
    values = []
    for row in rows:
        try:
            v = float(row["value"][1])  # type: ignore[index]
        except (KeyError, IndexError, TypeError, ValueError):
            continue
        values.append(v)
    return values


async def _run(prom: PrometheusTarget, query: str) -> tuple[float | None, bool]:
    """(highest finite value, whether any series came back at all)."""
    data = await prom.api("query", query=query)
    rows = list((data or {}).get("result") or [])
    finite = [v for v in _values(rows) if math.isfinite(v)]
    return (max(finite) if finite else None), bool(rows)


def _candidates(existing: list[str], wanted: str) -> list[str]:
    from golive.targets.prometheus import closest_metrics

    own = [e for e in existing if not e.startswith(FOREIGN_PREFIXES)]
    for suffix in ("http_requests_total", "_requests_total"):
        found = [e for e in own if e.endswith(suffix)]
        if found:
            first = closest_metrics(wanted, found, n=len(found))
            return first + sorted(set(found) - set(first), key=lambda e: (len(e), e))
    return []


async def measure(prom: PrometheusTarget, query: str, window: str, seconds: float) -> ErrorRate:
    """The error rate by `query` (`{window}` replaced); when it gives no number, derived from
    another request counter of the target that counted requests in the window."""
    from golive.targets.prometheus import closest_metrics, referenced_metrics

    configured = query.replace("{window}", window)
    value, _ = await _run(prom, configured)
    if value is not None:
        return ErrorRate(value, configured)
    names = referenced_metrics(configured)
    if not names:
        return ErrorRate(None, configured, note=f"the query {configured} returned no value")
    existing = await prom.metric_names()
    absent = [n for n in names if n not in existing]
    wanted = absent[0] if absent else names[0]
    why = (
        f"{wanted} has no series in Prometheus"
        if absent
        else f"{wanted} counted no request in the last {window}"
    )
    tried: list[str] = []
    quiet: ErrorRate | None = None
    since = time.time() - max(seconds, 60.0)
    for metric in _candidates(existing, wanted):
        if metric in names:
            continue  # the configured query has asked it already
        labels = await prom.label_names(metric, since)
        label = next((lb for lb in STATUS_LABELS if lb in labels), None)
        if label is None:
            tried.append(f"{metric} (no status label)")
            continue
        derived = derived_query(metric, label, window)
        value, _ = await _run(prom, derived)
        note = f"{why}; derived from {metric} by its {label!r} label"
        if value is not None:
            return ErrorRate(value, derived, True, note)
        if quiet is None:
            quiet = ErrorRate(None, derived, True, f"{note}: no request counted either")
    if not absent:
        return ErrorRate(None, configured, note=f"no request counted in the last {window}")
    if quiet is not None:
        return quiet
    close = [c for c in closest_metrics(wanted, existing) if c not in tried]
    hint = ", ".join(tried + close)
    hint = f"closest: {hint}" if hint else "no similar metric exists"
    return ErrorRate(
        None,
        configured,
        note=f"no request-count metric in Prometheus ({wanted} has no series; {hint})",
        unusable=True,
    )
