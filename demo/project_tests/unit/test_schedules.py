"""demo.schedules: expressions are validated, and next occurrences follow time zones."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from demo.schedules import next_after, parse_instant, validate

UTC = timezone.utc


@pytest.mark.parametrize(
    ("kind", "expr", "tz"),
    [
        ("cron", "15 2 * * *", "UTC"),
        ("cron", "*/5 * * * *", "Europe/Lisbon"),
        ("rrule", "FREQ=DAILY;BYHOUR=9;BYMINUTE=0", "America/New_York"),
        ("once", "2030-01-01T09:00:00Z", "UTC"),
        ("event", None, "UTC"),
    ],
)
def test_valid_expressions_are_accepted(kind: str, expr: str | None, tz: str) -> None:
    validate(kind, expr, tz)


@pytest.mark.parametrize(
    ("kind", "expr", "tz", "message"),
    [
        ("cron", "61 * * * *", "UTC", "invalid cron expression"),
        ("cron", None, "UTC", "schedule_expr is required"),
        ("once", "tomorrow at nine", "UTC", "invalid ISO-8601 time"),
        ("rrule", "FREQ=SOMETIMES", "UTC", "invalid RRULE"),
        ("cron", "0 9 * * *", "Mars/Olympus_Mons", "unknown timezone"),
        ("hourly", "0 * * * *", "UTC", "unknown schedule_kind"),
    ],
)
def test_invalid_expressions_are_rejected(
    kind: str, expr: str | None, tz: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        validate(kind, expr, tz)


def test_cron_occurrences_follow_daylight_saving_time() -> None:
    # 09:00 in New York is 14:00 UTC before the switch to summer time (8 March 2026)
    # and 13:00 UTC after it
    before = datetime(2026, 3, 7, 0, 0, tzinfo=UTC)
    after = datetime(2026, 3, 8, 15, 0, tzinfo=UTC)
    assert next_after("cron", "0 9 * * *", "America/New_York", before, before) == datetime(
        2026, 3, 7, 14, 0, tzinfo=UTC
    )
    assert next_after("cron", "0 9 * * *", "America/New_York", after, after) == datetime(
        2026, 3, 9, 13, 0, tzinfo=UTC
    )


def test_the_nightly_backup_schedule_runs_once_a_day() -> None:
    start = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
    first = next_after("cron", "15 2 * * *", "UTC", start, start)
    assert first == datetime(2026, 1, 2, 2, 15, tzinfo=UTC)
    assert first is not None
    second = next_after("cron", "15 2 * * *", "UTC", first, start)
    assert second is not None and (second - first).total_seconds() == 86400


def test_a_finite_rrule_ends() -> None:
    anchor = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    rule = "FREQ=DAILY;COUNT=2"
    assert next_after("rrule", rule, "UTC", anchor, anchor) == datetime(
        2026, 1, 2, 12, 0, tzinfo=UTC
    )
    assert next_after("rrule", rule, "UTC", datetime(2026, 1, 5, tzinfo=UTC), anchor) is None


def test_a_once_task_has_one_occurrence_read_in_its_time_zone() -> None:
    anchor = datetime(2026, 3, 7, tzinfo=UTC)
    when = next_after("once", "2026-06-01T10:00:00", "Europe/Lisbon", anchor, anchor)
    assert when == datetime(2026, 6, 1, 9, 0, tzinfo=UTC)  # Lisbon is UTC+1 in summer
    assert when is not None
    assert next_after("once", "2026-06-01T10:00:00", "Europe/Lisbon", when, anchor) is None
    assert parse_instant("2026-06-01T10:00:00z") == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


def test_event_and_condition_tasks_are_never_scheduled() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert next_after("event", "orders.created", "UTC", now, now) is None
    assert next_after("condition", "queue > 10", "UTC", now, now) is None
