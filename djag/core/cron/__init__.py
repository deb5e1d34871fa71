"""Cron expressions evaluated on local wall-clock time in an IANA zone, mapped to UTC instants.

Public API of the package (instants are ``int`` UTC epoch seconds everywhere)::

    FIELD_NAMES                       second, minute, hour, day_of_month, month_of_year, day_of_week
    CronError(ValueError)             .field (a FIELD_NAMES entry, "line" or "day_match"),
                                      .message (human text, starting with the field)
    DayMatch                          EITHER ("either", cron) | BOTH ("both", Celery); a vocab
                                      enum: ``djag.core.vocab.choices(DayMatch)`` for a model
    parse_line(line) -> 6 strings     "s m h dom mon dow" (seconds first), classic 5 fields, or a
                                      macro (MACROS); the day-of-week text keeps its "&" mark
    split_line(line) -> (6 strings, DayMatch)     the same, with the "&" taken off
    split_day_match(day_of_week) -> (text, DayMatch)
    format_line(*6 strings, day_match) -> str     the one-line form, "&" for "both"
    parse_cron(*6 strings, day_match="either") -> CronFields
                                      "both" if day_match says so or the day of week starts "&"
    never_fires(fields) -> bool       True when no calendar date can ever match (Feb 30)
    describe(*6 strings, day_match) -> str        readable text that says "or" / "and only"
    CronSchedule(fields, zone)        .next_after(t), .prev_at_or_before(t),
                                      .events(after, until), .count(after, until)

Round trip: ``parse_cron(*parse_line(format_line(*texts, day_match=m)))`` equals
``parse_cron(*texts, day_match=m)``; a store keeps the mode in its own column and the fields
without the mark (``split_line``), and shows ``format_line`` as the cron line.

Syntax (``fields.py``; ASCII only, case-insensitive): numbers, ranges ``a-b`` (wrapping around
when a > b: ``22-2``, ``fri-mon``), steps ``*/n``, ``a-b/n``, ``a/n``, lists, month and weekday
names, ``7`` = Sunday; in the day of month ``L`` (last day, also ``20-L``), ``nW`` (the weekday
nearest day n, in its month, as Quartz) and ``LW`` (the last weekday); in the day of week
``mon#2`` (second Monday), ``L5``, ``5L`` or ``friL`` (last Friday; cron's numbers, 0 = Sunday,
not Quartz's 1 = Sunday); the macros @hourly @daily @midnight @weekly @monthly @yearly
@annually. Refused with a CronError naming the field: ``?``, ``H``/``R``, a year field,
``@reboot`` and unknown macros, ``L-n``, ``W`` after a range or a step, ``#``/``W`` in other
fields, ``7/n`` as a weekday, a character that is not ASCII (``²``-like digits pass
``str.isdigit`` but are not cron), and numbers longer than nine digits. An equal range
(``5-5``) is that one value.

Day matching, as the daemons decide it (Vixie/Debian cron's DOM_STAR and DOW_STAR flags): a day
field whose TEXT starts with ``*`` (``*``, ``*/2``, ``*,15``) is unrestricted, whatever set it
stands for; any other is restricted, even ``1-31``. When both are restricted, a day matches if
either field does ("either" mode), unless the mode is "both" (Celery's crontab, which always
ANDs them); otherwise both must match, so ``0 0 */2 * mon`` is odd days that are Mondays. The
"both" notation in one line is an ``&`` before the day of week: ``0 9 1-7 * &mon`` is the first
Monday of the month. Checked against Celery's ``crontab`` (tests/core/test_cron_celery.py).

DST rules, Debian cron's (its cron(8) man page: the DST catch-up and no-repeat rules apply only
to jobs at a particular time, not to @hourly or a job with "*" in its minute or hour field,
which runs on the new time at once), checked differentially against cronsim
(tests/core/test_cron_cronsim.py; the differences are listed in docs/dst.md):

1. A fixed-time schedule (minute and hour fields both not starting with ``*``): a matching wall
   time skipped by a forward jump fires once, at the instant of the jump (all the matching
   times of one gap, and the wall time at the end of the gap, are one event); a wall time
   repeated by a backward jump fires at its first occurrence only.
2. A wildcard schedule (``*`` or ``*/n``, the first character of the minute or the hour field is
   ``*``; ``@hourly``): it runs on the wall clock as it is: no event for skipped wall times,
   and an event at every occurrence of a repeated one.
   Six-field expressions follow the same rule by their minute and hour fields.
   Unlike the daemon, which treats a jump of more than three hours as a clock correction and
   catches nothing up, rule 1 holds for any size of jump: djag knows a zone change from a
   clock correction (Apia skipped 2011-12-30: its 12:00 run fires at the jump).

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
``next_after`` and ``prev_at_or_before`` answer None. ``never_fires`` is exact and decides from
the fields alone: a month's matching days depend only on its length and the weekday of its 1st,
and the Gregorian calendar has every month (and a 29-day February) start on every weekday; so a
never-firing schedule answers None or 0 at once. A schedule that fires at all fires at least
once in every 40 years (a fifth Monday in February, or Feb 29 on a Monday in "both" mode, is the
rarest case), so every search ends within about 480 months of calendar arithmetic.
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
