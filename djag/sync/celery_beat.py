"""Converting django-celery-beat's tasks into djag's (``manage.py djag_import_celery_beat``).

- a crontab becomes a djag crontab with the same fields in "both" day matching (Celery's
  crontab fires on a day only when the day of month and the day of week both match);
- an interval becomes an interval task of exactly as many seconds (7 seconds, 90 minutes,
  3 days: nothing rounded), anchored where django-celery-beat counts from
  (:func:`interval_anchor`);
- a clocked time becomes a one-run crontab on that second; a solar schedule is refused.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from djag.core.cron import DayMatch
from djag.core.interval import IntervalError, interval_seconds
from djag.models import PeriodicTask
from djag.sync.apply import crontab_for
from djag.sync.declared import error_lines
from djag.text import utc_text

ACTOR = "djag_import_celery_beat"


class Refused(Exception):
    """A celery-beat task that cannot be imported; the message says why."""


@dataclass
class Outcome:
    name: str
    status: str  # "imported" | "skipped" | "refused"
    detail: str


def interval_anchor(beat_task: Any, now: dt.datetime) -> dt.datetime:
    """Where a django-celery-beat interval counts from, so that djag keeps its phase.

    django-celery-beat runs an interval task ``every`` after its last run, or after the row
    was last changed, or at its ``start_time`` first when it has one: the same instants.
    """
    if beat_task.last_run_at is not None:
        anchor = beat_task.last_run_at
    elif beat_task.start_time is not None:
        anchor = beat_task.start_time
    else:
        anchor = beat_task.date_changed or now
    return anchor.replace(microsecond=0)


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
        try:
            every = interval_seconds(beat_task.interval.every, beat_task.interval.period)
        except IntervalError as exc:
            raise Refused(f"its interval cannot be read: {exc.message}") from exc
        anchor = interval_anchor(beat_task, now)
        fields.update(interval_seconds=every, interval_anchor=anchor, interval_timezone="UTC")
        if anchor > now:  # a future start_time: its first run is at the anchor itself
            fields["start_at"] = anchor - dt.timedelta(seconds=1)
        return PeriodicTask(**fields)
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
        # Celery's crontab matches a day only when both day fields do ("both" day matching).
        day_match = DayMatch.EITHER if beat_task.clocked_id else DayMatch.BOTH
        fields["crontab"] = crontab_for(line, zone, day_match=day_match)
    except ValidationError as exc:
        raise Refused(
            f"its crontab {' '.join(line[1:])} ({zone}) is invalid: " + "; ".join(error_lines(exc))
        ) from exc
    return PeriodicTask(**fields)


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def read_failure(name: str, exc: BaseException) -> Outcome:
    """The outcome of a django-celery-beat row that cannot even be loaded (a zone its own
    field refuses, a value written by raw SQL)."""
    return Outcome(name, "refused", f"its row cannot be read ({_error(exc)})")


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
    except Exception as exc:  # a value no check foresaw: this task is refused, the rest go on
        return Outcome(beat_task.name, "refused", f"cannot be imported ({_error(exc)})")
    existing.add(task.name)
    detail = f"{task.crontab or task.describe_schedule()}" + (
        ", one run" if task.max_runs == 1 else ""
    )
    return Outcome(task.name, "imported", detail + ("" if task.enabled else ", disabled"))
