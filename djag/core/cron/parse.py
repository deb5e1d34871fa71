"""Parsing: a cron line or six field texts to ``CronFields``; errors name their field."""

from __future__ import annotations

from dataclasses import dataclass

from djag.core.cron import fields as grammar
from djag.core.cron.fields import CronError
from djag.core.vocab import Labelled

FIELD_NAMES = ("second", "minute", "hour", "day_of_month", "month_of_year", "day_of_week")

#: Prefix of the day-of-week field that selects "both" day matching in the one-line form.
BOTH_MARK = "&"

# Vixie/Debian cron's macros, seconds first. "@hourly" keeps "*" in its hour field: like the
# daemon's, it is a wildcard schedule for the DST rules.
MACROS = {
    "@hourly": ("0", "0", "*", "*", "*", "*"),
    "@daily": ("0", "0", "0", "*", "*", "*"),
    "@midnight": ("0", "0", "0", "*", "*", "*"),
    "@weekly": ("0", "0", "0", "*", "*", "0"),
    "@monthly": ("0", "0", "0", "1", "*", "*"),
    "@yearly": ("0", "0", "0", "1", "1", "*"),
    "@annually": ("0", "0", "0", "1", "1", "*"),
}


class DayMatch(Labelled):
    """How the two day fields combine when both are restricted."""

    EITHER = "either", "either day field matches (cron)"
    BOTH = "both", "both day fields match (Celery)"


@dataclass(frozen=True, slots=True)
class CronFields:
    """The expanded value sets of a crontab and the facts its text decides; 0 = Sunday."""

    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days_of_month: tuple[int, ...]
    last_day_of_month: bool  # L
    nearest_weekdays: tuple[int, ...]  # nW: the weekday (Mon-Fri) nearest day n, in its month
    last_weekday_of_month: bool  # LW: the last weekday (Mon-Fri) of the month
    months: tuple[int, ...]
    days_of_week: tuple[int, ...]  # weekdays that match in every week
    nth_days_of_week: tuple[tuple[int, int], ...]  # (weekday, n): the n-th such weekday, n 1..5
    last_days_of_week: tuple[int, ...]  # weekdays that match on their last occurrence only
    # A day field whose text starts with "*" (as "*" and "*/2" do) is unrestricted.
    day_of_month_restricted: bool
    day_of_week_restricted: bool
    day_match: DayMatch
    # The minute or the hour field starts with "*": a wildcard schedule for the DST rules.
    wildcard: bool

    @property
    def either_day(self) -> bool:
        """A day matches if either day field does (otherwise both must)."""
        return (
            self.day_match is DayMatch.EITHER
            and self.day_of_month_restricted
            and self.day_of_week_restricted
        )


def parse_line(line: str) -> tuple[str, str, str, str, str, str]:
    """Split a one-line crontab into six raw fields, seconds first.

    Six fields are "second minute hour day_of_month month_of_year day_of_week" (as in Quartz
    and node-cron: "*/5 * * * * *" is every five seconds); five fields are the classic form and
    fire at second 0; a macro (``@daily``) stands alone. The day-of-week text keeps its
    ``&`` mark ("both" day matching), which ``parse_cron`` reads.
    """
    if not isinstance(line, str):
        raise CronError("line", f"must be text, not {type(line).__name__}")
    parts = line.split()
    if parts and parts[0].startswith("@"):
        return _macro(parts)
    if len(parts) == 6:
        return parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]
    if len(parts) == 5:
        return "0", parts[0], parts[1], parts[2], parts[3], parts[4]
    if len(parts) == 7:
        raise CronError("line", "a year field is not supported; give 5 or 6 fields")
    raise CronError(
        "line",
        f"expected 6 fields (second minute hour day_of_month month_of_year day_of_week)"
        f" or 5 (without second), got {len(parts)}",
    )


