"""Prometheus: HTTP endpoints via httpx, PromQL queries via prometheus-api-client."""

from __future__ import annotations

import asyncio
import difflib
import math
import re
import time
from typing import Any

from golive.targets.http import HttpService

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_IN_BRACES = re.compile(r"\{[^}]*\}")
_IN_BRACKETS = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
# an identifier that is not part of a number or a longer name, and not a function call
_IDENT = re.compile(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()")
_KEYWORDS = frozenset(
    {"bool", "and", "or", "unless", "offset", "atan2", "inf", "nan", "start", "end"}
    | {"by", "without", "on", "ignoring", "group_left", "group_right"}
)


class PrometheusTarget(HttpService):
    """Prometheus: `/-/healthy`, `/api/v1/*`, and PromQL queries."""

    kind = "prometheus"
    probe_path = "/-/healthy"
    _connect: Any = None

    def _client_sync(self) -> Any:
        if self._connect is None:
            from prometheus_api_client import PrometheusConnect

            self._connect = PrometheusConnect(
                url=self.url,
                headers=self.default_headers() or None,
                disable_ssl=self.cfg.verify_tls is False,
                timeout=self.timeout,
            )
        return self._connect

    async def query(self, promql: str) -> list[dict[str, Any]]:
        """Run an instant query; returns the result vector (possibly empty)."""

        def run() -> list[dict[str, Any]]:
            result = self._client_sync().custom_query(promql, timeout=self.timeout)
            return list(result or [])

        return await asyncio.to_thread(run)

    async def scalar(self, promql: str) -> float | None:
        """The single value of a query, or None when the result is empty or NaN."""
        rows = await self.query(promql)
        if not rows:
            return None
        try:
            value = float(rows[0]["value"][1])
        except (KeyError, IndexError, TypeError, ValueError):
            return None
        return None if math.isnan(value) else value

    async def api(self, path: str, **params: Any) -> Any:
        """GET `/api/v1/<path>` and return its `data`, raising on an error status."""
        body = await self.get_json(f"/api/v1/{path}", params=params or None)
        if body.get("status") != "success":
            raise RuntimeError(f"Prometheus /api/v1/{path}: {body.get('error', 'error')}")
        return body.get("data")

    async def metric_names(self) -> list[str]:
        """Every metric name Prometheus holds (`/api/v1/label/__name__/values`)."""
        return [str(n) for n in (await self.api("label/__name__/values") or [])]

    async def label_names(self, selector: str, since: float | None = None) -> list[str]:
        """The label names of the series matching `selector` (with samples after `since`,
        epoch seconds, when given), `__name__` excluded."""
        params: dict[str, Any] = {"match[]": selector}
        if since is not None:
            params["start"] = f"{since:.3f}"
            params["end"] = f"{time.time():.3f}"
        return [str(n) for n in (await self.api("labels", **params) or []) if n != "__name__"]

    async def close(self) -> None:
        """Close both clients."""
        if self._connect is not None:
            self._connect._session.close()
            self._connect = None
        await super().close()


def closest_metrics(name: str, existing: list[str], n: int = 3) -> list[str]:
    """Existing metric names that look like `name`: names that contain it or that it contains
    (a prefix added or dropped: `ord_http_requests_total`), nearest in length first; only
    when there are none, names that are merely similar (a typo)."""
    low = name.lower()
    contains = [
        e
        for e in existing
        if len(low) >= 4 and e != name and (low in e.lower() or (e.lower() in low and len(e) >= 4))
    ]
    if contains:
        return sorted(contains, key=lambda e: (abs(len(e) - len(name)), e))[:n]
    return [e for e in difflib.get_close_matches(name, existing, n=n, cutoff=0.75) if e != name]


def referenced_metrics(query: str) -> list[str]:
    """Metric names a PromQL query selects, in order of appearance (label names, functions,
    keywords, durations and strings are not)."""
    text = _IN_BRACES.sub("{}", _STRINGS.sub('""', query))
    text = _GROUPING.sub(" ", _IN_BRACKETS.sub("[]", text))
    out: list[str] = []
    for name in _IDENT.findall(text):
        if name not in _KEYWORDS and name not in out:
            out.append(name)
    return out
