"""How djag writes instants and durations, in one format everywhere (admin, commands, logs).

- an instant in UTC: ``2026-03-02 12:00:00 UTC`` (:func:`utc_text`);
- an instant on a zone's clock: ``2026-03-02 13:00:00 CET`` (:func:`zoned_text`);
- an instant on the site's clock (Django's current time zone): :func:`local_text`;
- a duration: ``0.0123 s``, ``4.25 s``, ``42 s``, ``3 min 5 s``, ``2 h 10 min``, ``3 d 4 h``.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

#: Seconds are always shown: runs a few seconds apart must not look the same.
MOMENT_FORMAT = "%Y-%m-%d %H:%M:%S"


def utc_text(when: dt.datetime | None) -> str:
    """``2026-03-02 12:00:00 UTC``, or ``never``."""
    if when is None:
        return "never"
    return f"{when.astimezone(dt.UTC):{MOMENT_FORMAT}} UTC"


def zoned_text(when: dt.datetime) -> str:
    """The instant on its own zone's clock, with the zone's abbreviation."""
    return f"{when:{MOMENT_FORMAT} %Z}"


def local_text(when: dt.datetime | None) -> str:
    """The instant on the site's clock (``TIME_ZONE``), or ``-``."""
    return "-" if when is None else f"{timezone.localtime(when):{MOMENT_FORMAT}}"


def duration_text(seconds: float) -> str:
    """A short readable duration; sub-second ones keep three significant digits."""
    seconds = abs(seconds)
    if seconds < 10:
        return f"{seconds:.3g} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s"
