"""The Celery differential through the importer: what django-celery-beat fires, djag fires.

A table of django-celery-beat rows (crontabs with both day fields restricted and not, steps,
ranges, in two zones; intervals of 7 s, 90 min, 3 days...) is imported with
``djag_import_celery_beat``. Each imported task is then read as beat reads it (the store's
``compile``, through ``djag.inspect.snapshot``), and its next 50 fire times must equal the ones
Celery's own schedule gives on an injected clock: ``remaining_estimate`` for each next time,
``is_due`` false a second before it and true at it (``tests/core/test_cron_celery.py``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from celery import Celery
from celery.schedules import schedule as celery_interval

from djag.core.plan import next_event
from djag.inspect.snapshot import read_tasks
from djag.models import PeriodicTask
from tests.core.test_cron_celery import (
    CELERY_CRONTABS,
    FIRES,
    STARTS,
    ZONES,
    InjectedClock,
    celery_fires,
)

from .conftest import run

beat = pytest.importorskip("django_celery_beat.models")

pytestmark = pytest.mark.django_db

#: django-celery-beat intervals: (every, period) and the seconds they are.
INTERVALS = [
    (7, "seconds"),
    (90, "minutes"),
    (3, "days"),
    (45, "seconds"),
    (5, "hours"),
    (1, "days"),
    (13, "minutes"),
]
#: When django-celery-beat last ran each interval task: djag keeps counting from there.
LAST_RUN = datetime(2026, 2, 27, 23, 59, 31, tzinfo=UTC)


def djag_fires(name: str, start: datetime) -> list[int]:
    """The task's fire times after ``start``, from the spec beat compiles for it."""
    task = PeriodicTask.objects.get(name=name)
    spec = read_tasks([task.pk])[task.pk].spec
    assert not isinstance(spec, str), spec
    spec = dataclasses.replace(spec, start_at=0)  # imported "now": look at the schedule itself
    fires: list[int] = []
    moment = next_event(spec, int(start.timestamp()))
    while moment is not None and len(fires) < FIRES:
        fires.append(moment)
        moment = next_event(spec, moment)
    return fires


def celery_interval_fires(seconds: int, last_run: datetime) -> list[int]:
    """Celery's interval schedule from ``last_run``, on an injected clock."""
    app = Celery("djag-differential", set_as_current=False)
    clock = InjectedClock()
    every = celery_interval(timedelta(seconds=seconds), nowfun=clock, app=app)
    fires = []
    for _ in range(FIRES):
        clock.now = last_run
        fire = last_run + every.remaining_estimate(last_run)
        clock.now = fire - timedelta(seconds=1)
        assert not every.is_due(last_run).is_due
        clock.now = fire
        assert every.is_due(last_run).is_due
        fires.append(int(fire.timestamp()))
        last_run = fire
    return fires


def crontab_name(fields: tuple[str, ...], zone: str) -> str:
    return f"{' '.join(fields)} {zone}"


@pytest.fixture
def imported() -> str:
    """Every crontab of the table in each zone, and every interval, imported at once."""
    for zone in ZONES:
        for fields in CELERY_CRONTABS:
            minute, hour, day_of_month, month_of_year, day_of_week = fields
            crontab = beat.CrontabSchedule.objects.create(
                minute=minute,
                hour=hour,
                day_of_month=day_of_month,
                month_of_year=month_of_year,
                day_of_week=day_of_week,
                timezone=zone,
            )
            beat.PeriodicTask.objects.create(
                name=crontab_name(fields, zone), task="tests.append_line", crontab=crontab
            )
    for every, period in INTERVALS:
        interval = beat.IntervalSchedule.objects.create(every=every, period=period)
        beat.PeriodicTask.objects.create(
            name=f"every {every} {period}",
            task="tests.append_line",
            interval=interval,
            last_run_at=LAST_RUN,
        )
    return str(run("djag_import_celery_beat", strict=True))


def test_every_row_is_imported(imported: str) -> None:
    count = len(ZONES) * len(CELERY_CRONTABS) + len(INTERVALS)
    assert f"{count} imported, 0 skipped (already in djag), 0 refused" in imported


def test_imported_crontabs_fire_when_celery_does(imported: str) -> None:
    """One import, every crontab x zone x start (the table is imported once: it is slow)."""
    compared = 0
    for zone in ZONES:
        for fields in CELERY_CRONTABS:
            for start in STARTS:
                expected = celery_fires(fields, zone, start)
                got = djag_fires(crontab_name(fields, zone), start)
                assert got == expected, (fields, zone, start)
                compared += len(expected)
    assert compared == len(ZONES) * len(CELERY_CRONTABS) * len(STARTS) * FIRES


def test_imported_intervals_fire_when_celery_does(imported: str) -> None:
    for every, period in INTERVALS:
        seconds = every * {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}[period]
        task = PeriodicTask.objects.get(name=f"every {every} {period}")
        assert (task.crontab, task.interval_seconds) == (None, seconds)  # exact: not rounded
        assert djag_fires(task.name, LAST_RUN) == celery_interval_fires(seconds, LAST_RUN)


def test_the_first_monday_stays_the_first_monday(imported: str) -> None:
    """The import bug of issue 13: Celery's day_of_month="1-7", day_of_week="mon"."""
    fields = ("0", "9", "1-7", "*", "mon")
    fires = djag_fires(crontab_name(fields, "UTC"), datetime(2026, 12, 1, tzinfo=UTC))
    first = [dt.datetime.fromtimestamp(moment, UTC) for moment in fires[:3]]
    assert [(d.month, d.day, d.strftime("%a")) for d in first] == [
        (12, 7, "Mon"),
        (1, 4, "Mon"),
        (2, 1, "Mon"),
    ]


def crontab_of(name: str) -> Any:
    return PeriodicTask.objects.get(name=name).crontab


def test_imported_crontabs_say_both_day_fields_match(imported: str) -> None:
    crontab = crontab_of(crontab_name(("0", "9", "1-7", "*", "mon"), "UTC"))
    assert crontab.line() == "0 0 9 1-7 * &mon"
    assert crontab.describe() == (
        "At 09:00, between day 1 and 7 of the month and only on Monday, UTC"
    )
