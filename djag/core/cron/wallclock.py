"""Calendar arithmetic and matching on naive wall-clock seconds (no zone, no DST)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import date
from functools import lru_cache
from typing import NamedTuple

from djag.core.cron.parse import CronFields

DAY = 86400
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
FIRST_YEAR = 1000
LAST_YEAR = 8999
_MONTH_LENGTHS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def month_length(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _MONTH_LENGTHS[month]


def year_start(year: int) -> int:
    return (date(year, 1, 1).toordinal() - EPOCH_ORDINAL) * DAY


FIRST_INSTANT = year_start(FIRST_YEAR)
END_INSTANT = year_start(LAST_YEAR + 1)


def never_fires(fields: CronFields) -> bool:
    """True when no date can ever match (February 30th; "both" days 1-7 and mon#2).

    Exact: a month's matching days depend only on its length and the weekday of its 1st, and
    the Gregorian calendar has every month start on every weekday, and a 29-day February start
    on every weekday too. So the schedule fires at all if one of those combinations matches.
    """
    clock = wall_clock(fields)
    for month in fields.months:
        for length in (28, 29) if month == 2 else (_MONTH_LENGTHS[month],):
            if any(clock.days(length, first_weekday) for first_weekday in range(7)):
                return False
    return True


def _nearest_weekday(day: int, length: int, first_weekday: int) -> int | None:
    """The Monday-to-Friday day nearest ``day`` without leaving the month (Quartz's W)."""
    if day > length:
        return None
    weekday = (first_weekday + day - 1) % 7
    if weekday == 6:  # Saturday: the Friday before, or the Monday after the 1st
        return 3 if day == 1 else day - 1
    if weekday == 0:  # Sunday: the Monday after, or the Friday before the last day
        return day - 2 if day == length else day + 1
    return day


def _last_weekday(length: int, first_weekday: int) -> int:
    weekday = (first_weekday + length - 1) % 7
    return length - {6: 1, 0: 2}.get(weekday, 0)


def _matching_days(fields: CronFields, length: int, first_weekday: int) -> tuple[int, ...]:
    """Days of a month with ``length`` days starting on ``first_weekday`` that match."""
    days_of_month = set(fields.days_of_month)
    if fields.last_day_of_month:
        days_of_month.add(length)
    if fields.last_weekday_of_month:
        days_of_month.add(_last_weekday(length, first_weekday))
    for day in fields.nearest_weekdays:
        nearest = _nearest_weekday(day, length, first_weekday)
        if nearest is not None:
            days_of_month.add(nearest)
    weekdays = set(fields.days_of_week)
    nth = set(fields.nth_days_of_week)
    last_weekdays = set(fields.last_days_of_week)
    either = fields.either_day
    matching = []
    for day in range(1, length + 1):
        weekday = (first_weekday + day - 1) % 7
        by_month_day = day in days_of_month
        by_weekday = (
            weekday in weekdays
            or (weekday, (day - 1) // 7 + 1) in nth
            or (weekday in last_weekdays and day + 7 > length)
        )
        if (by_month_day or by_weekday) if either else (by_month_day and by_weekday):
            matching.append(day)
    return tuple(matching)


class _Values(NamedTuple):
    """Lookup tables for one time-of-day field; -1 stands for "none"."""

    allowed: tuple[bool, ...]
    at_or_after: tuple[int, ...]  # one extra entry past the end, always -1
    at_or_before: tuple[int, ...]
    below: tuple[int, ...]  # how many allowed values are smaller; one extra entry
    first: int
    last: int
    size: int  # how many allowed values


@lru_cache(maxsize=1024)
def _value_tables(values: tuple[int, ...], span: int) -> _Values:
    allowed = tuple(v in values for v in range(span))
    at_or_after = [-1] * (span + 1)
    for v in range(span - 1, -1, -1):
        at_or_after[v] = v if allowed[v] else at_or_after[v + 1]
    at_or_before = [-1] * span
    for v in range(span):
        at_or_before[v] = v if allowed[v] else (at_or_before[v - 1] if v else -1)
    below = [0] * (span + 1)
    for v in range(span):
        below[v + 1] = below[v] + allowed[v]
    return _Values(
        allowed,
        tuple(at_or_after),
        tuple(at_or_before),
        tuple(below),
        values[0],
        values[-1],
        len(values),
    )


class WallClock:
    """Matching on naive wall-clock seconds (seconds since 1970-01-01 00:00 local time)."""

    __slots__ = (
        "_day_sets",
        "_fields",
        "_first_time",
        "_hours",
        "_last_time",
        "_minutes",
        "_month_ok",
        "_per_day",
        "_per_hour",
        "_seconds",
    )

    def __init__(self, fields: CronFields) -> None:
        self._fields = fields
        self._hours = _value_tables(fields.hours, 24)
        self._minutes = _value_tables(fields.minutes, 60)
        self._seconds = _value_tables(fields.seconds, 60)
        self._month_ok = tuple(month in fields.months for month in range(13))
        self._per_hour = self._minutes.size * self._seconds.size
        self._per_day = self._hours.size * self._per_hour
        self._first_time = self._time(self._hours.first, self._minutes.first, self._seconds.first)
        self._last_time = self._time(self._hours.last, self._minutes.last, self._seconds.last)
        # Keyed by month length * 8 + weekday of the 1st; at most 28 entries, filled on demand.
        # Writes of equal values from several threads are harmless.
        self._day_sets: dict[int, tuple[int, ...]] = {}

    @staticmethod
    def _time(hour: int, minute: int, second: int) -> int:
        return hour * 3600 + minute * 60 + second

    def days(self, length: int, first_weekday: int) -> tuple[int, ...]:
        """The matching days of a month of ``length`` days whose 1st is ``first_weekday``."""
        key = length * 8 + first_weekday
        days = self._day_sets.get(key)
        if days is None:
            days = self._day_sets[key] = _matching_days(self._fields, length, first_weekday)
        return days

    def _time_at_or_after(self, second_of_day: int) -> int:
        hours, minutes, seconds = self._hours, self._minutes, self._seconds
        hour, rest = divmod(second_of_day, 3600)
        minute, second = divmod(rest, 60)
        if hours.allowed[hour]:
            if minutes.allowed[minute]:
                next_second = seconds.at_or_after[second]
                if next_second >= 0:
                    return second_of_day - second + next_second
                next_minute = minutes.at_or_after[minute + 1]
            else:
                next_minute = minutes.at_or_after[minute]
            if next_minute >= 0:
                return self._time(hour, next_minute, seconds.first)
            next_hour = hours.at_or_after[hour + 1]
        else:
            next_hour = hours.at_or_after[hour]
        return -1 if next_hour < 0 else self._time(next_hour, minutes.first, seconds.first)

    def _time_at_or_before(self, second_of_day: int) -> int:
        hours, minutes, seconds = self._hours, self._minutes, self._seconds
        hour, rest = divmod(second_of_day, 3600)
        minute, second = divmod(rest, 60)
        if hours.allowed[hour]:
            if minutes.allowed[minute]:
                prev_second = seconds.at_or_before[second]
                if prev_second >= 0:
                    return second_of_day - second + prev_second
                prev_minute = minutes.at_or_before[minute - 1] if minute else -1
            else:
                prev_minute = minutes.at_or_before[minute]
            if prev_minute >= 0:
                return self._time(hour, prev_minute, seconds.last)
            prev_hour = hours.at_or_before[hour - 1] if hour else -1
        else:
            prev_hour = hours.at_or_before[hour]
        return -1 if prev_hour < 0 else self._time(prev_hour, minutes.last, seconds.last)

    def _times_before(self, second_of_day: int) -> int:
        hour, rest = divmod(second_of_day, 3600)
        minute, second = divmod(rest, 60)
        count = self._hours.below[hour] * self._per_hour
        if self._hours.allowed[hour]:
            count += self._minutes.below[minute] * self._seconds.size
            if self._minutes.allowed[minute]:
                count += self._seconds.below[second]
        return count

    def _day_matches(self, day: int) -> bool:
        when = date.fromordinal(day + EPOCH_ORDINAL)
        if not self._month_ok[when.month]:
            return False
        length = month_length(when.year, when.month)
        first_weekday = (day + EPOCH_ORDINAL - when.day + 1) % 7
        return when.day in self.days(length, first_weekday)

    def matches(self, wall: int) -> bool:
        day, second_of_day = divmod(wall, DAY)
        return self._time_at_or_after(second_of_day) == second_of_day and self._day_matches(day)

    def next(self, wall: int) -> int | None:
        """The first matching wall time at or after ``wall``."""
        day, second_of_day = divmod(wall, DAY)
        ordinal = day + EPOCH_ORDINAL
        when = date.fromordinal(ordinal)
        year, month, month_day = when.year, when.month, when.day
        month_start = ordinal - month_day + 1
        length = month_length(year, month)
        if self._month_ok[month]:
            days = self.days(length, month_start % 7)
            if month_day in days:
                time = self._time_at_or_after(second_of_day)
                if time >= 0:
                    return wall - second_of_day + time
            later = bisect_right(days, month_day)
            if later < len(days):
                return (day + days[later] - month_day) * DAY + self._first_time
        while True:
            month_start += length
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            if year > LAST_YEAR:
                return None
            length = month_length(year, month)
            if self._month_ok[month]:
                days = self.days(length, month_start % 7)
                if days:
                    day = month_start + days[0] - 1 - EPOCH_ORDINAL
                    return day * DAY + self._first_time

    def prev(self, wall: int) -> int | None:
        """The last matching wall time at or before ``wall``."""
        day, second_of_day = divmod(wall, DAY)
        ordinal = day + EPOCH_ORDINAL
        when = date.fromordinal(ordinal)
        year, month, month_day = when.year, when.month, when.day
        month_start = ordinal - month_day + 1
        if self._month_ok[month]:
            days = self.days(month_length(year, month), month_start % 7)
            if month_day in days:
                time = self._time_at_or_before(second_of_day)
                if time >= 0:
                    return wall - second_of_day + time
            earlier = bisect_left(days, month_day)
            if earlier:
                return (day - month_day + days[earlier - 1]) * DAY + self._last_time
        while True:
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)
            if year < FIRST_YEAR:
                return None
            length = month_length(year, month)
            month_start -= length
            if self._month_ok[month]:
                days = self.days(length, month_start % 7)
                if days:
                    day = month_start + days[-1] - 1 - EPOCH_ORDINAL
                    return day * DAY + self._last_time

    def count(self, start: int, end: int) -> int:
        """How many matching wall times lie in [start, end)."""
        if end <= start:
            return 0
        first_day, first_time = divmod(start, DAY)
        last_day, last_time = divmod(end, DAY)
        if first_day == last_day:
            if not self._day_matches(first_day):
                return 0
            return self._times_before(last_time) - self._times_before(first_time)
        total = 0
        if self._day_matches(first_day):
            total += self._per_day - self._times_before(first_time)
        total += self._per_day * self._matching_days_between(first_day + 1, last_day)
        if last_time and self._day_matches(last_day):
            total += self._times_before(last_time)
        return total

    def _matching_days_between(self, first: int, end: int) -> int:
        """How many day numbers in [first, end) match, counted a month at a time."""
        total = 0
        if end <= first:
            return total
        first_ordinal, end_ordinal = first + EPOCH_ORDINAL, end + EPOCH_ORDINAL
        when = date.fromordinal(first_ordinal)
        year, month = when.year, when.month
        month_start = first_ordinal - when.day + 1
        while month_start < end_ordinal:
            length = month_length(year, month)
            if self._month_ok[month]:
                days = self.days(length, month_start % 7)
                low = max(1, first_ordinal - month_start + 1)
                high = min(length, end_ordinal - month_start)
                total += bisect_right(days, high) - bisect_left(days, low)
            month_start += length
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return total


@lru_cache(maxsize=4096)
def wall_clock(fields: CronFields) -> WallClock:
    return WallClock(fields)
