"""Differential test against cronsim, an independent implementation of Debian cron's rules.

Random crontabs x six zones with DST changes x start instants around each change: the next 12
fire times from djag's ``CronSchedule.next_after`` and from ``cronsim.CronSim`` must be
identical. Where they are not, the difference must be one of the named ones below, each listed
in docs/dst.md with its reason; for those, djag's answer is checked against the brute-force
reference of Debian's rules (``tests/core/reference.py``) instead. Anything else fails.

Named differences:

- ``SIX_FIELD_FIXED_TIME``: cronsim applies Debian's DST fix-up to five-field expressions only;
  djag applies it to six-field ones too, by their minute and hour fields. A six-field line whose
  second is 0 is compared through its five-field form; other fixed-time six-field lines are
  left out and counted.
- ``START_IN_REPEATED_TIME``: cronsim iterates a fixed-time expression on naive wall time, so a
  start inside a repeated hour (its second occurrence) is read as the wall time and its first
  answers can lie before the start. A fixed-time schedule has no event in the second
  occurrence, so cronsim is started at the last second of the repeated range instead.
- ``TOP_OF_HOUR_ARITHMETIC``: for wildcard schedules cronsim moves to the next hour by adding
  3600 s of elapsed time to hh:00 (and to a single minute by adding whole minutes). After a
  change that is not a whole hour or not on the hour (Lord Howe's 30 minutes, Chatham's 02:45)
  that lands inside the hour, so it misses minutes until its hour loop next stops (at the
  following local midnight hour, so on the day of the change or the next), or steps back into a
  repeated hour and answers an instant twice.
- ``DAY_START_IN_GAP``: cronsim starts a day at local 00:00; when a forward jump skips midnight
  (Santiago) that wall time does not exist and stands for 01:00, so a wildcard schedule gets a
  run Debian would not make (hour 0) or loses the 01:00 hour.

cronsim also reads a one-value range with a step (``5-5/2``) as ``5/2``; the generator does not
produce that form and ``test_one_value_range_with_a_step`` pins both readings.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

from djag.core import cron
from djag.core.cron import CronSchedule, parse_cron, parse_line

from .reference import reference_events

ZONES = (
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/Santiago",
    "Europe/Dublin",
)
YEARS = (2026, 2027)
SHIFTS = (-3 * 3600, -3600 - 1, -1, 0, 1799, 3600)
EXPRESSIONS_PER_CHANGE = 40
FIRES = 12
SEED = 20261213


# --- random crontabs that favour the wall times around a change ------------------------------


def field(rng: random.Random, low: int, high: int, favourites: tuple[int, ...]) -> str:
    def value() -> int:
        return rng.choice(favourites) if rng.random() < 0.6 else rng.randint(low, high)

    kind = rng.choice(["*", "*", "step", "value", "value", "range", "range_step", "list", "from"])
    if kind == "*":
        return "*"
    if kind == "step":
        return f"*/{rng.randint(1, high - low + 1)}"
    if kind == "value":
        return str(value())
    if kind == "list":
        return ",".join(str(value()) for _ in range(rng.randint(2, 4)))
    if kind == "from":
        return f"{value()}/{rng.randint(1, 30)}"
    first, last = sorted((value(), value()))
    if first == last:  # cronsim reads "a-a/n" as "a/n": see test_one_value_range_with_a_step
        first, last = (first - 1, first) if first > low else (first, first + 1)
    if kind == "range":
        return f"{first}-{last}"
    return f"{first}-{last}/{rng.randint(1, high - low + 1)}"


def expression(rng: random.Random, local: datetime) -> str:
    hours = (local.hour, (local.hour + 1) % 24, (local.hour + 23) % 24)
    day, weekday, month = local.day, local.isoweekday() % 7, local.month
    parts = [
        field(rng, 0, 59, (0, 15, 30, 45)),
        field(rng, 0, 23, hours),
        rng.choice(["*", "*", str(day), "L", "LW", f"{day},L", f"*/{rng.randint(2, 10)}"])
        if rng.random() < 0.7
        else field(rng, 1, 31, (day,)),
        rng.choice(["*", "*", str(month), f"{month}-12", "JAN-DEC"]),
        rng.choice(
            [
                "*",
                "*",
                str(weekday),
                "MON-FRI",
                f"{weekday}#{rng.randint(1, 5)}",
                f"{weekday}L",
                f"*/{rng.randint(2, 3)}",
                field(rng, 0, 6, (weekday,)),
            ]
        ),
    ]
    if rng.random() < 0.25:
        parts.insert(0, rng.choice(["0", "30", "15"]))
    return " ".join(parts)


# --- the comparison --------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    zone: ZoneInfo
    instant: int
    before: int  # UTC offset before the change
    after: int

    @property
    def wall_before(self) -> datetime:
        """The local wall time at which the change happens, on the old offset."""
        return datetime.fromtimestamp(self.instant - 1, self.zone).replace(tzinfo=None)

    @property
    def off_the_hour(self) -> bool:
        whole = (self.after - self.before) % 3600 == 0
        return not whole or (self.wall_before.minute, self.wall_before.second) != (59, 59)

    @property
    def skips_midnight(self) -> bool:
        later_wall = datetime.fromtimestamp(self.instant, self.zone).replace(tzinfo=None)
        return self.after > self.before and later_wall.date() > self.wall_before.date()

    def local_date(self) -> date:
        return datetime.fromtimestamp(self.instant, self.zone).date()


def changes() -> Iterator[Change]:
    for key in ZONES:
        zone = ZoneInfo(key)
        for year in YEARS:
            for found in cron.zones.transitions(zone, year):
                yield Change(zone, found.instant, found.before, found.after)


def djag_fires(schedule: CronSchedule, start: int) -> list[int]:
    fires: list[int] = []
    moment = schedule.next_after(start)
    while moment is not None and len(fires) < FIRES:
        fires.append(moment)
        moment = schedule.next_after(moment)
    return fires


def cronsim_fires(line: str, zone: ZoneInfo, start: int) -> list[int] | None:
    """cronsim's next fire times after ``start``; None if it refuses the line."""
    try:
        sim = CronSim(line, datetime.fromtimestamp(start, zone))
    except CronSimError:
        return None
    fires = []
    for _ in range(FIRES):
        try:
            fires.append(int(next(sim).timestamp()))
        except StopIteration:  # no match within 50 years
            break
    return fires


