"""DST table tests: exact UTC instants of crontabs on the days clocks change.

Each row gives a zone, a crontab (one-line form, seconds first), a window and every event in it,
worked out by hand from the zone's transition:

- America/New_York 2026-03-08 07:00Z: 02:00 EST -> 03:00 EDT;
  2026-11-01 06:00Z: 02:00 EDT -> 01:00 EST
- Europe/London 2026-03-29 01:00Z: 01:00 GMT -> 02:00 BST; 2026-10-25 01:00Z: 02:00 BST -> 01:00 GMT
- Australia/Lord_Howe 2026-04-04 15:00Z: 02:00 +11 -> 01:30 +1030;
  2026-10-03 15:30Z: 02:00 +1030 -> 02:30 +11
- Asia/Tokyo: +09 all year
"""

from __future__ import annotations

import calendar
import zoneinfo
from datetime import UTC, datetime
from itertools import pairwise
from zoneinfo import ZoneInfo, _zoneinfo

import pytest

from djag.core import cron
from djag.core.cron import CronSchedule, parse_cron, parse_line


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def iso(instant: int) -> str:
    return datetime.fromtimestamp(instant, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def every(first: str, minutes: int, count: int) -> list[str]:
    return [iso(at(first) + k * minutes * 60) for k in range(count)]


def every_second(first: str, count: int) -> list[str]:
    return [iso(at(first) + k) for k in range(count)]


def local_day(zone: str, day: str) -> tuple[int, int]:
    """(after, until) selecting the events whose local date is ``day``."""
    year, month, mday = map(int, day.split("-"))
    start = datetime(year, month, mday, tzinfo=ZoneInfo(zone))
    end = datetime.fromordinal(start.toordinal() + 1).replace(tzinfo=ZoneInfo(zone))
    return int(start.timestamp()) - 1, int(end.timestamp()) - 1


NY, LONDON, LORD_HOWE, TOKYO = (
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Tokyo",
)

# (zone, local day, crontab, every event of that local day in UTC)
LOCAL_DAYS: list[tuple[str, str, str, list[str]]] = [
    # New York, spring forward: 02:00-02:59 EST does not exist.
    (NY, "2026-03-08", "0 30 2 * * *", ["2026-03-08T07:00:00"]),
    (NY, "2026-03-08", "0 30 1 * * *", ["2026-03-08T06:30:00"]),
    (
        NY,
        "2026-03-08",
        "0 0 * * * *",
        ["2026-03-08T05:00:00", "2026-03-08T06:00:00", *every("2026-03-08T07:00:00", 60, 21)],
    ),
    (
        NY,
        "2026-03-08",
        "0 */15 * * * *",
        every("2026-03-08T05:00:00", 15, 8) + every("2026-03-08T07:00:00", 15, 84),
    ),
    # Wildcard schedules run on the new local time: no run for 02:30 or 02:00.
    (
        NY,
        "2026-03-08",
        "0 30 * * * *",
        ["2026-03-08T05:30:00", "2026-03-08T06:30:00", *every("2026-03-08T07:30:00", 60, 21)],
    ),
    (
        NY,
        "2026-03-08",
        "0 0 */2 * * *",
        ["2026-03-08T05:00:00", *every("2026-03-08T08:00:00", 120, 10)],
    ),
    (NY, "2026-03-08", "0 15 1-2 * * *", ["2026-03-08T06:15:00", "2026-03-08T07:00:00"]),
    (NY, "2026-03-08", "* * 2 * * *", []),
    (NY, "2026-03-08", "0 */20 2 * * *", []),
    (
        NY,
        "2026-03-08",
        "0 0 0-23/2 * * *",
        ["2026-03-08T05:00:00", "2026-03-08T07:00:00", *every("2026-03-08T08:00:00", 120, 10)],
    ),
    (NY, "2026-03-08", "0 0 2 * * *", ["2026-03-08T07:00:00"]),
    (NY, "2026-03-08", "0 0,30 2-3 * * *", ["2026-03-08T07:00:00", "2026-03-08T07:30:00"]),
    # New York, fall back: 01:00-01:59 happens twice (EDT, then EST).
    (NY, "2026-11-01", "0 30 2 * * *", ["2026-11-01T07:30:00"]),
    (NY, "2026-11-01", "0 30 1 * * *", ["2026-11-01T05:30:00"]),
    (NY, "2026-11-01", "0 0 1 * * *", ["2026-11-01T05:00:00"]),
    (NY, "2026-11-01", "0 0 * * * *", every("2026-11-01T04:00:00", 60, 25)),
    (NY, "2026-11-01", "0 */15 * * * *", every("2026-11-01T04:00:00", 15, 100)),
    (NY, "2026-11-01", "0 30 * * * *", every("2026-11-01T04:30:00", 60, 25)),
    (
        NY,
        "2026-11-01",
        "0 30 0-23 * * *",
        ["2026-11-01T04:30:00", "2026-11-01T05:30:00", *every("2026-11-01T07:30:00", 60, 22)],
    ),
    (
        NY,
        "2026-11-01",
        "0 0 */2 * * *",
        ["2026-11-01T04:00:00", *every("2026-11-01T07:00:00", 120, 11)],
    ),
    (NY, "2026-11-01", "0 15 1-2 * * *", ["2026-11-01T05:15:00", "2026-11-01T07:15:00"]),
    (NY, "2026-11-01", "* * 1 * * *", every_second("2026-11-01T05:00:00", 7200)),
    (NY, "2026-11-01", "0 */15 1 * * *", every("2026-11-01T05:00:00", 15, 8)),
    (NY, "2026-11-01", "0 0,15,30,45 1 * * *", every("2026-11-01T05:00:00", 15, 4)),
    (NY, "2026-11-01", "* * 2 * * *", every_second("2026-11-01T07:00:00", 3600)),
    # London, spring forward: 01:00-01:59 GMT does not exist.
    (LONDON, "2026-03-29", "0 30 2 * * *", ["2026-03-29T01:30:00"]),
    (LONDON, "2026-03-29", "0 30 1 * * *", ["2026-03-29T01:00:00"]),
    (LONDON, "2026-03-29", "0 0 * * * *", every("2026-03-29T00:00:00", 60, 23)),
    (LONDON, "2026-03-29", "0 */15 * * * *", every("2026-03-29T00:00:00", 15, 92)),
    (
        LONDON,
        "2026-03-29",
        "0 30 * * * *",
        ["2026-03-29T00:30:00", *every("2026-03-29T01:30:00", 60, 22)],
    ),
    (
        LONDON,
        "2026-03-29",
        "0 0 */2 * * *",
        ["2026-03-29T00:00:00", *every("2026-03-29T01:00:00", 120, 11)],
    ),
    (LONDON, "2026-03-29", "0 15 1-2 * * *", ["2026-03-29T01:00:00", "2026-03-29T01:15:00"]),
    (LONDON, "2026-03-29", "* * 1 * * *", []),
    (LONDON, "2026-03-29", "0 0 1 * * *", ["2026-03-29T01:00:00"]),
    # London, fall back: 01:00-01:59 happens twice (BST, then GMT).
    (LONDON, "2026-10-25", "0 30 2 * * *", ["2026-10-25T02:30:00"]),
    (LONDON, "2026-10-25", "0 30 1 * * *", ["2026-10-25T00:30:00"]),
    (LONDON, "2026-10-25", "0 0 * * * *", every("2026-10-24T23:00:00", 60, 25)),
    (LONDON, "2026-10-25", "0 */15 * * * *", every("2026-10-24T23:00:00", 15, 100)),
    (LONDON, "2026-10-25", "0 30 * * * *", every("2026-10-24T23:30:00", 60, 25)),
    (
        LONDON,
        "2026-10-25",
        "0 0 */2 * * *",
        ["2026-10-24T23:00:00", *every("2026-10-25T02:00:00", 120, 11)],
    ),
    (LONDON, "2026-10-25", "0 15 1-2 * * *", ["2026-10-25T00:15:00", "2026-10-25T02:15:00"]),
    # Lord Howe, fall back by 30 minutes: 01:30-01:59 happens twice (+11, then +1030).
    (LORD_HOWE, "2026-04-05", "0 30 2 * * *", ["2026-04-04T16:00:00"]),
    (LORD_HOWE, "2026-04-05", "0 30 1 * * *", ["2026-04-04T14:30:00"]),
    (LORD_HOWE, "2026-04-05", "0 45 1 * * *", ["2026-04-04T14:45:00"]),
    (
        LORD_HOWE,
        "2026-04-05",
        "0 0 * * * *",
        ["2026-04-04T13:00:00", "2026-04-04T14:00:00", *every("2026-04-04T15:30:00", 60, 22)],
    ),
    (LORD_HOWE, "2026-04-05", "0 */15 * * * *", every("2026-04-04T13:00:00", 15, 98)),
    (LORD_HOWE, "2026-04-05", "0 */15 1 * * *", every("2026-04-04T14:00:00", 15, 6)),
    (LORD_HOWE, "2026-04-05", "0 0-59/15 1 * * *", every("2026-04-04T14:00:00", 15, 4)),
    (
        LORD_HOWE,
        "2026-04-05",
        "0 30 * * * *",
        [
            "2026-04-04T13:30:00",
            "2026-04-04T14:30:00",
            "2026-04-04T15:00:00",
            *every("2026-04-04T16:00:00", 60, 22),
        ],
    ),
    (
        LORD_HOWE,
        "2026-04-05",
        "0 0 */2 * * *",
        ["2026-04-04T13:00:00", *every("2026-04-04T15:30:00", 120, 11)],
    ),
    (
        LORD_HOWE,
        "2026-04-05",
        "0 15 1-2 * * *",
        ["2026-04-04T14:15:00", "2026-04-04T15:45:00"],
    ),
    # Lord Howe, spring forward by 30 minutes: 02:00-02:29 +1030 does not exist.
    (LORD_HOWE, "2026-10-04", "0 30 2 * * *", ["2026-10-03T15:30:00"]),
    (LORD_HOWE, "2026-10-04", "0 15 2 * * *", ["2026-10-03T15:30:00"]),
    (LORD_HOWE, "2026-10-04", "0 30 1 * * *", ["2026-10-03T15:00:00"]),
    (
        LORD_HOWE,
        "2026-10-04",
        "0 0 * * * *",
        ["2026-10-03T13:30:00", "2026-10-03T14:30:00", *every("2026-10-03T16:00:00", 60, 21)],
    ),
    (LORD_HOWE, "2026-10-04", "0 */15 * * * *", every("2026-10-03T13:30:00", 15, 94)),
    (
        LORD_HOWE,
        "2026-10-04",
        "0 0 0-23 * * *",
        [
            "2026-10-03T13:30:00",
            "2026-10-03T14:30:00",
            "2026-10-03T15:30:00",
            *every("2026-10-03T16:00:00", 60, 21),
        ],
    ),
    (
        LORD_HOWE,
        "2026-10-04",
        "0 30 * * * *",
        [
            "2026-10-03T14:00:00",
            "2026-10-03T15:00:00",
            "2026-10-03T15:30:00",
            *every("2026-10-03T16:30:00", 60, 21),
        ],
    ),
    (
        LORD_HOWE,
        "2026-10-04",
        "0 0 */2 * * *",
        ["2026-10-03T13:30:00", *every("2026-10-03T17:00:00", 120, 10)],
    ),
    (
        LORD_HOWE,
        "2026-10-04",
        "0 0 0-23/2 * * *",
        ["2026-10-03T13:30:00", "2026-10-03T15:30:00", *every("2026-10-03T17:00:00", 120, 10)],
    ),
    (
        LORD_HOWE,
        "2026-10-04",
        "0 15 1-2 * * *",
        ["2026-10-03T14:45:00", "2026-10-03T15:30:00"],
    ),
    # Tokyo has no DST: the same crontabs are a fixed shift of nine hours.
    (TOKYO, "2026-03-08", "0 30 2 * * *", ["2026-03-07T17:30:00"]),
    (TOKYO, "2026-03-08", "0 30 1 * * *", ["2026-03-07T16:30:00"]),
    (TOKYO, "2026-03-08", "0 0 * * * *", every("2026-03-07T15:00:00", 60, 24)),
    (TOKYO, "2026-03-08", "0 */15 * * * *", every("2026-03-07T15:00:00", 15, 96)),
    (TOKYO, "2026-03-08", "0 30 * * * *", every("2026-03-07T15:30:00", 60, 24)),
    (TOKYO, "2026-03-08", "0 0 */2 * * *", every("2026-03-07T15:00:00", 120, 12)),
    (TOKYO, "2026-03-08", "0 15 1-2 * * *", ["2026-03-07T16:15:00", "2026-03-07T17:15:00"]),
    (TOKYO, "2026-03-08", "* * 2 * * *", every_second("2026-03-07T17:00:00", 3600)),
]

# (zone, crontab, after, until, every event in (after, until] in UTC)
WINDOWS: list[tuple[str, str, str, str, list[str]]] = [
    # Santiago: midnight does not exist on 2026-09-06 (00:00 -04 -> 01:00 -03 at 04:00Z).
    (
        "America/Santiago",
        "0 0 0 * * *",
        "2026-09-05T00:00:00",
        "2026-09-07T12:00:00",
        ["2026-09-05T04:00:00", "2026-09-06T04:00:00", "2026-09-07T03:00:00"],
    ),
    # Santiago: 2026-04-05 00:00 -03 -> 2026-04-04 23:00 -04 at 03:00Z; 23:xx repeats.
    (
        "America/Santiago",
        "0 30 23 * * *",
        "2026-04-03T12:00:00",
        "2026-04-06T12:00:00",
        ["2026-04-04T02:30:00", "2026-04-05T02:30:00", "2026-04-06T03:30:00"],
    ),
    (
        "America/Santiago",
        "0 0 0 * * *",
        "2026-04-03T12:00:00",
        "2026-04-06T12:00:00",
        ["2026-04-04T03:00:00", "2026-04-05T04:00:00", "2026-04-06T04:00:00"],
    ),
    # Havana 2012: midnight skipped on 04-01, repeated on 11-04 (both at 05:00Z).
    (
        "America/Havana",
        "0 0 0 * * *",
        "2012-03-31T00:00:00",
        "2012-04-02T00:00:00",
        ["2012-03-31T05:00:00", "2012-04-01T05:00:00"],
    ),
    (
        "America/Havana",
        "0 0 0 * * *",
        "2012-11-03T00:00:00",
        "2012-11-05T12:00:00",
        ["2012-11-03T04:00:00", "2012-11-04T04:00:00", "2012-11-05T05:00:00"],
    ),
    (
        "America/Havana",
        "0 30 * * * *",
        "2012-11-04T04:00:00",
        "2012-11-04T07:00:00",
        ["2012-11-04T04:30:00", "2012-11-04T05:30:00", "2012-11-04T06:30:00"],
    ),
    # Apia skipped 2011-12-30 entirely: 2011-12-29 24:00 -10 -> 2011-12-31 00:00 +14 at 10:00Z.
    (
        "Pacific/Apia",
        "0 0 12 * * *",
        "2011-12-29T00:00:00",
        "2011-12-31T12:00:00",
        ["2011-12-29T22:00:00", "2011-12-30T10:00:00", "2011-12-30T22:00:00"],
    ),
    (
        "Pacific/Apia",
        "0 0 * * * *",
        "2011-12-30T08:00:00",
        "2011-12-30T12:00:00",
        [
            "2011-12-30T09:00:00",
            "2011-12-30T10:00:00",
            "2011-12-30T11:00:00",
            "2011-12-30T12:00:00",
        ],
    ),
    # Troll jumps two hours: 01:00 +00 -> 03:00 +02 and back, at 01:00Z.
    (
        "Antarctica/Troll",
        "0 */30 * * * *",
        "2026-03-29T00:00:00",
        "2026-03-29T02:00:00",
        [
            "2026-03-29T00:30:00",
            "2026-03-29T01:00:00",
            "2026-03-29T01:30:00",
            "2026-03-29T02:00:00",
        ],
    ),
    (
        "Antarctica/Troll",
        "0 0 1-2 * * *",
        "2026-10-24T12:00:00",
        "2026-10-25T12:00:00",
        ["2026-10-24T23:00:00", "2026-10-25T00:00:00"],
    ),
    # Dublin's tzdata uses a negative DST (winter is the "daylight" period); only offsets matter.
    (
        "Europe/Dublin",
        "0 30 1 * * *",
        "2026-10-24T12:00:00",
        "2026-10-25T12:00:00",
        ["2026-10-25T00:30:00"],
    ),
    # Historical and future years: the 1975 energy-crisis start of DST; the POSIX rule in 2099.
    (
        NY,
        "0 30 2 * * *",
        "1975-02-22T12:00:00",
        "1975-02-24T12:00:00",
        ["1975-02-23T07:00:00", "1975-02-24T06:30:00"],
    ),
    (
        NY,
        "0 30 1 * * *",
        "2099-10-31T12:00:00",
        "2099-11-02T12:00:00",
        ["2099-11-01T05:30:00", "2099-11-02T06:30:00"],
    ),
    (
        NY,
        "0 30 * * * *",
        "2099-11-01T04:00:00",
        "2099-11-01T07:00:00",
        ["2099-11-01T04:30:00", "2099-11-01T05:30:00", "2099-11-01T06:30:00"],
    ),
    ("UTC", "0 30 2 * * *", "2026-03-08T00:00:00", "2026-03-09T00:00:00", ["2026-03-08T02:30:00"]),
]


def schedule(zone: str, line: str) -> CronSchedule:
    return CronSchedule(parse_cron(*parse_line(line)), ZoneInfo(zone))


def check_events(cron_schedule: CronSchedule, after: int, until: int, expected: list[str]) -> None:
    events = list(cron_schedule.events(after, until))
    assert [iso(e) for e in events] == expected
    assert cron_schedule.count(after, until) == len(expected)
    bounds = [cron_schedule.prev_at_or_before(after), *events]
    for earlier, later in pairwise(bounds):
        assert cron_schedule.next_after(later - 1) == later
        assert cron_schedule.prev_at_or_before(later) == later
        assert cron_schedule.prev_at_or_before(later - 1) == earlier
        if earlier is not None:
            assert cron_schedule.next_after(earlier) == later


@pytest.mark.parametrize(("zone", "day", "line", "expected"), LOCAL_DAYS)
def test_local_day(zone: str, day: str, line: str, expected: list[str]) -> None:
    after, until = local_day(zone, day)
    check_events(schedule(zone, line), after, until, expected)


@pytest.mark.parametrize(("zone", "line", "after", "until", "expected"), WINDOWS)
def test_window(zone: str, line: str, after: str, until: str, expected: list[str]) -> None:
    check_events(schedule(zone, line), at(after), at(until), expected)


@pytest.mark.parametrize(
    ("zone", "day", "line", "expected"),
    [
        (NY, "2026-03-08", "* * * * * *", 23 * 3600),
        (NY, "2026-11-01", "* * * * * *", 25 * 3600),
        (NY, "2026-11-01", "* * 0-23 * * *", 25 * 3600),
        (NY, "2026-11-01", "* 0-59 0-23 * * *", 24 * 3600),
        (LONDON, "2026-03-29", "* * * * * *", 23 * 3600),
        (LORD_HOWE, "2026-04-05", "* * * * * *", 24 * 3600 + 1800),
        (LORD_HOWE, "2026-10-04", "* * * * * *", 23 * 3600 + 1800),
        (LORD_HOWE, "2026-10-04", "* * 2 * * *", 1800),
        # Fixed: the gap 02:00:00-02:29:59 is one run at 02:30:00 +11, which matches anyway.
        (LORD_HOWE, "2026-10-04", "0-59 0-59 2 * * *", 1800),
        (LORD_HOWE, "2026-10-04", "0-59 0-59 1-2 * * *", 3600 + 1800),
        (TOKYO, "2026-03-08", "* * * * * *", 24 * 3600),
    ],
)
def test_count_of_every_second_on_dst_days(zone: str, day: str, line: str, expected: int) -> None:
    after, until = local_day(zone, day)
    assert schedule(zone, line).count(after, until) == expected


def test_count_over_a_year_in_a_dst_zone() -> None:
    # A wildcard schedule fires on every real second: the repeated hour counts twice, the
    # skipped one not at all.
    after, until = local_day(NY, "2026-01-01")[0], local_day(NY, "2026-12-31")[1]
    assert schedule(NY, "* * * * * *").count(after, until) == 365 * 86400
    assert schedule(NY, "0 30 1 * * *").count(after, until) == 365
    assert schedule(NY, "0 30 2 * * *").count(after, until) == 365
    # Wildcard: no 02:30 in March, 01:30 twice in November. Fixed hours: every day once.
    assert schedule(NY, "0 30 * * * *").count(after, until) == 365 * 24
    assert schedule(NY, "0 30 0-23 * * *").count(after, until) == 365 * 24


def test_events_are_strictly_increasing_through_a_gap() -> None:
    events = list(schedule(NY, "* * 1-3 * * *").events(*local_day(NY, "2026-03-08")))
    assert events == sorted(set(events))
    assert len(events) == 3600 + 3600


# --- the transition finder against zoneinfo's own table --------------------------------------


def transitions_from_zoneinfo_table(key: str, year: int) -> list[tuple[int, int, int]]:
    """Offset changes in a UTC year, read from the pure-Python zoneinfo's transition table.

    The explicit transitions come from the TZif file; later years follow the POSIX TZ rule,
    whose start and end are local times in standard and daylight time respectively.
    """
    zone = _zoneinfo.ZoneInfo.no_cache(key)
    low, high = calendar.timegm((year, 1, 1, 0, 0, 0)), calendar.timegm((year + 1, 1, 1, 0, 0, 0))

    def seconds(info: object) -> int:
        return int(info.utcoff.total_seconds())  # type: ignore[attr-defined]

    changes = [(t, seconds(info)) for t, info in zip(zone._trans_utc, zone._ttinfos, strict=True)]
    rule = zone._tz_after
    if isinstance(rule, _zoneinfo._TZStr):
        last_explicit = changes[-1][0] if changes else -(2**63)
        for rule_year in range(year - 1, year + 2):
            start, end = rule.transitions(rule_year)
            for instant, offset in (
                (start - seconds(rule.std), seconds(rule.dst)),
                (end - seconds(rule.dst), seconds(rule.std)),
            ):
                if instant > last_explicit:
                    changes.append((instant, offset))
    found = []
    offset = seconds(zone._tti_before) if zone._tti_before else changes[0][1]
    for instant, new_offset in sorted(changes):
        if new_offset != offset and low <= instant < high:
            found.append((instant, offset, new_offset))
        offset = new_offset
    return found


TRICKY_ZONES = [
    "Pacific/Apia",
    "Australia/Lord_Howe",
    "Africa/Casablanca",
    "Asia/Gaza",
    "America/Santiago",
    "America/Havana",
    "Antarctica/Troll",
    "Europe/Dublin",
    "America/Noronha",
    "Pacific/Kiritimati",
    "Pacific/Chatham",
    "Africa/Monrovia",
]
SAMPLED_YEARS = [1970, 1974, 1983, 1991, 1996, 2000, 2007, 2011, 2016, 2026, 2037, 2038, 2087, 2100]


def assert_same_transitions(key: str, years: list[int]) -> None:
    zone = ZoneInfo(key)
    for year in years:
        found = [tuple(t) for t in cron.zones.transitions(zone, year)]
        assert found == transitions_from_zoneinfo_table(key, year), (key, year)


@pytest.mark.skipif(
    not hasattr(_zoneinfo.ZoneInfo, "_find_trans"), reason="zoneinfo internals changed"
)
@pytest.mark.parametrize("key", TRICKY_ZONES)
def test_transitions_of_tricky_zones_every_year(key: str) -> None:
    assert_same_transitions(key, list(range(1970, 2101)))


@pytest.mark.skipif(
    not hasattr(_zoneinfo.ZoneInfo, "_find_trans"), reason="zoneinfo internals changed"
)
def test_transitions_of_every_zone_in_sampled_years() -> None:
    for key in sorted(zoneinfo.available_timezones()):
        assert_same_transitions(key, SAMPLED_YEARS)
