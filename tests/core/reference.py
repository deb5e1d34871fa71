"""A naive reference for cron events: Debian cron's rules written out plainly, by brute force.

It walks every UTC minute of a window (at the crontab's one second value) and decides from each
instant's local wall time and fold whether it fires: a fixed-time crontab at the first
occurrence of a repeated wall time, and once, at the first instant after a forward jump, for the
wall times the jump skipped; a wildcard crontab at every instant whose wall time matches. It
only handles crontabs with a single second value and zones whose offsets are whole minutes in
the window (it answers None otherwise).
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from djag.core.cron import CronFields

MINUTE = 60


def weekdays_of_month(wall: datetime) -> list[int]:
    """The Monday-to-Friday days of the month of ``wall``."""
    length = calendar.monthrange(wall.year, wall.month)[1]
    return [d for d in range(1, length + 1) if wall.replace(day=d).weekday() < 5]


def nearest_weekday(wall: datetime, day: int) -> int | None:
    """Quartz's ``dayW``: the weekday of the month nearest ``day``, if the month has that day."""
    if day > calendar.monthrange(wall.year, wall.month)[1]:
        return None
    return min(weekdays_of_month(wall), key=lambda candidate: abs(candidate - day))


def wall_matches(fields: CronFields, wall: datetime) -> bool:
    """Does a naive local time match the crontab? Vixie cron's rules, written out plainly."""
    if (
        wall.second not in fields.seconds
        or wall.minute not in fields.minutes
        or wall.hour not in fields.hours
        or wall.month not in fields.months
    ):
        return False
    is_last_day = (wall + timedelta(days=1)).month != wall.month
    weekday = wall.isoweekday() % 7  # 0 = Sunday
    week_of_month = (wall.day - 1) // 7 + 1
    is_last_such_weekday = (wall + timedelta(days=7)).month != wall.month
    by_day_of_month = (
        wall.day in fields.days_of_month
        or (fields.last_day_of_month and is_last_day)
        or (fields.last_weekday_of_month and wall.day == weekdays_of_month(wall)[-1])
        or any(nearest_weekday(wall, day) == wall.day for day in fields.nearest_weekdays)
    )
    by_weekday = (
        weekday in fields.days_of_week
        or (weekday, week_of_month) in fields.nth_days_of_week
        or (weekday in fields.last_days_of_week and is_last_such_weekday)
    )
    if fields.day_match == "either" and (
        fields.day_of_month_restricted and fields.day_of_week_restricted
    ):
        return by_day_of_month or by_weekday
    return by_day_of_month and by_weekday


def reference_events(fields: CronFields, zone: ZoneInfo, start: int, end: int) -> list[int] | None:
    """Events in [start, end) of a crontab with one second value, walking every UTC minute.

    A fixed-time crontab fires at the first occurrence of a repeated wall time and once for
    the wall times a forward jump skips; a wildcard one fires at every real minute that
    matches and never for a skipped one (Debian cron's rules).
    """
    # A fixed-time crontab's skipped times fire at the jump itself, which is at second 0.
    assert len(fields.seconds) == 1
    assert fields.wildcard or fields.seconds == (0,)
    second = fields.seconds[0]
    fired = set()
    for instant in range(start - start % MINUTE + second, end, MINUTE):
        if instant < start:
            continue
        local = datetime.fromtimestamp(instant, zone)
        if local.second != second:
            return None
        wall = local.replace(tzinfo=None, fold=0)
        first_occurrence = local.fold == 0
        if wall_matches(fields, wall) and (first_occurrence or fields.wildcard):
            fired.add(instant)
        if fields.wildcard:
            continue
        # Wall minutes skipped since the previous instant lie in a gap: they fire now, once.
        skipped = datetime.fromtimestamp(instant - MINUTE, zone).replace(tzinfo=None, fold=0)
        skipped += timedelta(minutes=1)
        while skipped < wall:
            if wall_matches(fields, skipped):
                fired.add(instant)
            skipped += timedelta(minutes=1)
    return sorted(fired)
