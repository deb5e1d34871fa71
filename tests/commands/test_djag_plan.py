"""djag_plan: the coming fire times of each task, in its zone and in UTC."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import CommandError

from djag.models import RunState, TaskRun, Trigger

from .conftest import T0, edge, run, task

pytestmark = pytest.mark.django_db

NOW = "2026-03-02T12:00:00Z"  # T0
HOURLY = "0 0 * * * *"


def fire_lines(text: str, name: str) -> list[str]:
    """The indented lines under the task's heading."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{name}  ("))
    block = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        block.append(line.strip())
    return block


def test_lists_each_fire_time_in_the_zone_and_in_utc():
    task("hourly", HOURLY)
    task("paris", "0 30 9 * * *", "Europe/Paris")
    text = run("djag_plan", "--now", NOW, "--hours", "24")
    assert text.splitlines()[0] == (
        "Fire times from 2026-03-02 12:00:00 UTC to 2026-03-03 12:00:00 UTC "
        "(the next 24 h), dependees first."
    )
    assert "paris  (tests.append_line; 0 30 9 * * *, Europe/Paris)" in text
    assert fire_lines(text, "paris") == [
        "2026-03-03 09:30:00 CET  =  2026-03-03 08:30:00 UTC",
    ]
    hourly = fire_lines(text, "hourly")
    assert hourly[0] == "2026-03-02 13:00:00 UTC  =  2026-03-02 13:00:00 UTC"
    assert hourly[-2] == "2026-03-03 08:00:00 UTC  =  2026-03-03 08:00:00 UTC"
    # 24 events in (12:00, 12:00 next day]; 20 are listed by default.
    assert hourly[-1] == "... and 4 more (--limit 20 shows the first 20)"
    assert len(hourly) == 21


def test_the_window_is_open_at_now_and_closed_at_the_end():
    task("hourly", HOURLY)
    assert fire_lines(run("djag_plan", "--now", NOW, "--hours", "2"), "hourly") == [
        "2026-03-02 13:00:00 UTC  =  2026-03-02 13:00:00 UTC",
        "2026-03-02 14:00:00 UTC  =  2026-03-02 14:00:00 UTC",
    ]


def test_limit_lists_the_first_fire_times_and_counts_the_rest():
    task("hourly", HOURLY)
    lines = fire_lines(run("djag_plan", "--now", NOW, "--limit", "2"), "hourly")
    assert lines == [
        "2026-03-02 13:00:00 UTC  =  2026-03-02 13:00:00 UTC",
        "2026-03-02 14:00:00 UTC  =  2026-03-02 14:00:00 UTC",
        "... and 22 more (--limit 2 shows the first 2)",
    ]


def test_a_spring_forward_gap_fires_once_at_the_first_instant_after_the_jump():
    # Europe/Paris skips 02:00-03:00 on 2026-03-29.
    task("night", "0 30 2 * * *", "Europe/Paris")
    text = run("djag_plan", "--now", "2026-03-28T12:00:00Z", "--hours", "48")
    assert fire_lines(text, "night") == [
        "2026-03-29 03:00:00 CEST  =  2026-03-29 01:00:00 UTC",
        "2026-03-30 02:30:00 CEST  =  2026-03-30 00:30:00 UTC",
    ]


def test_dependees_come_before_their_dependers_with_their_edges_shown():
    # Names sort the other way round, so only the dependency order puts load first.
    load = task("z load", HOURLY)
    report = task("a report", HOURLY)
    cleanup = task("b cleanup", HOURLY)
    edge(report, load)
    edge(cleanup, report, future_depends=True)
    text = run("djag_plan", "--now", NOW, "--hours", "1")
    headings = [line.split("  (")[0] for line in text.splitlines() if "  (tests." in line]
    assert headings == ["b cleanup", "z load", "a report"]
    assert fire_lines(text, "a report")[0] == "after: z load"
    assert fire_lines(text, "b cleanup")[0] == "after (future): a report"


def test_start_end_and_pause_bound_the_fire_times():
    task("ends", HOURLY, end_at=T0 + dt.timedelta(hours=2, minutes=30))
    task("starts", HOURLY, start_at=T0 + dt.timedelta(hours=3))
    paused = task("paused", HOURLY)
    type(paused).objects.filter(pk=paused.pk).update(resume_at=T0 + dt.timedelta(hours=4))
    text = run("djag_plan", "--now", NOW, "--hours", "5")
    assert [line[:19] for line in fire_lines(text, "ends")] == [
        "2026-03-02 13:00:00",
        "2026-03-02 14:00:00",
    ]
    assert [line[:19] for line in fire_lines(text, "starts")] == [
        "2026-03-02 16:00:00",
        "2026-03-02 17:00:00",
    ]
    assert [line[:19] for line in fire_lines(text, "paused")] == ["2026-03-02 17:00:00"]


