"""Readable English for a crontab, with the day matching spelled out.

cron-descriptor writes the text of each part; it reads two restricted day fields as if both had
to match ("At 00:00, on day 13 of the month, only on Friday"), which is right for "both" mode
and for a day field starting with ``*`` (``*/2``), but wrong for cron's "either" mode. Here the
day parts are joined with the word that matches the mode: "..., on day 13 of the month, or on
Friday" (either), "..., between day 1 and 7 of the month and only on Monday" (both).
"""

from __future__ import annotations

from cron_descriptor import ExpressionDescriptor, Options

from djag.core.cron.parse import CronError, CronFields, DayMatch, format_line, parse_cron

_OPTIONS = Options()
_OPTIONS.use_24hour_time_format = True


def describe(
    second: str,
    minute: str,
    hour: str,
    day_of_month: str,
    month_of_year: str,
    day_of_week: str,
    day_match: DayMatch | str = DayMatch.EITHER,
) -> str:
    """The crontab in words, e.g. "At 09:00, between day 1 and 7 of the month and only on Monday".

    Never raises: invalid fields, and forms cron-descriptor misreads (several ``nW`` items,
    ``#``/``L`` weekdays listed with plain ones), give the one-line form instead.
    """
    texts = (second, minute, hour, day_of_month, month_of_year, day_of_week)
    try:
        fields = parse_cron(*texts, day_match=day_match)
    except CronError:
        return " ".join(str(text) for text in texts)
    line = format_line(*texts, day_match=fields.day_match)
    if _misread(fields):
        return line
    expression = line.replace("&", "")
    try:
        descriptor = ExpressionDescriptor(expression, _OPTIONS)
        if not (fields.day_of_month_restricted and fields.day_of_week_restricted):
            return str(descriptor.get_full_description())
        days = _joined_days(
            descriptor.get_day_of_month_description(),
            descriptor.get_day_of_week_description(),
            either=fields.either_day,
        )
        return (
            f"{descriptor.get_time_of_day_description()}{days}{descriptor.get_month_description()}"
        )
    except Exception:  # cron-descriptor raises its own errors on forms it cannot read
        return line


def _misread(fields: CronFields) -> bool:
    special_weekdays = fields.nth_days_of_week or fields.last_days_of_week
    several_kinds = (
        bool(fields.days_of_week) + bool(fields.nth_days_of_week) + bool(fields.last_days_of_week)
    )
    return len(fields.nearest_weekdays) > 1 or (bool(special_weekdays) and several_kinds > 1)


def _joined_days(days_of_month: str, days_of_week: str, *, either: bool) -> str:
    """ ", on day 13 of the month" and ", only on Friday" joined by "or" or "and only"."""
    weekdays = days_of_week.removeprefix(", ")
    for prefix in ("only on ", "on "):
        if weekdays.startswith(prefix):
            weekdays = weekdays.removeprefix(prefix)
            return (
                f"{days_of_month}, or on {weekdays}"
                if either
                else (f"{days_of_month} and only on {weekdays}")
            )
    return f"{days_of_month}, or {weekdays}" if either else f"{days_of_month} and only {weekdays}"
