"""Properties of CronSchedule over many zones, years and crontabs, and a naive reference
(``tests/core/reference.py``)."""

from __future__ import annotations

import calendar
import zoneinfo
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from djag.core import cron
from djag.core.cron import (
    CronFields,
    CronSchedule,
    DayMatch,
    format_line,
    never_fires,
    parse_cron,
    parse_line,
    split_line,
)

from .reference import reference_events

ZONES = sorted(zoneinfo.available_timezones())
WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MINUTE = 60
DAY = 86400
ONE_SECOND = timedelta(seconds=1)
# Most zones keep one offset for decades; half the draws take a zone that changes twice a year.
DST_ZONES = [key for key in ZONES if len(cron.zones.transitions(ZoneInfo(key), 2026)) == 2]

# No example database: these tests neither read nor write files in the working tree.
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


# --- strategies ------------------------------------------------------------------------------


@st.composite
def field_text(draw: st.DrawFn, low: int, high: int, favourites: tuple[int, ...] = ()) -> str:
    """A valid cron field over [low, high]; ``favourites`` are drawn more often."""
    value = (
        st.one_of(st.sampled_from(favourites), st.integers(low, high))
        if favourites
        else (st.integers(low, high))
    )
    kind = draw(st.sampled_from(["*", "value", "range", "wrap", "step", "range_step", "list"]))
    if kind == "*":
        return "*"
    if kind == "value":
        return str(draw(value))
    if kind == "step":
        return f"*/{draw(st.integers(1, high - low + 1))}"
    if kind == "list":
        return ",".join(str(v) for v in draw(st.lists(value, min_size=1, max_size=4)))
    first, second = sorted((draw(value), draw(value)))
    if kind == "range":
        return f"{first}-{second}"
    if kind == "wrap" and first < second:
        return f"{second}-{first}"
    return f"{first}-{second}/{draw(st.integers(1, high - low + 1))}"


@st.composite
def day_of_month_text(draw: st.DrawFn, favourite: int) -> str:
    return draw(
        st.one_of(
            st.just("*"),
            st.just(str(favourite)),
            st.one_of(
                st.just("L"),
                st.just("LW"),
                st.builds(lambda d: f"{d}-L", st.integers(1, 31)),
                st.builds(lambda d: f"{d},L", st.integers(1, 31)),
                st.builds(lambda d: f"{d}W", st.one_of(st.just(favourite), st.integers(1, 31))),
                field_text(1, 31, favourites=(favourite,)),
            ),
        )
    )


@st.composite
def day_of_week_text(draw: st.DrawFn, favourite: int) -> str:
    weekday = st.one_of(st.just(favourite), st.integers(0, 6))
    return draw(
        st.one_of(
            st.just("*"),
            st.just(WEEKDAY_NAMES[favourite]),
            st.one_of(
                st.just("mon-fri"),
                st.builds(lambda d: WEEKDAY_NAMES[d], weekday),
                st.builds(lambda d, n: f"{WEEKDAY_NAMES[d]}#{n}", weekday, st.integers(1, 5)),
                st.builds(lambda d: f"L{d}", weekday),
                st.builds(lambda d: f"{d}L", weekday),
                st.builds(lambda d, n: f"{WEEKDAY_NAMES[d]}#{n},{d}", weekday, st.integers(1, 5)),
                field_text(0, 7, favourites=(favourite,)),
            ),
        )
    )


@st.composite
def month_text(draw: st.DrawFn, favourite: int) -> str:
    month = st.one_of(st.just(favourite), st.integers(1, 12))
    return draw(
        st.one_of(
            st.just("*"),
            st.just(str(favourite)),
            st.one_of(
                st.builds(lambda m: MONTH_NAMES[m - 1], month),
                field_text(1, 12, favourites=(favourite,)),
            ),
        )
    )


@st.composite
def zone_and_moment(draw: st.DrawFn) -> tuple[ZoneInfo, int]:
    """A zone and an instant, usually one of the zone's offset changes, 1970-2100."""
    zone = ZoneInfo(draw(st.one_of(st.sampled_from(ZONES), st.sampled_from(DST_ZONES))))
    year = draw(st.integers(1970, 2100))
    transitions = cron.zones.transitions(zone, year)
    # Three times in four, a moment when the offset changes.
    if transitions and draw(st.integers(0, 3)):
        moment = draw(st.sampled_from(transitions)).instant
    else:
        moment = calendar.timegm((year, 1, 1, 0, 0, 0)) + draw(st.integers(0, 364 * DAY))
    return zone, moment


