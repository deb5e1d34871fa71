"""Parsing: cron text to the expanded value sets of ``CronFields``; errors name their field."""

from __future__ import annotations

import re
from dataclasses import dataclass

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
