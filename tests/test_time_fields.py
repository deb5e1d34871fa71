"""Day matching, intervals, exclusions and jitter on the real models, admin, store and ledger.

Bad input is a field error (model, admin form), never a 500; a value written past validation
is a problem beat records for that task while the others keep running; what beat decides is
in the ledger: excluded dates as skipped rows with their reason, each run's jitter delay.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client

from djag.core.jitter import MAX_JITTER, Jitter
from djag.models import Crontab, PeriodicTask, RunState, TaskRun
from djag.models.calendars import canonical_calendar
from tests.test_admin import admin_url, form_errors, task_form
from tests.test_engine import (
    E0,
    T0,
    Recorder,
    Wake,
    assert_reported_while_others_run,
    corrupt,
    every,
    make_engine,
    make_task,
    run,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def publisher() -> Recorder:
    return Recorder()


@pytest.fixture
def engine(publisher: Recorder) -> Any:
    return make_engine(publisher, Wake())


def without_crontab(**fields: Any) -> dict[str, Any]:
    """A valid task form that chooses no crontab."""
    data = task_form(Crontab(pk=0), **fields)
    data["crontab"] = ""
    return data


def interval_task(name: str, seconds: int, **fields: Any) -> PeriodicTask:
    fields.setdefault("start_at", T0)
    return PeriodicTask.objects.create(
        name=name,
        task="tests.append_line",
        crontab=None,
        interval_seconds=seconds,
        kwargs={"label": name},
        **fields,
    )


def errors_of(task: PeriodicTask) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as exc_info:
        task.full_clean()
    return exc_info.value.message_dict


# --- the models ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"exclude_dates": "2026-12-24, 2026-13-01"}, "exclude_dates", "'2026-13-01' is not a"),
        ({"exclude_dates": "24/12/2026"}, "exclude_dates", "'24/12/2026' is not a date"),
        ({"exclude_weekdays": "funday"}, "exclude_weekdays", "funday"),
        ({"exclude_weekdays": "mon#2"}, "exclude_weekdays", "only plain weekdays"),
        ({"exclude_weekdays": "*"}, "exclude_weekdays", "Every weekday is excluded"),
        ({"holiday_calendar": "XX"}, "holiday_calendar", "'XX' is not a country"),
        ({"holiday_calendar": "US-ZZ"}, "holiday_calendar", "'ZZ' is not a subdivision of US"),
        ({"jitter_seconds": MAX_JITTER + 1}, "jitter_seconds", "less than or equal to 86400"),
        ({"interval_seconds": 5}, "interval_seconds", "a crontab or an interval, not both"),
        ({"interval_anchor": T0}, "interval_anchor", "An anchor belongs to an interval"),
    ],
)
def test_bad_values_are_field_errors(fields: dict, field: str, message: str) -> None:
    task = PeriodicTask(name="t", task="tests.append_line", crontab=every(), **fields)
    errors = errors_of(task)
    assert field in errors, errors
    assert message in errors[field][0]


def test_a_task_needs_a_crontab_or_an_interval() -> None:
    assert "Give the task a crontab or an interval." in errors_of(
        PeriodicTask(name="t", task="tests.append_line")
    ).get("crontab", [])
    interval = PeriodicTask(name="t", task="tests.append_line", interval_seconds=0)
    assert "interval_seconds" in errors_of(interval)
    PeriodicTask(name="ok", task="tests.append_line", interval_seconds=7).full_clean()


def test_a_holiday_calendar_is_stored_in_its_own_case() -> None:
    task = PeriodicTask(
        name="t", task="tests.append_line", crontab=every(), holiday_calendar="us-ny"
    )
    task.full_clean()
    assert task.holiday_calendar == "US-NY"
    assert canonical_calendar("de-augsburg") == "DE-Augsburg"


def test_the_both_notation_in_a_crontab_field_becomes_its_day_matching() -> None:
    crontab = Crontab(minute="0", hour="9", day_of_month="1-7", day_of_week="&mon")
    crontab.full_clean()
    assert (crontab.day_of_week, crontab.day_match) == ("mon", "both")
    assert crontab.line() == "0 0 9 1-7 * &mon"
    crontab.save()
    either = Crontab.objects.create(minute="0", hour="9", day_of_month="1-7", day_of_week="mon")
    assert either.pk != crontab.pk  # the mode is part of what makes a crontab unique
    assert "or on Monday" in either.describe()
    assert "and only on Monday" in crontab.describe()


def test_an_interval_describes_itself_in_its_zone() -> None:
    anchor = dt.datetime(2026, 3, 1, 4, 0, tzinfo=dt.UTC)
    task = interval_task(
        "six-hourly", 6 * 3600, interval_anchor=anchor, interval_timezone="Europe/Paris"
    )
    assert task.describe_schedule() == "Every 6 hours from 2026-03-01 05:00 (Europe/Paris)"


# --- the admin -------------------------------------------------------------------------------


def test_an_interval_task_is_added_in_the_admin(admin_client: Client) -> None:
    data = without_crontab(
        interval_seconds="5400",
        interval_anchor_0="2026-03-01",
        interval_anchor_1="05:00:00",
        interval_timezone="UTC",
        exclude_weekdays="sat,sun",
        holiday_calendar="fr",
        jitter_seconds="30",
    )
    response = admin_client.post(admin_url(PeriodicTask, "add"), data)
    assert response.status_code == 302, form_errors(response)
    task = PeriodicTask.objects.get()
    assert (task.crontab, task.interval_seconds, task.jitter_seconds) == (None, 5400, 30)
    assert task.holiday_calendar == "FR"
    page = admin_client.get(admin_url(PeriodicTask, "change", task.pk)).content.decode()
    assert "Every 90 minutes from 2026-03-01 05:00 (UTC)" in page


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"exclude_dates": "2026-02-30"}, "exclude_dates"),
        ({"exclude_weekdays": "sat,funday"}, "exclude_weekdays"),
        ({"holiday_calendar": "Narnia"}, "holiday_calendar"),
        ({"holiday_calendar": "US-Narnia"}, "holiday_calendar"),
        ({"jitter_seconds": "-1"}, "jitter_seconds"),
        ({"jitter_seconds": "999999"}, "jitter_seconds"),
        ({"interval_seconds": "0"}, "interval_seconds"),
        ({"interval_seconds": "99999999999"}, "interval_seconds"),
        ({"interval_seconds": "60", "cron": "0 * * * *"}, "interval_seconds"),
        ({"interval_timezone": "Mars/Base", "interval_seconds": "60"}, "interval_timezone"),
    ],
)
def test_bad_time_fields_in_the_admin_are_form_errors(
    admin_client: Client, crontab: Crontab, fields: dict, field: str
) -> None:
    response = admin_client.post(admin_url(PeriodicTask, "add"), task_form(crontab, **fields))
    assert response.status_code == 200
    assert field in form_errors(response)
    assert not PeriodicTask.objects.exists()


def test_a_crontab_task_becomes_an_interval_task(admin_client: Client, crontab: Crontab) -> None:
    task = make_task("switch", crontab)
    unchanged = {"cron": crontab.line(), "cron_timezone": crontab.zone_name}
    for line in (unchanged, {"cron": ""}):  # the line left as it was, or emptied
        data = task_form(crontab, name="switch", interval_seconds="600", **line)
        response = admin_client.post(admin_url(PeriodicTask, "change", task.pk), data)
        assert response.status_code == 302, form_errors(response)
        task.refresh_from_db()
        assert (task.crontab, task.interval_seconds) == (None, 600)
        task.crontab, task.interval_seconds = crontab, None
        task.save()


def test_a_cron_line_with_the_both_mark_saves_its_day_matching(admin_client: Client) -> None:
    data = without_crontab(cron="0 9 1-7 * &mon", cron_timezone="UTC")
    response = admin_client.post(admin_url(PeriodicTask, "add"), data)
    assert response.status_code == 302, form_errors(response)
    crontab = PeriodicTask.objects.get().crontab
    assert (crontab.day_of_week, crontab.day_match) == ("mon", "both")
    page = admin_client.get(admin_url(Crontab, "changelist")).content.decode()
    assert "0 0 9 1-7 * &amp;mon" in page


# --- beat against the real store ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("exclude_dates", "2026-02-31", "exclude_dates: '2026-02-31' is not a date"),
        ("exclude_weekdays", "caturday", "exclude_weekdays: "),
        ("holiday_calendar", "XX", "holiday_calendar: 'XX' is not a country"),
        ("interval_timezone", "Mars/Base", "interval: unknown time zone 'Mars/Base'"),
    ],
)
def test_a_bad_time_value_written_behind_the_orm_is_a_problem(
    engine, publisher, column: str, value: str, problem: str
) -> None:
    make_task("good", max_running=0)
    bad = (
        interval_task("bad", 30)
        if column.startswith("interval")
        else make_task("bad", every(second="30"))
    )
    corrupt(PeriodicTask, bad.pk, column, value)
    assert_reported_while_others_run(engine, publisher, bad, problem)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="only SQLite can skip CHECK constraints")
@pytest.mark.parametrize(
    ("model", "column", "value", "problem"),
    [
        (Crontab, "day_match", "neither", "day_match: 'neither' is not one of either, both"),
        (PeriodicTask, "jitter_seconds", "100000", "jitter_seconds: 100000 is not a whole"),
    ],
)
def test_a_value_past_a_check_constraint_is_a_problem(
    engine, publisher, model: type, column: str, value: str, problem: str
) -> None:
    make_task("good", max_running=0)
    bad = make_task("bad", every(second="30"))
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA ignore_check_constraints = ON")
        try:
            corrupt(model, bad.crontab_id if model is Crontab else bad.pk, column, value)
        finally:
            cursor.execute("PRAGMA ignore_check_constraints = OFF")
    assert_reported_while_others_run(engine, publisher, bad, problem)


def test_the_ledger_records_excluded_dates_and_jitter(engine, publisher) -> None:
    noon = every(second="0", minute="0", hour="12")
    monday = T0 - dt.timedelta(minutes=1)  # T0 is a Monday, 12:00 UTC
    make_task("weekdays", noon, start_at=monday, exclude_weekdays="tue", max_running=0)
    jittered = make_task(
        "jittered", every(), jitter_seconds=40, max_running=0, end_at=T0 + dt.timedelta(minutes=5)
    )
    engine.load(E0)
    for second in range(0, 2 * 86400 + 61, 30):
        run(engine, second)
    skipped = TaskRun.objects.get(task_name="weekdays", state=RunState.SKIPPED)
    assert skipped.note == "excluded: 2026-03-03 (Tuesday)"
    assert skipped.scheduled_for == T0 + dt.timedelta(days=1)
    ran = TaskRun.objects.filter(task_name="weekdays").exclude(state=RunState.SKIPPED)
    assert [run.scheduled_for for run in ran.order_by("scheduled_for")] == [
        T0,
        T0 + dt.timedelta(days=2),
    ]
    runs = TaskRun.objects.filter(task_name="jittered").order_by("scheduled_for")[:5]
    for run_row in runs:
        slot = int(run_row.scheduled_for.timestamp())
        delay = Jitter(40, f"task {jittered.pk}").delay(slot, slot + 60)
        assert run_row.delay_seconds == delay
        assert run_row.claimed_at.timestamp() >= slot + delay


def test_djag_plan_shows_intervals_exclusions_and_jitter() -> None:
    from tests.commands.conftest import run as command

    anchor = dt.datetime(2026, 3, 2, 11, 0, tzinfo=dt.UTC)
    interval_task(
        "feeds",
        90 * 60,
        interval_anchor=anchor,
        exclude_dates="2026-03-03",
        jitter_seconds=30,
        start_at=T0 - dt.timedelta(days=1),
    )
    text = command("djag_plan", "--now", "2026-03-02T12:00:00Z", "--hours", "24")
    assert "feeds  (tests.append_line; every 90 minutes from 2026-03-02 11:00 (UTC), UTC)" in text
    assert "  excludes: dates 2026-03-03" in text
    assert "  jitter: up to 30 s after each fire time" in text
    assert "2026-03-02 12:30:00" in text
    assert "2026-03-03 00:30:00" not in text  # an excluded date
    assert "(released +" in text


def test_the_dag_page_labels_an_interval_task_with_its_next_run() -> None:
    from djag.inspect.live import next_fire
    from djag.inspect.snapshot import read_tasks
    from djag.text import zoned_text

    anchor = dt.datetime(2026, 3, 2, 11, 0, tzinfo=dt.UTC)
    task = interval_task("feeds", 90 * 60, interval_anchor=anchor, interval_timezone="Europe/Paris")
    broken = interval_task("broken", 60)
    corrupt(PeriodicTask, broken.pk, "interval_timezone", "Mars/Base")
    views = read_tasks()
    fire = next_fire(views[task.pk], int(E0))
    assert fire.at is not None
    assert zoned_text(fire.at) == "2026-03-02 13:30:00 CET"
    assert next_fire(views[broken.pk], int(E0)).why_none.startswith("interval error: interval: ")
