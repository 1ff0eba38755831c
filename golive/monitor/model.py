"""The monitor's data: one sample, the events next to it, the verdicts and their exit codes.

Standard library only, so that criteria and renderers can be tested without any target.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any


class Verdict(str, enum.Enum):
    """What the history says about the stack after go-live."""

    SUCCESS = "SUCCESS"  # the success criteria held for the whole success window
    WATCHING = "WATCHING"  # nothing wrong so far; keep sampling
    ATTENTION = "ATTENTION"  # an hourly threshold was crossed or a sample is missing
    ROLLBACK = "ROLLBACK"  # a rollback trigger held long enough (or a manual trigger)

    @property
    def exit_code(self) -> int:
        """The process exit code of `golive monitor` for this verdict (distinct, never 2)."""
        return EXIT_CODES[self]

    @property
    def rank(self) -> int:
        """Severity order: ROLLBACK is the worst."""
        return _RANK[self]


#: Exit codes of `golive monitor` and `golive monitor status`. 2 stays "usage or configuration
#: error" and 3 "the history cannot be read or written", as for every golive command.
EXIT_CODES = {
    Verdict.SUCCESS: 0,
    Verdict.WATCHING: 10,
    Verdict.ATTENTION: 11,
    Verdict.ROLLBACK: 12,
}
_RANK = {Verdict.SUCCESS: 0, Verdict.WATCHING: 1, Verdict.ATTENTION: 2, Verdict.ROLLBACK: 3}


@dataclass(frozen=True)
class Sample:
    """One measurement of the stack. `None` means "not measured" (never "healthy")."""

    id: str
    ts: float  # wall clock (epoch seconds) when the sample started
    interval: float  # seconds until the next sample is due (gap detection)
    duration: float = 0.0
    api_ok: bool | None = None  # the health endpoint answered 2xx (curl -f semantics)
    api_status: int | None = None
    api_detail: str | None = None  # why the API is not ok, or its health status
    latencies_ms: Sequence[float] = ()
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    probe_requests: int = 0
    probe_errors: int = 0  # probe requests that failed or answered 5xx
    error_rate: float | None = None  # the figure the criteria judge
    # "prometheus", "prometheus, derived" (the API's error rate) or "probe (why)" (golive's
    # own probe requests, when Prometheus had no figure)
    error_rate_source: str | None = None
    error_rate_query: str | None = None  # the PromQL asked (derived or configured)
    error_rate_note: str | None = None  # why the query was derived, or why it had no figure
    db_connections: int | None = None
    tasks_last_hour: int | None = None
    firing_alerts: int | None = None
    critical_alerts: int | None = None
    alert_names: Sequence[str] = ()
    error_lines: int | None = None  # error-log lines counted by this sample
    error_span: float | None = None  # seconds those lines cover
    baseline_ms: float | None = None
    perf_ratio: float | None = None  # latency_p95_ms / baseline_ms
    problems: Mapping[str, str] = field(default_factory=dict)  # source -> why not measured

    @property
    def error_rate_from_api(self) -> bool:
        """True when `error_rate` is the API's own (Prometheus), not golive's probe requests."""
        return (self.error_rate_source or "").startswith("prometheus")

    def describe_error_rate(self) -> str:
        """The error rate as a person should read it: the API's figure from Prometheus, or
        'unknown' with the reason and golive's own probe figure labelled as such."""
        if self.error_rate is None:
            return "unknown" + (f" ({self.error_rate_note})" if self.error_rate_note else "")
        if self.error_rate_from_api:
            how = ", derived" if self.error_rate_source == "prometheus, derived" else ""
            metric = _metric_of(self.error_rate_query) if how else None
            return f"{self.error_rate:.2%} (Prometheus{how}{f': {metric}' if metric else ''})"
        own = (
            f"golive's own {self.probe_requests} probes: "
            f"{self.probe_errors}/{self.probe_requests} failed"
        )
        if (self.error_rate_source or "").startswith("probe (the API answered no request"):
            return f"unknown (the API answered no request); {own}"
        why = self.error_rate_note
        if why is None:
            src = self.error_rate_source or ""
            why = src[len("probe (Prometheus: ") : -1] if src.startswith("probe (Prom") else None
        return "unknown" + (f" ({why})" if why else " (no Prometheus)") + f"; {own}"

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (NaN and infinities become None)."""
        out = asdict(self)
        for k, v in out.items():
            if isinstance(v, float) and not math.isfinite(v):
                out[k] = None
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Sample:
        """Rebuild a sample; unknown keys (from a newer golive) are ignored."""
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in data.items() if k in names}
        for key in ("latencies_ms", "alert_names"):
            if key in kw:
                kw[key] = tuple(kw[key] or ())
        return cls(**kw)


def _metric_of(query: str | None) -> str | None:
    """The metric a derived error-rate query counts (`sum(rate(X{...`)."""
    if not query or "rate(" not in query:
        return None
    name = query.split("rate(", 1)[1]
    end = min((name.find(c) for c in "{[" if c in name), default=-1)
    return name[:end] if end > 0 else None


@dataclass(frozen=True)
class Event:
    """Something recorded next to the samples: a manual trigger, a clear, a verdict change,
    a rollback command's run or a notification attempt."""

    seq: int
    ts: float
    kind: str  # trigger | clear | verdict | rollback | notify
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluation:
    """The verdict at one moment, and why."""

    verdict: Verdict
    at: float
    reasons: Sequence[str] = ()  # why this verdict, one sentence each
    notes: Sequence[str] = ()  # other observations (gaps, clock, unknown sources)
    figures: Mapping[str, Any] = field(default_factory=dict)  # measured durations/values
    samples: int = 0

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "verdict": self.verdict.value,
            "exit_code": self.verdict.exit_code,
            "at": self.at,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "figures": dict(self.figures),
            "samples": self.samples,
        }
