"""djag_import_celery_beat: django-celery-beat rows become djag tasks, or are refused
with a reason; a re-run skips what was imported."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import pytest
from django.core.management import CommandError
from django.utils import timezone

from djag.admin.fragments import next_fires
from djag.models import PeriodicTask, ScheduleChange
from djag.sync.celery_beat import import_one

from .conftest import run, task

beat = pytest.importorskip("django_celery_beat.models")

pytestmark = pytest.mark.django_db

FUTURE = dt.datetime(2099, 1, 1, tzinfo=dt.UTC)


def beat_crontab(**fields: Any) -> Any:
    fields.setdefault("minute", "30")
    fields.setdefault("hour", "4")
    return beat.CrontabSchedule.objects.create(**fields)


def interval(every: int, period: str) -> Any:
    return beat.IntervalSchedule.objects.create(every=every, period=period)


def beat_task(name: str, **fields: Any) -> Any:
    fields.setdefault("task", "tests.append_line")
    return beat.PeriodicTask.objects.create(name=name, **fields)


def import_error(**options: Any) -> str:
    with pytest.raises(CommandError) as exc_info:
        run("djag_import_celery_beat", **options)
    return str(exc_info.value)


@pytest.fixture
def beat_rows() -> None:
    beat_task(
        "crontab",
        crontab=beat_crontab(day_of_week="mon-fri", timezone="Europe/Paris"),
        args='[1, "a"]',
        kwargs='{"k": true}',
        queue="etl",
        exchange="ex",
        routing_key="rk",
        priority=7,
        headers='{"h": 1}',
        expire_seconds=90,
        description="the crontab one",
    )
    beat_task("every-15s", interval=interval(15, "seconds"), enabled=False, expires=FUTURE)
    beat_task("every-20min", interval=interval(20, "minutes"), one_off=True)
    beat_task("every-7min", interval=interval(7, "minutes"))
    clocked_at = dt.datetime(2030, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    beat_task(
        "once",
        clocked=beat.ClockedSchedule.objects.create(clocked_time=clocked_at),
        one_off=True,
    )
    solar = beat.SolarSchedule.objects.create(event="sunrise", latitude=48.85, longitude=2.35)
    beat_task("sunrise", solar=solar)
    beat_task("bad-json", crontab=beat_crontab(), args="[1,")


def test_imports_what_maps_and_refuses_the_rest(beat_rows: None) -> None:
    before = timezone.now()
    out = run("djag_import_celery_beat")

    names = set(PeriodicTask.objects.values_list("name", flat=True))
    assert names == {"crontab", "every-15s", "every-20min", "every-7min", "once"}

    cron_task = PeriodicTask.objects.get(name="crontab")
    assert cron_task.crontab.line() == "0 30 4 * * &mon-fri"  # Celery ANDs the day fields
    assert cron_task.crontab.day_match == "both"
    assert cron_task.crontab.zone_name == "Europe/Paris"
    assert (cron_task.args, cron_task.kwargs, cron_task.headers) == (
        [1, "a"],
        {"k": True},
        {"h": 1},
    )
    assert (cron_task.queue, cron_task.exchange, cron_task.routing_key) == ("etl", "ex", "rk")
    assert (cron_task.priority, cron_task.expires_seconds) == (7, 90)
    assert cron_task.end_at is None
    assert cron_task.start_at >= before  # no backlog from the past
    assert cron_task.description == "the crontab one"
    assert cron_task.source == ""  # imported tasks are edited in the admin
    assert cron_task.max_runs is None

    seconds = PeriodicTask.objects.get(name="every-15s")
    assert (seconds.crontab, seconds.interval_seconds) == (None, 15)
    assert not seconds.enabled
    assert seconds.end_at == FUTURE  # celery-beat's "expires": no run after it
    assert seconds.expires_seconds is None

    one_off = PeriodicTask.objects.get(name="every-20min")
    assert one_off.interval_seconds == 20 * 60
    assert one_off.max_runs == 1
    assert PeriodicTask.objects.get(name="every-7min").interval_seconds == 7 * 60

    once = PeriodicTask.objects.get(name="once")
    assert once.crontab.line() == "9 8 7 6 5 *"
    assert once.max_runs == 1
    assert once.start_at == dt.datetime(2030, 5, 6, 7, 8, 8, tzinfo=dt.UTC)
    assert once.end_at == dt.datetime(2030, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    first_fire = next_fires(once.crontab, 1, after=once.start_at)[0]
    assert first_fire.astimezone(dt.UTC) == once.end_at

    assert "imported 'crontab': 0 30 4 * * &mon-fri (Europe/Paris)" in out
    assert "imported 'every-7min': Every 7 minutes from " in out
    assert "refused 'sunrise': solar schedules" in out
    assert "refused 'bad-json': args is not valid JSON" in out
    assert "5 imported, 0 skipped (already in djag), 2 refused, of 7" in out
    assert set(ScheduleChange.objects.values_list("actor", flat=True)) == {
        "djag_import_celery_beat"
    }


def test_rerun_skips_existing_names_and_writes_nothing(beat_rows: None) -> None:
    run("djag_import_celery_beat")
    changes = ScheduleChange.objects.count()
    out = run("djag_import_celery_beat")
    assert "skipped 'crontab': a djag task of this name exists" in out
    assert "0 imported, 5 skipped (already in djag), 2 refused" in out
    assert ScheduleChange.objects.count() == changes
    assert PeriodicTask.objects.count() == 5


def test_an_existing_djag_task_is_never_overwritten() -> None:
    mine = task("crontab", grace_seconds=5)
    beat_task("crontab", crontab=beat_crontab())
    out = run("djag_import_celery_beat")
    assert "skipped 'crontab'" in out
    mine.refresh_from_db()
    assert mine.grace_seconds == 5
    assert mine.crontab.line() == "0 * * * * *"


def test_dry_run_writes_nothing(beat_rows: None) -> None:
    out = run("djag_import_celery_beat", dry_run=True)
    assert "would import 'crontab'" in out
    assert "5 would import" in out
    assert "Dry run: nothing was written." in out
    assert not PeriodicTask.objects.exists()
    assert not ScheduleChange.objects.exists()


def test_strict_refusal_exits_non_zero_and_imports_nothing(beat_rows: None) -> None:
    message = import_error(strict=True)
    assert "2 task(s) refused (--strict): nothing was imported." in message
    assert not PeriodicTask.objects.exists()


def test_strict_passes_when_nothing_is_refused() -> None:
    beat_task("fine", crontab=beat_crontab())
    out = run("djag_import_celery_beat", strict=True)
    assert "1 imported" in out
    assert PeriodicTask.objects.filter(name="fine").exists()


def test_expired_task_and_invalid_crontab_are_refused() -> None:
    past = timezone.now() - dt.timedelta(days=1)
    beat_task("expired", crontab=beat_crontab(), expires=past)
    beat_task("bad-cron", crontab=beat_crontab(minute="75"))
    beat_task("bad-priority", crontab=beat_crontab(), priority=300)
    out = run("djag_import_celery_beat")
    assert "refused 'expired': it expired at" in out
    assert "refused 'bad-cron': its crontab 75 4 * * * (UTC) is invalid: minute:" in out
    assert "refused 'bad-priority': priority:" in out
    assert not PeriodicTask.objects.exists()


@pytest.mark.parametrize(
    ("every", "period", "seconds"),
    [
        (7, "seconds", 7),
        (90, "minutes", 5400),
        (3, "days", 3 * 86400),
        (5, "hours", 5 * 3600),
        (1, "seconds", 1),
        (3_000_000, "microseconds", 3),
    ],
)
def test_intervals_import_exactly(every: int, period: str, seconds: int) -> None:
    """Every interval is kept to the second: none is refused or rounded to a cron step."""
    beat_task("every", interval=interval(every, period))
    assert "1 imported" in run("djag_import_celery_beat")
    imported = PeriodicTask.objects.get(name="every")
    assert (imported.crontab, imported.interval_seconds) == (None, seconds)


@pytest.mark.parametrize(
    ("every", "period", "reason"),
    [
        (0, "minutes", "every: 0 is not a whole number of at least 1"),
        (1500, "microseconds", "is not a whole number of seconds"),
    ],
)
def test_an_interval_that_is_not_whole_seconds_is_refused(
    every: int, period: str, reason: str
) -> None:
    outcome = import_one(beat_task("odd", interval=interval(every, period)), set(), timezone.now())
    assert outcome.status == "refused"
    assert reason in outcome.detail


def test_without_django_celery_beat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "django_celery_beat.models", None)
    assert "pip install django-celery-beat" in import_error()


def test_manage_py_exit_codes(manage: Any) -> None:
    beat_task("fine", crontab=beat_crontab())
    beat_task(
        "sunrise", solar=beat.SolarSchedule.objects.create(event="sunrise", latitude=1, longitude=2)
    )
    lenient = manage("djag_import_celery_beat", "--dry-run")
    assert lenient.returncode == 0, lenient.stderr
    assert "refused 'sunrise'" in lenient.stdout
    strict = manage("djag_import_celery_beat", "--strict")
    assert strict.returncode != 0
    assert "refused (--strict)" in strict.stderr
    assert not PeriodicTask.objects.exists()
    ok = manage("djag_import_celery_beat")
    assert ok.returncode == 0
    assert PeriodicTask.objects.filter(name="fine").exists()
