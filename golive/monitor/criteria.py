"""Verdicts from the history, never from one sample; the clock is always passed in.

Rules (windows and thresholds come from `monitor.criteria`, defaults from the checklist):

- **ROLLBACK** when, in the run of samples that ends with the latest one, the API has been
  unavailable for more than `api_unavailable_for`, the error rate has stayed above
  `error_rate_above` for more than `error_rate_for`, or p95 latency has stayed more than
  `performance_degraded_by` above the baseline for more than `performance_degraded_for`;
  or when a manual trigger (`golive monitor trigger`) has not been cleared. A run is broken
  only by a sample that measured the condition as false: samples that could not measure
  it, and missed samples, do not end it.
- **ATTENTION** (the checklist's hourly thresholds) when a sample in the last
  `attention.window` found the API failing or more than `firing_alerts` alerts firing,
  when more than `errors_per_hour` error-log lines were counted in the last hour, when a
  configured source could not be measured, or when the latest sample is overdue.
- **SUCCESS** when the samples cover at least `success.after` up to a fresh latest sample,
  without a missed sample, and every one of them found the API up, p95 latency within
  `performance_within` of the baseline, an error rate below `error_rate_below` and no
  critical alert firing.
- **WATCHING** otherwise.

Durations are measured between samples in recording order. A step back of the clock by
less than `CLOCK_TOLERANCE` (overlapping cron runs) counts as no time; a larger one is a
discontinuity that counts as no time and as a missed sample, so a clock going backwards
can neither fake a long outage nor fake 24 stable hours.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from golive.monitor.model import Evaluation, Event, Sample, Verdict

if TYPE_CHECKING:
    from golive.config import MonitorCriteria

CLOCK_TOLERANCE = 60.0
HOUR = 3600.0


@dataclass(frozen=True)
class Step:
    """How a sample follows the one recorded before it."""

    elapsed: float  # seconds counted between the two samples
    gap: bool  # missed samples, or a clock discontinuity, before this sample


def steps(samples: Sequence[Sample], gap_factor: float) -> list[Step]:
    """The step before each sample (the first one has no predecessor: elapsed 0, no gap)."""
    out: list[Step] = []
    latest = None  # the latest wall-clock time seen so far
    for i, s in enumerate(samples):
        if latest is None:
            out.append(Step(0.0, False))
            latest = s.ts
            continue
        delta = s.ts - latest
        expected = samples[i - 1].interval * gap_factor
        if delta < -CLOCK_TOLERANCE:
            out.append(Step(0.0, True))  # the clock went backwards
            latest = s.ts
        elif delta > expected:
            out.append(Step(delta, True))
            latest = s.ts
        else:
            out.append(Step(max(0.0, delta), False))
            latest = max(latest, s.ts)
    return out


def held_for(
    samples: Sequence[Sample], st: Sequence[Step], bad: Callable[[Sample], bool | None]
) -> float | None:
    """How long `bad` has held in the run ending with the latest sample (None: it does not).

    The run goes back until a sample where `bad` is False; samples where it is None
    (not measured) neither end nor start it. The duration runs from the first to the last
    sample where it is True.
    """
    first = last = None
    for i in range(len(samples) - 1, -1, -1):
        value = bad(samples[i])
        if value is False:
            break
        if value:
            first = i
            if last is None:
                last = i
    if first is None or last is None:
        return None
    return sum(st[j].elapsed for j in range(first + 1, last + 1))


def exceeded(duration: float | None, threshold: float) -> bool:
    """A run longer than the threshold triggers; with a threshold of 0 any run does."""
    if duration is None:
        return False
    return duration > threshold or threshold == 0


def fmt_duration(seconds: float) -> str:
    """'45s', '12m', '1h 05m', '2d 3h'."""
    s = round(max(0.0, seconds))
    if s < 60:
        return f"{s}s"
    if s < HOUR:
        return f"{s // 60}m" + (f" {s % 60:02d}s" if s % 60 else "")
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def fmt_time(ts: float) -> str:
    """UTC time of day with the date: '2025-01-10 14:03:00Z'."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def active_trigger(events: Sequence[Event]) -> Event | None:
    """The latest manual trigger, unless a clear was recorded after it."""
    current = None
    for e in sorted(events, key=lambda e: e.seq):
        if e.kind == "trigger":
            current = e
        elif e.kind == "clear":
            current = None
    return current


def _api_down(s: Sample) -> bool | None:
    return None if s.api_ok is None else not s.api_ok


