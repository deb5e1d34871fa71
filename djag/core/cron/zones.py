"""UTC offset changes of a zone, found by probing and bisection, as constant-offset segments."""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, datetime
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from djag.core.cron.wallclock import DAY, END_INSTANT, EPOCH_ORDINAL, FIRST_INSTANT, year_start

# One day: far below the shortest-lived offset in tzdata (four days), see the module docstring.
_PROBE_STEP = DAY


class Transition(NamedTuple):
    instant: int  # the first instant with the new offset
    before: int  # UTC offset in seconds before the instant
    after: int


class Segment(NamedTuple):
    """A stretch of instants [start, end) with one UTC offset."""

    start: int
    end: int
    offset: int
    # When a forward jump happens at `start`: the wall time where the skipped range begins.
    gap_from: int | None
    # Instants in [start, repeat_end) show wall times already shown before a backward jump.
    repeat_end: int


def utc_offset(zone: ZoneInfo, instant: int) -> int:
    offset = datetime.fromtimestamp(instant, zone).utcoffset()
    assert offset is not None  # a ZoneInfo always knows its offset
    return offset.days * DAY + offset.seconds


def _first_change(zone: ZoneInfo, low: int, low_offset: int, high: int) -> int:
    """The first instant in (low, high] whose offset differs from ``low_offset``."""
    while high - low > 1:
        middle = (low + high) // 2
        if utc_offset(zone, middle) == low_offset:
            low = middle
        else:
            high = middle
    return high


@lru_cache(maxsize=8192)
def transitions(zone: ZoneInfo, year: int) -> tuple[Transition, ...]:
    """Offset changes at instants in the UTC year ``year``, found by probing and bisection."""
    end = year_start(year + 1)
    found = []
    low = year_start(year) - 1
    low_offset = utc_offset(zone, low)
    while low < end - 1:
        probe = min(low + _PROBE_STEP, end - 1)
        probe_offset = utc_offset(zone, probe)
        while probe_offset != low_offset:
            instant = _first_change(zone, low, low_offset, probe)
            offset = utc_offset(zone, instant)
            found.append(Transition(instant, low_offset, offset))
            low, low_offset = instant, offset
        low = probe
    return tuple(found)


@lru_cache(maxsize=8192)
def _year_segments(zone: ZoneInfo, year: int) -> tuple[tuple[int, ...], tuple[Segment, ...]]:
    """The constant-offset segments covering the UTC year, and their start instants."""
    start, end = year_start(year), year_start(year + 1)
    changes = transitions(zone, year)
    heads: list[tuple[int, int, int | None, int]] = []
    if not changes or changes[0].instant != start:
        carried_repeat = start
        earlier = transitions(zone, year - 1)
        if earlier and earlier[-1].after < earlier[-1].before:
            last = earlier[-1]
            carried_repeat = max(start, last.instant + last.before - last.after)
        heads.append((start, utc_offset(zone, start), None, carried_repeat))
    for transition in changes:
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
        Segment(head, segment_end, offset, gap_from, min(repeat_end, segment_end))
        for (head, offset, gap_from, repeat_end), segment_end in zip(heads, ends, strict=True)
    )
    return tuple(segment.start for segment in segments), segments


def segment_at(zone: ZoneInfo, instant: int) -> Segment | None:
    if not FIRST_INSTANT <= instant < END_INSTANT:
        return None
    year = date.fromordinal(instant // DAY + EPOCH_ORDINAL).year
    starts, segments = _year_segments(zone, year)
    return segments[bisect_right(starts, instant) - 1]
