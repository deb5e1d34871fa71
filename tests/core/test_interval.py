"""djag.core.interval: every N seconds of elapsed time from an anchor, DST-independent."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from djag.core.cron.wallclock import END_INSTANT, FIRST_INSTANT
from djag.core.interval import (
    MAX_EVERY,
    IntervalError,
    IntervalSchedule,
    duration,
    interval_seconds,
)
from djag.core.misfire import Policy
from djag.core.plan import Progress, TaskSpec, decide

HOUR = 3600
NEW_YORK = ZoneInfo("America/New_York")


def local(instant: int, zone: ZoneInfo = NEW_YORK) -> str:
    return datetime.fromtimestamp(instant, zone).strftime("%m-%d %H:%M%z")


def at(year: int, month: int, day: int, hour: int = 0, zone: ZoneInfo = NEW_YORK) -> int:
    return int(datetime(year, month, day, hour, tzinfo=zone).timestamp())


def test_every_six_hours_starting_at_five() -> None:
    schedule = IntervalSchedule(every=6 * HOUR, anchor=at(2026, 1, 5, 5))
    assert schedule.next_after(at(2026, 1, 5, 5) - 1) == at(2026, 1, 5, 5)
    assert schedule.next_after(at(2026, 1, 5, 5)) == at(2026, 1, 5, 11)
    assert schedule.prev_at_or_before(at(2026, 1, 6, 4)) == at(2026, 1, 5, 23)
    assert schedule.prev_at_or_before(at(2026, 1, 5, 5)) == at(2026, 1, 5, 5)


def test_no_event_before_the_anchor() -> None:
    schedule = IntervalSchedule(every=HOUR, anchor=at(2026, 1, 5, 5))
    assert schedule.prev_at_or_before(at(2026, 1, 5, 5) - 1) is None
    assert schedule.count(0, at(2026, 1, 5, 5) - 1) == 0
    assert schedule.count(0, at(2026, 1, 5, 7)) == 3


def test_elapsed_time_through_dst_changes() -> None:
    """Six hours of real time apart, whatever the clocks say: local times shift by the change."""
    schedule = IntervalSchedule(every=6 * HOUR, anchor=at(2026, 3, 7, 5))
    spring = list(schedule.events(at(2026, 3, 7, 0), at(2026, 3, 8, 23)))
    assert [local(event) for event in spring] == [
        "03-07 05:00-0500",
        "03-07 11:00-0500",
        "03-07 17:00-0500",
        "03-07 23:00-0500",
        "03-08 06:00-0400",
        "03-08 12:00-0400",
        "03-08 18:00-0400",
    ]
    autumn = [local(e) for e in schedule.events(at(2026, 10, 31, 20), at(2026, 11, 1, 12))]
    assert autumn == ["11-01 00:00-0400", "11-01 05:00-0500", "11-01 11:00-0500"]
    fall_back = IntervalSchedule(every=15 * 60, anchor=at(2026, 11, 1, 0))
    day = list(fall_back.events(at(2026, 11, 1, 0) - 1, at(2026, 11, 2, 0) - 1))
    assert len(day) == 25 * 4  # the repeated hour runs twice: every 15 minutes of real time


@pytest.mark.parametrize(
    ("every", "period", "seconds"),
    [
        (7, "seconds", 7),
        (90, "minutes", 5400),
        (3, "days", 3 * 86400),
        (36, "hours", 36 * 3600),
        (2_000_000, "microseconds", 2),
    ],
)
def test_interval_seconds_converts_celery_beat_intervals_exactly(
    every: int, period: str, seconds: int
) -> None:
    assert interval_seconds(every, period) == seconds


@pytest.mark.parametrize(
    ("every", "period", "field", "fragment"),
    [
        (0, "seconds", "every", "at least 1"),
        (-5, "minutes", "every", "at least 1"),
        (True, "hours", "every", "whole number"),
        (1.5, "hours", "every", "whole number"),
        (1_500_000, "microseconds", "every", "not a whole number of seconds"),
        (500_000, "microseconds", "every", "not a whole number of seconds"),
        (3, "weeks", "period", "'weeks' is not one of days, hours, minutes, seconds"),
    ],
)
def test_interval_seconds_refuses(every: object, period: str, field: str, fragment: str) -> None:
    with pytest.raises(IntervalError) as raised:
        interval_seconds(every, period)  # type: ignore[arg-type]
    assert raised.value.field == field
    assert fragment in raised.value.message


@pytest.mark.parametrize(
    ("every", "anchor", "field"),
    [
        (0, 0, "every"),
        (-1, 0, "every"),
        (MAX_EVERY + 1, 0, "every"),
        (1.0, 0, "every"),
        (False, 0, "every"),
        ("60", 0, "every"),
        (60, FIRST_INSTANT - 1, "anchor"),
        (60, END_INSTANT, "anchor"),
        (60, 1.5, "anchor"),
    ],
)
def test_bounds_are_checked(every: object, anchor: object, field: str) -> None:
    with pytest.raises(IntervalError) as raised:
        IntervalSchedule(every=every, anchor=anchor)  # type: ignore[arg-type]
    assert raised.value.field == field
    assert raised.value.message.startswith(f"{field}: ")


def test_largest_interval_and_the_end_of_the_range() -> None:
    schedule = IntervalSchedule(every=MAX_EVERY, anchor=END_INSTANT - 10)
    assert schedule.next_after(END_INSTANT - 11) == END_INSTANT - 10
    assert schedule.next_after(END_INSTANT - 10) is None
    assert schedule.prev_at_or_before(END_INSTANT + 10**9) == END_INSTANT - 10
    assert schedule.count(0, END_INSTANT + 10**9) == 1


def test_count_is_arithmetic() -> None:
    every_second = IntervalSchedule(every=1, anchor=0)
    assert every_second.count(0, 100 * 365 * 86400) == 100 * 365 * 86400
    assert every_second.count(10, 10) == 0
    assert every_second.count(10, 5) == 0


@settings(max_examples=300, deadline=None, database=None)
@given(
    every=st.integers(1, 10 * 86400),
    anchor=st.integers(0, 2 * 10**9),
    after=st.integers(0, 2 * 10**9),
    length=st.integers(0, 30 * 86400),
)
def test_protocol_is_consistent(every: int, anchor: int, after: int, length: int) -> None:
    schedule = IntervalSchedule(every=every, anchor=anchor)
    until = after + length
    events = list(schedule.events(after, min(until, after + 200 * every)))
    if until <= after + 200 * every:
        assert schedule.count(after, until) == len(events)
    assert all(after < e <= until and (e - anchor) % every == 0 for e in events)
    following = schedule.next_after(after)
    assert following is not None
    assert following > after
    assert schedule.prev_at_or_before(following) == following
    assert schedule.prev_at_or_before(following - 1) == (
        None if following == anchor else following - every
    )


def test_describe() -> None:
    schedule = IntervalSchedule(every=6 * HOUR, anchor=at(2026, 3, 1, 5, ZoneInfo("Europe/Paris")))
    assert schedule.describe(ZoneInfo("Europe/Paris")) == (
        "Every 6 hours from 2026-03-01 05:00 (Europe/Paris)"
    )
    assert schedule.describe() == "Every 6 hours from 2026-03-01 04:00 (UTC)"
    assert [duration(s) for s in (1, 7, 60, 5400, 86400, 93784)] == [
        "1 second",
        "7 seconds",
        "1 minute",
        "90 minutes",
        "1 day",
        "93784 seconds",
    ]


def test_the_planner_runs_an_interval_schedule_with_its_misfire_policy() -> None:
    anchor = int(datetime(2026, 6, 1, 5, tzinfo=UTC).timestamp())
    task = TaskSpec(id=1, schedule=IntervalSchedule(every=HOUR, anchor=anchor), start_at=0)
    # Beat down from 05:30 to 09:10: 06:00 ... 09:00 missed, coalesced into one run.
    decision = decide(task, Progress(last_event=anchor), (), now=anchor + 4 * HOUR + 600)
    assert decision.resolution is not None
    assert [(r.scheduled_for, r.coalesced_count) for r in decision.resolution.runs] == [
        (anchor + 4 * HOUR, 4)
    ]
    assert decision.next_due == anchor + 5 * HOUR
    run_all = TaskSpec(
        id=1,
        schedule=IntervalSchedule(every=HOUR, anchor=anchor),
        policy=Policy.RUN_ALL,
        max_running=0,
    )
    decision = decide(run_all, Progress(last_event=anchor), (), now=anchor + 4 * HOUR + 600)
    assert decision.resolution is not None
    assert [r.scheduled_for for r in decision.resolution.runs] == [
        anchor + k * HOUR for k in (1, 2, 3, 4)
    ]
