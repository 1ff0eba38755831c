"""Schedule expressions: validation and next-occurrence arithmetic for the scheduler."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from dateutil.rrule import rrulestr  # type: ignore[import-untyped,unused-ignore]

SCHEDULED_KINDS = ("cron", "rrule", "once")
ALL_KINDS = ("cron", "rrule", "once", "event", "condition")


def zone(name: str) -> ZoneInfo:
    """Return the IANA zone ``name``; raise ValueError when it is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {name!r}") from exc


def parse_instant(expr: str, tz: str = "UTC") -> datetime:
    """Parse an ISO-8601 time; a naive time is read in ``tz``. Returns an aware datetime."""
    text = expr.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone(tz))
    return value


def validate(kind: str, expr: str | None, tz: str) -> None:
    """Raise ValueError when ``expr`` is not a valid expression for ``kind``."""
    zone(tz)
    if kind not in ALL_KINDS:
        raise ValueError(f"unknown schedule_kind {kind!r}")
    if kind in SCHEDULED_KINDS and not expr:
        raise ValueError(f"schedule_expr is required for schedule_kind {kind!r}")
    if kind == "cron" and not croniter.is_valid(expr or ""):
        raise ValueError(f"invalid cron expression {expr!r}")
    if kind == "once":
        try:
            parse_instant(expr or "", tz)
        except ValueError as exc:
            raise ValueError(f"invalid ISO-8601 time {expr!r}") from exc
    if kind == "rrule":
        try:
            rrulestr(expr or "", dtstart=datetime.now(zone(tz)))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"invalid RRULE {expr!r}") from exc


def next_after(kind: str, expr: str, tz: str, after: datetime, anchor: datetime) -> datetime | None:
    """First occurrence strictly after ``after`` (aware), or None when there is none.

    ``anchor`` is the task's creation time: the start of an RRULE and of a `once` task.
    """
    local_after = after.astimezone(zone(tz))
    if kind == "cron":
        result: datetime = croniter(expr, local_after).get_next(datetime)
        return result.astimezone(timezone.utc)
    if kind == "rrule":
        rule = rrulestr(expr, dtstart=anchor.astimezone(zone(tz)))
        found = rule.after(local_after)
        return found.astimezone(timezone.utc) if found else None
    if kind == "once":
        when = parse_instant(expr, tz)
        return when.astimezone(timezone.utc) if when > after else None
    return None
