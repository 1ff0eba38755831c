"""golive/monitor/criteria.py: verdicts from synthetic histories with an injected clock.

Every trigger is tested at, just below and just above its threshold (values and
durations), together with missed samples (gaps) and a clock that goes backwards.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from golive.config import MonitorCriteria
from golive.monitor.criteria import (
    CLOCK_TOLERANCE,
    errors_last_hour,
    evaluate,
    fmt_duration,
    healthy_for_success,
    steps,
)
from golive.monitor.model import Evaluation, Event, Sample, Verdict

HOUR = 3600.0
DEFAULT = MonitorCriteria()


def healthy(ts: float, interval: float = 60.0, **kw: Any) -> Sample:
    """A sample that meets every success criterion."""
    base: dict[str, Any] = dict(
        api_ok=True,
        latency_p95_ms=20.0,
        error_rate=0.0,
        error_rate_source="prometheus",
        firing_alerts=0,
        critical_alerts=0,
        baseline_ms=20.0,
        perf_ratio=1.0,
        db_connections=5,
        tasks_last_hour=100,
    )
    base.update(kw)
    return Sample(id=f"s{ts}", ts=ts, interval=interval, **base)


def series(times: list[float], interval: float = 60.0, **kw: Any) -> list[Sample]:
    return [healthy(t, interval, **kw) for t in times]


def verdict_at(
    samples: list[Sample],
    now: float | None = None,
    events: list[Event] | None = None,
    criteria: MonitorCriteria = DEFAULT,
) -> Evaluation:
    when = samples[-1].ts + 1 if now is None and samples else (now or 0.0)
    return evaluate(samples, events or [], when, criteria)


def crit(**kw: Any) -> MonitorCriteria:
    """Criteria with some sections overridden, validated like golive.yaml."""
    return MonitorCriteria.model_validate(kw)


# --------------------------------------------------------------------------- API unavailable


@pytest.mark.parametrize(
    ("down_for", "expected"),
    [
        (599.0, Verdict.ATTENTION),
        (600.0, Verdict.ATTENTION),
        (601.0, Verdict.ROLLBACK),
    ],
)
def test_api_unavailable_threshold(down_for: float, expected: Verdict) -> None:
    history = [
        *series([0, 60]),
        healthy(120, interval=600, api_ok=False, api_detail="connection refused"),
        healthy(120 + down_for, interval=600, api_ok=False),
    ]
    ev = verdict_at(history)
    assert ev.verdict is expected
    assert ev.figures["api_unavailable_for"] == down_for
    if expected is Verdict.ROLLBACK:
        assert ev.reasons[0] == (
            f"The API has been unavailable for {fmt_duration(down_for)} "
            "(rollback after more than 10m)."
        )
    else:  # failing, but not long enough: the checklist's hourly "API failing" threshold
        assert ev.reasons[0].startswith("The API health check failed in 2 of 4 samples")


def test_api_recovery_ends_the_run() -> None:
    history = (
        series([0]) + [healthy(t, api_ok=False) for t in range(60, 1300, 60)] + [healthy(1300)]
    )
    ev = verdict_at(history)
    assert ev.verdict is Verdict.ATTENTION  # it failed within the hour, but is up now
    assert ev.figures["api_unavailable_for"] is None


def test_unprobed_samples_do_not_break_an_outage() -> None:
    history = [healthy(0, api_ok=False), healthy(300, api_ok=None), healthy(700, api_ok=False)]
    ev = verdict_at(history)
    assert ev.verdict is Verdict.ROLLBACK
    assert ev.figures["api_unavailable_for"] == 700


# --------------------------------------------------------------------------- error rate


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        (0.19, Verdict.WATCHING),
        (0.20, Verdict.WATCHING),
        (0.2001, Verdict.ROLLBACK),
    ],
)
def test_error_rate_value_threshold(rate: float, expected: Verdict) -> None:
    history = series([0, 1000], interval=1000, error_rate=rate)  # held for 1000 s > 900 s
    assert verdict_at(history).verdict is expected


@pytest.mark.parametrize(
    ("held", "expected"),
    [
        (899.0, Verdict.WATCHING),
        (900.0, Verdict.WATCHING),
        (901.0, Verdict.ROLLBACK),
    ],
)
def test_error_rate_duration_threshold(held: float, expected: Verdict) -> None:
    history = series([0, held], interval=1000, error_rate=0.5)
    ev = verdict_at(history)
    assert ev.verdict is expected
    assert ev.figures["error_rate_high_for"] == held
    if expected is Verdict.ROLLBACK:
        assert "error rate has stayed above 20% for 15m 01s" in ev.reasons[0]


def test_reasons_say_whose_error_rate_it_was() -> None:
    """The API's figure from Prometheus, or golive's own probes when Prometheus had none:
    a reason never passes one off as the other."""
    api = series([0, 1000], interval=1000, error_rate=0.5, error_rate_source="prometheus, derived")
    (reason,) = verdict_at(api).reasons
    assert "measured by the API's requests in Prometheus" in reason
    assert "now 50.00% (Prometheus, derived)" in reason
    own = series(
        [0, 1000],
        interval=1000,
        error_rate=0.6,
        error_rate_source="probe (Prometheus: no request counted in the last 5m)",
        error_rate_note="no request counted in the last 5m",
        probe_requests=5,
        probe_errors=3,
    )
    (reason,) = verdict_at(own).reasons
    assert "measured by golive's own probe requests (Prometheus had no figure)" in reason
    assert "now unknown (no request counted in the last 5m); golive's own 5 probes: 3/5" in reason
    blocker = healthy_for_success(own[-1], DEFAULT)
    assert blocker == "the error rate of golive's own probes was 60.0% (success needs below 1%)"


def test_error_rate_run_broken_by_a_low_sample() -> None:
    history = [
        *series([0, 500], interval=1000, error_rate=0.5),
        healthy(600, interval=1000, error_rate=0.01),
        *series([700, 1400], interval=1000, error_rate=0.5),
    ]
    ev = verdict_at(history)
    assert ev.figures["error_rate_high_for"] == 700
    assert ev.verdict is Verdict.WATCHING


# --------------------------------------------------------------------------- performance


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [
        (1.49, Verdict.WATCHING),
        (1.50, Verdict.WATCHING),
        (1.51, Verdict.ROLLBACK),
    ],
)
def test_performance_degradation_value_threshold(ratio: float, expected: Verdict) -> None:
    history = series([0, 1000], interval=1000, perf_ratio=ratio, latency_p95_ms=20 * ratio)
    assert verdict_at(history).verdict is expected


@pytest.mark.parametrize(
    ("held", "expected"),
    [
        (899.0, Verdict.WATCHING),
        (900.0, Verdict.WATCHING),
        (901.0, Verdict.ROLLBACK),
    ],
)
def test_performance_degradation_duration_threshold(held: float, expected: Verdict) -> None:
    history = series([0, held], interval=1000, perf_ratio=2.0)
    ev = verdict_at(history)
    assert ev.verdict is expected
    if expected is Verdict.ROLLBACK:
        assert ev.reasons[0].startswith(
            "p95 latency has been more than 50% above the baseline for 15m 01s (now +100%)"
        )


def test_a_single_sample_never_triggers_rollback() -> None:
    ev = verdict_at([healthy(0, error_rate=1.0, perf_ratio=9.0)])
    assert ev.verdict is Verdict.WATCHING


def test_zero_window_triggers_on_one_sample() -> None:
    c = crit(rollback={"performance_degraded_for": 0})
    assert verdict_at([healthy(0, perf_ratio=1.6)], criteria=c).verdict is Verdict.ROLLBACK


# --------------------------------------------------------------------------- manual trigger


def test_manual_trigger_and_clear() -> None:
    history = series([0, 60, 120])
    trig = Event(1, 100, "trigger", {"reason": "security breach"})
    ev = verdict_at(history, events=[trig])
    assert ev.verdict is Verdict.ROLLBACK
    assert ev.reasons == ["Manual rollback trigger at 1970-01-01 00:01:40Z: security breach."]
    cleared = verdict_at(history, events=[trig, Event(2, 110, "clear", {"reason": "false alarm"})])
    assert cleared.verdict is Verdict.WATCHING


# --------------------------------------------------------------------------- attention


@pytest.mark.parametrize(
    ("alerts", "expected"), [(4, Verdict.WATCHING), (5, Verdict.WATCHING), (6, Verdict.ATTENTION)]
)
def test_firing_alerts_threshold(alerts: int, expected: Verdict) -> None:
    history = [*series([0, 60]), healthy(120, firing_alerts=alerts)]
    ev = verdict_at(history)
    assert ev.verdict is expected
    if expected is Verdict.ATTENTION:
        assert ev.reasons == ["6 alerts were firing in the last 1h 00m (attention above 5)."]


@pytest.mark.parametrize(
    ("lines", "expected"), [(49, Verdict.WATCHING), (50, Verdict.WATCHING), (51, Verdict.ATTENTION)]
)
def test_errors_per_hour_threshold_from_a_command(lines: int, expected: Verdict) -> None:
    history = [*series([0, 60]), healthy(120, error_lines=lines, error_span=HOUR)]
    ev = verdict_at(history)
    assert ev.verdict is expected
    assert ev.figures["errors_last_hour"] == lines


def test_errors_per_hour_sums_file_increments_within_the_hour() -> None:
    # a file source counts lines appended since the previous sample (every 10 minutes)
    history = [healthy(0, error_lines=40, error_span=None)]  # first read: the whole file
    history += [
        healthy(t, interval=600, error_lines=10, error_span=600) for t in range(600, 4200, 600)
    ]
    # the last hour holds the six 10-minute increments: 60 lines
    assert errors_last_hour(history) == 60
    assert verdict_at(history).verdict is Verdict.ATTENTION
    assert errors_last_hour(history[:3]) == 60  # 40 + 10 + 10 within the first 20 minutes


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (HOUR - 1, Verdict.ATTENTION),
        (HOUR, Verdict.ATTENTION),
        (HOUR + 1, Verdict.WATCHING),
    ],
)
def test_attention_window_boundary(age: float, expected: Verdict) -> None:
    now = 10 * HOUR
    failed_at = now - age
    history = [healthy(t, interval=600) for t in range(int(now - 2 * HOUR), int(now), 600)]
    history = [replace(s, api_ok=False) if s.ts == failed_at else s for s in history]
    history.append(healthy(failed_at, interval=600, api_ok=False))
    history.sort(key=lambda s: s.ts)
    assert verdict_at(history, now=now).verdict is expected


def test_unmeasured_source_needs_attention() -> None:
    history = [
        *series([0, 60]),
        healthy(
            120,
            firing_alerts=None,
            critical_alerts=None,
            problems={"firing alerts in Alertmanager": "connection refused by http://127.0.0.1:9"},
        ),
    ]
    ev = verdict_at(history)
    assert ev.verdict is Verdict.ATTENTION
    assert ev.reasons == [
        "Could not measure firing alerts in Alertmanager: connection refused by http://127.0.0.1:9"
    ]


# --------------------------------------------------------------------------- success


def hourly(hours: int, **kw: Any) -> list[Sample]:
    return [healthy(h * HOUR, interval=HOUR, **kw) for h in range(hours + 1)]


def test_success_after_24_hours() -> None:
    history = hourly(24)  # 25 samples: 0 h ... 24 h
    ev = verdict_at(history)
    assert ev.verdict is Verdict.SUCCESS
    assert ev.figures["stable_for"] == 24 * HOUR
    assert ev.reasons[0].startswith("Stable for 1d 0h (success window 1d 0h)")


@pytest.mark.parametrize(
    ("span", "expected"),
    [
        (24 * HOUR - 1, Verdict.WATCHING),
        (24 * HOUR, Verdict.SUCCESS),
        (24 * HOUR + 1, Verdict.SUCCESS),
    ],
)
def test_success_window_threshold(span: float, expected: Verdict) -> None:
    history = [*hourly(23), healthy(span, interval=HOUR)]
    ev = verdict_at(history)
    assert ev.verdict is expected
    if expected is Verdict.WATCHING:
        assert ev.reasons == [
            "Stable for 23h 59m of the 1d 0h success window; the history starts there."
        ]


@pytest.mark.parametrize(
    ("field", "ok", "bad", "why"),
    [
        (
            "perf_ratio",
            1.10,
            1.11,
            "p95 latency was +11% from the baseline (success needs within 10%)",
        ),
        ("error_rate", 0.0099, 0.01, "the error rate was 1.0% (success needs below 1%)"),
        ("critical_alerts", 0, 1, "1 critical alert(s) were firing"),
    ],
)
def test_success_criteria_thresholds(field: str, ok: float, bad: float, why: str) -> None:
    assert verdict_at(hourly(24, **{field: ok})).verdict is Verdict.SUCCESS
    history = hourly(24)
    changed: dict[str, Any] = {field: bad}
    history[12] = replace(history[12], **changed)
    ev = verdict_at(history)
    assert ev.verdict is Verdict.WATCHING
    assert ev.reasons == [
        f"Stable for 11h 00m of the 1d 0h success window; at 1970-01-01 12:00:00Z {why}."
    ]


def test_success_needs_a_baseline_unless_configured_otherwise() -> None:
    history = hourly(24, perf_ratio=None, baseline_ms=None)
    ev = verdict_at(history)
    assert ev.verdict is Verdict.WATCHING
    assert "performance could not be compared with a baseline" in ev.reasons[0]
    relaxed = crit(success={"require_baseline": False})
    assert verdict_at(history, criteria=relaxed).verdict is Verdict.SUCCESS


def test_success_needs_a_fresh_sample() -> None:
    history = hourly(24)
    assert verdict_at(history, now=history[-1].ts + 1.5 * HOUR).verdict is Verdict.SUCCESS
    late = verdict_at(history, now=history[-1].ts + 1.5 * HOUR + 1)
    assert late.verdict is Verdict.ATTENTION
    assert late.reasons[0].startswith(
        "No sample since 1970-01-02 00:00:00Z (1h 30m ago, expected every 1h 00m)"
    )


# --------------------------------------------------------------------------- gaps


def test_a_missed_sample_blocks_success() -> None:
    history = [s for s in hourly(30) if s.ts != 20 * HOUR]  # the 20 h run never happened
    ev = verdict_at(history)
    assert ev.verdict is Verdict.WATCHING
    assert ev.reasons == [
        "Stable for 9h 00m of the 1d 0h success window; "
        "samples are missing before 1970-01-01 21:00:00Z."
    ]
    assert verdict_at(hourly(30)).verdict is Verdict.SUCCESS


@pytest.mark.parametrize(
    ("delay", "is_gap"), [(1.5 * HOUR - 1, False), (1.5 * HOUR, False), (1.5 * HOUR + 1, True)]
)
def test_gap_threshold(delay: float, is_gap: bool) -> None:
    st = steps([healthy(0, interval=HOUR), healthy(delay, interval=HOUR)], 1.5)
    assert st[1].gap is is_gap
    assert st[1].elapsed == delay


def test_gaps_do_not_end_an_outage() -> None:
    # down, then nothing for two hours (cron stopped), then down again
    history = [
        *series([0], interval=HOUR),
        healthy(HOUR, interval=HOUR, api_ok=False),
        healthy(4 * HOUR, interval=HOUR, api_ok=False),
    ]
    ev = verdict_at(history)
    assert ev.verdict is Verdict.ROLLBACK
    assert ev.figures["api_unavailable_for"] == 3 * HOUR


def test_no_samples_yet() -> None:
    ev = evaluate([], [], 1000.0, DEFAULT)
    assert ev.verdict is Verdict.WATCHING
    assert ev.reasons == ["Waiting for the first sample."]
    assert ev.notes == ["No sample has been recorded yet."]


# --------------------------------------------------------------------------- clock going backwards


def test_clock_going_backwards_cannot_fake_an_outage_or_success() -> None:
    before = [healthy(t, api_ok=False) for t in (10_000, 10_060)]
    after = [healthy(t, api_ok=False) for t in (100, 160, 220)]  # the clock jumped back ~3 h
    ev = verdict_at(before + after)
    # 60 s before the jump + 120 s after it; the jump itself counts as no time
    assert ev.figures["api_unavailable_for"] == 180
    assert ev.verdict is Verdict.ATTENTION
    st = steps(before + after, DEFAULT.gap_factor)
    assert [s.gap for s in st] == [False, False, True, False, False]
    assert min(s.elapsed for s in st) >= 0


def test_clock_going_backwards_restarts_the_success_window() -> None:
    c = crit(success={"after": 600})
    history = series(list(range(0, 1200, 60)))
    assert verdict_at(history, criteria=c).verdict is Verdict.SUCCESS
    jumped = history + series([-5000, -4940, -4880])
    ev = verdict_at(jumped, criteria=c)
    assert ev.verdict is Verdict.WATCHING
    assert "samples are missing before" in ev.reasons[0]


def test_small_backward_steps_from_overlapping_runs_are_not_gaps() -> None:
    times = [0, 60, 120, 120 - CLOCK_TOLERANCE + 1, 180]
    st = steps(series(times), DEFAULT.gap_factor)
    assert [s.gap for s in st] == [False] * 5
    assert sum(s.elapsed for s in st) == 180  # never more than the real span


def test_now_behind_the_latest_sample() -> None:
    history = hourly(24)
    ev = evaluate(history, [], history[-1].ts - 2 * HOUR, DEFAULT)
    assert ev.verdict is Verdict.WATCHING  # no success claimed from a clock we cannot trust
    assert ev.notes == ["The clock is 2h 00m behind the latest sample: it went backwards."]


def test_verdict_exit_codes_are_distinct_and_avoid_usage_errors() -> None:
    codes = [v.exit_code for v in Verdict]
    assert sorted(codes) == [0, 10, 11, 12]
    assert 2 not in codes and 3 not in codes


def test_time_after_an_unhealthy_sample_is_not_stable_time() -> None:
    # down, then a healthy sample 20 minutes later: those 20 minutes prove nothing
    c = crit(success={"after": 600})
    history = [healthy(0, interval=HOUR, api_ok=False), healthy(1200, interval=HOUR)]
    ev = verdict_at(history, criteria=c, now=1201 + HOUR)  # outside the attention window
    assert ev.figures["stable_for"] == 0
    assert ev.verdict is Verdict.WATCHING
    assert ev.reasons == [
        "Stable for 0s of the 10m success window; at 1970-01-01 00:00:00Z the API was unavailable."
    ]
    history.append(healthy(1800, interval=HOUR))
    assert verdict_at(history, criteria=c, now=1801 + HOUR).figures["stable_for"] == 600
