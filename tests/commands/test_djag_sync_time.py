"""djag_sync with intervals, day matching, exclusions and jitter: declared, checked, idempotent."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from djag.models import PeriodicTask, ScheduleChange

from .test_djag_sync import run, sync_error, write

pytestmark = pytest.mark.django_db

YAML = """
timezone: Europe/Paris
tasks:
  - name: feeds
    task: tests.append_line
    every: 6h
    anchor: "2026-03-01T05:00"
    exclude_dates: [2026-12-24, "2026-12-31"]
    exclude_weekdays: sat,sun
    holiday_calendar: fr
    jitter_seconds: 30
  - name: first-monday
    task: tests.append_line
    cron: "0 9 1-7 * &mon"
  - name: seconds
    task: tests.append_line
    every: 7
    timezone: UTC
"""


def test_declares_intervals_day_matching_exclusions_and_jitter(tmp_path: Path) -> None:
    path = write(tmp_path, YAML)
    out = run("djag_sync", path)

    feeds = PeriodicTask.objects.get(name="feeds")
    assert (feeds.crontab, feeds.interval_seconds) == (None, 6 * 3600)
    paris = dt.timezone(dt.timedelta(hours=1))  # the anchor is read on the task's zone
    assert feeds.interval_anchor == dt.datetime(2026, 3, 1, 5, 0, tzinfo=paris)
    assert feeds.interval_timezone.key == "Europe/Paris"
    assert (feeds.exclude_dates, feeds.exclude_weekdays) == ("2026-12-24, 2026-12-31", "sat,sun")
    assert (feeds.holiday_calendar, feeds.jitter_seconds) == ("FR", 30)
    assert feeds.describe_schedule() == "Every 6 hours from 2026-03-01 05:00 (Europe/Paris)"

    crontab = PeriodicTask.objects.get(name="first-monday").crontab
    assert (crontab.day_of_week, crontab.day_match, crontab.line()) == (
        "mon",
        "both",
        "0 0 9 1-7 * &mon",
    )
    seconds = PeriodicTask.objects.get(name="seconds")
    assert (seconds.interval_seconds, seconds.interval_anchor) == (7, None)

    assert "create crontab 0 0 9 1-7 * &mon (Europe/Paris)" in out
    assert "interval_seconds: 21600" in out

    changes = ScheduleChange.objects.count()
    again = run("djag_sync", path)
    assert "0 created, 0 updated, 3 unchanged, 0 deleted" in again
    assert ScheduleChange.objects.count() == changes


def test_a_task_moves_from_cron_to_an_interval_and_back(tmp_path: Path) -> None:
    cron = write(tmp_path, "tasks: [{name: a, task: tests.append_line, cron: '0 * * * *'}]")
    interval = write(tmp_path, "tasks: [{name: a, task: tests.append_line, every: 90m}]", "i.yaml")
    run("djag_sync", cron)
    out = run("djag_sync", interval)
    task = PeriodicTask.objects.get()
    assert (task.crontab, task.interval_seconds) == (None, 5400)
    assert "interval_seconds: null -> 5400" in out
    run("djag_sync", cron)
    task.refresh_from_db()
    assert (task.crontab is not None, task.interval_seconds) == (True, None)


@pytest.mark.parametrize(
    ("declaration", "expected"),
    [
        ("{name: a, task: t}", "task 'a': 'cron' (a text) or 'every' (an interval) is required."),
        ('{name: a, task: t, cron: "0 * * * *", every: 60}', "give 'cron' or 'every', not both."),
        ("{name: a, task: t, every: often}", "every: 'often' is not a duration"),
        ("{name: a, task: t, every: 0}", "every: 0 is not a whole number of at least 1"),
        ("{name: a, task: t, every: 6 weeks}", "every: '6 weeks' is not a duration"),
        ("{name: a, task: t, every: 99999 days}", "task 'a': interval_seconds:"),
        ('{name: a, task: t, cron: "0 * * * *", anchor: now}', "anchor belongs to an interval"),
        ("{name: a, task: t, every: 60, anchor: soon}", "anchor: 'soon' is not a date and time"),
        ('{name: a, task: t, every: 60, exclude_dates: ["2026-02-30"]}', "exclude_dates:"),
        ("{name: a, task: t, every: 60, exclude_dates: [2026-02-30]}", "day is out of range"),
        ("{name: a, task: t, every: 60, exclude_weekdays: caturday}", "exclude_weekdays:"),
        ("{name: a, task: t, every: 60, holiday_calendar: XX}", "'XX' is not a country"),
        ("{name: a, task: t, every: 60, holiday_calendar: US-XX}", "'XX' is not a subdivision"),
        ("{name: a, task: t, every: 60, jitter_seconds: 100000}", "task 'a': jitter_seconds:"),
        ("{name: a, task: t, every: 60, jitter_seconds: soon}", "task 'a': jitter_seconds:"),
        ('{name: a, task: t, cron: "0 9 1-7 * &&mon"}', "task 'a': cron day_of_week:"),
    ],
)
def test_an_invalid_time_field_is_reported_and_nothing_is_written(
    tmp_path: Path, declaration: str, expected: str
) -> None:
    path = write(tmp_path, f"tasks:\n  - {declaration}\n")
    assert expected in sync_error(path)
    assert not PeriodicTask.objects.exists()
