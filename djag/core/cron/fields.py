"""One cron field: its grammar and its values. Every error is a CronError naming the field.

The grammar is checked item by item (items are separated by commas) on ASCII text only, so a
character that merely looks like a digit (a superscript two, an Arabic-Indic or a fullwidth
one) is refused with a message naming the field instead of reaching ``int()``. Numbers are at
most nine digits long, so no text can make ``int()`` slow or raise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MAX_DIGITS = 9

BOUNDS = {
    "second": (0, 59),
    "minute": (0, 59),
    "hour": (0, 23),
    "day_of_month": (1, 31),
    "month_of_year": (1, 12),
    "day_of_week": (0, 7),
}
MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_NAMES = {
    "month_of_year": {name: number for number, name in enumerate(MONTH_NAMES, 1)},
    "day_of_week": {name: number for number, name in enumerate(WEEKDAY_NAMES)},
}
_NAME_KINDS = {"month_of_year": "a month name (jan-dec)", "day_of_week": "a weekday name (sun-sat)"}
SYNTAX_HINT = "use a number, a range a-b, a step */n or a-b/n, or a list a,b"

_WORD = r"[a-z0-9]+"
_RANGE = re.compile(rf"(?P<base>\*|(?P<low>{_WORD})(?:-(?P<high>{_WORD}))?)(?:/(?P<step>.*))?")
_NTH_WEEKDAY = re.compile(rf"(?P<low>{_WORD})(?:-(?P<high>{_WORD}))?#(?P<nth>.*)")
_LAST_WEEKDAY = re.compile(r"l(?P<before>[0-9]+|[a-z]{3})|(?P<after>[0-9]+|[a-z]{3})l")
_LAST_DAY_RANGE = re.compile(r"[0-9]+-l(?:/.*)?")
_NEAREST_WEEKDAY = re.compile(r"(?P<day>[0-9]+)w")
_HASHED = re.compile(r"[hr](?:\(.*\))?(?:/.*)?")


class CronError(ValueError):
    """Bad cron text. ``.field`` is a field name (or "line", "day_match"), ``.message`` is human."""

    def __init__(self, field: str, detail: str) -> None:
        self.field = field
        self.message = f"{field}: {detail}"
        super().__init__(self.message)


@dataclass(frozen=True, slots=True)
class DaysOfMonth:
    days: tuple[int, ...]  # plain days, 1-31
    last_day: bool  # L
    nearest_weekdays: tuple[int, ...]  # nW: the weekday nearest day n
    last_weekday: bool  # LW


@dataclass(frozen=True, slots=True)
class DaysOfWeek:
    weekdays: tuple[int, ...]  # every week; 0 = Sunday
    nth: tuple[tuple[int, int], ...]  # (weekday, n): the n-th such weekday of the month, n 1..5
    last: tuple[int, ...]  # the last such weekday of the month


def checked_text(name: str, raw: object) -> str:
    """The field's text, stripped, after the checks every field shares."""
    if not isinstance(raw, str):
        raise CronError(name, f"must be text, not {type(raw).__name__}")
    text = raw.strip()
    if not text:
        raise CronError(name, "empty field; write * for every value")
    for character in text:
        if not character.isascii():
            raise CronError(
                name, f"{character!r} is not allowed; write plain ASCII digits 0-9 and letters"
            )
    if any(character.isspace() for character in text):
        raise CronError(name, f"{text!r} contains spaces; separate list items with commas")
    if "?" in text:
        raise CronError(name, "? is not supported; write *")
    return text


def values(name: str, raw: object) -> tuple[int, ...]:
    """The sorted values of a second, minute, hour or month field."""
    found: set[int] = set()
    for item in _items(name, checked_text(name, raw)):
        key = item.lower()
        if "#" in key:
            raise CronError(name, f"{item!r}: # (n-th weekday) is allowed only in day_of_week")
        if "l" in key and not _names_only(name, key):
            raise CronError(
                name,
                f"{item!r}: L is allowed only in day_of_month (last day)"
                " and in day_of_week as the last such weekday (L5 or 5L)",
            )
        if "w" in key:
            raise CronError(name, f"{item!r}: W is allowed only in day_of_month")
        found.update(_range_values(name, item))
    return tuple(sorted(found))


def days_of_month(raw: object) -> DaysOfMonth:
    name = "day_of_month"
    days: set[int] = set()
    nearest: set[int] = set()
    last_day = last_weekday = False
    for item in _items(name, checked_text(name, raw)):
        key = item.lower()
        if key == "l":
            last_day = True
        elif key == "lw":
            last_weekday = True
        elif "w" in key:
            nearest.add(_nearest_weekday(item))
        elif "#" in key:
            raise CronError(name, f"{item!r}: # (n-th weekday) is allowed only in day_of_week")
        elif "l" in key and not _LAST_DAY_RANGE.fullmatch(key):
            raise CronError(name, f"{item!r}: write L alone or at the end of a range, as in 20-L")
        else:
            # "a-L" is "a-31": the days a month does not have never match anyway.
            days.update(_range_values(name, item, last="31"))
    return DaysOfMonth(tuple(sorted(days)), last_day, tuple(sorted(nearest)), last_weekday)


