"""djag.core.exclusions: events on excluded local dates do not run, and are recorded."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from djag.core.cron import CronError, CronSchedule, parse_cron, parse_line
from djag.core.exclusions import (
    MAX_EXCLUDED_DATES,
    ExcludingSchedule,
    Exclusions,
    HolidayCalendar,
    day_of,
    day_start,
    parse_weekdays,
)
from djag.core.interval import IntervalSchedule
from djag.core.misfire import Skip

NEW_YORK = ZoneInfo("America/New_York")
SATURDAY, SUNDAY = 6, 0


def at(*wall: int, zone: ZoneInfo = NEW_YORK) -> int:
    return int(datetime(*wall, tzinfo=zone).timestamp())  # type: ignore[misc]


def cron(line: str, zone: ZoneInfo = NEW_YORK) -> CronSchedule:
    return CronSchedule(parse_cron(*parse_line(line)), zone)


def local(instant: int, zone: ZoneInfo = NEW_YORK) -> str:
    return datetime.fromtimestamp(instant, zone).strftime("%Y-%m-%d %H:%M")


def christmas_and_new_year(year: int) -> Mapping[date, str]:
    return {date(year, 1, 1): "New Year's Day", date(year, 12, 25): "Christmas Day"}


def test_the_local_date_decides() -> None:
    """23:30 on December 24th in New York is 04:30 UTC on the 25th: it runs."""
    schedule = ExcludingSchedule(
        cron("30 23 * * *"), Exclusions(dates={date(2026, 12, 25): ""}), NEW_YORK
    )
    runs = [local(e) for e in schedule.events(at(2026, 12, 23), at(2026, 12, 28))]
    assert runs == ["2026-12-23 23:30", "2026-12-24 23:30", "2026-12-26 23:30", "2026-12-27 23:30"]
    assert schedule.excluded(at(2026, 12, 23), at(2026, 12, 28)) == (
        Skip(at(2026, 12, 25, 23, 30), 1, "excluded: 2026-12-25 (listed date)"),
    )


def test_weekdays_are_excluded_in_the_zone() -> None:
    weekdays = ExcludingSchedule(
        cron("0 9 * * *"), Exclusions(weekdays=frozenset({SATURDAY, SUNDAY})), NEW_YORK
    )
    # June 2026: the 6th and 7th, 13th and 14th are weekends.
    runs = [local(e)[8:10] for e in weekdays.events(at(2026, 6, 5), at(2026, 6, 15, 12))]
    assert runs == ["05", "08", "09", "10", "11", "12", "15"]
    assert weekdays.count(at(2026, 6, 5), at(2026, 6, 15, 12)) == 7
    assert weekdays.prev_at_or_before(at(2026, 6, 8, 8)) == at(2026, 6, 5, 9)
    assert weekdays.next_after(at(2026, 6, 5, 9)) == at(2026, 6, 8, 9)


def test_holiday_calendar_names_the_holiday() -> None:
    asked: list[int] = []

    def dates_of_year(year: int) -> Mapping[date, str]:
        asked.append(year)
        return christmas_and_new_year(year)

    holidays = HolidayCalendar("US", dates_of_year)
    schedule = ExcludingSchedule(
        cron("0 */6 * * *"),
        Exclusions(dates={date(2026, 12, 24): "office closed"}, holidays=holidays),
        NEW_YORK,
    )
    records = schedule.excluded(at(2026, 12, 20), at(2027, 1, 3))
    assert records == (
        Skip(at(2026, 12, 24, 18), 4, "excluded: 2026-12-24 (office closed)"),
        Skip(at(2026, 12, 25, 18), 4, "excluded: 2026-12-25 (Christmas Day)"),
        Skip(at(2027, 1, 1, 18), 4, "excluded: 2027-01-01 (New Year's Day)"),
    )
    schedule.count(at(2026, 1, 1), at(2027, 12, 31))
    schedule.next_after(at(2026, 12, 24))
    assert sorted(set(asked)) == [2026, 2027]
    assert len(asked) == 2  # asked once per year, whatever the number of questions


def test_every_reason_is_given() -> None:
    exclusions = Exclusions(
        dates={date(2026, 12, 26): ""},
        weekdays=frozenset({SATURDAY}),
        holidays=HolidayCalendar("GB", lambda year: {date(year, 12, 26): "Boxing Day"}),
    )
    assert exclusions.reasons(date(2026, 12, 26)) == ["listed date", "Boxing Day", "Saturday"]
    assert exclusions.reasons(date(2026, 12, 28)) == []


def test_counting_does_not_walk_events() -> None:
    """A per-second schedule over a month: one base count per excluded date, no iteration."""

    class Counted:
        def __init__(self, base: CronSchedule) -> None:
            self.base, self.calls = base, {"next_after": 0, "count": 0, "prev": 0}

        def next_after(self, t: int) -> int | None:
            self.calls["next_after"] += 1
            return self.base.next_after(t)

        def prev_at_or_before(self, t: int) -> int | None:
            self.calls["prev"] += 1
            return self.base.prev_at_or_before(t)

        def count(self, after: int, until: int) -> int:
            self.calls["count"] += 1
            return self.base.count(after, until)

    base = Counted(cron("* * * * * *"))
    schedule = ExcludingSchedule(base, Exclusions(weekdays=frozenset({SATURDAY, SUNDAY})), NEW_YORK)
    june = schedule.count(at(2026, 6, 1) - 1, at(2026, 7, 1) - 1)
    assert june == 22 * 86400
    assert base.calls == {"next_after": 0, "count": 1 + 8, "prev": 0}


def test_a_schedule_whose_every_event_is_excluded_ends() -> None:
    saturdays = ExcludingSchedule(
        cron("0 0 * * sat"), Exclusions(weekdays=frozenset({SATURDAY})), NEW_YORK
    )
    assert saturdays.next_after(at(2026, 6, 1)) is None
    assert saturdays.prev_at_or_before(at(2026, 6, 1)) is None
    assert list(saturdays.events(at(2026, 6, 1), at(2027, 6, 1))) == []
    assert saturdays.count(at(2026, 6, 1), at(2027, 6, 1)) == 0
    assert len(saturdays.excluded(at(2026, 6, 1), at(2026, 7, 1))) == 4


def test_the_search_is_bounded() -> None:
    """More than MAX_EXCLUDED_DATES excluded dates in a row with events: no next event."""
    days = {date(2026, 1, 1) + timedelta(days=n): "" for n in range(MAX_EXCLUDED_DATES + 5)}
    daily = ExcludingSchedule(cron("0 12 * * *"), Exclusions(dates=days), NEW_YORK)
    assert daily.next_after(at(2025, 12, 31, 13)) is None
    shorter = dict.fromkeys(list(days)[: MAX_EXCLUDED_DATES - 5], "")
    daily = ExcludingSchedule(cron("0 12 * * *"), Exclusions(dates=shorter), NEW_YORK)
    found = daily.next_after(at(2025, 12, 31, 13))
    assert found is not None
    assert local(found) == f"{date(2026, 1, 1) + timedelta(days=MAX_EXCLUDED_DATES - 5)} 12:00"


def test_many_excluded_dates_share_one_record_past_the_limit() -> None:
    schedule = ExcludingSchedule(
        cron("0 12 * * *"), Exclusions(weekdays=frozenset({SATURDAY, SUNDAY})), NEW_YORK
    )
    records = schedule.excluded(at(2026, 1, 1), at(2026, 12, 31), limit=10)
    assert len(records) == 10
    assert records[0].reason == "excluded: 95 dates from 2026-01-03 to 2026-11-28"
    assert records[0].scheduled_for == at(2026, 11, 28, 12)
    assert sum(record.count for record in records) == 104
    assert records[-1] == Skip(at(2026, 12, 27, 12), 1, "excluded: 2026-12-27 (Sunday)")


def test_intervals_are_excluded_by_the_local_date_too() -> None:
    every_eight_hours = IntervalSchedule(every=8 * 3600, anchor=at(2026, 6, 5, 1))
    schedule = ExcludingSchedule(
        every_eight_hours, Exclusions(weekdays=frozenset({SATURDAY, SUNDAY})), NEW_YORK
    )
    runs = [local(e) for e in schedule.events(at(2026, 6, 5), at(2026, 6, 8, 12))]
    assert runs == [
        "2026-06-05 01:00",
        "2026-06-05 09:00",
        "2026-06-05 17:00",
        "2026-06-08 01:00",
        "2026-06-08 09:00",
    ]


def test_excluded_day_end_after() -> None:
    schedule = ExcludingSchedule(
        cron("0 */6 * * *"), Exclusions(weekdays=frozenset({SATURDAY})), NEW_YORK
    )
    assert schedule.excluded_day_end_after(at(2026, 6, 5, 18)) == at(2026, 6, 6, 18)
    assert schedule.excluded_day_end_after(at(2026, 6, 6, 18)) is None  # Sunday runs
    assert schedule.excluded_day_end_after(at(2026, 6, 5, 12)) is None  # Friday 18:00 runs


@pytest.mark.parametrize(
    ("key", "day", "start"),
    [
        # Santiago skips midnight: 2026-09-06 starts at 01:00 -03 (04:00 UTC).
        ("America/Santiago", date(2026, 9, 6), "2026-09-06T04:00:00"),
        ("America/Santiago", date(2026, 9, 7), "2026-09-07T03:00:00"),
        # Apia skipped 2011-12-30: that date starts (and ends) when the 31st starts.
        ("Pacific/Apia", date(2011, 12, 30), "2011-12-30T10:00:00"),
        ("Pacific/Apia", date(2011, 12, 31), "2011-12-30T10:00:00"),
        ("America/New_York", date(2026, 11, 1), "2026-11-01T04:00:00"),
        # Goose Bay, 1990-10-28 00:01 ADT went back to 23:01 AST on the 27th: that repeated
        # stretch belongs to the 28th, which started at 00:00 ADT (03:00 UTC).
        ("America/Goose_Bay", date(1990, 10, 28), "1990-10-28T03:00:00"),
        ("Pacific/Kiritimati", date(2026, 1, 1), "2025-12-31T10:00:00"),
        ("Etc/GMT+12", date(2026, 1, 1), "2026-01-01T12:00:00"),
    ],
)
def test_day_start(key: str, day: date, start: str) -> None:
    zone = ZoneInfo(key)
    instant = int(datetime.fromisoformat(start + "+00:00").timestamp())
    assert day_start(zone, day) == instant
    assert day_of(zone, instant) == max(day, datetime.fromtimestamp(instant, zone).date())
    assert day_of(zone, instant - 1) < day


def test_a_repeated_stretch_across_midnight_belongs_to_the_new_date() -> None:
    goose_bay = ZoneInfo("America/Goose_Bay")
    repeated = int(datetime.fromisoformat("1990-10-28T03:30:00+00:00").timestamp())
    assert datetime.fromtimestamp(repeated, goose_bay).date() == date(1990, 10, 27)
    assert day_of(goose_bay, repeated) == date(1990, 10, 28)
    hourly = ExcludingSchedule(
        cron("30 * * * *", goose_bay), Exclusions(dates={date(1990, 10, 27): ""}), goose_bay
    )
    assert hourly.next_after(repeated - 3600) == repeated


def test_parse_weekdays() -> None:
    assert parse_weekdays("sat,sun") == frozenset({SATURDAY, SUNDAY})
    assert parse_weekdays("mon-fri") == frozenset({1, 2, 3, 4, 5})
    assert parse_weekdays("7") == frozenset({SUNDAY})
    for bad in ("funday", "mon#2", "L5", "\uff11"):
        with pytest.raises(CronError) as raised:
            parse_weekdays(bad)
        assert raised.value.field == "day_of_week"


def test_weekdays_outside_the_week_are_refused() -> None:
    with pytest.raises(ValueError, match="not 7"):
        Exclusions(weekdays=frozenset({7}))


# --- the protocol against a brute-force filter --------------------------------------------

# Goose Bay went back from 00:01 to 23:01 of the day before (1987-2010): its dates repeat.
ZONES = [
    "America/New_York",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Pacific/Apia",
    "America/Goose_Bay",
    "UTC",
]
LINES = ["0 */5 * * * *", "30 * * * *", "0 0 0 * * *", "15 2 * * *", "0 0 23,0 * * *"]


@st.composite
def excluding_schedules(draw: st.DrawFn) -> tuple[ExcludingSchedule, int]:
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    year = draw(st.sampled_from([1990, 2011, 2026]))
    moment = int(datetime(year, draw(st.integers(1, 12)), 1, tzinfo=zone).timestamp())
    moment += draw(st.integers(0, 30 * 86400))
    days = draw(st.lists(st.integers(-20, 20), max_size=12))
    around = datetime.fromtimestamp(moment, zone).date()
    exclusions = Exclusions(
        dates={around + timedelta(days=n): "" for n in days},
        weekdays=frozenset(draw(st.lists(st.integers(0, 6), max_size=3))),
        holidays=HolidayCalendar("test", christmas_and_new_year) if draw(st.booleans()) else None,
    )
    return ExcludingSchedule(cron(draw(st.sampled_from(LINES)), zone), exclusions, zone), moment


def local_date(zone: ZoneInfo, instant: int) -> date:
    """The latest wall date shown in the two hours up to ``instant``: dates never go back."""
    return max(datetime.fromtimestamp(instant - back, zone).date() for back in (0, 3600, 7200))


@settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(excluding_schedules(), st.integers(-10 * 86400, 10 * 86400), st.integers(0, 5 * 86400))
def test_matches_a_brute_force_filter(
    example: tuple[ExcludingSchedule, int], shift: int, length: int
) -> None:
    schedule, moment = example
    after, until = moment + shift, moment + shift + length
    base = schedule.base
    assert isinstance(base, CronSchedule)
    every = list(base.events(after, until))
    kept = [e for e in every if not schedule.exclusions.reasons(local_date(schedule.zone, e))]
    assert list(schedule.events(after, until)) == kept
    assert schedule.count(after, until) == len(kept)
    records = schedule.excluded(after, until)
    assert sum(record.count for record in records) == len(every) - len(kept)
    assert [r.scheduled_for for r in records] == sorted({r.scheduled_for for r in records})
    for event in kept:
        assert schedule.prev_at_or_before(event) == event
        assert schedule.next_after(event - 1) == event
    if kept:
        assert schedule.prev_at_or_before(until) == kept[-1]
        assert schedule.next_after(after) == kept[0]
