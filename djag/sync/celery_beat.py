"""Converting django-celery-beat's tasks into djag's (``manage.py djag_import_celery_beat``)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from djag.models import PeriodicTask
from djag.sync.apply import crontab_for
from djag.sync.declared import error_lines
from djag.text import utc_text

ACTOR = "djag_import_celery_beat"

#: Seconds per django-celery-beat IntervalSchedule period.
PERIOD_SECONDS = {"days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}


class Refused(Exception):
    """A celery-beat task that cannot be imported; the message says why."""


@dataclass
class Outcome:
    name: str
    status: str  # "imported" | "skipped" | "refused"
    detail: str


def interval_cron(every: int, period: str) -> tuple[str, str, str, str, str, str]:
    """The cron fields (seconds first, UTC) that fire every ``every`` ``period``.

    Only intervals that divide a minute, an hour or a day evenly have a cron form
    (cron fires on the clock, an interval from its last run); others are Refused.
    """
    if period not in PERIOD_SECONDS:
        raise Refused(f"interval period {period!r} is not supported (seconds at the finest)")
    seconds = every * PERIOD_SECONDS[period]
    if seconds <= 0:
        raise Refused(f"interval of {every} {period} is not positive")
    if seconds < 60 and 60 % seconds == 0:
        return (f"*/{seconds}" if seconds > 1 else "*", "*", "*", "*", "*", "*")
    minutes, rest = divmod(seconds, 60)
    if not rest and minutes < 60 and 60 % minutes == 0:
        return ("0", f"*/{minutes}" if minutes > 1 else "*", "*", "*", "*", "*")
    hours, rest = divmod(seconds, 3600)
    if not rest and hours < 24 and 24 % hours == 0:
        return ("0", "0", f"*/{hours}" if hours > 1 else "*", "*", "*", "*")
    if seconds == 86400:
        return ("0", "0", "0", "*", "*", "*")
    raise Refused(
        f"every {every} {period} has no cron form: cron can only repeat every N seconds, "
        "minutes or hours where N divides 60 (60 or 24 for hours), or once a day. "
        "Give it a crontab in django-celery-beat (or create it in djag) instead."
    )


def _json(text: str | None, what: str, default: str) -> Any:
    try:
        return json.loads(text or default)
    except ValueError as exc:
        raise Refused(f"{what} is not valid JSON ({exc})") from exc


def convert(beat_task: Any, now: dt.datetime) -> PeriodicTask:
    """An unsaved djag PeriodicTask for a django-celery-beat one; Refused if impossible."""
    fields: dict[str, Any] = {
        "name": beat_task.name,
        "task": beat_task.task,
        "args": _json(beat_task.args, "args", "[]"),
        "kwargs": _json(beat_task.kwargs, "kwargs", "{}"),
        "headers": _json(beat_task.headers, "headers", "{}"),
        "queue": beat_task.queue or "",
        "exchange": beat_task.exchange or "",
        "routing_key": beat_task.routing_key or "",
        "priority": beat_task.priority,
        "expires_seconds": beat_task.expire_seconds or None,
        "enabled": beat_task.enabled,
        "description": beat_task.description or "",
        "end_at": beat_task.expires,
        # A start in the past would make a backlog of "missed" events: start now instead.
        "start_at": max(beat_task.start_time or now, now),
    }
    if beat_task.expires is not None and beat_task.expires <= now and not beat_task.clocked_id:
        raise Refused(f"it expired at {utc_text(beat_task.expires)}")
    if beat_task.one_off:
        fields["max_runs"] = 1
    if beat_task.solar_id:
        raise Refused("solar schedules (sunrise, sunset...) have no cron equivalent")
    if beat_task.crontab_id:
        schedule = beat_task.crontab
        line = (
            "0",
            schedule.minute,
            schedule.hour,
            schedule.day_of_month,
            schedule.month_of_year,
            schedule.day_of_week,
        )
        zone = str(getattr(schedule.timezone, "key", schedule.timezone))
    elif beat_task.interval_id:
        line = interval_cron(beat_task.interval.every, beat_task.interval.period)
        zone = "UTC"
    elif beat_task.clocked_id:
        # One event: a crontab matching that second (UTC), bounded to one instant, one run.
        when = beat_task.clocked.clocked_time.astimezone(dt.UTC).replace(microsecond=0)
        line = (
            str(when.second),
            str(when.minute),
            str(when.hour),
            str(when.day),
            str(when.month),
            "*",
        )
        zone = "UTC"
        fields.update(start_at=when - dt.timedelta(seconds=1), end_at=when, max_runs=1)
    else:
        raise Refused("it has no schedule (no crontab, interval, clocked or solar)")
    try:
        fields["crontab"] = crontab_for(line, zone)
    except ValidationError as exc:
        raise Refused(
            f"its crontab {' '.join(line[1:])} ({zone}) is invalid: " + "; ".join(error_lines(exc))
        ) from exc
    return PeriodicTask(**fields)


def import_one(beat_task: Any, existing: set[str], now: dt.datetime) -> Outcome:
    if beat_task.name in existing:
        return Outcome(beat_task.name, "skipped", "a djag task of this name exists")
    try:
        with transaction.atomic():
            task = convert(beat_task, now)
            task.full_clean()
            task.save()
    except Refused as exc:
        return Outcome(beat_task.name, "refused", str(exc))
    except ValidationError as exc:
        return Outcome(beat_task.name, "refused", "; ".join(error_lines(exc)))
    existing.add(task.name)
    detail = f"{task.crontab}" + (", one run" if task.max_runs == 1 else "")
    return Outcome(task.name, "imported", detail + ("" if task.enabled else ", disabled"))