def days_of_week(raw: object) -> DaysOfWeek:
    name = "day_of_week"
    weekdays: set[int] = set()
    nth: set[tuple[int, int]] = set()
    last: set[int] = set()
    for item in _items(name, checked_text(name, raw)):
        key = item.lower()
        last_match = _LAST_WEEKDAY.fullmatch(key)
        if "#" in key:
            nth.update(_nth_weekdays(item))
        elif last_match:
            last.add(_number(name, last_match["before"] or last_match["after"], item) % 7)
        elif "l" in key:
            raise CronError(
                name,
                f"{item!r}: in day_of_week L marks the last such weekday of the month"
                " (L5, 5L or friL = the last Friday); a lone L belongs in day_of_month",
            )
        elif "w" in key and not _names_only(name, key):
            raise CronError(name, f"{item!r}: W is allowed only in day_of_month")
        else:
            weekdays.update(value % 7 for value in _range_values(name, item))
    return DaysOfWeek(tuple(sorted(weekdays)), tuple(sorted(nth)), tuple(sorted(last)))


def _items(name: str, text: str) -> list[str]:
    items = text.split(",")
    for item in items:
        if not item:
            raise CronError(name, "empty item in the list (check the commas)")
        if _HASHED.fullmatch(item.lower()):
            raise CronError(name, f"{item!r}: H and R (hashed or random values) are not supported")
    return items


def _names_only(name: str, key: str) -> bool:
    """Every word of the item is a number or a name of this field (jul, wed-fri/2)."""
    names = _NAMES.get(name, {})
    return all(word.isdigit() or word in names for word in re.split("[-/*]", key) if word)


def _range_values(name: str, item: str, last: str | None = None) -> list[int]:
    """The values of ``*``, ``a``, ``a-b`` (wrapping around when a > b), each with ``/n``.

    ``last`` stands for an ``L`` at the end of a range.
    """
    match = _RANGE.fullmatch(item.lower())
    if match is None:
        raise CronError(name, f"{item!r} is not valid: {SYNTAX_HINT}")
    step_text = match["step"]
    step = 1
    if step_text is not None:
        if not step_text.isdigit() or len(step_text) > _MAX_DIGITS or int(step_text) == 0:
            raise CronError(
                name,
                f"{item!r}: the step after / must be a whole number of at least 1"
                ", 9 digits at most",
            )
        step = int(step_text)
    low, high = BOUNDS[name]
    if match["base"] == "*":
        return list(range(low, 7 if name == "day_of_week" else high + 1))[::step]
    first = _number(name, match["low"], item)
    if match["high"] is None:
        if step_text is not None and name == "day_of_week" and first == 7:
            raise CronError(name, f"{item!r}: start a weekday step at 0 or sun, not 7")
        end = first if step_text is None else high
    else:
        high_text = last if last is not None and match["high"] == "l" else match["high"]
        end = _number(name, high_text, item)
    if first <= end:
        sequence = list(range(first, end + 1))
    elif name == "day_of_week" and first == 7:
        sequence = list(range(0, end + 1))
    else:
        wrap_end = 6 if name == "day_of_week" else high
        sequence = list(range(first, wrap_end + 1)) + list(range(low, end + 1))
    return sequence[::step]


def _number(name: str, text: str, item: str) -> int:
    low, high = BOUNDS[name]
    if text.isdigit():
        if len(text) > _MAX_DIGITS:
            raise CronError(name, f"{item!r}: the number is too large; the range is {low}-{high}")
        number = int(text)
        if not low <= number <= high:
            raise CronError(name, f"{number} is out of range {low}-{high}")
        return number
    names = _NAMES.get(name)
    if names is None:
        raise CronError(name, f"{_spelled(item, text)!r} is not a number")
    named = names.get(text.lower())
    if named is None:
        raise CronError(name, f"{_spelled(item, text)!r} is not {_NAME_KINDS[name]}")
    return named


def _spelled(item: str, word: str) -> str:
    """``word`` as the user spelled it inside ``item`` (matching is case-insensitive)."""
    start = item.lower().find(word.lower())
    return item[start : start + len(word)] if start >= 0 else word


def _nearest_weekday(item: str) -> int:
    name = "day_of_month"
    match = _NEAREST_WEEKDAY.fullmatch(item.lower())
    if match is None:
        raise CronError(
            name,
            f"{item!r}: W follows a single day, as in 15W (the weekday nearest the 15th),"
            " or L, as in LW (the last weekday of the month)",
        )
    return _number(name, match["day"], item)


def _nth_weekdays(item: str) -> set[tuple[int, int]]:
    name = "day_of_week"
    match = _NTH_WEEKDAY.fullmatch(item.lower())
    if match is None:
        raise CronError(name, f"{item!r} is not valid: write weekday#n, as in mon#2")
    nth = match["nth"]
    if not nth.isdigit() or len(nth) > 1 or not 1 <= int(nth) <= 5:
        raise CronError(name, f"{item!r}: the number after # must be 1-5")
    first = _number(name, match["low"], item)
    if match["high"] is None:
        return {(first % 7, int(nth))}
    if match["low"].isdigit() or match["high"].isdigit():
        raise CronError(name, f"{item!r}: name the weekdays of a range, as in mon-wed#2")
    weekdays = _range_values(name, f"{match['low']}-{match['high']}")
    return {(weekday % 7, int(nth)) for weekday in weekdays}
