"""The monitor's HTML timeline: latency, error rate, tasks/h and firing alerts over time,
with the verdict criteria drawn as lines, missed samples shaded and every verdict change,
manual trigger and rollback command marked.

`build_view` turns a history snapshot into plain data (chart geometry included);
`render` is a pure function of that view through the Jinja2 template
`templates/monitor.html.j2` (autoescaped, one self-contained file, no script).
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from golive.monitor.criteria import errors_last_hour, fmt_duration, fmt_time, steps
from golive.monitor.model import Evaluation, Event, Sample

if TYPE_CHECKING:
    from golive.config import MonitorCriteria

W, H = 880, 190  # chart size in px (viewBox)
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 12, 28
TABLE_ROWS = 60


@dataclass(frozen=True)
class Line:
    """A horizontal criterion line (its label moved down when labels would overlap)."""

    y: float
    label: str
    kind: str  # rollback | success | attention | baseline
    label_y: float = 0.0


@dataclass(frozen=True)
class Mark:
    """A vertical marker (verdict change, trigger, rollback command, API down)."""

    x: float
    label: str
    kind: str


@dataclass(frozen=True)
class Chart:
    """One inline SVG chart."""

    id: str
    title: str
    unit: str
    series: Sequence[tuple[str, str, Sequence[str]]]  # (label, css kind, polyline point lists)
    dots: Sequence[tuple[float, float, str, str]]  # (x, y, kind, tooltip)
    lines: Sequence[Line]
    gaps: Sequence[tuple[float, float]]
    marks: Sequence[Mark]
    y_ticks: Sequence[tuple[float, str]]
    x_ticks: Sequence[tuple[float, str]]
    empty: bool = False
    width: int = W
    height: int = H


@dataclass(frozen=True)
class View:
    """Everything the template shows."""

    project: str
    environment: str
    history: str
    generated_at: str
    evaluation: Mapping[str, Any]
    charts: Sequence[Chart]
    samples: Sequence[Mapping[str, Any]]
    verdicts: Sequence[Mapping[str, Any]]
    triggers: Sequence[Mapping[str, Any]]
    rollback: Mapping[str, Any] | None
    notifications: Sequence[Mapping[str, Any]]
    criteria: Sequence[tuple[str, str]]
    span: str
    counts: Mapping[str, int] = field(default_factory=dict)


class Scale:
    """Maps time and values to chart pixels."""

    def __init__(self, t0: float, t1: float, vmax: float) -> None:
        self.t0, self.t1 = t0, max(t1, t0 + 1)
        self.vmax = vmax if vmax > 0 else 1.0

    def x(self, t: float) -> float:
        """Pixel x of a time."""
        return round(LEFT + (t - self.t0) / (self.t1 - self.t0) * (W - LEFT - RIGHT), 1)

    def y(self, v: float) -> float:
        """Pixel y of a value (clipped to the chart)."""
        v = min(max(v, 0.0), self.vmax)
        return round(TOP + (1 - v / self.vmax) * (H - TOP - BOTTOM), 1)


def _nice_max(v: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^n at least 5 % above `v` (1 for nothing)."""
    if v <= 0:
        return 1.0
    target = v * 1.05
    mag = 10.0 ** math.floor(math.log10(target))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= target)


def _polylines(points: Sequence[tuple[float, float | None]], sc: Scale) -> list[str]:
    """Polyline point strings; a missing value breaks the line."""
    out: list[str] = []
    current: list[str] = []
    for t, v in points:
        if v is None:
            if current:
                out.append(" ".join(current))
            current = []
            continue
        current.append(f"{sc.x(t)},{sc.y(v)}")
    if current:
        out.append(" ".join(current))
    return out


def _x_ticks(sc: Scale, n: int = 6) -> list[tuple[float, str]]:
    span = sc.t1 - sc.t0
    fmt = "%H:%M:%S" if span < 600 else "%H:%M" if span < 2 * 86400 else "%m-%d %H:%M"
    from datetime import datetime, timezone

    return [
        (
            sc.x(sc.t0 + span * i / (n - 1)),
            datetime.fromtimestamp(sc.t0 + span * i / (n - 1), timezone.utc).strftime(fmt),
        )
        for i in range(n)
    ]