def test_max_runs_bounds_the_fire_times_by_the_runs_left():
    limited = task("limited", HOURLY, max_runs=3)
    TaskRun.objects.create(
        periodic_task=limited,
        task_name="limited",
        scheduled_for=T0 - dt.timedelta(hours=1),
        trigger=Trigger.SCHEDULE,
        state=RunState.SUCCESS,
        claimed_at=T0 - dt.timedelta(hours=1),
        finished_at=T0 - dt.timedelta(hours=1),
    )
    # A manual run does not count towards max_runs.
    TaskRun.objects.create(
        periodic_task=limited,
        task_name="limited",
        trigger=Trigger.MANUAL,
        state=RunState.SUCCESS,
        claimed_at=T0 - dt.timedelta(minutes=30),
    )
    lines = fire_lines(run("djag_plan", "--now", NOW), "limited")
    assert [line[:19] for line in lines] == ["2026-03-02 13:00:00", "2026-03-02 14:00:00"]


def test_a_task_without_fire_times_in_the_window_says_so():
    task("yearly", "0 0 0 1 1 *")
    assert fire_lines(run("djag_plan", "--now", NOW), "yearly") == ["no fire time in this window"]


def test_a_task_beat_cannot_schedule_shows_why_instead_of_fire_times():
    bad = task("bad", HOURLY)
    type(bad).objects.filter(pk=bad.pk).update(problem="kwargs is not a JSON object")
    assert fire_lines(run("djag_plan", "--now", NOW), "bad") == [
        "cannot be scheduled: beat reports: kwargs is not a JSON object"
    ]


def test_a_crontab_that_does_not_parse_shows_why_instead_of_fire_times():
    from django.db import connection

    from djag.models import Crontab

    broken = task("broken", HOURLY)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(Crontab._meta.db_table)} "
            "SET hour = '25' WHERE id = %s",
            [broken.crontab_id],
        )
    [line] = fire_lines(run("djag_plan", "--now", NOW), "broken")
    why = "hour: 25 is out of range 0-23"
    assert line == f"cannot be scheduled: crontab {broken.crontab_id}: {why}"


def test_disabled_tasks_are_left_out_unless_named():
    task("on", HOURLY)
    task("off", HOURLY, enabled=False)
    assert "off  (" not in run("djag_plan", "--now", NOW)
    text = run("djag_plan", "--now", NOW, "--task", "off")
    assert fire_lines(text, "off") == ["disabled: it does not fire"]
    assert "on  (" not in text


def test_an_empty_schedule_says_there_is_no_enabled_task():
    assert run("djag_plan", "--now", NOW).splitlines()[-1] == "No enabled task."


def test_an_unknown_task_name_is_refused_with_a_suggestion():
    task("producer", HOURLY)
    with pytest.raises(
        CommandError, match=r"No task is named 'prodcer'\. Did you mean 'producer'\?"
    ):
        run("djag_plan", "--task", "prodcer")
    with pytest.raises(CommandError, match=r"`manage\.py djag_graph` lists the tasks"):
        run("djag_plan", "--task", "nothing like it")


def test_json_gives_local_and_utc_times():
    producer = task("producer", HOURLY)
    consumer = task("consumer", "0 30 9 * * *", "Europe/Paris")
    edge(consumer, producer)
    document = json.loads(run("djag_plan", "--now", NOW, "--format", "json", "--hours", "1"))
    assert document["from"] == "2026-03-02T12:00:00+00:00"
    assert document["until"] == "2026-03-02T13:00:00+00:00"
    by_name = {entry["name"]: entry for entry in document["tasks"]}
    assert [entry["name"] for entry in document["tasks"]] == ["producer", "consumer"]
    assert by_name["producer"]["fires"] == [
        {
            "local": "2026-03-02T13:00:00+00:00",
            "utc": "2026-03-02T13:00:00+00:00",
            "delay_seconds": 0,
        }
    ]
    assert by_name["consumer"] == {
        "name": "consumer",
        "task": "tests.append_line",
        "crontab": "0 30 9 * * *",
        "interval": None,
        "timezone": "Europe/Paris",
        "excludes": None,
        "jitter_seconds": 0,
        "enabled": True,
        "after": ["producer"],
        "after_future": [],
        "fires": [],
        "more": 0,
        "problem": None,
    }


def test_now_without_an_offset_is_in_time_zone(settings):
    settings.TIME_ZONE = "Europe/Paris"
    task("hourly", HOURLY)
    text = run("djag_plan", "--now", "2026-03-02T12:00:00", "--hours", "1")
    assert text.startswith("Fire times from 2026-03-02 11:00:00 UTC to 2026-03-02 12:00:00 UTC")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hours", "0"], "--hours must be more than 0"),
        (["--hours", "9000"], "at most 8784"),
        (["--limit", "0"], "--limit must be at least 1"),
        (["--now", "yesterday"], "'yesterday' is not a date and time"),
    ],
)
def test_bad_options_are_refused(args, message):
    with pytest.raises(CommandError, match=message):
        run("djag_plan", *args)