def end_of_repeated_range(zone: ZoneInfo, start: int) -> int:
    """The last second of the repeated wall times that ``start`` is the second occurrence of."""
    moment = start
    while datetime.fromtimestamp(moment + 1, zone).fold == 1:
        moment += 60 if datetime.fromtimestamp(moment + 60, zone).fold == 1 else 1
    return moment


def is_fixed_time(five_fields: str) -> bool:
    minute, hour = five_fields.split()[:2]
    return not minute.startswith("*") and not hour.startswith("*")


def change_near(zone: ZoneInfo, instant: int) -> Change | None:
    """The zone's offset change on the local date of ``instant`` or the day before, if any."""
    day = datetime.fromtimestamp(instant, zone).date()
    for year in (day.year - 1, day.year):
        for found in cron.zones.transitions(zone, year):
            change = Change(zone, found.instant, found.before, found.after)
            if 0 <= (day - change.local_date()).days <= 1:
                return change
    return None


def explained(
    line: str, zone: ZoneInfo, start: int, ours: list[int], theirs: list[int]
) -> str | None:
    """The named difference that explains ``theirs != ours``, if it is one and djag is right."""
    index = next(i for i in range(min(len(ours), len(theirs))) if ours[i] != theirs[i])
    change = change_near(zone, min(ours[index], theirs[index]))
    wildcard_in_cronsim = len(line.split()) == 6 or not is_fixed_time(line)
    if change is None or not wildcard_in_cronsim:
        return None
    if change.off_the_hour:
        name = "TOP_OF_HOUR_ARITHMETIC"
    elif change.skips_midnight:
        name = "DAY_START_IN_GAP"
    else:
        return None
    end = max(ours[index], theirs[index]) + 1
    fields = parse_cron(*parse_line(line))
    expected = reference_events(fields, zone, start + 1, end)
    return name if expected == list(CronSchedule(fields, zone).events(start, end - 1)) else None