def _chart(
    cid: str,
    title: str,
    unit: str,
    samples: Sequence[Sample],
    sc_t: tuple[float, float],
    series: Sequence[tuple[str, str, Callable[[Sample], float | None]]],
    lines: Sequence[Line],
    gaps: Sequence[tuple[float, float]],
    marks: Sequence[tuple[float, str, str]],
    fmt: Callable[[float], str],
) -> Chart:
    values = [f(s) for s in samples for _, _, f in series]
    known = [v for v in values if v is not None]
    top = max(known + [ln.y for ln in lines] + [0.0])
    vmax = 1.0 if unit == "%" and 0 < top <= 1.0 else _nice_max(top)  # a ratio tops out at 100 %
    sc = Scale(sc_t[0], sc_t[1], vmax)
    drawn = []
    dots = []
    gap_ends = {b for _, b in gaps}
    for label, kind, f in series:
        pts: list[tuple[float, float | None]] = []
        for s in samples:
            if s.ts in gap_ends:
                pts.append((s.ts, None))  # no line across missed samples
            pts.append((s.ts, f(s)))
        drawn.append((label, kind, _polylines(pts, sc)))
        for t, v in pts:
            if v is not None:
                dots.append((sc.x(t), sc.y(v), kind, f"{fmt_time(t)} {label}: {fmt(v)}"))
    return Chart(
        id=cid,
        title=title,
        unit=unit,
        series=drawn,
        dots=dots[-400:],
        lines=_labelled([Line(sc.y(ln.y), f"{ln.label} ({fmt(ln.y)})", ln.kind) for ln in lines]),
        gaps=[(sc.x(a), sc.x(b)) for a, b in gaps],
        marks=[Mark(sc.x(t), label, kind) for t, label, kind in marks],
        y_ticks=[(sc.y(vmax * i / 4), fmt(vmax * i / 4)) for i in range(5)],
        x_ticks=_x_ticks(sc),
        empty=not known,
    )


def _labelled(lines: Sequence[Line], gap: float = 12.0) -> list[Line]:
    """Lines with label positions at least `gap` px apart (top to bottom)."""
    out: list[Line] = []
    last = -gap
    for ln in sorted(lines, key=lambda ln: ln.y):
        y = max(ln.y - 3, last + gap)
        out.append(Line(ln.y, ln.label, ln.kind, round(y, 1)))
        last = y
    return out


def _pct(v: float) -> str:
    return f"{v * 100:.3g}%"


def _num(v: float) -> str:
    return f"{v:.4g}"


def build_view(
    *,
    project: str,
    environment: str,
    history: str,
    samples: Sequence[Sample],
    events: Sequence[Event],
    evaluation: Evaluation,
    criteria: MonitorCriteria,
    rollback: Mapping[str, Any] | None,
    generated_at: float,
) -> View:
    """The report's data, chart geometry included (pure)."""
    c = criteria
    ordered = sorted(samples, key=lambda s: s.ts)
    st = steps(samples, c.gap_factor)
    gaps = [
        (samples[i - 1].ts, s.ts)
        for i, s in enumerate(samples)
        if i and st[i].gap and s.ts > samples[i - 1].ts
    ]
    t0 = min((s.ts for s in samples), default=generated_at - 3600)
    t1 = max((s.ts for s in samples), default=generated_at)
    marks: list[tuple[float, str, str]] = []
    for e in events:
        if e.kind == "verdict":
            marks.append(
                (e.ts, f"{e.detail.get('to')}", f"v-{str(e.detail.get('to', '')).lower()}")
            )
        elif e.kind in ("trigger", "clear"):
            marks.append((e.ts, f"manual {e.kind}: {e.detail.get('reason', '')}", "trigger"))
        elif e.kind == "rollback" and e.detail.get("status") == "done":
            marks.append((e.ts, f"rollback command exit {e.detail.get('exit_code')}", "rollback"))
    marks = [m for m in marks if t0 <= m[0] <= t1]
    down = [(s.ts, "API down", "down") for s in ordered if s.api_ok is False]
    baseline = next((s.baseline_ms for s in reversed(ordered) if s.baseline_ms), None)
    lat_lines = []
    if baseline:
        lat_lines = [
            Line(baseline, "baseline", "baseline"),
            Line(baseline * (1 + c.success.performance_within), "success limit", "success"),
            Line(
                baseline * (1 + c.rollback.performance_degraded_by), "rollback trigger", "rollback"
            ),
        ]
    span = (t0, t1)
    charts = [
        _chart(
            "latency",
            "API latency (probe p95 and p50)",
            "ms",
            ordered,
            span,
            [("p95", "s1", lambda s: s.latency_p95_ms), ("p50", "s2", lambda s: s.latency_p50_ms)],
            lat_lines,
            gaps,
            marks + down,
            lambda v: f"{v:.4g} ms",
        ),
        _chart(
            "errors",
            "Error rate (5xx / all requests)",
            "%",
            ordered,
            span,
            [
                (
                    "API (Prometheus)",
                    "s1",
                    lambda s: s.error_rate if s.error_rate_from_api else None,
                ),
                (
                    "golive's own probes (no figure from Prometheus)",
                    "s2",
                    lambda s: None if s.error_rate_from_api else s.error_rate,
                ),
            ],
            [
                Line(c.rollback.error_rate_above, "rollback trigger", "rollback"),
                Line(c.success.error_rate_below, "success limit", "success"),
            ],
            gaps,
            marks,
            _pct,
        ),
        _chart(
            "tasks",
            "Tasks finished in the last hour",
            "tasks/h",
            ordered,
            span,
            [
                (
                    "tasks/h",
                    "s1",
                    lambda s: None if s.tasks_last_hour is None else float(s.tasks_last_hour),
                )
            ],
            [],
            gaps,
            marks,
            _num,
        ),
        _chart(
            "alerts",
            "Firing alerts (Alertmanager)",
            "alerts",
            ordered,
            span,
            [
                (
                    "firing",
                    "s1",
                    lambda s: None if s.firing_alerts is None else float(s.firing_alerts),
                ),
                (
                    "critical",
                    "s2",
                    lambda s: None if s.critical_alerts is None else float(s.critical_alerts),
                ),
            ],
            [Line(float(c.attention.firing_alerts), "attention above", "attention")],
            gaps,
            marks,
            _num,
        ),
    ]
    rows = [_row(s, samples[: i + 1]) for i, s in enumerate(samples)][-TABLE_ROWS:]
    rows.reverse()
    notifications = [dict(e.detail, time=fmt_time(e.ts)) for e in events if e.kind == "notify"][
        -50:
    ]
    notifications.reverse()
    return View(
        project=project,
        environment=environment,
        history=history,
        generated_at=fmt_time(generated_at),
        evaluation=evaluation.to_json() | {"at_text": fmt_time(evaluation.at)},
        charts=charts,
        samples=rows,
        verdicts=[dict(e.detail, time=fmt_time(e.ts)) for e in events if e.kind == "verdict"],
        triggers=[
            dict(e.detail, time=fmt_time(e.ts), kind=e.kind)
            for e in events
            if e.kind in ("trigger", "clear")
        ],
        rollback=dict(rollback) if rollback else None,
        notifications=notifications,
        criteria=_criteria_rows(c),
        span=fmt_duration(t1 - t0) if samples else "no samples",
        counts={
            "samples": len(samples),
            "gaps": len(gaps),
            "down": sum(1 for s in samples if s.api_ok is False),
        },
    )


