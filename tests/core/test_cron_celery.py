"""Differential test against Celery's own ``celery.schedules.crontab``, in "both" day matching.

Celery ANDs the two day fields (``day_of_month="1-7", day_of_week="mon"`` is the first Monday of
the month). A djag crontab in "both" mode must fire exactly when Celery's does: for each crontab
of the table and each start, the next 50 fire times that Celery's ``remaining_estimate`` gives
on an injected clock, each confirmed by ``is_due`` (not due a second before, due at the time),
must equal djag's ``next_after`` chain. The zones have no DST (UTC, and Kolkata's +05:30 to
check that both read the fields on the zone's wall clock): Celery's DST behaviour is its own
and is not what this test is about.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from celery import Celery
from celery.schedules import crontab

from djag.core.cron import CronSchedule, parse_cron

FIRES = 50
# (minute, hour, day_of_month, month_of_year, day_of_week), Celery's field texts.
CELERY_CRONTABS = [
    ("0", "9", "1-7", "*", "mon"),  # the first Monday of the month
    ("0", "9", "8-14", "*", "fri"),  # the second Friday
    ("30", "6", "*/2", "*", "mon"),  # odd days that are Mondays
    ("0", "0", "13", "*", "fri"),  # Friday the 13th
    ("15", "12", "1", "*", "sat,sun"),  # the 1st when it falls on a weekend
    ("0", "*/6", "1-10", "*/3", "mon-fri"),
    ("0", "0", "29", "2", "*"),  # leap days
    ("0", "0", "29", "2", "mon"),  # leap days that are Mondays
    ("0,30", "8-17", "*", "*", "mon-fri"),
    ("*/15", "*", "*", "*", "sun"),
    ("5", "4", "*", "*", "*"),
    ("0", "12", "15-31/4", "jan-jun", "tue,thu"),
    ("45", "23", "28-31", "*", "fri-mon"),  # a weekday range that wraps around
    ("0", "22-2", "*", "*", "sat"),  # an hour range that wraps around
    ("0", "22-2/2", "10-20", "*", "*"),  # a wrapping range with a step, as Celery expands it
    ("10", "3", "*/5", "*", "*/2"),
    ("0", "0", "1", "*/2", "0"),
    ("59", "23", "31", "*", "wed"),
    ("0", "6", "1,15", "*", "1-5"),
    ("20", "1,13", "*/10", "mar-nov/2", "sat"),
]
STARTS = [
    datetime(2026, 1, 1, 0, 0, tzinfo=UTC),
    datetime(2026, 2, 27, 23, 59, 30, tzinfo=UTC),
    datetime(2027, 12, 31, 23, 0, tzinfo=UTC),
    datetime(2028, 2, 28, 12, 0, tzinfo=UTC),
]
ZONES = ["UTC", "Asia/Kolkata"]


class InjectedClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def celery_fires(fields: tuple[str, ...], zone: str, start: datetime) -> list[int]:
    """Fire times of Celery's crontab, from remaining_estimate and checked with is_due."""
    app = Celery("djag-differential", set_as_current=False)
    app.conf.timezone = zone
    clock = InjectedClock()
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    schedule = crontab(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
        nowfun=clock,
        app=app,
    )
    fires = []
    last_run = start
    for _ in range(FIRES):
        clock.now = last_run
        fire = last_run + schedule.remaining_estimate(last_run)
        clock.now = fire - timedelta(seconds=1)
        assert not schedule.is_due(last_run).is_due
        clock.now = fire
        assert schedule.is_due(last_run).is_due
        fires.append(int(fire.timestamp()))
        last_run = fire
    return fires


def djag_fires(fields: tuple[str, ...], zone: str, start: datetime) -> list[int]:
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    schedule = CronSchedule(
        parse_cron("0", minute, hour, day_of_month, month_of_year, day_of_week, day_match="both"),
        ZoneInfo(zone),
    )
    fires: list[int] = []
    moment = schedule.next_after(int(start.timestamp()))
    while moment is not None and len(fires) < FIRES:
        fires.append(moment)
        moment = schedule.next_after(moment)
    return fires


@pytest.mark.parametrize("fields", CELERY_CRONTABS, ids=" ".join)
@pytest.mark.parametrize("zone", ZONES)
def test_next_fires_agree_with_celery(fields: tuple[str, ...], zone: str) -> None:
    for start in STARTS:
        assert djag_fires(fields, zone, start) == celery_fires(fields, zone, start), start


def test_either_mode_differs_where_celery_ands() -> None:
    """The import bug of issue 13: cron's "either" reading runs on days 1-7 and every Monday."""
    start = datetime(2026, 12, 1, tzinfo=UTC)
    fields = ("0", "9", "1-7", "*", "mon")
    first_mondays = celery_fires(fields, "UTC", start)
    either = CronSchedule(parse_cron("0", *fields), ZoneInfo("UTC"))
    assert either.next_after(int(start.timestamp())) != first_mondays[0]
    assert datetime.fromtimestamp(first_mondays[0], UTC) == datetime(2026, 12, 7, 9, tzinfo=UTC)