@st.composite
def case(draw: st.DrawFn, second: st.SearchStrategy[str]) -> tuple[CronFields, ZoneInfo, int]:
    """A place and a crontab that favours the wall date and hours around the moment."""
    zone, moment = draw(zone_and_moment())
    # The first wall time after the one before the moment: the start of the gap of a forward
    # jump (no instant's local time); after a backward jump, the local time at the moment is
    # the start of the repeated range.
    wall = datetime.fromtimestamp(moment - 1, zone).replace(tzinfo=None) + ONE_SECOND
    critical = sorted({wall.hour, datetime.fromtimestamp(moment, zone).hour})
    nearby = {datetime.fromtimestamp(moment + d, zone).hour for d in (-3600, 1800, 3600)}
    fields = parse_cron(
        draw(second),
        draw(field_text(0, 59, favourites=(0, 15, 30, 45))),
        draw(
            st.one_of(
                st.sampled_from(critical).map(str),
                field_text(0, 23, favourites=(*critical, *sorted(nearby), 0, 1, 2, 3, 23)),
            )
        ),
        draw(day_of_month_text(wall.day)),
        draw(month_text(wall.month)),
        draw(day_of_week_text(wall.isoweekday() % 7)),
        day_match=draw(st.sampled_from(["either", "both"])),
    )
    return fields, zone, moment


minute_cases = case(st.just("0"))
any_cases = case(st.one_of(st.just("0"), field_text(0, 59)))


# --- properties ------------------------------------------------------------------------------


@settings(PROPERTY_SETTINGS, max_examples=200)
@given(minute_cases)
def test_agrees_with_the_reference_around_transitions(
    example: tuple[CronFields, ZoneInfo, int],
) -> None:
    fields, zone, moment = example
    start = moment - moment % MINUTE - DAY - DAY // 2
    end = start + 3 * DAY
    expected = reference_events(fields, zone, start, end)
    assume(expected is not None)
    schedule = CronSchedule(fields, zone)
    assert list(schedule.events(start - 1, end - 1)) == expected
    assert schedule.count(start - 1, end - 1) == len(expected or [])


@PROPERTY_SETTINGS
@given(any_cases, st.integers(-2 * DAY, 2 * DAY))
def test_next_after_is_strictly_increasing_and_prev_finds_it(
    example: tuple[CronFields, ZoneInfo, int], shift: int
) -> None:
    fields, zone, moment = example
    schedule = CronSchedule(fields, zone)
    t = moment + shift
    for _ in range(40):
        following = schedule.next_after(t)
        if following is None:
            break
        assert following > t
        assert schedule.prev_at_or_before(following) == following
        assert schedule.next_after(following - 1) == following
        t = following


@PROPERTY_SETTINGS
@given(any_cases, st.integers(-2 * DAY, 2 * DAY))
def test_prev_at_or_before_and_next_after_agree(
    example: tuple[CronFields, ZoneInfo, int], shift: int
) -> None:
    fields, zone, moment = example
    assume(not never_fires(fields))
    schedule = CronSchedule(fields, zone)
    t = moment + shift
    previous, following = schedule.prev_at_or_before(t), schedule.next_after(t)
    assert previous is not None
    assert following is not None
    assert previous <= t < following
    # Nothing fires strictly between the two.
    assert schedule.next_after(previous) == following
    assert schedule.prev_at_or_before(following - 1) == previous


@PROPERTY_SETTINGS
@given(any_cases, st.integers(-2 * DAY, DAY), st.integers(0, 2 * DAY))
def test_count_equals_the_number_of_events(
    example: tuple[CronFields, ZoneInfo, int], shift: int, length: int
) -> None:
    fields, zone, moment = example
    schedule = CronSchedule(fields, zone)
    after = moment + shift
    events = list(schedule.events(after, after + length))
    assert schedule.count(after, after + length) == len(events)
    assert events == sorted(set(events))
    assert all(after < e <= after + length for e in events)


@pytest.mark.parametrize(
    "line",
    [
        ("0", "0,30", "0-4,22-23", "*", "*", "*"),
        ("0", "*/20", "*", "*", "*", "*"),
        ("0", "0-59/20", "0-23", "*", "*", "*"),
        ("0", "0", "*/3", "*", "*", "*"),
    ],
)
def test_every_zone_agrees_with_the_reference_at_its_offset_changes(
    line: tuple[str, str, str, str, str, str],
) -> None:
    fields = parse_cron(*line)
    for key in ZONES:
        zone = ZoneInfo(key)
        schedule = CronSchedule(fields, zone)
        for year in (1990, 2026, 2090):
            for transition in cron.zones.transitions(zone, year):
                start = transition.instant - transition.instant % MINUTE - 6 * 3600
                end = start + 12 * 3600
                expected = reference_events(fields, zone, start, end)
                if expected is not None:
                    assert list(schedule.events(start - 1, end - 1)) == expected, (key, start)


@PROPERTY_SETTINGS
@given(
    st.tuples(
        st.one_of(st.just("0"), field_text(0, 59)),
        field_text(0, 59),
        field_text(0, 23),
        day_of_month_text(15),
        month_text(6),
        day_of_week_text(1),
    ),
    st.sampled_from(["either", "both"]),
)
def test_the_one_line_form_round_trips(texts: tuple[str, ...], day_match: str) -> None:
    line = format_line(*texts, day_match=day_match)
    assert parse_cron(*parse_line(line)) == parse_cron(*texts, day_match=day_match)
    assert split_line(line) == (texts, DayMatch(day_match))
