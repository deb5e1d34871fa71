"""Interval schedules: every N seconds of elapsed time from an anchor instant.

``IntervalSchedule(every=6 * 3600, anchor=<05:00 on some day>)`` fires at the anchor and every
six hours after it, whatever the clocks do: across a DST change the runs keep their six-hour
spacing and their local times shift by the change (05:00, 11:00, ... become 04:00, 10:00, ...
after a fall-back). That is what "every N hours" means to a user of django-celery-beat's
``IntervalSchedule``; for "at 05:00 local time" use a crontab.

It has the schedule protocol the planner uses (``next_after``, ``prev_at_or_before``,
``events``, ``count``; ``djag.core.misfire.Schedule``), each answered with O(1) arithmetic.

Bounds, checked when the schedule is built (``IntervalError`` names the bad field):

- ``every``: a whole number of seconds from 1 to ``MAX_EVERY`` (3660 days, ten years): a
  longer interval is a one-off run, better written as a crontab on a date or an ``enqueue``;
- ``anchor``: an int UTC instant from 1000-01-01 to 9000-01-01, the range cron schedules
  support (``djag.core.cron.wallclock``); there are no events before the anchor, and none
  at or after 9000-01-01 (``next_after`` answers None there).

``interval_seconds(every, period)`` converts django-celery-beat's ``(every, period)`` exactly
(7 seconds, 90 minutes, 3 days): nothing is rounded, and microseconds are refused unless they
make whole seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from djag.core.cron.wallclock import DAY, END_INSTANT, FIRST_INSTANT

MAX_EVERY = 3660 * DAY
PERIOD_SECONDS = {"days": DAY, "hours": 3600, "minutes": 60, "seconds": 1}
_UNITS = (("day", DAY), ("hour", 3600), ("minute", 60), ("second", 1))


class IntervalError(ValueError):
    """Bad interval. ``.field`` is "every", "period" or "anchor"; ``.message`` is human."""

    def __init__(self, field: str, detail: str) -> None:
        self.field = field
        self.message = f"{field}: {detail}"
        super().__init__(self.message)


def interval_seconds(every: int, period: str) -> int:
    """``every`` periods in seconds; ``period`` is days, hours, minutes, seconds or microseconds."""
    if not _is_int(every) or every < 1:
        raise IntervalError("every", f"{every!r} is not a whole number of at least 1")
    if period == "microseconds":
        seconds, rest = divmod(every, 1_000_000)
        if rest:
            raise IntervalError(
                "every",
                f"{every} microseconds is not a whole number of seconds; djag counts seconds",
            )
        return seconds
    if period not in PERIOD_SECONDS:
        raise IntervalError(
            "period", f"{period!r} is not one of {', '.join(PERIOD_SECONDS)}, microseconds"
        )
    return every * PERIOD_SECONDS[period]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class IntervalSchedule:
    """Events at ``anchor + k * every`` for k = 0, 1, 2, ...; instants are UTC epoch seconds."""

    every: int
    anchor: int

    def __post_init__(self) -> None:
        if not _is_int(self.every) or not 1 <= self.every <= MAX_EVERY:
            raise IntervalError(
                "every", f"{self.every!r} is not a whole number of seconds from 1 to {MAX_EVERY}"
            )
        if not _is_int(self.anchor) or not FIRST_INSTANT <= self.anchor < END_INSTANT:
            raise IntervalError(
                "anchor", f"{self.anchor!r} is not an instant from the year 1000 to 8999"
            )

    def _events_up_to(self, t: int) -> int:
        """How many events lie at or before ``t``."""
        t = min(t, END_INSTANT - 1)
        return 0 if t < self.anchor else (t - self.anchor) // self.every + 1

    def next_after(self, t: int) -> int | None:
        """The smallest event instant > t; None past the supported range."""
        event = self.anchor + self._events_up_to(t) * self.every
        return event if event < END_INSTANT else None

    def prev_at_or_before(self, t: int) -> int | None:
        """The largest event instant <= t; None before the anchor."""
        count = self._events_up_to(t)
        return self.anchor + (count - 1) * self.every if count else None

    def events(self, after: int, until: int) -> Iterator[int]:
        """The event instants in (after, until], ascending."""
        event = self.next_after(after)
        while event is not None and event <= until:
            yield event
            event = self.next_after(event)

    def count(self, after: int, until: int) -> int:
        """How many events lie in (after, until]."""
        return max(0, self._events_up_to(until) - self._events_up_to(after))

    def describe(self, zone: ZoneInfo | None = None) -> str:
        """E.g. "Every 6 hours from 2026-03-01 05:00 (Europe/Paris)"; UTC unless ``zone``."""
        return f"Every {duration(self.every)} from {_wall(self.anchor, zone or ZoneInfo('UTC'))}"


def duration(seconds: int) -> str:
    """Seconds in the largest unit that divides them: "6 hours", "90 minutes", "1 day"."""
    for unit, size in _UNITS:
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    raise AssertionError("every whole number of seconds divides by one second")


def _wall(instant: int, zone: ZoneInfo) -> str:
    local = datetime.fromtimestamp(instant, zone)
    text = local.strftime("%Y-%m-%d %H:%M:%S" if local.second else "%Y-%m-%d %H:%M")
    return f"{text} ({zone.key})"
