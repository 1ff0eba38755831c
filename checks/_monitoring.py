"""Helpers of the monitoring section (`checks/monitoring.py`).

Prometheus names, selectors and durations; times and sample values as Prometheus and
Alertmanager write them; errors without URL credentials; summary formatting; polling;
rows of targets and receivers; the alert pipeline's webhook sink and Prometheus's link to
Alertmanager. Standard library only at import time: httpx and yaml are imported inside
the functions that use them.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from golive.api import Context

T = TypeVar("T")

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_SELECTOR = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)?\{.*\}$", re.DOTALL)
_PROM_DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_DURATION_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
# a path segment of digits, a UUID, or a long hex string: values that identify one object
_ID_LIKE = re.compile(
    r"(?:^|[/=])\d+(?:[/?&.]|$)|^\d+$"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|(?:^|[^0-9a-z])[0-9a-f]{16,}(?:[^0-9a-z]|$)",
    re.IGNORECASE,
)
_URL_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/@\s\"]+@", re.IGNORECASE)
_URL_QUERY = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s\"?]*)\?[^\s\"]*", re.IGNORECASE)


def _http_errors(*extra: type[BaseException]) -> tuple[type[BaseException], ...]:
    """What a failed HTTP exchange raises (connection, timeout, HTTP status), plus `extra`."""
    import httpx

    return (httpx.HTTPError, OSError, *extra)


def _parse_time(text: Any) -> datetime | None:
    """An RFC 3339 time from Prometheus/Alertmanager (nanoseconds allowed), or None."""
    if not isinstance(text, str) or not text or text.startswith("0001-01-01"):
        return None
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$", text.strip())
    if not m:
        return None
    frac = (m.group(2) or ".0")[:7].ljust(7, "0")
    zone = m.group(3) or "Z"
    zone = "+00:00" if zone == "Z" else zone
    try:
        return datetime.fromisoformat(f"{m.group(1)}{frac}{zone}")
    except ValueError:
        return None


def _age(then: datetime | None, now: datetime | None = None) -> float | None:
    if then is None:
        return None
    return max(0.0, ((now or datetime.now(timezone.utc)) - then).total_seconds())


def _human(seconds: float | None) -> str:
    """A duration a person reads at a glance: '850 ms', '12 s', '5 min', '3 h', '2 d'."""
    if seconds is None:
        return "unknown"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _number(value: Any) -> float | None:
    """A sample value as a float; None when it is missing, malformed or NaN."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _duration_seconds(text: str) -> float | None:
    """Seconds of a Prometheus duration such as '15s', '1m30s' or '500ms'."""
    parts = _DURATION_PART.findall(text or "")
    if not parts or "".join(a + b for a, b in parts) != text:
        return None
    return sum(float(n) * _DURATION_UNIT[u] for n, u in parts)


def _plain_error(text: Any, limit: int = 300) -> str:
    """A scrape/rule error without URL credentials or query strings, cut to `limit`."""
    out = _URL_QUERY.sub(r"\1?…", _URL_USERINFO.sub(r"\1", str(text or "")))
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _names(items: Iterable[str], limit: int = 5) -> str:
    items = list(items)
    text = ", ".join(items[:limit])
    return text + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _label_value(value: str) -> str:
    """A PromQL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


async def _poll(probe: Callable[[], Awaitable[T | None]], deadline: float) -> T | None:
    """Call `probe` until it returns something truthy or the loop clock passes `deadline`."""
    loop = asyncio.get_running_loop()
    delay = 0.05
    while True:
        value = await probe()
        if value:
            return value
        left = deadline - loop.time()
        if left <= 0:
            return None
        await asyncio.sleep(min(delay, left))
        delay = min(delay * 2, 0.5)


def _closest(name: str, existing: list[str], n: int = 3) -> list[str]:
    """Existing metric names that look like `name` (golive.targets.prometheus.closest_metrics,
    shared with the monitor's error-rate source)."""
    from golive.targets.prometheus import closest_metrics

    return closest_metrics(name, existing, n)


def _target_row(t: dict[str, Any], now: datetime) -> dict[str, Any]:
    labels = t.get("labels") or {}
    last = _parse_time(t.get("lastScrape"))
    duration = _number(t.get("lastScrapeDuration"))
    return {
        "job": labels.get("job") or t.get("scrapePool") or "?",
        "instance": labels.get("instance")
        or (t.get("discoveredLabels") or {}).get("__address__", "?"),
        "health": t.get("health") or "unknown",
        "last_scrape": _iso(last) if last else "never",
        "last_scrape_ago": _human(_age(last, now)) if last else "never",
        "scrape_ms": round(duration * 1000, 1) if duration is not None else None,
        "last_error": _plain_error(t.get("lastError")),
    }


def _receivers(config_text: str) -> tuple[list[dict[str, Any]], str | None]:
    """Receivers (name and integration kinds) and the root route's receiver, from the
    configuration Alertmanager reports (secrets are already masked by Alertmanager)."""
    import yaml

    try:
        doc = yaml.safe_load(config_text or "") or {}
    except yaml.YAMLError:
        return [], None
    out = []
    for r in doc.get("receivers") or []:
        kinds = sorted(
            k.removesuffix("_configs") for k, v in r.items() if k.endswith("_configs") and v
        )
        out.append(
            {"receiver": r.get("name"), "integrations": ", ".join(kinds) or "none (drops alerts)"}
        )
    root = (doc.get("route") or {}).get("receiver")
    return out, root


async def _prometheus_link(ctx: Context) -> list[str] | str:
    """Alertmanager URLs Prometheus sends alerts to, or a reason they are unknown."""
    try:
        data = await ctx.prometheus.api("alertmanagers")
    except _http_errors(RuntimeError) as exc:
        return f"unknown: Prometheus did not answer ({type(exc).__name__})"
    return [_plain_error(a.get("url"), 200) for a in (data or {}).get("activeAlertmanagers") or []]


def _sink_deliveries(path: Path, offset: int, marker: str) -> dict[str, Any]:
    """Notifications about the marked alert appended to a webhook sink file after `offset`.

    Each line is an Alertmanager webhook body, or a record wrapping it under "payload" (as
    demo/webhook_sink.py writes). Returns {status: receiver} for "firing"/"resolved".
    """
    found: dict[str, Any] = {}
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            chunk = fh.read()
    except OSError:
        return found
    for line in chunk.decode("utf-8", "replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        payload = record.get("payload", record) if isinstance(record, dict) else None
        if not isinstance(payload, dict):
            continue
        for alert in payload.get("alerts") or []:
            if (
                isinstance(alert, dict)
                and (alert.get("labels") or {}).get("golive_marker") == marker
            ):
                found.setdefault(str(alert.get("status")), payload.get("receiver") or "?")
    return found