def evaluate(
    samples: Sequence[Sample],
    events: Sequence[Event],
    now: float,
    criteria: MonitorCriteria,
) -> Evaluation:
    """The verdict at `now` from the samples (in recording order) and the manual events."""
    c = criteria
    st = steps(samples, c.gap_factor)
    figures: dict[str, Any] = {}
    notes: list[str] = []

    rollback = _rollback(samples, st, events, c, figures)
    attention = _attention(samples, now, c, figures, notes)
    success, progress = _success(samples, st, events, now, c, figures, notes)

    if rollback:
        return Evaluation(Verdict.ROLLBACK, now, rollback, notes, figures, len(samples))
    if attention:
        return Evaluation(Verdict.ATTENTION, now, attention, notes, figures, len(samples))
    if success:
        return Evaluation(Verdict.SUCCESS, now, success, notes, figures, len(samples))
    return Evaluation(Verdict.WATCHING, now, progress, notes, figures, len(samples))


def _rollback(
    samples: Sequence[Sample],
    st: Sequence[Step],
    events: Sequence[Event],
    c: MonitorCriteria,
    figures: dict[str, Any],
) -> list[str]:
    r = c.rollback
    reasons: list[str] = []
    trigger = active_trigger(events)
    if trigger is not None:
        why = trigger.detail.get("reason") or "no reason given"
        reasons.append(f"Manual rollback trigger at {fmt_time(trigger.ts)}: {why}.")
    down = held_for(samples, st, _api_down)
    figures["api_unavailable_for"] = down
    if exceeded(down, r.api_unavailable_for):
        assert down is not None
        reasons.append(
            f"The API has been unavailable for {fmt_duration(down)} "
            f"(rollback after more than {fmt_duration(r.api_unavailable_for)})."
        )

    def error_high(s: Sample) -> bool | None:
        return None if s.error_rate is None else s.error_rate > r.error_rate_above

    high = held_for(samples, st, error_high)
    figures["error_rate_high_for"] = high
    if exceeded(high, r.error_rate_for):
        assert high is not None
        latest = next(s for s in reversed(samples) if s.error_rate is not None)
        by = (
            "the API's requests in Prometheus"
            if latest.error_rate_from_api
            else "golive's own probe requests (Prometheus had no figure)"
        )
        reasons.append(
            f"The error rate has stayed above {r.error_rate_above:.0%} for {fmt_duration(high)}, "
            f"now {latest.describe_error_rate()}, measured by {by} "
            f"(rollback after more than {fmt_duration(r.error_rate_for)})."
        )

    def degraded(s: Sample) -> bool | None:
        return None if s.perf_ratio is None else s.perf_ratio - 1 > r.performance_degraded_by

    slow = held_for(samples, st, degraded)
    figures["performance_degraded_for"] = slow
    if exceeded(slow, r.performance_degraded_for):
        assert slow is not None
        ratio = samples[-1].perf_ratio
        now_txt = f" (now {ratio - 1:+.0%})" if ratio is not None else ""
        reasons.append(
            f"p95 latency has been more than {r.performance_degraded_by:.0%} above the baseline "
            f"for {fmt_duration(slow)}{now_txt} (rollback after more than "
            f"{fmt_duration(r.performance_degraded_for)})."
        )
    return reasons


def errors_last_hour(samples: Sequence[Sample]) -> int | None:
    """Error-log lines in the hour before the latest sample that counted any."""
    known = [s for s in samples if s.error_lines is not None]
    if not known:
        return None
    end = known[-1].ts
    total = 0
    covered = 0.0
    for s in reversed(known):
        if end - s.ts >= HOUR or covered >= HOUR:
            break
        total += s.error_lines or 0
        covered += HOUR if s.error_span is None else s.error_span
    return total


