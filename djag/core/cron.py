"""Cron expressions evaluated on local wall-clock time in an IANA zone, mapped to UTC instants.

Public API (instants are ``int`` UTC epoch seconds everywhere)::

    FIELD_NAMES                       second, minute, hour, day_of_month, month_of_year, day_of_week
    CronError(ValueError)             .field (a FIELD_NAMES entry or "line"), .message (human text)
    parse_line(line) -> 6 strings     "s m h dom mon dow" (seconds first) or classic 5 fields
    parse_cron(second, minute, hour, day_of_month, month_of_year, day_of_week) -> CronFields
    never_fires(fields) -> bool       True when no calendar date can ever match (Feb 30)
    CronSchedule(fields, zone)        .next_after(t), .prev_at_or_before(t),
                                      .events(after, until), .count(after, until)

Syntax is croniter's: ``croniter.expand`` expands the fields (numbers, ranges, steps, lists,
month and weekday names, ``7`` = Sunday, ``L`` = last day of the month, ``mon#2`` = second
Monday, ``L5`` = last Friday). Each field is checked on its own first, so that an error names
its field in plain words, and what croniter would misread is refused: ``W`` (its public expand
drops it), ``?``, ``H``/``R``, a year field, a wrap-around range with a step (``22-2/2``: croniter
drops values), ``7/n`` as a weekday, and ``#``/``L`` weekdays mixed with plain ones. An equal
range (``5-5``) is that one value; croniter would widen it to the whole field. Day matching
follows Vixie cron: when both day fields are restricted a day matches if either does, otherwise
both must. "Restricted" means the field's set is not the whole range, so ``*/2`` in the day of
month is restricted (Vixie cron treats any field starting with ``*`` as unrestricted).

DST rules. The events are the local wall-clock times that match the fields, mapped to instants:

1. A matching wall time skipped by a forward jump fires once, at the instant of the jump. All
   the matching times of one gap, and the wall time at the end of the gap, are one event.
2. A wall time repeated by a backward jump fires at its first occurrence only, unless the hour
   field is ``*`` or ``*/n`` (``CronFields.hour_steps_on_elapsed_time``): such schedules fire at
   every occurrence, so they keep firing on real elapsed time through the repeated hour.

How offset changes are found. zoneinfo publishes no transition list, so the UTC offset is
probed once per day (86400 s) through each UTC year, and every probe interval whose two ends
differ is bisected to the exact second. The result is cached per (zone, year) and shared. This
cannot miss a change unless an offset lasts less than one probe step, i.e. the zone changes its
offset and changes it back within one day: only then do both ends of an interval agree. In the
tzdata shipped with this project the shortest offset between 1900 and 2100 lasts just under
four days (Africa/Freetown, 1939), and between 1970 and 2100 just under seven (America/Noronha
in 2000, Gaza's Ramadan pauses); the largest jump is one day (Pacific/Apia, 2011). The rules
above also assume what follows from that: each offset lasts longer than the jumps around it, so
a repeated wall time repeats the offset just before, and a skipped one is skipped for good.

Search bounds. Instants from 1000-01-01 to 9000-01-01 UTC are supported; past either end
``next_after`` and ``prev_at_or_before`` answer None. ``never_fires`` decides from the fields
alone (the Gregorian calendar holds every month starting on every weekday, and a 29-day February
on every weekday), and a never-firing schedule answers None or 0 at once. A schedule that fires
at all fires at least once in every 40 years (a fifth Monday in February is the rarest case), so
every search ends within about 480 months of calendar arithmetic.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from croniter import croniter

FIELD_NAMES = ("second", "minute", "hour", "day_of_month", "month_of_year", "day_of_week")


class CronError(ValueError):
    """Bad cron field. ``.field`` is one of FIELD_NAMES (or "line" for parse_line)."""

    def __init__(self, field: str, detail: str) -> None:
        self.field = field
        self.message = f"{field}: {detail}"
        super().__init__(self.message)


# --- parsing ---------------------------------------------------------------------------------

_BOUNDS = {
    "second": (0, 59),
    "minute": (0, 59),
    "hour": (0, 23),
    "day_of_month": (1, 31),
    "month_of_year": (1, 12),
    "day_of_week": (0, 7),
}
_MONTH_NAMES = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_WEEKDAY_NAMES = {
    name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))
}
_NAMES = {"month_of_year": _MONTH_NAMES, "day_of_week": _WEEKDAY_NAMES}
_NAME_KINDS = {"month_of_year": "a month name (jan-dec)", "day_of_week": "a weekday name (sun-sat)"}
# Where croniter puts each field in its expanded output.
_CRONITER_INDEX = {
    "minute": 0,
    "hour": 1,
    "day_of_month": 2,
    "month_of_year": 3,
    "day_of_week": 4,
    "second": 5,
}

_NO_CASE = re.ASCII | re.IGNORECASE
_TOKEN = re.compile(r"(?P<base>\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/(?P<step>.*))?", _NO_CASE)
_NTH_WEEKDAY = re.compile(r"(?P<days>[a-z0-9]+(?:-[a-z0-9]+)?)#(?P<nth>.*)", _NO_CASE)
_LAST_WEEKDAY = re.compile(r"l(?P<day>[0-9]+)", _NO_CASE)
_QUARTZ_LAST_WEEKDAY = re.compile(r"(?P<day>[0-9]+)l", _NO_CASE)
_HASHED = re.compile(r"[hr](?:\(.*\))?(?:/.*)?", _NO_CASE)
_ELAPSED_HOURS = re.compile(r"\*(?:/[0-9]+)?", re.ASCII)
_SYNTAX_HINT = "use a number, a range a-b, a step */n or a-b/n, or a list a,b"

_ALL_DAYS_OF_MONTH = tuple(range(1, 32))
_ALL_WEEKDAYS = tuple(range(7))


@dataclass(frozen=True, slots=True)
class CronFields:
    """The expanded value sets of a crontab; weekdays count from 0 = Sunday."""

    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days_of_month: tuple[int, ...]
    last_day_of_month: bool
    months: tuple[int, ...]
    # Weekdays that match in every week; empty when the field uses # or L.
    days_of_week: tuple[int, ...]
    # (weekday, n): the n-th such weekday of the month, n in 1..5.
    nth_days_of_week: tuple[tuple[int, int], ...]
    # Weekdays that match only on their last occurrence in the month.
    last_days_of_week: tuple[int, ...]
    # True when the raw hour field is "*" or "*/n": repeated wall times fire at each occurrence.
    hour_steps_on_elapsed_time: bool

    @property
    def day_of_month_restricted(self) -> bool:
        return self.days_of_month != _ALL_DAYS_OF_MONTH

    @property
    def day_of_week_restricted(self) -> bool:
        return self.days_of_week != _ALL_WEEKDAYS


def parse_line(line: str) -> tuple[str, str, str, str, str, str]:
    """Split a one-line crontab into six raw fields, seconds first.

    Six fields are "second minute hour day_of_month month_of_year day_of_week" (as in Quartz
    and node-cron: "*/5 * * * * *" is every five seconds); five fields are the classic form and
    fire at second 0.
    """
    parts = line.split()
    if len(parts) == 6:
        return parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]
    if len(parts) == 5:
        return "0", parts[0], parts[1], parts[2], parts[3], parts[4]
    if len(parts) == 7:
        raise CronError("line", "a year field is not supported; give 5 or 6 fields")
    if len(parts) == 1 and parts[0].startswith("@"):
        raise CronError("line", f"{parts[0]} is not supported; write the fields, e.g. 0 0 * * *")
    raise CronError(
        "line",
        f"expected 6 fields (second minute hour day_of_month month_of_year day_of_week)"
        f" or 5 (without second), got {len(parts)}",
    )


def parse_cron(
    second: str,
    minute: str,
    hour: str,
    day_of_month: str,
    month_of_year: str,
    day_of_week: str,
) -> CronFields:
    """Validate and expand the six fields; raises CronError naming the first bad field."""
    raw = (second, minute, hour, day_of_month, month_of_year, day_of_week)
    texts = tuple(_checked_field(name, value) for name, value in zip(FIELD_NAMES, raw, strict=True))
    try:
        expanded, nth = croniter.expand(" ".join(texts), second_at_beginning=True)
    except ValueError:
        raise _first_unexpandable_field(texts, raw) from None
    seconds, minutes, hours, days_of_month, months, weekdays = (
        list(expanded[_CRONITER_INDEX[name]]) for name in FIELD_NAMES
    )
    return CronFields(
        seconds=_values(seconds, "second"),
        minutes=_values(minutes, "minute"),
        hours=_values(hours, "hour"),
        days_of_month=_values(days_of_month, "day_of_month"),
        last_day_of_month="l" in days_of_month,
        months=_values(months, "month_of_year"),
        days_of_week=tuple(d for d in _values(weekdays, "day_of_week") if d not in nth),
        nth_days_of_week=tuple(
            sorted((day, n) for day, ns in nth.items() for n in ns if isinstance(n, int))
        ),
        last_days_of_week=tuple(sorted(day for day, ns in nth.items() if "l" in ns)),
        hour_steps_on_elapsed_time=_ELAPSED_HOURS.fullmatch(texts[2]) is not None,
    )


def _checked_field(name: str, raw: str) -> str:
    """The field ready for croniter, after refusing what croniter would misread or reject."""
    text = raw.strip()
    if not text:
        raise CronError(name, "empty field; write * for every value")
    if any(character.isspace() for character in text):
        raise CronError(name, f"{text!r} contains spaces; separate list items with commas")
    if "?" in text:
        raise CronError(name, "? is not supported; write *")
    tokens = [_check_token(name, token).lower() for token in text.split(",")]
    if name == "day_of_week":
        _check_no_mixed_weekdays(tokens)
    return ",".join(tokens)


def _first_unexpandable_field(texts: tuple[str, ...], raw: tuple[str, ...]) -> CronError:
    """Expanding the whole line failed: expand each field alone to name the culprit."""
    for index, name in enumerate(FIELD_NAMES):
        alone = ["*"] * len(FIELD_NAMES)
        alone[index] = texts[index]
        try:
            croniter.expand(" ".join(alone), second_at_beginning=True)
        except ValueError:
            return CronError(name, f"{raw[index].strip()!r} is not valid: {_SYNTAX_HINT}")
    return CronError("line", f"{' '.join(texts)!r} is not a valid crontab")


def _values(expanded: list[int | str], name: str) -> tuple[int, ...]:
    low, high = _BOUNDS[name]
    if expanded == ["*"]:
        return tuple(range(low, min(high, 6) + 1 if name == "day_of_week" else high + 1))
    return tuple(sorted(value for value in expanded if isinstance(value, int)))


def _check_token(name: str, token: str) -> str:
    """Refuse what croniter would reject obscurely or misread; return the token to expand."""
    if not token:
        raise CronError(name, "empty item in the list (check the commas)")
    if _HASHED.fullmatch(token):
        raise CronError(name, f"{token!r}: H and R (hashed or random values) are not supported")
    if "w" in token.lower() and name == "day_of_month":
        raise CronError(name, f"{token!r}: W (nearest weekday) is not supported")
    if "#" in token:
        return _check_nth_weekday(name, token)
    last_weekday = _LAST_WEEKDAY.fullmatch(token)
    if last_weekday and name == "day_of_week":
        _value(name, last_weekday["day"])
        return token
    quartz_last_weekday = _QUARTZ_LAST_WEEKDAY.fullmatch(token)
    if quartz_last_weekday and name == "day_of_week":
        day = quartz_last_weekday["day"]
        raise CronError(name, f"{token!r}: write the last weekday of the month as L{day}")
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise CronError(name, f"{token!r} is not valid: {_SYNTAX_HINT}")
    base, step = match["base"], match["step"]
    if step is not None and (not step.isdigit() or int(step) == 0):
        raise CronError(name, f"{token!r}: the step after / must be a whole number of at least 1")
    if base == "*":
        return token
    low_text, _, high_text = base.partition("-")
    if "l" in (low_text.lower(), high_text.lower()):
        return _check_last_day(name, token, low_text, high_text, step)
    low = _value(name, low_text)
    if not high_text:
        if step is not None and name == "day_of_week" and low == 7:
            raise CronError(name, f"{token!r}: start a weekday step at 0 or sun, not 7")
        return token
    high = _value(name, high_text)
    if low == high:
        return low_text
    if low > high and step is not None:
        raise CronError(
            name, f"{token!r}: a range that wraps around cannot have a step; list the values"
        )
    return token


def _check_last_day(name: str, token: str, low: str, high: str, step: str | None) -> str:
    if name != "day_of_month":
        raise CronError(
            name,
            f"{token!r}: L is allowed only in day_of_month (last day)"
            " and in day_of_week as L<weekday> (L5 = last Friday)",
        )
    low, high = low.lower(), high.lower()
    if high == "l" and low != "l":
        _value(name, low)
        return token
    if low == "l" and not high and step is None:
        return token
    raise CronError(name, f"{token!r}: write L alone or at the end of a range, as in 20-L")


def _check_nth_weekday(name: str, token: str) -> str:
    if name != "day_of_week":
        raise CronError(name, f"{token!r}: # (n-th weekday) is allowed only in day_of_week")
    match = _NTH_WEEKDAY.fullmatch(token)
    if match is None:
        raise CronError(name, f"{token!r} is not valid: write weekday#n, as in mon#2")
    nth = match["nth"]
    if not nth.isdigit() or not 1 <= int(nth) <= 5:
        raise CronError(name, f"{token!r}: the number after # must be 1-5")
    low_text, _, high_text = match["days"].partition("-")
    low = _value(name, low_text)
    if not high_text:
        return token
    high = _value(name, high_text)
    if low_text.isdigit() or high_text.isdigit():
        raise CronError(name, f"{token!r}: name the weekdays of a range, as in mon-wed#2")
    return f"{low_text}#{nth}" if low == high else token


def _check_no_mixed_weekdays(tokens: list[str]) -> None:
    special = [t for t in tokens if "#" in t or _LAST_WEEKDAY.fullmatch(t)]
    if special and len(special) != len(tokens):
        raise CronError(
            "day_of_week",
            f"cannot mix # or L weekdays ({special[0]}) with plain weekdays in one field",
        )


def _value(name: str, text: str) -> int:
    low, high = _BOUNDS[name]
    if text.isdigit():
        number = int(text)
        if not low <= number <= high:
            raise CronError(name, f"{number} is out of range {low}-{high}")
        return number
    names = _NAMES.get(name)
    if names is None:
        raise CronError(name, f"{text!r} is not a number")
    named = names.get(text.lower())
    if named is None:
        raise CronError(name, f"{text!r} is not {_NAME_KINDS[name]}")
    return named


# --- calendar --------------------------------------------------------------------------------

_DAY = 86400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_FIRST_YEAR = 1000
_LAST_YEAR = 8999
_MONTH_LENGTHS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_LONGEST_MONTHS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _month_length(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _MONTH_LENGTHS[month]


def _year_start(year: int) -> int:
    return (date(year, 1, 1).toordinal() - _EPOCH_ORDINAL) * _DAY


_FIRST_INSTANT = _year_start(_FIRST_YEAR)
_END_INSTANT = _year_start(_LAST_YEAR + 1)


def never_fires(fields: CronFields) -> bool:
    """True when no date can match: a day of the month that none of the months has (Feb 30).

    Any weekday rule matches in every month (a 29-day February starts on every weekday in some
    leap year, so even a fifth Monday exists), so only a day-of-month rule that is not OR-ed
    with a weekday rule can make a schedule empty.
    """
    if fields.day_of_week_restricted or fields.last_day_of_month:
        return False
    longest = max(_LONGEST_MONTHS[month] for month in fields.months)
    return min(fields.days_of_month) > longest


def _matching_days(fields: CronFields, length: int, first_weekday: int) -> tuple[int, ...]:
    """Days of a month with ``length`` days starting on ``first_weekday`` that match."""
    days_of_month = set(fields.days_of_month)
    weekdays = set(fields.days_of_week)
    nth = set(fields.nth_days_of_week)
    last_weekdays = set(fields.last_days_of_week)
    either = fields.day_of_month_restricted and fields.day_of_week_restricted
    matching = []
    for day in range(1, length + 1):
        weekday = (first_weekday + day - 1) % 7
        by_month_day = day in days_of_month or (fields.last_day_of_month and day == length)
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


class _WallClock:
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

    def _days(self, length: int, first_weekday: int) -> tuple[int, ...]:
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
        when = date.fromordinal(day + _EPOCH_ORDINAL)
        if not self._month_ok[when.month]:
            return False
        length = _month_length(when.year, when.month)
        first_weekday = (day + _EPOCH_ORDINAL - when.day + 1) % 7
        return when.day in self._days(length, first_weekday)

    def matches(self, wall: int) -> bool:
        day, second_of_day = divmod(wall, _DAY)
        return self._time_at_or_after(second_of_day) == second_of_day and self._day_matches(day)

    def next(self, wall: int) -> int | None:
        """The first matching wall time at or after ``wall``."""
        day, second_of_day = divmod(wall, _DAY)
        ordinal = day + _EPOCH_ORDINAL
        when = date.fromordinal(ordinal)
        year, month, month_day = when.year, when.month, when.day
        month_start = ordinal - month_day + 1
        length = _month_length(year, month)
        if self._month_ok[month]:
            days = self._days(length, month_start % 7)
            if month_day in days:
                time = self._time_at_or_after(second_of_day)
                if time >= 0:
                    return wall - second_of_day + time
            later = bisect_right(days, month_day)
            if later < len(days):
                return (day + days[later] - month_day) * _DAY + self._first_time
        while True:
            month_start += length
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            if year > _LAST_YEAR:
                return None
            length = _month_length(year, month)
            if self._month_ok[month]:
                days = self._days(length, month_start % 7)
                if days:
                    day = month_start + days[0] - 1 - _EPOCH_ORDINAL
                    return day * _DAY + self._first_time

    def prev(self, wall: int) -> int | None:
        """The last matching wall time at or before ``wall``."""
        day, second_of_day = divmod(wall, _DAY)
        ordinal = day + _EPOCH_ORDINAL
        when = date.fromordinal(ordinal)
        year, month, month_day = when.year, when.month, when.day
        month_start = ordinal - month_day + 1
        if self._month_ok[month]:
            days = self._days(_month_length(year, month), month_start % 7)
            if month_day in days:
                time = self._time_at_or_before(second_of_day)
                if time >= 0:
                    return wall - second_of_day + time
            earlier = bisect_left(days, month_day)
            if earlier:
                return (day - month_day + days[earlier - 1]) * _DAY + self._last_time
        while True:
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)
            if year < _FIRST_YEAR:
                return None
            length = _month_length(year, month)
            month_start -= length
            if self._month_ok[month]:
                days = self._days(length, month_start % 7)
                if days:
                    day = month_start + days[-1] - 1 - _EPOCH_ORDINAL
                    return day * _DAY + self._last_time

    def count(self, start: int, end: int) -> int:
        """How many matching wall times lie in [start, end)."""
        if end <= start:
            return 0
        first_day, first_time = divmod(start, _DAY)
        last_day, last_time = divmod(end, _DAY)
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
        first_ordinal, end_ordinal = first + _EPOCH_ORDINAL, end + _EPOCH_ORDINAL
        when = date.fromordinal(first_ordinal)
        year, month = when.year, when.month
        month_start = first_ordinal - when.day + 1
        while month_start < end_ordinal:
            length = _month_length(year, month)
            if self._month_ok[month]:
                days = self._days(length, month_start % 7)
                low = max(1, first_ordinal - month_start + 1)
                high = min(length, end_ordinal - month_start)
                total += bisect_right(days, high) - bisect_left(days, low)
            month_start += length
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return total


@lru_cache(maxsize=4096)
def _wall_clock(fields: CronFields) -> _WallClock:
    return _WallClock(fields)


# --- time zone offsets -----------------------------------------------------------------------

# One day: far below the shortest-lived offset in tzdata (four days), see the module docstring.
_PROBE_STEP = _DAY


class _Transition(NamedTuple):
    instant: int  # the first instant with the new offset
    before: int  # UTC offset in seconds before the instant
    after: int


class _Segment(NamedTuple):
    """A stretch of instants [start, end) with one UTC offset."""

    start: int
    end: int
    offset: int
    # When a forward jump happens at `start`: the wall time where the skipped range begins.
    gap_from: int | None
    # Instants in [start, repeat_end) show wall times already shown before a backward jump.
    repeat_end: int


def _utc_offset(zone: ZoneInfo, instant: int) -> int:
    offset = datetime.fromtimestamp(instant, zone).utcoffset()
    assert offset is not None  # a ZoneInfo always knows its offset
    return offset.days * _DAY + offset.seconds


def _first_change(zone: ZoneInfo, low: int, low_offset: int, high: int) -> int:
    """The first instant in (low, high] whose offset differs from ``low_offset``."""
    while high - low > 1:
        middle = (low + high) // 2
        if _utc_offset(zone, middle) == low_offset:
            low = middle
        else:
            high = middle
    return high


@lru_cache(maxsize=8192)
def _transitions(zone: ZoneInfo, year: int) -> tuple[_Transition, ...]:
    """Offset changes at instants in the UTC year ``year``, found by probing and bisection."""
    end = _year_start(year + 1)
    found = []
    low = _year_start(year) - 1
    low_offset = _utc_offset(zone, low)
    while low < end - 1:
        probe = min(low + _PROBE_STEP, end - 1)
        probe_offset = _utc_offset(zone, probe)
        while probe_offset != low_offset:
            instant = _first_change(zone, low, low_offset, probe)
            offset = _utc_offset(zone, instant)
            found.append(_Transition(instant, low_offset, offset))
            low, low_offset = instant, offset
        low = probe
    return tuple(found)


@lru_cache(maxsize=8192)
def _year_segments(zone: ZoneInfo, year: int) -> tuple[tuple[int, ...], tuple[_Segment, ...]]:
    """The constant-offset segments covering the UTC year, and their start instants."""
    start, end = _year_start(year), _year_start(year + 1)
    transitions = _transitions(zone, year)
    heads: list[tuple[int, int, int | None, int]] = []
    if not transitions or transitions[0].instant != start:
        carried_repeat = start
        earlier = _transitions(zone, year - 1)
        if earlier and earlier[-1].after < earlier[-1].before:
            last = earlier[-1]
            carried_repeat = max(start, last.instant + last.before - last.after)
        heads.append((start, _utc_offset(zone, start), None, carried_repeat))
    for transition in transitions:
        instant, jump = transition.instant, transition.after - transition.before
        heads.append(
            (
                instant,
                transition.after,
                instant + transition.before if jump > 0 else None,
                instant - jump if jump < 0 else instant,
            )
        )
    ends = [head[0] for head in heads[1:]] + [end]
    segments = tuple(
        _Segment(head, segment_end, offset, gap_from, min(repeat_end, segment_end))
        for (head, offset, gap_from, repeat_end), segment_end in zip(heads, ends, strict=True)
    )
    return tuple(segment.start for segment in segments), segments


def _segment_at(zone: ZoneInfo, instant: int) -> _Segment | None:
    if not _FIRST_INSTANT <= instant < _END_INSTANT:
        return None
    year = date.fromordinal(instant // _DAY + _EPOCH_ORDINAL).year
    starts, segments = _year_segments(zone, year)
    return segments[bisect_right(starts, instant) - 1]


# --- the schedule ----------------------------------------------------------------------------


class CronSchedule:
    """The events of a crontab in a zone. Immutable; its caches are safe to share."""

    __slots__ = ("_clock", "_elapsed", "_fields", "_never", "_next_after", "_zone")

    #: Bound on remembered next_after answers; many tasks share a crontab and a start.
    NEXT_AFTER_CACHE = 4096

    def __init__(self, fields: CronFields, zone: ZoneInfo) -> None:
        self._fields = fields
        self._zone = zone
        self._clock = _wall_clock(fields)
        self._elapsed = fields.hour_steps_on_elapsed_time
        self._never = never_fires(fields)
        self._next_after: dict[int, int | None] = {}

    @property
    def fields(self) -> CronFields:
        return self._fields

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    def __repr__(self) -> str:
        return f"CronSchedule({self._fields!r}, {self._zone!r})"

    def next_after(self, t: int) -> int | None:
        """The smallest event instant > t; None if the schedule never fires again."""
        known = self._next_after
        if t in known:
            return known[t]
        if len(known) >= self.NEXT_AFTER_CACHE:
            known.clear()
        answer = known[t] = self._compute_next_after(t)
        return answer

    def _compute_next_after(self, t: int) -> int | None:
        if self._never:
            return None
        clock, candidate = self._clock, t + 1
        while True:
            segment = _segment_at(self._zone, candidate)
            if segment is None:
                return None
            start, end, offset, gap_from, repeat_end = segment
            if candidate == start and gap_from is not None:
                wall = clock.next(gap_from)
                if wall is not None and wall <= start + offset:
                    return start
            if candidate < repeat_end and not self._elapsed:
                candidate = repeat_end
            if candidate < end:
                wall = clock.next(candidate + offset)
                if wall is None:
                    return None
                if wall - offset < end:
                    return wall - offset
            candidate = end

    def prev_at_or_before(self, t: int) -> int | None:
        """The largest event instant <= t; None if there is none."""
        if self._never:
            return None
        clock, candidate = self._clock, t
        while True:
            segment = _segment_at(self._zone, candidate)
            if segment is None:
                return None
            start, _, offset, gap_from, repeat_end = segment
            earliest = start if self._elapsed else repeat_end
            if candidate >= earliest:
                wall = clock.prev(candidate + offset)
                if wall is None:
                    return None
                if wall - offset >= earliest:
                    return wall - offset
            if gap_from is not None:
                wall = clock.prev(start + offset - 1)
                if wall is not None and wall >= gap_from:
                    return start
            candidate = start - 1

    def events(self, after: int, until: int) -> Iterator[int]:
        """The event instants in (after, until], ascending."""
        event = self.next_after(after)
        while event is not None and event <= until:
            yield event
            event = self.next_after(event)

    def count(self, after: int, until: int) -> int:
        """How many events lie in (after, until], counted a segment and a month at a time."""
        if self._never:
            return 0
        clock, candidate, stop, total = self._clock, after + 1, until + 1, 0
        while candidate < stop:
            segment = _segment_at(self._zone, candidate)
            if segment is None:
                break
            start, end, offset, gap_from, repeat_end = segment
            if (
                candidate == start
                and gap_from is not None
                and not clock.matches(start + offset)
                and clock.count(gap_from, start + offset)
            ):
                total += 1
            low = candidate if self._elapsed else max(candidate, repeat_end)
            high = min(end, stop)
            if low < high:
                total += clock.count(low + offset, high + offset)
            candidate = end
        return total
