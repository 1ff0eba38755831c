"""Baseline comparisons of a result, as geometry for the HTML report's inline SVG charts.

A check shows "baseline vs now" in any of three shapes (golive.baseline and the performance
checks produce the first two; plugins may use any):

1. ``evidence["baseline"]``: a mapping of metric -> baseline value (or a mapping with a
   ``measurements`` mapping inside), compared with the result's ``measurements`` of the same
   name;
2. an evidence table (a list of dicts, e.g. golive.baseline's ``baseline_comparison``) whose
   rows hold a ``baseline`` and a ``now`` / ``current`` / ``value`` / ``measured``, labelled by
   ``metric`` / ``name`` / ``measurement`` / ``key``, optionally with a ``status`` or
   ``verdict`` (PASS or ok / WARN / FAIL) that colours the bar. Values are numbers or numbers
   with a unit ("40.2 ms"); the current value is taken from ``measurements`` when the label
   names one;
3. ``measurements`` holding both ``X`` and ``baseline_X`` (or ``baseline.X``).

Each metric is scaled on its own (metrics have different units); the chart shows both values
and the relative change, and leaves "better" or "worse" to the row's status when it has one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from golive.models import CheckResult

MAX_ROWS = 12
LABEL_W = 200
BAR_W = 300
VALUE_W = 150
ROW_H = 40
BAR_H = 13
TOP = 8
WIDTH = LABEL_W + BAR_W + VALUE_W

_NOW_KEYS = ("now", "current", "value", "measured")
_LABEL_KEYS = ("metric", "name", "measurement", "key")


@dataclass(frozen=True)
class Bar:
    """One metric: its baseline and current value, laid out for the chart."""

    label: str
    baseline: float
    now: float
    status: str  # "" when the row did not say
    unit: str
    # geometry
    y: float
    baseline_w: float
    now_w: float

    def show(self, value: float) -> str:
        """A value of this bar with its unit."""
        return f"{fmt(value)} {self.unit}".strip()

    @property
    def change(self) -> str:
        """The relative change, e.g. '+12.5 %', or '' when the baseline is zero."""
        if self.baseline == 0:
            return ""
        pct = (self.now - self.baseline) / abs(self.baseline) * 100
        return f"{pct:+.1f} %"


@dataclass(frozen=True)
class Chart:
    """A baseline comparison chart: its bars and its size."""

    bars: list[Bar]
    width: int
    height: int
    more: int = 0

    @property
    def description(self) -> str:
        """The chart as one sentence, for screen readers and text-only readers."""
        parts = [
            f"{b.label}: baseline {b.show(b.baseline)}, now {b.show(b.now)}"
            + (f" ({b.change})" if b.change else "")
            for b in self.bars
        ]
        return "; ".join(parts)


def fmt(value: float) -> str:
    """A number as people read it in a report."""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 1e4:
        return f"{value:,.0f}"
    return f"{value:.4g}"


_WITH_UNIT = re.compile(
    r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\d\s][^\d]{0,15})?$"
)


def _number(value: Any) -> float | None:
    if isinstance(value, str):
        m = _WITH_UNIT.match(value.replace(",", ""))
        return float(m.group(1)) if m else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _unit(*values: Any) -> str:
    for v in values:
        if isinstance(v, str):
            m = _WITH_UNIT.match(v.replace(",", ""))
            if m and m.group(2):
                return m.group(2).strip()
    return ""


def _pairs(result: CheckResult) -> list[tuple[str, float, float, str, str]]:
    out: list[tuple[str, float, float, str, str]] = []
    seen: set[str] = set()

    def add(label: str, base: Any, now: Any, status: str = "", unit: str = "") -> None:
        b, n = _number(base), _number(now)
        if b is None or n is None or label in seen:
            return
        seen.add(label)
        out.append((label, b, n, "PASS" if status == "OK" else status, unit))

    measurements = result.measurements if isinstance(result.measurements, Mapping) else {}
    evidence = result.evidence if isinstance(result.evidence, Mapping) else {}
    baseline = evidence.get("baseline")
    if isinstance(baseline, Mapping):
        inner = baseline.get("measurements")
        source = inner if isinstance(inner, Mapping) else baseline
        for key, base in source.items():
            if key in measurements:
                add(str(key), base, measurements[key])
    for value in evidence.values():
        if not isinstance(value, list):
            continue
        for row in value:
            if not isinstance(row, Mapping) or "baseline" not in row:
                continue
            now_key = next((k for k in _NOW_KEYS if k in row), None)
            label_key = next((k for k in _LABEL_KEYS if k in row), None)
            if now_key is None or label_key is None:
                continue
            status = str(row.get("status") or row.get("verdict") or "").upper()
            label = str(row[label_key])
            now = measurements.get(label, row[now_key])
            if _number(now) is None:
                now = row[now_key]
            add(label, row["baseline"], now, status, _unit(row["baseline"], row[now_key]))
    for key, now in measurements.items():
        if str(key).startswith(("baseline_", "baseline.")):
            continue
        for prefix in ("baseline_", "baseline."):
            if prefix + str(key) in measurements:
                add(str(key), measurements[prefix + str(key)], now)
    return out


def baseline_chart(result: CheckResult) -> Chart | None:
    """The result's baseline comparison as a chart, or None when it has none."""
    pairs = _pairs(result)
    if not pairs:
        return None
    shown = pairs[:MAX_ROWS]
    bars = []
    for i, (label, base, now, status, unit) in enumerate(shown):
        scale = max(abs(base), abs(now)) or 1.0
        bars.append(
            Bar(
                label=label,
                baseline=base,
                now=now,
                status=status if status in ("PASS", "WARN", "FAIL") else "",
                unit=unit,
                y=TOP + i * ROW_H,
                baseline_w=round(max(base, 0.0) / scale * BAR_W, 1),
                now_w=round(max(now, 0.0) / scale * BAR_W, 1),
            )
        )
    height = TOP * 2 + len(bars) * ROW_H
    return Chart(bars=bars, width=WIDTH, height=height, more=len(pairs) - len(shown))