def _attention(
    samples: Sequence[Sample],
    now: float,
    c: MonitorCriteria,
    figures: dict[str, Any],
    notes: list[str],
) -> list[str]:
    a = c.attention
    reasons: list[str] = []
    if not samples:
        notes.append("No sample has been recorded yet.")
        return reasons
    recent = [s for s in samples if s.ts >= now - a.window]
    latest = samples[-1]
    age = now - latest.ts
    figures["last_sample_age"] = age
    if age > latest.interval * c.gap_factor:
        reasons.append(
            f"No sample since {fmt_time(latest.ts)} ({fmt_duration(age)} ago, expected every "
            f"{fmt_duration(latest.interval)}): is the monitor's cron job running?"
        )
    elif age < -CLOCK_TOLERANCE:
        notes.append(
            f"The clock is {fmt_duration(-age)} behind the latest sample: it went backwards."
        )
    window = fmt_duration(a.window)
    failed = [s for s in recent if s.api_ok is False]
    if failed:
        last = failed[-1]
        detail = f": {last.api_detail}" if last.api_detail else ""
        reasons.append(
            f"The API health check failed in {len(failed)} of {len(recent)} samples of the "
            f"last {window} (latest at {fmt_time(last.ts)}{detail})."
        )
    worst = max((s.firing_alerts for s in recent if s.firing_alerts is not None), default=None)
    figures["max_firing_alerts"] = worst
    if worst is not None and worst > a.firing_alerts:
        reasons.append(
            f"{worst} alerts were firing in the last {window} (attention above {a.firing_alerts})."
        )
    errors = errors_last_hour(samples)
    figures["errors_last_hour"] = errors
    if errors is not None and errors > a.errors_per_hour:
        reasons.append(
            f"{errors} error-log lines in the last hour (attention above {a.errors_per_hour})."
        )
    if latest in recent:
        for source, why in sorted(latest.problems.items()):
            reasons.append(f"Could not measure {source}: {why}")
    return reasons


def healthy_for_success(s: Sample, c: MonitorCriteria) -> str | None:
    """None when a sample meets every success criterion, else what it misses."""
    sc = c.success
    if s.api_ok is not True:
        return "the API was unavailable" if s.api_ok is False else "the API was not probed"
    if s.error_rate is None:
        return "the error rate was not measured"
    if s.error_rate >= sc.error_rate_below:
        what = (
            "the error rate" if s.error_rate_from_api else "the error rate of golive's own probes"
        )
        return f"{what} was {s.error_rate:.1%} (success needs below {sc.error_rate_below:.0%})"
    if s.critical_alerts is None:
        return "critical alerts could not be read"
    if s.critical_alerts > 0:
        return f"{s.critical_alerts} critical alert(s) were firing"
    if s.perf_ratio is None:
        if sc.require_baseline:
            return "performance could not be compared with a baseline"
    elif s.perf_ratio > 1 + sc.performance_within:
        return (
            f"p95 latency was {s.perf_ratio - 1:+.0%} from the baseline "
            f"(success needs within {sc.performance_within:.0%})"
        )
    return None


def _unhealthy(s: Sample, since_trigger: float | None, c: MonitorCriteria) -> str | None:
    if since_trigger is not None and s.ts < since_trigger:
        return f"a rollback trigger was recorded at {fmt_time(since_trigger)}"
    miss = healthy_for_success(s, c)
    return None if miss is None else f"at {fmt_time(s.ts)} {miss}"


def _success(
    samples: Sequence[Sample],
    st: Sequence[Step],
    events: Sequence[Event],
    now: float,
    c: MonitorCriteria,
    figures: dict[str, Any],
    notes: list[str],
) -> tuple[list[str], list[str]]:
    """(reasons for SUCCESS, or empty) and what WATCHING is waiting for."""
    sc = c.success
    if not samples:
        return [], ["Waiting for the first sample."]
    latest = samples[-1]
    age = now - latest.ts
    since_trigger = max((e.ts for e in events if e.kind == "trigger"), default=None)
    stable = 0.0  # only time between two healthy samples counts
    blocker = _unhealthy(latest, since_trigger, c)
    i = len(samples) - 1
    while blocker is None and stable < sc.after:
        if i == 0:
            blocker = "the history starts there"
        elif st[i].gap:
            blocker = f"samples are missing before {fmt_time(samples[i].ts)}"
        else:
            blocker = _unhealthy(samples[i - 1], since_trigger, c)
            if blocker is None:
                stable += st[i].elapsed
                i -= 1
    figures["stable_for"] = stable
    fresh = -CLOCK_TOLERANCE <= age <= latest.interval * c.gap_factor
    if stable >= sc.after and blocker is None and fresh:
        return [
            f"Stable for {fmt_duration(stable)} (success window {fmt_duration(sc.after)}): "
            f"API up, p95 latency within {sc.performance_within:.0%} of the baseline, error rate "
            f"below {sc.error_rate_below:.0%}, no critical alert."
        ], []
    progress = f"Stable for {fmt_duration(stable)} of the {fmt_duration(sc.after)} success window"
    progress += f"; {blocker}." if blocker else "."
    if not fresh:
        progress += " The latest sample is not recent enough to claim success."
    return [], [progress]
