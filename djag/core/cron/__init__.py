"""Cron expressions evaluated on local wall-clock time in an IANA zone, mapped to UTC instants.

Public API of the package (instants are ``int`` UTC epoch seconds everywhere)::

    FIELD_NAMES                       second, minute, hour, day_of_month, month_of_year, day_of_week
    CronError(ValueError)             .field (a FIELD_NAMES entry or "line"), .message (human text)
    parse_line(line) -> 6 strings     "s m h dom mon dow" (seconds first) or classic 5 fields
    parse_cron(second, minute, hour, day_of_month, month_of_year, day_of_week) -> CronFields
    never_fires(fields) -> bool       True when no calendar date can ever match (Feb 30)
    CronSchedule(fields, zone)        .next_after(t), .prev_at_or_before(t),
                                      .events(after, until), .count(after, until)

Syntax is croniter's: ``croniter.expand`` expands the fields (numbers, ranges, steps, lists,
month and weekday names, ``7`` = Sunday, ``L`` = last day of the month, ``mon#2`` = second
Monday, ``L5`` = last Friday). Each field is checked on its own first, so that an error names
its field in plain words, and what croniter would misread is refused: ``W`` (its public expand
drops it), ``?``, ``H``/``R``, a year field, a wrap-around range with a step (``22-2/2``: croniter
drops values), ``7/n`` as a weekday, and ``#``/``L`` weekdays mixed with plain ones. An equal
range (``5-5``) is that one value; croniter would widen it to the whole field. Day matching
follows Vixie cron: when both day fields are restricted a day matches if either does, otherwise
both must. "Restricted" means the field's set is not the whole range, so ``*/2`` in the day of
month is restricted (Vixie cron treats any field starting with ``*`` as unrestricted).

DST rules. The events are the local wall-clock times that match the fields, mapped to instants:

1. A matching wall time skipped by a forward jump fires once, at the instant of the jump. All
   the matching times of one gap, and the wall time at the end of the gap, are one event.
2. A wall time repeated by a backward jump fires at its first occurrence only, unless the hour
   field is ``*`` or ``*/n`` (``CronFields.hour_steps_on_elapsed_time``): such schedules fire at
   every occurrence, so they keep firing on real elapsed time through the repeated hour.

How offset changes are found. zoneinfo publishes no transition list, so the UTC offset is
probed once per day (86400 s) through each UTC year, and every probe interval whose two ends
differ is bisected to the exact second. The result is cached per (zone, year) and shared. This
cannot miss a change unless an offset lasts less than one probe step, i.e. the zone changes its
offset and changes it back within one day: only then do both ends of an interval agree. In the
tzdata shipped with this project the shortest offset between 1900 and 2100 lasts just under
four days (Africa/Freetown, 1939), and between 1970 and 2100 just under seven (America/Noronha
in 2000, Gaza's Ramadan pauses); the largest jump is one day (Pacific/Apia, 2011). The rules
above also assume what follows from that: each offset lasts longer than the jumps around it, so
a repeated wall time repeats the offset just before, and a skipped one is skipped for good.

Search bounds. Instants from 1000-01-01 to 9000-01-01 UTC are supported; past either end
``next_after`` and ``prev_at_or_before`` answer None. ``never_fires`` decides from the fields
alone (the Gregorian calendar holds every month starting on every weekday, and a 29-day February
on every weekday), and a never-firing schedule answers None or 0 at once. A schedule that fires
at all fires at least once in every 40 years (a fifth Monday in February is the rarest case), so
every search ends within about 480 months of calendar arithmetic.
"""

from __future__ import annotations

from djag.core.cron.describe import describe
from djag.core.cron.parse import (
    BOTH_MARK,
    FIELD_NAMES,
    MACROS,
    CronError,
    CronFields,
    DayMatch,
    format_line,
    parse_cron,
    parse_line,
    split_day_match,
    split_line,
)
from djag.core.cron.schedule import CronSchedule
from djag.core.cron.wallclock import never_fires

__all__ = [
    "BOTH_MARK",
    "FIELD_NAMES",
    "MACROS",
    "CronError",
    "CronFields",
    "CronSchedule",
    "DayMatch",
    "describe",
    "format_line",
    "never_fires",
    "parse_cron",
    "parse_line",
    "split_day_match",
    "split_line",
]
