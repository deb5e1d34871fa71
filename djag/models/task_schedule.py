"""A periodic task's "when" beyond its crontab: an interval, exclusions and jitter.

The fields live on ``PeriodicTask``; their validators and the rule that a task has exactly one
schedule (a crontab or an interval) live here, worded once for the admin, ``full_clean`` and
``djag_sync``. The store reads the same columns with the same parsers
(``djag.store.compile``), so a value written past validation is a problem beat reports for
that task, never a stalled beat.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError

from djag.core.cron import CronError
from djag.core.exclusions import parse_dates, parse_weekdays
from djag.core.interval import MAX_EVERY, IntervalError, IntervalSchedule, duration
from djag.core.jitter import MAX_JITTER
from djag.models.calendars import canonical_calendar

__all__ = [
    "MAX_EVERY",
    "MAX_JITTER",
    "schedule_errors",
    "validate_exclude_dates",
    "validate_exclude_weekdays",
    "validate_holiday_calendar",
]


def validate_exclude_dates(value: str) -> None:
    try:
        parse_dates(value)
    except ValueError as exc:
        raise ValidationError(f"{str(exc)[:1].upper()}{str(exc)[1:]}.", code="invalid") from exc


def validate_exclude_weekdays(value: str) -> None:
    if not value.strip():
        return
    try:
        weekdays = parse_weekdays(value)
    except CronError as exc:
        detail = exc.message.removeprefix("day_of_week: ")
        raise ValidationError(f"{detail[:1].upper()}{detail[1:]}.", code="invalid") from exc
    if len(weekdays) == 7:
        raise ValidationError("Every weekday is excluded: the task would never run.")


def validate_holiday_calendar(value: str) -> None:
    if not value.strip():
        return
    try:
        canonical_calendar(value)
    except ValueError as exc:
        raise ValidationError(f"{str(exc)[:1].upper()}{str(exc)[1:]}.", code="invalid") from exc


def schedule_errors(task: Any) -> dict[str, str]:
    """``{field: message}``: a task has a crontab or an interval, exactly one of them.

    Also puts the holiday calendar's name in its canonical case ("us-ny" -> "US-NY").
    """
    errors: dict[str, str] = {}
    has_interval = task.interval_seconds is not None
    has_crontab = task.crontab_id is not None
    if getattr(task, "schedule_from_form", False):
        pass  # the admin form has checked crontab, cron line and interval together
    elif not has_crontab and not has_interval:
        errors["crontab"] = "Give the task a crontab or an interval."
    elif has_crontab and has_interval:
        errors["interval_seconds"] = (
            "A task has a crontab or an interval, not both: empty one of them."
        )
    if task.interval_anchor is not None and not has_interval:
        errors["interval_anchor"] = "An anchor belongs to an interval: give the interval too."
    calendar = task.holiday_calendar
    if isinstance(calendar, str) and calendar.strip():
        with suppress(ValueError):  # the field's validator has said why
            task.holiday_calendar = canonical_calendar(calendar)
    return errors


def interval_help() -> str:
    return (
        f"Run every this many seconds of elapsed time (1 to {duration(MAX_EVERY)}), instead "
        "of a crontab: 3600 = hourly, 5400 = every 90 minutes. Clocks do not move it: across "
        "a DST change its runs keep their spacing."
    )


def schedule_text(task: Any) -> str:
    """The task's schedule in words: its crontab's text, or "Every 6 hours from ..."."""
    if task.crontab_id is not None:
        return str(task.crontab.describe())
    if task.interval_seconds is None:
        return "-"
    zone = task.interval_timezone
    anchor = task.interval_anchor or task.start_at
    try:
        schedule = IntervalSchedule(task.interval_seconds, int(anchor.timestamp()))
        return schedule.describe(zone if isinstance(zone, ZoneInfo) else None)
    except (IntervalError, AttributeError, TypeError, ValueError, OverflowError):
        return f"Every {task.interval_seconds} seconds"