def compare(line: str, change: Change, start: int, outcome: Counter[str]) -> bool:
    """Count how ``line`` from ``start`` compares; False for an unexplained difference."""
    parts = line.split()
    cronsim_line = line
    if len(parts) == 6 and parts[0] == "0":
        cronsim_line = " ".join(parts[1:])  # the same schedule in cronsim's five fields
    elif len(parts) == 6 and is_fixed_time(" ".join(parts[1:])):
        outcome["SIX_FIELD_FIXED_TIME"] += 1
        return True
    cronsim_start = start
    in_repeated_time = datetime.fromtimestamp(start, change.zone).fold == 1
    if in_repeated_time and len(cronsim_line.split()) == 5 and is_fixed_time(cronsim_line):
        cronsim_start = end_of_repeated_range(change.zone, start)
        outcome["START_IN_REPEATED_TIME"] += 1
    theirs = cronsim_fires(cronsim_line, change.zone, cronsim_start)
    if theirs is None:
        outcome["refused by cronsim"] += 1
        return True
    outcome["compared"] += 1
    ours = djag_fires(CronSchedule(parse_cron(*parse_line(line)), change.zone), start)
    if ours == theirs:
        outcome["identical"] += 1
        return True
    name = explained(line, change.zone, start, ours, theirs)
    if name is None:
        zone = change.zone
        print("unexplained:", zone.key, repr(line), local(start, zone))
        print("  djag   ", [local(fire, zone) for fire in ours])
        print("  cronsim", [local(fire, zone) for fire in theirs])
        return False
    outcome[name] += 1
    return True


def local(instant: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(instant, zone).strftime("%Y-%m-%d %H:%M:%S%z")


def test_next_fires_agree_with_cronsim() -> None:
    rng = random.Random(SEED)
    outcome: Counter[str] = Counter()
    lines, starts, unexplained = set(), set(), 0
    for change in changes():
        wall = datetime.fromtimestamp(change.instant, change.zone)
        for _ in range(EXPRESSIONS_PER_CHANGE):
            line = expression(rng, wall)
            lines.add(line)
            for shift in SHIFTS:
                starts.add((change.zone.key, change.instant + shift))
                unexplained += not compare(line, change, change.instant + shift, outcome)
    print(
        f"\ncronsim differential: {len(lines)} expressions in {len(ZONES)} zones from "
        f"{len(starts)} start instants: {dict(outcome)}, unexplained {unexplained}"
    )
    assert unexplained == 0
    assert outcome["compared"] > 4000
    assert outcome["identical"] > 0.95 * outcome["compared"]


def test_one_value_range_with_a_step() -> None:
    """``5-5/20``: cron's range 5-5 is the one value 5; cronsim reads it as 5/20."""
    zone = ZoneInfo("UTC")
    start = int(datetime(2026, 6, 1, tzinfo=zone).timestamp())
    ours = djag_fires(CronSchedule(parse_cron(*parse_line("5-5/20 * * * *")), zone), start)
    theirs = cronsim_fires("5-5/20 * * * *", zone, start)
    assert [fire % 3600 // 60 for fire in ours[:3]] == [5, 5, 5]
    assert theirs is not None
    assert [fire % 3600 // 60 for fire in theirs[:3]] == [5, 25, 45]


def test_the_issue_examples_agree_with_cronsim() -> None:
    """The three DST cases of issue 13 in New York, through both implementations."""
    new_york = ZoneInfo("America/New_York")
    cases = [
        # Spring forward: 02:30 does not exist and a wildcard schedule does not catch it up.
        ("30 * * * *", (2026, 3, 8, 0, 0), ["08 00:30-0500", "08 01:30-0500", "08 03:30-0400"]),
        # Every 20 minutes of 02:xx: none that day, next on the 9th.
        ("*/20 2 * * *", (2026, 3, 7, 12, 0), ["09 02:00-0400", "09 02:20-0400"]),
        # Fall back: every 15 minutes of both 01:xx hours.
        (
            "*/15 1 * * *",
            (2026, 11, 1, 0, 0),
            [f"01 01:{m:02}{offset}" for offset in ("-0400", "-0500") for m in (0, 15, 30, 45)],
        ),
    ]
    for line, wall, expected in cases:
        start = int(datetime(*wall, tzinfo=new_york).timestamp())
        ours = djag_fires(CronSchedule(parse_cron(*parse_line(line)), new_york), start)
        shown = [datetime.fromtimestamp(fire, new_york).strftime("%d %H:%M%z") for fire in ours]
        assert shown[: len(expected)] == expected
        assert ours == cronsim_fires(line, new_york, start)
    fall_back = CronSchedule(parse_cron(*parse_line("*/15 1 * * *")), new_york)
    day = int(datetime(2026, 11, 1, tzinfo=new_york).timestamp())
    assert fall_back.count(day, day + 86400) == 8