def _macro(parts: list[str]) -> tuple[str, str, str, str, str, str]:
    name = parts[0].lower()
    if len(parts) > 1:
        raise CronError("line", f"{parts[0]} stands alone; remove what follows it")
    if name == "@reboot":
        raise CronError(
            "line", "@reboot is not a time: djag runs tasks on a schedule; write the fields"
        )
    if name not in MACROS:
        raise CronError("line", f"{parts[0]} is not one of {', '.join(MACROS)}")
    return MACROS[name]


def split_day_match(day_of_week: str) -> tuple[str, DayMatch]:
    """``"&mon"`` -> ``("mon", BOTH)``; ``"mon"`` -> ``("mon", EITHER)``.

    For a store that keeps the mode in its own column beside the field.
    """
    text = day_of_week.strip()
    if text.startswith(BOTH_MARK):
        return text[len(BOTH_MARK) :].strip(), DayMatch.BOTH
    return day_of_week, DayMatch.EITHER


def split_line(line: str) -> tuple[tuple[str, str, str, str, str, str], DayMatch]:
    """The six raw fields of a cron line without the ``&`` mark, and the day matching."""
    second, minute, hour, day_of_month, month_of_year, day_of_week = parse_line(line)
    weekdays, day_match = split_day_match(day_of_week)
    return (second, minute, hour, day_of_month, month_of_year, weekdays), day_match


def format_line(
    second: str,
    minute: str,
    hour: str,
    day_of_month: str,
    month_of_year: str,
    day_of_week: str,
    day_match: DayMatch | str = DayMatch.EITHER,
) -> str:
    """The one-line form, seconds first, with ``&`` before the day of week in "both" mode.

    ``parse_cron(*parse_line(format_line(*texts, day_match=m)))`` equals
    ``parse_cron(*texts, day_match=m)``.
    """
    weekdays, marked = split_day_match(day_of_week)
    mode = DayMatch.BOTH if marked is DayMatch.BOTH else _day_match(day_match)
    mark = BOTH_MARK if mode is DayMatch.BOTH else ""
    texts = (second, minute, hour, day_of_month, month_of_year, f"{mark}{weekdays.strip()}")
    return " ".join(text.strip() for text in texts)


def parse_cron(
    second: str,
    minute: str,
    hour: str,
    day_of_month: str,
    month_of_year: str,
    day_of_week: str,
    day_match: DayMatch | str = DayMatch.EITHER,
) -> CronFields:
    """Validate and expand the six fields; raises CronError naming the first bad field.

    The day matching is "both" when ``day_match`` says so or the day-of-week text starts
    with ``&``; otherwise "either".
    """
    seconds = grammar.values("second", second)
    minutes = grammar.values("minute", minute)
    hours = grammar.values("hour", hour)
    days = grammar.days_of_month(day_of_month)
    months = grammar.values("month_of_year", month_of_year)
    weekday_text, marked = (
        split_day_match(day_of_week) if isinstance(day_of_week, str) else (day_of_week, None)
    )
    weekdays = grammar.days_of_week(weekday_text)
    mode = DayMatch.BOTH if marked is DayMatch.BOTH else _day_match(day_match)
    return CronFields(
        seconds=seconds,
        minutes=minutes,
        hours=hours,
        days_of_month=days.days,
        last_day_of_month=days.last_day,
        nearest_weekdays=days.nearest_weekdays,
        last_weekday_of_month=days.last_weekday,
        months=months,
        days_of_week=weekdays.weekdays,
        nth_days_of_week=weekdays.nth,
        last_days_of_week=weekdays.last,
        day_of_month_restricted=not _starts_with_star(day_of_month),
        day_of_week_restricted=not _starts_with_star(weekday_text),
        day_match=mode,
        wildcard=_starts_with_star(minute) or _starts_with_star(hour),
    )


def _starts_with_star(text: object) -> bool:
    # Only reached with text the grammar accepted.
    return isinstance(text, str) and text.strip().startswith("*")


def _day_match(value: DayMatch | str) -> DayMatch:
    try:
        return DayMatch(value)
    except ValueError:
        raise CronError("day_match", f"{value!r} is not one of either, both") from None