def rate_cell(s: Sample) -> str:
    """A short table cell: the API's error rate, or 'unknown' with golive's own probe count."""
    if s.error_rate is None:
        return "—"
    if s.error_rate_from_api:
        derived = " (derived)" if s.error_rate_source == "prometheus, derived" else ""
        return f"{s.error_rate:.2%}{derived}"
    return f"unknown (own probes {s.probe_errors}/{s.probe_requests} failed)"


def _row(s: Sample, upto: Sequence[Sample]) -> dict[str, Any]:
    return {
        "time": fmt_time(s.ts),
        "api": {True: "up", False: "DOWN", None: "—"}[s.api_ok],
        "api_ok": s.api_ok,
        "p95": "—" if s.latency_p95_ms is None else f"{s.latency_p95_ms:.1f}",
        "vs_baseline": "—" if s.perf_ratio is None else f"{s.perf_ratio - 1:+.0%}",
        "error_rate": rate_cell(s),
        "source": " — ".join(
            x for x in (s.error_rate_source, s.error_rate_note, s.error_rate_query) if x
        ),
        "db": "—" if s.db_connections is None else s.db_connections,
        "tasks": "—" if s.tasks_last_hour is None else s.tasks_last_hour,
        "alerts": "—"
        if s.firing_alerts is None
        else f"{s.firing_alerts} ({s.critical_alerts or 0} critical)",
        "errors_hour": "—" if s.error_lines is None else errors_last_hour(upto),
        "problems": "; ".join(f"{k}: {v}" for k, v in sorted(s.problems.items())),
    }


def _criteria_rows(c: MonitorCriteria) -> list[tuple[str, str]]:
    r, a, s = c.rollback, c.attention, c.success
    return [
        ("ROLLBACK", f"API unavailable for more than {fmt_duration(r.api_unavailable_for)}"),
        (
            "ROLLBACK",
            f"error rate above {r.error_rate_above:.0%} for more than "
            f"{fmt_duration(r.error_rate_for)}",
        ),
        (
            "ROLLBACK",
            f"p95 latency more than {r.performance_degraded_by:.0%} above the baseline for more "
            f"than {fmt_duration(r.performance_degraded_for)}",
        ),
        ("ROLLBACK", "a manual trigger (golive monitor trigger --reason ...)"),
        (
            "ATTENTION",
            f"API failing, more than {a.firing_alerts} alerts firing (in the last "
            f"{fmt_duration(a.window)}), more than {a.errors_per_hour} error-log lines per hour, "
            "a source that cannot be measured, or an overdue sample",
        ),
        (
            "SUCCESS",
            f"stable for {fmt_duration(s.after)}: API up, p95 within {s.performance_within:.0%} of "
            f"the baseline, error rate below {s.error_rate_below:.0%}, no critical alert, "
            "no missed sample",
        ),
    ]


def render(view: View) -> str:
    """The self-contained HTML page of a view."""
    from jinja2 import Environment, PackageLoader, StrictUndefined
    from markupsafe import Markup

    env = Environment(
        loader=PackageLoader("golive.templates", ""),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    css = env.get_template("monitor.css").render()
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode()
    csp = (
        "default-src 'none'; img-src data:; base-uri 'none'; form-action 'none'; "
        f"style-src 'sha256-{digest}'"
    )
    return env.get_template("monitor.html.j2").render(
        v=view, css=Markup(css), csp=csp, W=W, H=H, LEFT=LEFT, RIGHT=RIGHT, TOP=TOP, BOTTOM=BOTTOM
    )
