"""djag.core.cron: parsing, validation and the schedule in zones without DST."""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from djag.core.cron import (
    FIELD_NAMES,
    CronError,
    CronFields,
    CronSchedule,
    DayMatch,
    format_line,
    never_fires,
    parse_cron,
    parse_line,
    split_day_match,
    split_line,
)

UTC_ZONE = ZoneInfo("UTC")
ALL = dict.fromkeys(FIELD_NAMES, "*")


def at(text: str) -> int:
    """UTC instant of an ISO text such as "2026-06-01T12:00:00"."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def iso(instant: int) -> str:
    return datetime.fromtimestamp(instant, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def fields(**given: str) -> CronFields:
    return parse_cron(**{**ALL, **given})


def schedule(line: str, zone: ZoneInfo = UTC_ZONE) -> CronSchedule:
    return CronSchedule(parse_cron(*parse_line(line)), zone)


def day_numbers(line: str, year: int, month: int) -> list[int]:
    """The days of a month on which a daily crontab fires, in UTC."""
    first = at(f"{year}-{month:02}-01T00:00:00")
    last = first + calendar.monthrange(year, month)[1] * 86400
    return [int(iso(e)[8:10]) for e in schedule(line).events(first - 1, last - 1)]


# --- parse_line ------------------------------------------------------------------------------


def test_field_names_are_seconds_first() -> None:
    assert FIELD_NAMES == (
        "second",
        "minute",
        "hour",
        "day_of_month",
        "month_of_year",
        "day_of_week",
    )


def test_parse_line_six_fields_is_seconds_first() -> None:
    assert parse_line("*/5 * * * * *") == ("*/5", "*", "*", "*", "*", "*")
    assert parse_line("1 2 3 4 5 6") == ("1", "2", "3", "4", "5", "6")


def test_parse_line_five_fields_fires_at_second_zero() -> None:
    assert parse_line("30 2 * * mon-fri") == ("0", "30", "2", "*", "*", "mon-fri")


def test_parse_line_accepts_any_whitespace_between_fields() -> None:
    assert parse_line("  0\t30  2 *\n* *  ") == ("0", "30", "2", "*", "*", "*")


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("", "got 0"),
        ("* * * *", "got 4"),
        ("0 0 0 * * * 2026", "year field is not supported"),
        ("0 0 0 * * * * *", "got 8"),
        ("@reboot", "@reboot is not a time"),
        ("@fortnightly", "is not one of @hourly, @daily"),
        ("@daily 0", "@daily stands alone"),
        ("0 0 @daily", "got 3"),
    ],
)
def test_parse_line_refuses_other_lengths(line: str, fragment: str) -> None:
    with pytest.raises(CronError) as raised:
        parse_line(line)
    assert raised.value.field == "line"
    assert fragment in raised.value.message


@pytest.mark.parametrize(
    ("macro", "line"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("  @DAILY ", "0 0 * * *"),
    ],
)
def test_macros_are_their_fields(macro: str, line: str) -> None:
    assert parse_line(macro) == parse_line(line)


def test_hourly_macro_is_a_wildcard_schedule() -> None:
    assert parse_cron(*parse_line("@hourly")).wildcard
    assert not parse_cron(*parse_line("@daily")).wildcard


# --- valid fields ----------------------------------------------------------------------------

EVERY_MINUTE = tuple(range(60))


@pytest.mark.parametrize(
    ("field", "text", "attribute", "expected"),
    [
        ("second", "*", "seconds", EVERY_MINUTE),
        ("second", "0", "seconds", (0,)),
        ("second", "59", "seconds", (59,)),
        ("second", "*/15", "seconds", (0, 15, 30, 45)),
        ("second", "10-20/5", "seconds", (10, 15, 20)),
        ("second", "0,30", "seconds", (0, 30)),
        ("minute", "5/15", "minutes", (5, 20, 35, 50)),
        ("minute", "58-2", "minutes", (0, 1, 2, 58, 59)),
        ("minute", "1,1,2", "minutes", (1, 2)),
        ("minute", "05", "minutes", (5,)),
        ("minute", "*/61", "minutes", (0,)),
        ("minute", " 7 ", "minutes", (7,)),
        ("hour", "*/6", "hours", (0, 6, 12, 18)),
        ("hour", "22-2", "hours", (0, 1, 2, 22, 23)),
        ("hour", "9-17/4", "hours", (9, 13, 17)),
        ("hour", "23", "hours", (23,)),
        ("day_of_month", "1", "days_of_month", (1,)),
        ("day_of_month", "1-31", "days_of_month", tuple(range(1, 32))),
        ("day_of_month", "*/10", "days_of_month", (1, 11, 21, 31)),
        ("day_of_month", "20-L", "days_of_month", tuple(range(20, 32))),
        ("day_of_month", "L", "days_of_month", ()),
        ("day_of_month", "1,15,L", "days_of_month", (1, 15)),
        ("month_of_year", "jan", "months", (1,)),
        ("month_of_year", "JAN-Mar", "months", (1, 2, 3)),
        ("month_of_year", "*/3", "months", (1, 4, 7, 10)),
        ("month_of_year", "nov-feb", "months", (1, 2, 11, 12)),
        ("month_of_year", "jan,jul,12", "months", (1, 7, 12)),
        ("day_of_week", "*", "days_of_week", (0, 1, 2, 3, 4, 5, 6)),
        ("day_of_week", "mon-fri", "days_of_week", (1, 2, 3, 4, 5)),
        ("day_of_week", "7", "days_of_week", (0,)),
        ("day_of_week", "sun", "days_of_week", (0,)),
        ("day_of_week", "0-7", "days_of_week", (0, 1, 2, 3, 4, 5, 6)),
        ("day_of_week", "5-7", "days_of_week", (0, 5, 6)),
        ("day_of_week", "1-7/2", "days_of_week", (0, 1, 3, 5)),
        ("day_of_week", "fri-mon", "days_of_week", (0, 1, 5, 6)),
        ("day_of_week", "*/2", "days_of_week", (0, 2, 4, 6)),
        ("day_of_week", "mon#2", "nth_days_of_week", ((1, 2),)),
        ("day_of_week", "Mon#1,mon#3", "nth_days_of_week", ((1, 1), (1, 3))),
        ("day_of_week", "mon-wed#2", "nth_days_of_week", ((1, 2), (2, 2), (3, 2))),
        ("day_of_week", "7#1", "nth_days_of_week", ((0, 1),)),
        ("day_of_week", "L5", "last_days_of_week", (5,)),
        ("day_of_week", "l5,mon#1", "last_days_of_week", (5,)),
        ("day_of_week", "5L", "last_days_of_week", (5,)),
        ("day_of_week", "FriL,lsun,7l", "last_days_of_week", (0, 5)),
        ("day_of_week", "mon#2,tue", "days_of_week", (2,)),
        ("day_of_week", "mon#2,tue", "nth_days_of_week", ((1, 2),)),
        ("day_of_week", "L5,fri", "days_of_week", (5,)),
        ("day_of_month", "15W", "nearest_weekdays", (15,)),
        ("day_of_month", "1w,15W,31W", "nearest_weekdays", (1, 15, 31)),
        ("day_of_month", "15W,20", "days_of_month", (20,)),
        ("day_of_month", "LW", "last_weekday_of_month", True),
        ("day_of_month", "lw,L", "last_day_of_month", True),
        ("hour", "22-2/2", "hours", (0, 2, 22)),
        ("day_of_week", "sat-mon/2", "days_of_week", (1, 6)),
        ("day_of_week", "7-2", "days_of_week", (0, 1, 2)),
        ("day_of_month", "20-L/5", "days_of_month", (20, 25, 30)),
    ],
)
def test_valid_field(field: str, text: str, attribute: str, expected: object) -> None:
    assert getattr(fields(**{field: text}), attribute) == expected


@pytest.mark.parametrize(
    ("field", "text", "attribute", "expected"),
    [
        ("minute", "5-5", "minutes", (5,)),
        ("minute", "5-5/2", "minutes", (5,)),
        ("month_of_year", "jan-jan", "months", (1,)),
        ("month_of_year", "1-jan", "months", (1,)),
        ("day_of_week", "7-7", "days_of_week", (0,)),
        ("day_of_week", "sun-sun", "days_of_week", (0,)),
        ("day_of_week", "mon-mon#2", "nth_days_of_week", ((1, 2),)),
    ],
)
def test_equal_range_is_one_value_not_the_whole_field(
    field: str, text: str, attribute: str, expected: object
) -> None:
    # croniter widens "a-a" to the whole field; cron means the single value.
    assert getattr(fields(**{field: text}), attribute) == expected


def test_day_flags() -> None:
    assert fields(day_of_month="L").last_day_of_month
    assert not fields(day_of_month="31").last_day_of_month
    nth = fields(day_of_week="mon#2")
    assert nth.days_of_week == ()
    assert nth.day_of_week_restricted
    assert fields(day_of_month="L").day_of_month_restricted


@pytest.mark.parametrize(
    ("field", "text", "restricted"),
    [
        # As in the daemons, the text decides: a field that starts with "*" is unrestricted,
        # whatever set it stands for; any other is restricted, even one covering every day.
        ("day_of_month", "*", False),
        ("day_of_month", "*/2", False),
        ("day_of_month", " */1 ", False),
        ("day_of_month", "*,15", False),
        ("day_of_month", "1-31", True),
        ("day_of_month", "15W", True),
        ("day_of_week", "*", False),
        ("day_of_week", "*/2", False),
        ("day_of_week", "&*", False),
        ("day_of_week", "0-7", True),
        ("day_of_week", "&mon", True),
    ],
)
def test_restricted_is_decided_from_the_text(field: str, text: str, restricted: bool) -> None:
    assert getattr(fields(**{field: text}), f"{field}_restricted") is restricted


@pytest.mark.parametrize(
    ("minute", "hour", "wildcard"),
    [
        ("*", "1", True),
        ("*/15", "1", True),
        ("0", "*", True),
        ("0", "*/2", True),
        (" */3 ", "0", True),
        ("*,5", "0", True),
        ("0", "1", False),
        ("0-59/15", "1", False),
        ("0", "0-23", False),
        ("0", "1/2", False),
        ("5,*/10", "1", False),
    ],
)
def test_wildcard_is_a_star_at_the_start_of_minute_or_hour(
    minute: str, hour: str, wildcard: bool
) -> None:
    # Debian cron's rule (its MIN_STAR and HR_STAR flags): only the first character counts.
    assert fields(minute=minute, hour=hour).wildcard is wildcard
    assert fields(second="*", minute=minute, hour=hour).wildcard is wildcard


def test_fields_are_hashable_values() -> None:
    assert fields(minute="0,30") == fields(minute="30,0")
    assert len({fields(minute="0,30"), fields(minute="30,0"), fields(minute="1")}) == 2


def test_parse_cron_accepts_keywords() -> None:
    assert parse_cron(**ALL) == parse_cron("*", "*", "*", "*", "*", "*")


# --- invalid fields --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "text", "fragment"),
    [
        ("second", "60", "60 is out of range 0-59"),
        ("minute", "61", "61 is out of range 0-59"),
        ("hour", "24", "24 is out of range 0-23"),
        ("day_of_month", "0", "0 is out of range 1-31"),
        ("day_of_month", "32", "32 is out of range 1-31"),
        ("month_of_year", "0", "0 is out of range 1-12"),
        ("month_of_year", "13", "13 is out of range 1-12"),
        ("day_of_week", "8", "8 is out of range 0-7"),
        ("minute", "10-61", "61 is out of range 0-59"),
        ("hour", "1-99/2", "99 is out of range 0-23"),
        ("second", "", "empty field"),
        ("minute", "   ", "empty field"),
        ("hour", "1,,2", "empty item"),
        ("hour", "1,", "empty item"),
        ("minute", "*/0", "at least 1"),
        ("minute", "*/x", "at least 1"),
        ("minute", "1-5/", "at least 1"),
        ("minute", "1-2-3", "is not valid"),
        ("minute", "-5", "is not valid"),
        ("minute", "1.5", "is not valid"),
        ("minute", "*-5", "is not valid"),
        ("minute", "1 2", "contains spaces"),
        ("minute", "jan", "'jan' is not a number"),
        ("month_of_year", "mon", "'mon' is not a month name"),
        ("month_of_year", "foo-dec", "'foo' is not a month name"),
        ("day_of_week", "jan", "'jan' is not a weekday name"),
        ("day_of_week", "Funday", "'Funday' is not a weekday name"),
        ("day_of_week", "7/2", "start a weekday step at 0"),
        ("minute", "*/99999999999999999999", "at least 1, 9 digits at most"),
        ("minute", "1" * 5000, "too large"),
        ("hour", "0000000001", "too large"),
        ("minute", "*/\u00b2", "'\u00b2' is not allowed"),
        ("minute", "\uff11", "is not allowed"),
        ("hour", "\u0661", "is not allowed"),
        ("day_of_week", "mon#\u00b3", "is not allowed"),
        ("second", "\x00", "is not valid"),
        ("minute", "1\x002", "is not valid"),
    ],
)
def test_invalid_field_names_the_field(field: str, text: str, fragment: str) -> None:
    with pytest.raises(CronError) as raised:
        fields(**{field: text})
    error = raised.value
    assert error.field == field
    assert str(error) == error.message
    assert error.message.startswith(f"{field}: ")
    assert fragment in error.message
    for jargon in ("croniter", "acceptable", "bands", "Traceback"):
        assert jargon not in error.message


@pytest.mark.parametrize(
    ("field", "text", "fragment"),
    [
        ("day_of_month", "?", "? is not supported"),
        ("day_of_week", "?", "? is not supported"),
        ("day_of_month", "W15", "W follows a single day, as in 15W"),
        ("day_of_month", "1-5W", "W follows a single day"),
        ("day_of_month", "15W/2", "W follows a single day"),
        ("day_of_month", "32W", "32 is out of range 1-31"),
        ("day_of_month", "WL", "W follows a single day"),
        ("minute", "5W", "W is allowed only in day_of_month"),
        ("day_of_week", "1W", "W is allowed only in day_of_month"),
        ("minute", "H", "H and R"),
        ("minute", "H/5", "H and R"),
        ("hour", "H(0-5)", "H and R"),
        ("minute", "R", "H and R"),
        ("minute", "L", "L is allowed only in day_of_month"),
        ("month_of_year", "L", "L is allowed only in day_of_month"),
        ("day_of_week", "L", "a lone L belongs in day_of_month"),
        ("day_of_week", "L8", "8 is out of range 0-7"),
        ("day_of_week", "1-5L", "a lone L belongs in day_of_month"),
        ("day_of_week", "funL", "'fun' is not a weekday name"),
        ("day_of_month", "L-5", "alone or at the end of a range"),
        ("day_of_month", "L/2", "alone or at the end of a range"),
        ("day_of_month", "1#2", "# (n-th weekday) is allowed only in day_of_week"),
        ("day_of_week", "mon#6", "must be 1-5"),
        ("day_of_week", "mon#0", "must be 1-5"),
        ("day_of_week", "mon#", "must be 1-5"),
        ("day_of_week", "#2", "write weekday#n"),
        ("day_of_week", "1-3#2", "name the weekdays of a range"),
        ("day_of_week", "&", "empty field"),
    ],
)
def test_refused_syntax_says_so(field: str, text: str, fragment: str) -> None:
    with pytest.raises(CronError) as raised:
        fields(**{field: text})
    assert raised.value.field == field
    assert fragment in raised.value.message


def test_error_keeps_the_spelling_of_the_user() -> None:
    with pytest.raises(CronError, match="'W15'"):
        fields(day_of_month="W15")
    with pytest.raises(CronError, match="'Funday'"):
        fields(day_of_week="mon,Funday-sat")


def test_first_bad_field_is_reported() -> None:
    with pytest.raises(CronError) as raised:
        parse_cron("0", "99", "99", "*", "*", "*")
    assert raised.value.field == "minute"


def test_cron_error_is_a_value_error() -> None:
    assert issubclass(CronError, ValueError)


# --- day matching ----------------------------------------------------------------------------


def test_day_of_month_and_weekday_both_restricted_means_either() -> None:
    # June 2026: Mondays are 1, 8, 15, 22, 29.
    assert day_numbers("0 0 13 * mon", 2026, 6) == [1, 8, 13, 15, 22, 29]


def test_only_weekday_restricted_means_weekday() -> None:
    assert day_numbers("0 0 * * mon", 2026, 6) == [1, 8, 15, 22, 29]


def test_only_day_of_month_restricted_means_day_of_month() -> None:
    assert day_numbers("0 0 13 * *", 2026, 6) == [13]


def test_a_field_covering_every_day_is_still_restricted() -> None:
    # Vixie/Debian cron decide from the text: "1-31" does not start with "*", so the two
    # fields are OR-ed and every day matches. (djag before 2026-12 went by the set: Mondays.)
    assert day_numbers("0 0 1-31 * mon", 2026, 6) == list(range(1, 31))
    assert day_numbers("0 0 13 * 0-7", 2026, 6) == list(range(1, 31))


def test_a_step_from_star_is_unrestricted() -> None:
    # "*/2" starts with "*": both fields must match, odd days that are Mondays (June 2026:
    # Mondays 1, 8, 15, 22, 29). (djag before 2026-12 OR-ed them: odd days and Mondays.)
    assert day_numbers("0 0 */2 * mon", 2026, 6) == [1, 15, 29]
    assert day_numbers("0 0 1-7 * */2", 2026, 6) == [2, 4, 6, 7]


def test_both_mode_ands_the_day_fields() -> None:
    # Celery's crontab(hour=9, day_of_month="1-7", day_of_week="mon"): the first Monday.
    assert day_numbers("0 9 1-7 * &mon", 2026, 6) == [1]
    assert day_numbers("0 9 1-7 * &mon", 2026, 12) == [7]
    assert day_numbers("0 0 13 * &fri", 2026, 11) == [13]
    assert day_numbers("0 0 13 * &fri", 2026, 6) == []


def test_both_mode_through_the_parameter_and_the_mark_is_the_same() -> None:
    marked = parse_cron("0", "9", "0", "1-7", "*", "&mon")
    assert parse_cron("0", "9", "0", "1-7", "*", "mon", day_match="both") == marked
    assert parse_cron("0", "9", "0", "1-7", "*", "&mon", day_match=DayMatch.EITHER) == marked
    assert marked.day_match is DayMatch.BOTH
    assert not marked.either_day
    assert parse_cron("0", "9", "0", "1-7", "*", "mon").either_day


def test_bad_day_match_is_a_cron_error() -> None:
    with pytest.raises(CronError) as raised:
        parse_cron("0", "0", "0", "*", "*", "*", day_match="any")
    assert raised.value.field == "day_match"
    with pytest.raises(CronError):
        parse_cron("0", "0", "0", "*", "*", "*", day_match=["both"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("texts", "day_match", "line"),
    [
        (("0", "0", "9", "1-7", "*", "mon"), "both", "0 0 9 1-7 * &mon"),
        (("0", "0", "9", "1-7", "*", "&mon"), "either", "0 0 9 1-7 * &mon"),
        (("0", "0", "9", "1-7", "*", " mon "), "either", "0 0 9 1-7 * mon"),
        (("*/5", "*", "*", "*", "*", "*"), "both", "*/5 * * * * &*"),
    ],
)
def test_format_line(texts: tuple[str, ...], day_match: str, line: str) -> None:
    assert format_line(*texts, day_match=day_match) == line
    assert parse_cron(*parse_line(line)) == parse_cron(*texts, day_match=day_match)


def test_split_day_match() -> None:
    assert split_day_match("&mon") == ("mon", DayMatch.BOTH)
    assert split_day_match(" & mon-fri") == ("mon-fri", DayMatch.BOTH)
    assert split_day_match("mon") == ("mon", DayMatch.EITHER)
    assert split_line("0 9 1-7 * &mon") == (("0", "0", "9", "1-7", "*", "mon"), DayMatch.BOTH)


def test_last_day_of_month() -> None:
    assert day_numbers("0 0 L * *", 2024, 2) == [29]
    assert day_numbers("0 0 L * *", 2026, 2) == [28]
    assert day_numbers("0 0 L * *", 2026, 4) == [30]
    assert day_numbers("0 0 15,L * *", 2026, 1) == [15, 31]
    assert day_numbers("0 0 28-L * *", 2026, 2) == [28]


def test_nth_and_last_weekday() -> None:
    assert day_numbers("0 0 * * mon#2", 2026, 6) == [8]
    assert day_numbers("0 0 * * mon#5", 2026, 6) == [29]
    assert day_numbers("0 0 * * wed#5", 2026, 6) == []
    assert day_numbers("0 0 * * tue#5", 2026, 6) == [30]
    assert day_numbers("0 0 * * L5", 2026, 6) == [26]
    assert day_numbers("0 0 * * sun#1,L0", 2026, 5) == [3, 31]


def test_nth_weekday_or_day_of_month() -> None:
    assert day_numbers("0 0 1 * fri#1", 2026, 6) == [1, 5]
    assert day_numbers("0 0 * * fri#1,mon", 2026, 6) == [1, 5, 8, 15, 22, 29]


@pytest.mark.parametrize(
    ("line", "year", "month", "days"),
    [
        # June 2026 starts on a Monday; the 13th is a Saturday, the 14th a Sunday.
        ("0 0 15W * *", 2026, 6, [15]),
        ("0 0 13W * *", 2026, 6, [12]),
        ("0 0 14W * *", 2026, 6, [15]),
        # August 2026 starts on a Saturday: the nearest weekday stays in the month.
        ("0 0 1W * *", 2026, 8, [3]),
        # May 2026 ends on a Sunday: 31W is Friday the 29th.
        ("0 0 31W * *", 2026, 5, [29]),
        # A month without the day has no nearest weekday for it, as a plain 31 never fires.
        ("0 0 31W * *", 2026, 6, []),
        ("0 0 1W,15W * *", 2026, 8, [3, 14]),
        ("0 0 LW * *", 2026, 5, [29]),
        ("0 0 LW * *", 2026, 6, [30]),
        ("0 0 LW * *", 2026, 10, [30]),
        # Either mode: the nearest weekday to the 15th, or any Sunday.
        ("0 0 15W * sun", 2026, 6, [7, 14, 15, 21, 28]),
        ("0 0 LW * &fri", 2026, 5, [29]),
        ("0 0 LW * &fri", 2026, 6, []),
    ],
)
def test_nearest_weekday(line: str, year: int, month: int, days: list[int]) -> None:
    assert day_numbers(line, year, month) == days


@pytest.mark.parametrize(
    "line", ["0 0 * * 5L", "0 0 * * L5", "0 0 * * friL", "0 0 * * Lfri", "0 0 * * FRIL"]
)
def test_quartz_last_weekday_beside_l5(line: str) -> None:
    assert day_numbers(line, 2026, 6) == [26]


def test_month_names_and_weekday_seven() -> None:
    assert day_numbers("0 0 * jun 7", 2026, 6) == [7, 14, 21, 28]
    assert day_numbers("0 0 * jul 7", 2026, 6) == []


# --- the schedule in UTC ---------------------------------------------------------------------


def test_next_after_is_strictly_after() -> None:
    every_five = schedule("*/5 * * * * *")
    t = at("2026-06-01T12:00:00")
    assert every_five.next_after(t) == t + 5
    assert every_five.next_after(t - 1) == t
    assert every_five.next_after(t + 4) == t + 5


def test_prev_at_or_before_includes_t() -> None:
    every_five = schedule("*/5 * * * * *")
    t = at("2026-06-01T12:00:00")
    assert every_five.prev_at_or_before(t) == t
    assert every_five.prev_at_or_before(t + 4) == t
    assert every_five.prev_at_or_before(t - 1) == t - 5


@pytest.mark.parametrize(
    ("line", "after", "expected"),
    [
        ("30 2 * * *", "2026-06-01T02:30:00", "2026-06-02T02:30:00"),
        ("0 0 1 * *", "2026-12-15T00:00:00", "2027-01-01T00:00:00"),
        ("0 0 29 2 *", "2024-03-01T00:00:00", "2028-02-29T00:00:00"),
        ("0 0 L 2 *", "2026-01-01T00:00:00", "2026-02-28T00:00:00"),
        ("0 12 * * mon#2", "2026-06-08T12:00:00", "2026-07-13T12:00:00"),
        ("59 23 31 12 *", "2026-01-01T00:00:00", "2026-12-31T23:59:00"),
        ("0 0 * feb mon#5", "2026-01-01T00:00:00", "2044-02-29T00:00:00"),
        ("0,30 * * * * *", "2026-06-01T12:00:59", "2026-06-01T12:01:00"),
    ],
)
def test_next_and_prev_in_utc(line: str, after: str, expected: str) -> None:
    cron = schedule(line)
    found = cron.next_after(at(after))
    assert found is not None
    assert iso(found) == expected
    assert cron.prev_at_or_before(found) == found
    assert cron.next_after(cron.prev_at_or_before(found - 1) or 0) == found


def test_prev_at_or_before_crosses_years() -> None:
    assert iso(schedule("0 0 29 2 *").prev_at_or_before(at("2026-06-01T00:00:00")) or 0) == (
        "2024-02-29T00:00:00"
    )


def test_events_and_count_in_utc() -> None:
    cron = schedule("0 */20 9-10 * * mon-fri")
    after, until = at("2026-06-05T00:00:00"), at("2026-06-08T09:40:00")
    assert [iso(e) for e in cron.events(after, until)] == [
        "2026-06-05T09:00:00",
        "2026-06-05T09:20:00",
        "2026-06-05T09:40:00",
        "2026-06-05T10:00:00",
        "2026-06-05T10:20:00",
        "2026-06-05T10:40:00",
        "2026-06-08T09:00:00",
        "2026-06-08T09:20:00",
        "2026-06-08T09:40:00",
    ]
    assert cron.count(after, until) == 9
    # (after, until]: an event at `after` is excluded, one at `until` included.
    assert cron.count(at("2026-06-05T09:00:00"), at("2026-06-05T09:40:00")) == 2


def test_count_is_arithmetic() -> None:
    every_second = schedule("* * * * * *")
    start = at("2026-01-01T00:00:00")
    assert every_second.count(start, at("2027-01-01T00:00:00")) == 365 * 86400
    assert every_second.count(start, start) == 0
    assert every_second.count(start, start - 10) == 0
    assert schedule("0 0 29 2 *").count(start, at("2126-01-01T00:00:00")) == 24


def test_a_timezone_without_dst_is_a_fixed_shift() -> None:
    tokyo = schedule("0 30 2 * * *", ZoneInfo("Asia/Tokyo"))
    assert iso(tokyo.next_after(at("2026-03-07T00:00:00")) or 0) == "2026-03-07T17:30:00"


# --- schedules that never fire ---------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "0 0 30 2 *",
        "0 0 31 4,6,9,11 *",
        "0 0 30-31 feb *",
        "* * 31 2,4 *",
        "0 0 1-7 * &mon#2",
        "0 0 */15 * mon#2",
        "0 0 1 * &L5",
        "0 0 L * &mon#1",
        "0 0 LW * &sat",
        "0 0 30W 2 *",
        "0 0 15W * &sun",
    ],
)
def test_never_firing_schedule(line: str) -> None:
    cron = schedule(line)
    assert never_fires(cron.fields)
    started = time.perf_counter()
    assert cron.next_after(0) is None
    assert cron.prev_at_or_before(at("2026-01-01T00:00:00")) is None
    assert list(cron.events(0, at("2100-01-01T00:00:00"))) == []
    assert cron.count(0, at("2100-01-01T00:00:00")) == 0
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    "line",
    [
        "0 0 29 2 *",
        "0 0 31 * *",
        "0 0 L 2 *",
        "0 0 30 2 mon",
        "0 0 * 2 mon#5",
        "0 0 * 2 L1",
        "0 0 30 2,3 *",
        "0 0 29 2 &mon",
        "0 0 1-7 * &mon#1",
        "0 0 */15 * mon#3",
        "0 0 29W 2 *",
        "0 0 1 * &sat",
    ],
)
def test_rare_schedule_is_not_never(line: str) -> None:
    cron = schedule(line)
    assert not never_fires(cron.fields)
    assert cron.next_after(at("2026-01-01T00:00:00")) is not None
    assert cron.prev_at_or_before(at("2026-01-01T00:00:00")) is not None


def test_search_ends_at_the_supported_range() -> None:
    cron = schedule("0 0 1 1 *")
    assert cron.next_after(at("8999-06-01T00:00:00")) is None
    assert iso(cron.prev_at_or_before(at("1000-06-01T00:00:00")) or 0) == "1000-01-01T00:00:00"
    assert cron.prev_at_or_before(at("1000-01-01T00:00:00") - 1) is None


def test_schedule_exposes_its_inputs() -> None:
    cron = schedule("0 0 * * *")
    assert cron.fields == parse_cron("0", "0", "0", "*", "*", "*")
    assert cron.zone is UTC_ZONE
    assert "CronSchedule(" in repr(cron)
