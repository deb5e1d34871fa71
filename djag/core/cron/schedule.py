"""CronSchedule: the events of a crontab in a zone, with the DST rules of the package docstring."""

from __future__ import annotations

from collections.abc import Iterator
from zoneinfo import ZoneInfo

from djag.core.cron.parse import CronFields
from djag.core.cron.wallclock import never_fires, wall_clock
from djag.core.cron.zones import segment_at


class CronSchedule:
    """The events of a crontab in a zone. Immutable; its caches are safe to share."""

    __slots__ = ("_clock", "_fields", "_never", "_next_after", "_wildcard", "_zone")

    #: Bound on remembered next_after answers; many tasks share a crontab and a start.
    NEXT_AFTER_CACHE = 4096

    def __init__(self, fields: CronFields, zone: ZoneInfo) -> None:
        self._fields = fields
        self._zone = zone
        self._clock = wall_clock(fields)
        self._wildcard = fields.wildcard
        self._never = never_fires(fields)
        self._next_after: dict[int, int | None] = {}

    @property
    def fields(self) -> CronFields:
        return self._fields

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    def __repr__(self) -> str:
        return f"CronSchedule({self._fields!r}, {self._zone!r})"

    def next_after(self, t: int) -> int | None:
        """The smallest event instant > t; None if the schedule never fires again."""
        known = self._next_after
        if t in known:
            return known[t]
        if len(known) >= self.NEXT_AFTER_CACHE:
            known.clear()
        answer = known[t] = self._compute_next_after(t)
        return answer

    def _compute_next_after(self, t: int) -> int | None:
        if self._never:
            return None
        clock, candidate = self._clock, t + 1
        while True:
            segment = segment_at(self._zone, candidate)
            if segment is None:
                return None
            start, end, offset, gap_from, repeat_end = segment
            if self._wildcard:
                repeat_end = start
            elif candidate == start and gap_from is not None:
                wall = clock.next(gap_from)
                if wall is not None and wall <= start + offset:
                    return start
            candidate = max(candidate, repeat_end)
            if candidate < end:
                wall = clock.next(candidate + offset)
                if wall is None:
                    return None
                if wall - offset < end:
                    return wall - offset
            candidate = end

    def prev_at_or_before(self, t: int) -> int | None:
        """The largest event instant <= t; None if there is none."""
        if self._never:
            return None
        clock, candidate = self._clock, t
        while True:
            segment = segment_at(self._zone, candidate)
            if segment is None:
                return None
            start, _, offset, gap_from, repeat_end = segment
            earliest = start if self._wildcard else repeat_end
            if candidate >= earliest:
                wall = clock.prev(candidate + offset)
                if wall is None:
                    return None
                if wall - offset >= earliest:
                    return wall - offset
            if gap_from is not None and not self._wildcard:
                wall = clock.prev(start + offset - 1)
                if wall is not None and wall >= gap_from:
                    return start
            candidate = start - 1

    def events(self, after: int, until: int) -> Iterator[int]:
        """The event instants in (after, until], ascending."""
        event = self.next_after(after)
        while event is not None and event <= until:
            yield event
            event = self.next_after(event)

    def count(self, after: int, until: int) -> int:
        """How many events lie in (after, until], counted a segment and a month at a time."""
        if self._never:
            return 0
        clock, candidate, stop, total = self._clock, after + 1, until + 1, 0
        while candidate < stop:
            segment = segment_at(self._zone, candidate)
            if segment is None:
                break
            start, end, offset, gap_from, repeat_end = segment
            if (
                candidate == start
                and gap_from is not None
                and not self._wildcard
                and not clock.matches(start + offset)
                and clock.count(gap_from, start + offset)
            ):
                total += 1
            low = candidate if self._wildcard else max(candidate, repeat_end)
            high = min(end, stop)
            if low < high:
                total += clock.count(low + offset, high + offset)
            candidate = end
        return total
