"""Exclusions: events on excluded local dates do not run, and the planner records them.

A task may skip listed dates, weekdays, and the days of a holiday calendar. What counts is an
event's LOCAL date in the task's zone: a task at 23:30 in New York on December 24th runs,
even though that instant is December 25th in UTC.

API (instants are int UTC epoch seconds, weekdays count from 0 = Sunday as in cron)::

    Exclusions(dates={date: label}, weekdays=frozenset({0, 6}), holidays=HolidayCalendar(...))
    HolidayCalendar(name, dates_of_year)     dates_of_year(year) -> {date: holiday name}
    ExcludingSchedule(base, exclusions, zone)
        .next_after(t) .prev_at_or_before(t) .events(after, until) .count(after, until)
                                             the events that run (the planner's Schedule)
        .excluded(after, until, limit=...)  -> tuple[Skip, ...]: one record per excluded
                                             date with events in (after, until], the reason
                                             in its text: "excluded: 2026-12-25 (Christmas Day)"
        .excluded_day_end_after(t)          the last event of the next excluded date, when the
                                             base's next event is on one: the planner decides
                                             then to record that date

The core never imports the ``holidays`` package: the store builds the calendar from it, e.g.
``HolidayCalendar("US-NY", lambda year: dict(holidays.country_holidays("US", subdiv="NY",
years=year)))``. It is asked once per year and the answer is kept, so a beat that runs for
years keeps asking for the next year when it gets there.

A local date is the stretch of instants from its first moment (local midnight, or the first
instant after a jump that skips midnight) to the next date's first moment. On the rare days
where clocks go back across midnight the repeated stretch belongs to the new date; a date a
zone skips entirely (Apia's 2011-12-30) has no instant and so no event.

Bounds: counting subtracts, for each excluded date in the window, the base schedule's own
count on that date (O(1) each), so it costs one step per excluded date, never one per event.
``next_after`` and ``prev_at_or_before`` skip at most ``MAX_EXCLUDED_DATES`` excluded dates
in a row that have events; past that they answer None, as for a schedule that never runs
again (a validation can refuse such a task by asking ``next_after(now) is None``).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

from djag.core.cron import CronError, CronSchedule, parse_cron
from djag.core.cron.wallclock import DAY, END_INSTANT, EPOCH_ORDINAL, FIRST_INSTANT
from djag.core.misfire import Skip

MAX_EXCLUDED_DATES = 1000
#: At most this many excluded dates are recorded one by one per decision; older ones share one.
EXCLUDED_RECORDS = 100
_DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_ONE_DAY = timedelta(days=1)


class Schedule(Protocol):
    def next_after(self, t: int) -> int | None: ...
    def prev_at_or_before(self, t: int) -> int | None: ...
    def count(self, after: int, until: int) -> int: ...


@dataclass(frozen=True)
class HolidayCalendar:
    """Named holidays, asked a year at a time: ``dates_of_year(2026) -> {date: name}``."""

    name: str
    dates_of_year: Callable[[int], Mapping[date, str]]
    _years: dict[int, tuple[tuple[date, ...], Mapping[date, str]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def _year(self, year: int) -> tuple[tuple[date, ...], Mapping[date, str]]:
        known = self._years.get(year)
        if known is None:
            names = dict(self.dates_of_year(year))
            known = self._years[year] = (tuple(sorted(names)), names)
        return known

    def name_of(self, day: date) -> str | None:
        return self._year(day.year)[1].get(day)

    def between(self, first: date, last: date) -> Iterator[date]:
        """The holidays from ``first`` to ``last`` inclusive, ascending."""
        for year in range(first.year, last.year + 1):
            days, _ = self._year(year)
            yield from days[bisect.bisect_left(days, first) : bisect.bisect_right(days, last)]


@dataclass(frozen=True)
class Exclusions:
    """Local dates on which a task does not run. ``dates`` maps a date to an optional label."""

    dates: Mapping[date, str] = field(default_factory=dict)
    weekdays: frozenset[int] = frozenset()
    holidays: HolidayCalendar | None = None

    def __post_init__(self) -> None:
        bad = [day for day in self.weekdays if day not in range(7)]
        if bad:
            raise ValueError(f"weekdays count from 0 = Sunday to 6 = Saturday, not {bad[0]!r}")

    def __bool__(self) -> bool:
        return bool(self.dates or self.weekdays or self.holidays)

    def reasons(self, day: date) -> list[str]:
        """Why ``day`` is excluded (empty if it is not)."""
        found = []
        if day in self.dates:
            found.append(self.dates[day] or "listed date")
        if self.holidays is not None:
            holiday = self.holidays.name_of(day)
            if holiday is not None:
                found.append(holiday)
        weekday = day.isoweekday() % 7
        if weekday in self.weekdays:
            found.append(_DAY_NAMES[weekday])
        return found

    def days_between(self, first: date, last: date) -> list[date]:
        """The excluded dates from ``first`` to ``last`` inclusive, ascending."""
        found = {day for day in self.dates if first <= day <= last}
        if self.holidays is not None:
            found.update(self.holidays.between(first, last))
        if self.weekdays:
            day = first
            while day <= last:
                if day.isoweekday() % 7 in self.weekdays:
                    found.add(day)
                day += _ONE_DAY
        return sorted(found)


def parse_weekdays(text: str) -> frozenset[int]:
    """Weekdays from cron day-of-week text ("sat,sun", "0,6", "mon-fri"); 0 = Sunday.

    Raises ``djag.core.cron.CronError`` (field "day_of_week") for anything else.
    """
    fields = parse_cron("0", "0", "0", "*", "*", text)
    if fields.nth_days_of_week or fields.last_days_of_week:
        raise CronError("day_of_week", f"{text!r}: only plain weekdays can be excluded, not # or L")
    return frozenset(fields.days_of_week)


@lru_cache(maxsize=64)
def _midnights(zone: ZoneInfo) -> CronSchedule:
    # A fixed-time schedule: a skipped midnight fires at the first instant after the jump, a
    # repeated one at its first occurrence: exactly the first moment of each local date.
    return CronSchedule(parse_cron("0", "0", "0", "*", "*", "*"), zone)


@lru_cache(maxsize=16384)
def day_start(zone: ZoneInfo, day: date) -> int:
    """The first instant whose local date is ``day`` or later."""
    wall = (day.toordinal() - EPOCH_ORDINAL) * DAY
    # No zone is more than 14 h ahead of UTC, so this is before the start of ``day``.
    moment = _midnights(zone).next_after(wall - 15 * 3600)
    while moment is not None and datetime.fromtimestamp(moment, zone).date() < day:
        moment = _midnights(zone).next_after(moment)
    return END_INSTANT if moment is None else moment


def day_of(zone: ZoneInfo, instant: int) -> date:
    """The local date an instant belongs to (see the module docstring)."""
    day = datetime.fromtimestamp(instant, zone).date()
    following = day + _ONE_DAY
    return following if instant >= day_start(zone, following) else day


class ExcludingSchedule:
    """``base`` without the events whose local date in ``zone`` is excluded."""

    __slots__ = ("base", "exclusions", "zone")

    def __init__(self, base: Schedule, exclusions: Exclusions, zone: ZoneInfo) -> None:
        self.base = base
        self.exclusions = exclusions
        self.zone = zone

    def __repr__(self) -> str:
        return f"ExcludingSchedule({self.base!r}, {self.exclusions!r}, {self.zone!r})"

    def _excluded(self, day: date) -> bool:
        return bool(self.exclusions.reasons(day))

    def _end_of(self, day: date) -> int:
        """The last instant of the local date ``day``."""
        return day_start(self.zone, day + _ONE_DAY) - 1

    def next_after(self, t: int) -> int | None:
        for _ in range(MAX_EXCLUDED_DATES + 1):
            event = self.base.next_after(t)
            if event is None:
                return None
            day = day_of(self.zone, event)
            if not self._excluded(day):
                return event
            t = self._end_of(day)
        return None

    def prev_at_or_before(self, t: int) -> int | None:
        for _ in range(MAX_EXCLUDED_DATES + 1):
            event = self.base.prev_at_or_before(t)
            if event is None:
                return None
            day = day_of(self.zone, event)
            if not self._excluded(day):
                return event
            t = day_start(self.zone, day) - 1
        return None

    def events(self, after: int, until: int) -> Iterator[int]:
        event = self.next_after(after)
        while event is not None and event <= until:
            yield event
            event = self.next_after(event)

    def _excluded_windows(self, after: int, until: int) -> Iterator[tuple[date, int, int]]:
        """(date, low, high) for each excluded date: its part of (after, until] is (low, high]."""
        after, until = max(after, FIRST_INSTANT), min(until, END_INSTANT - 1)
        if until <= after:
            return
        first, last = day_of(self.zone, after + 1), day_of(self.zone, until)
        for day in self.exclusions.days_between(first, last):
            low = max(after, day_start(self.zone, day) - 1)
            high = min(until, self._end_of(day))
            if low < high:
                yield day, low, high

    def count(self, after: int, until: int) -> int:
        total = self.base.count(after, until)
        for _, low, high in self._excluded_windows(after, until):
            total -= self.base.count(low, high)
        return total

    def excluded(self, after: int, until: int, limit: int = EXCLUDED_RECORDS) -> tuple[Skip, ...]:
        """Records of the excluded events in (after, until], oldest first, one per date.

        When more than ``limit`` dates have excluded events, the oldest ones share a single
        record ("excluded: 120 dates from 2025-01-04 to 2026-05-31") so that the work of one
        decision stays bounded.
        """
        records = []
        for day, low, high in self._excluded_windows(after, until):
            count = self.base.count(low, high)
            newest = self.base.prev_at_or_before(high)
            if count and newest is not None:
                reason = f"excluded: {day.isoformat()} ({', '.join(self.exclusions.reasons(day))})"
                records.append((day, Skip(newest, count, reason)))
        if len(records) <= limit:
            return tuple(skip for _, skip in records)
        folded, kept = records[: len(records) - limit + 1], records[len(records) - limit + 1 :]
        first, last = folded[0][0], folded[-1][0]
        shared = Skip(
            folded[-1][1].scheduled_for,
            sum(skip.count for _, skip in folded),
            f"excluded: {len(folded)} dates from {first.isoformat()} to {last.isoformat()}",
        )
        return (shared, *(skip for _, skip in kept))

    def excluded_day_end_after(self, t: int) -> int | None:
        """The last event of the excluded date of the base's next event after ``t``, if any.

        The planner decides then, so that the excluded events of a date are recorded when the
        date is over, not only when the task next runs (which may be never).
        """
        event = self.base.next_after(t)
        if event is None:
            return None
        day = day_of(self.zone, event)
        if not self._excluded(day):
            return None
        return self.base.prev_at_or_before(self._end_of(day))
