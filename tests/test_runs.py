"""Runs from code (``djag.enqueue``, ``run_now``, ``backfill``, ``cancel``) on the real
database: what they write, what they refuse, and how beat's store reads and claims them."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys
import time
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection

import djag
from djag.core.message import RunContext
from djag.core.vocab import Trigger
from djag.models import Crontab, PeriodicTask, ScheduleChange, TaskRun, acting_as
from djag.store import history, ledger
from djag.store.db import default_database
from tests.tasks import append_line

pytestmark = pytest.mark.django_db

NOW = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)  # an hour's start
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def hourly(db: None) -> PeriodicTask:
    crontab, _ = Crontab.objects.get_or_create(minute="0", hour="*")
    return PeriodicTask.objects.create(
        name="hourly", task="tests.append_line", crontab=crontab, kwargs={"label": "h"}
    )


def audit_of(run: TaskRun) -> list[tuple[str, str, dict]]:
    rows = ScheduleChange.objects.filter(model="taskrun", object_id=run.pk).order_by("id")
    return [(row.actor, row.action, row.changes) for row in rows]


# -- enqueue ------------------------------------------------------------------------------------


def test_enqueue_now_writes_a_waiting_one_off_with_its_message_and_who_asked() -> None:
    before = time.time()
    run = djag.enqueue(
        "reports.build",
        (1, "two"),
        {"k": [3]},
        options={"queue": "q", "priority": 3, "headers": {"tenant": "acme"}, "expires": 30},
        by="nightly etl",
    )
    assert isinstance(run, TaskRun)
    run.refresh_from_db()
    assert (run.periodic_task, run.task_name, run.task) == (None, "reports.build", "reports.build")
    assert (run.trigger, run.state, run.scheduled_for) == ("oneoff", "waiting", None)
    assert (run.args, run.kwargs) == ([1, "two"], {"k": [3]})
    assert run.options == {
        "queue": "q",
        "priority": 3,
        "headers": {"tenant": "acme"},
        "expires": 30,
    }
    assert run.not_before is not None
    assert before <= run.not_before.timestamp() <= time.time()
    assert run.requested_by == "nightly etl"
    assert audit_of(run) == [
        (
            "nightly etl",
            "create",
            {
                "trigger": [None, "oneoff"],
                "scheduled_for": [None, None],
                "not_before": [None, run.not_before.isoformat()],
            },
        )
    ]


def test_enqueue_at_a_time_or_after_a_delay_sets_the_time_it_waits_for() -> None:
    paris = dt.timezone(dt.timedelta(hours=2))
    at = dt.datetime(2031, 7, 1, 14, 5, 0, 250000, tzinfo=paris)
    run = djag.enqueue(append_line, at=at)  # the task itself, not only its name
    assert run.task == "tests.append_line"
    assert run.not_before == run.scheduled_for == at
    before = time.time()
    later = djag.enqueue("t", delay=dt.timedelta(minutes=5))
    assert later.not_before is not None
    assert before + 300 <= later.not_before.timestamp() <= time.time() + 300
    assert djag.enqueue("t", delay=2.5).scheduled_for is not None


def test_who_asked_is_the_caller_the_user_or_whoever_acting_as_names(
    admin_user: User,
) -> None:
    assert djag.enqueue("t", by=admin_user).requested_by == "admin"
    with acting_as("deploy script"):
        assert djag.enqueue("t").requested_by == "deploy script"
        assert djag.enqueue("t", by="cron").requested_by == "cron"
    assert djag.enqueue("t").requested_by == ""


REFUSALS: dict[str, tuple[dict[str, Any], str]] = {
    "both times": (
        {"at": dt.datetime(2030, 1, 1, tzinfo=dt.UTC), "delay": 5},
        "give at or delay, not both",
    ),
    "naive at": ({"at": dt.datetime(2030, 1, 1)}, "at must be an aware datetime"),
    "at a date": ({"at": dt.date(2030, 1, 1)}, "at must be a datetime, not date"),
    "negative delay": ({"delay": -1}, "delay must be a finite number of seconds of at least 0"),
    "delay as text": ({"delay": "5"}, "delay must be a number of seconds or a timedelta"),
    "infinite delay": ({"delay": math.inf}, "finite number"),
    "not a task": ({"task": 5}, "task must be a Celery task or its registered name"),
    "empty name": ({"task": " "}, "task must be a Celery task or its registered name"),
    "long name": ({"task": "x" * 201}, "longer than 200 characters"),
    "args not JSON": ({"args": [dt.date(2030, 1, 1)]}, "args must be JSON data"),
    "args a text": ({"args": "abc"}, "args must be a list or a tuple, not str"),
    "kwargs a list": ({"kwargs": [1]}, "kwargs must be a mapping, not list"),
    "NaN in kwargs": ({"kwargs": {"x": math.nan}}, "kwargs must be JSON data"),
    "NUL in args": ({"args": ["a\x00b"]}, "args cannot be stored: Text in JSON cannot contain"),
    "unknown option": ({"options": {"countdown": 5}}, "unknown option 'countdown'; the options"),
    "Celery header": ({"options": {"headers": {"task": "evil"}}}, "headers may not use 'task'"),
    "djag header": (
        {"options": {"headers": {"DJAG_run_id": 1, "x": 2}}},
        "headers may not use 'DJAG_run_id'",
    ),
    "headers not a mapping": ({"options": {"headers": [1]}}, "headers must be a mapping"),
    "priority too high": ({"options": {"priority": 300}}, "priority must be a whole number"),
    "priority a bool": ({"options": {"priority": True}}, "priority must be a whole number"),
    "queue not text": ({"options": {"queue": 5}}, "queue must be a text"),
    "no expiry": ({"options": {"expires": 0}}, "expires must be more than 0 seconds"),
}


@pytest.mark.parametrize(("given", "error"), REFUSALS.values(), ids=REFUSALS.keys())
def test_enqueue_refuses_what_cannot_be_sent_and_writes_nothing(
    given: dict[str, Any], error: str
) -> None:
    given = dict(given)
    task = given.pop("task", "tests.append_line")
    with pytest.raises(djag.RunRefused, match=error.replace("(", r"\(")):
        djag.enqueue(task, **given)
    assert not TaskRun.objects.exists()
    assert not ScheduleChange.objects.filter(model="taskrun").exists()


def test_importing_djag_imports_no_model_and_current_run_needs_no_django() -> None:
    code = (
        "import sys, djag\n"
        "assert 'djag.models' not in sys.modules and 'django.db' not in sys.modules\n"
        "assert djag.current_run() is None\n"
        "assert 'djag.models' not in sys.modules\n"
        "try:\n    djag.nothing\nexcept AttributeError as e:\n    print(e)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, env={}
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "module 'djag' has no attribute 'nothing'"


# -- run now and backfill ---------------------------------------------------------------------


def test_run_now_by_name_queues_a_manual_run_and_an_unknown_name_is_refused(
    hourly: PeriodicTask,
) -> None:
    run = djag.run_now("hourly", by="ops")
    assert (run.periodic_task, run.trigger, run.state, run.requested_by) == (
        hourly,
        "manual",
        "waiting",
        "ops",
    )
    assert (run.args, run.kwargs, run.options) == (None, None, None)  # the task's own, at dispatch
    with pytest.raises(djag.RunRefused, match="there is no periodic task named 'nope'"):
        djag.run_now("nope")


def test_backfill_queues_one_run_per_event_oldest_first_leaving_slots_in_the_ledger(
    hourly: PeriodicTask,
) -> None:
    ran = TaskRun.objects.create(
        periodic_task=hourly,
        task_name="hourly",
        trigger="schedule",
        state="failure",
        scheduled_for=NOW - 3 * HOUR,
    )
    runs = djag.backfill(hourly, NOW - 5 * HOUR - dt.timedelta(minutes=1), NOW - HOUR, by="me")
    assert [r.scheduled_for for r in runs] == [NOW - n * HOUR for n in (5, 4, 2, 1)]
    assert {(r.trigger, r.state, r.requested_by) for r in runs} == {("backfill", "waiting", "me")}
    ran.refresh_from_db()
    assert ran.state == "failure"  # left as it was
    assert djag.backfill(hourly, NOW - 5 * HOUR, NOW - HOUR) == []  # every slot taken now
    assert [audit_of(r)[0][0] for r in runs] == ["me"] * 4


BACKFILL_REFUSALS: dict[str, tuple[dict[str, Any], str]] = {
    "end in the future": (
        {"end": NOW + 2 * HOUR},
        "the end of the range is in the future: the schedule runs those events itself",
    ),
    "end before start": ({"start": NOW - HOUR, "end": NOW - 2 * HOUR}, "before its start"),
    "too many events": ({"limit": 3}, "more than 3 events"),
    "naive start": ({"start": dt.datetime(2020, 1, 1)}, "start must be an aware datetime"),
}


@pytest.mark.parametrize(
    ("given", "error"), BACKFILL_REFUSALS.values(), ids=BACKFILL_REFUSALS.keys()
)
def test_backfill_refuses_a_range_it_cannot_cover_and_writes_nothing(
    hourly: PeriodicTask, given: dict[str, Any], error: str
) -> None:
    arguments = {"start": NOW - 10 * HOUR, "end": NOW - HOUR, **given}
    with pytest.raises(djag.RunRefused, match=error):
        djag.backfill(hourly, **arguments)
    assert not TaskRun.objects.exists()


def test_backfill_of_a_task_with_a_broken_crontab_is_refused(hourly: PeriodicTask) -> None:
    with connection.cursor() as cursor:  # past validation, as raw SQL could
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(Crontab._meta.db_table)} "
            "SET hour = '25' WHERE id = %s",
            [hourly.crontab_id],
        )
    crontab = f"crontab {hourly.crontab_id}"
    with pytest.raises(djag.RunRefused, match=f"hourly cannot be scheduled: {crontab}: hour: 25"):
        djag.backfill(hourly, NOW - 2 * HOUR, NOW)


# -- cancel ---------------------------------------------------------------------------------------


def test_cancel_records_a_waiting_run_as_cancelled_and_nothing_else(
    admin_user: User,
) -> None:
    run = djag.enqueue("t", delay=60)
    assert djag.cancel(run, by=admin_user) is True
    run.refresh_from_db()
    assert (run.state, run.error) == ("cancelled", "Cancelled by admin before it was sent.")
    assert run.finished_at is not None
    assert audit_of(run)[-1] == ("admin", "update", {"state": ["waiting", "cancelled"]})
    assert djag.cancel(run.pk) is False  # once only

    claimed = djag.enqueue("t")
    ledger.claim_waiting(default_database(), [claimed.pk], time.time())
    assert djag.cancel(claimed) is False
    claimed.refresh_from_db()
    assert claimed.state == "claimed"
    with pytest.raises(djag.RunRefused, match="there is no run 0"):
        djag.cancel(0)


# -- what beat's store reads and writes -------------------------------------------------------


def test_a_waiting_run_is_claimed_once_and_never_before_its_time() -> None:
    using = default_database()
    at = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
    run = djag.enqueue("t", at=at)
    assert ledger.claim_waiting(using, [run.pk], at.timestamp() - 0.001) == []
    [won] = ledger.claim_waiting(using, [run.pk], at.timestamp())
    assert (won.id, won.task_id, won.celery_task_id) == (run.pk, None, run.celery_task_id)
    assert ledger.claim_waiting(using, [run.pk], at.timestamp() + 1) == []
    run.refresh_from_db()
    assert (run.state, run.claimed_at) == ("claimed", at)

    cancelled = djag.enqueue("t")
    djag.cancel(cancelled)
    assert ledger.claim_waiting(using, [cancelled.pk], time.time() + 10) == []


def test_the_store_reads_due_runs_oldest_first_capping_each_tasks_backfill(
    hourly: PeriodicTask,
) -> None:
    using = default_database()
    backfilled = djag.backfill(hourly, NOW - 6 * HOUR, NOW - HOUR)
    manual = djag.run_now(hourly)
    one_off = djag.enqueue("t")
    later = djag.enqueue("t", at=NOW + 10 * HOUR)
    due, next_at = history.requested_runs(using, time.time(), limit=100, per_task=2)
    assert [r.run_id for r in due] == [backfilled[0].pk, backfilled[1].pk, manual.pk, one_off.pk]
    assert [r.scheduled_for for r in due[:2]] == [
        int((NOW - 6 * HOUR).timestamp()),
        int((NOW - 5 * HOUR).timestamp()),
    ]
    assert (due[2].task_id, due[2].trigger, due[3].task_id) == (hourly.pk, "manual", None)
    assert next_at == later.not_before.timestamp()  # type: ignore[union-attr]
    limited, _ = history.requested_runs(using, time.time(), limit=3, per_task=100)
    assert [r.run_id for r in limited] == [r.pk for r in backfilled[:3]]

    activity = history.activity(using)
    assert activity.waiting_runs == 9
    djag.cancel(backfilled[0])
    assert history.activity(using) != activity


def test_a_runs_context_names_the_last_successful_event_before_it(
    hourly: PeriodicTask,
) -> None:
    using = default_database()

    def slot(hours: int, state: str, trigger: str = "schedule") -> TaskRun:
        return TaskRun.objects.create(
            periodic_task=hourly,
            task_name="hourly",
            trigger=trigger,
            state=state,
            scheduled_for=NOW - hours * HOUR,
        )

    slot(5, "success")
    slot(4, "success", "backfill")
    slot(3, "failure")
    third = slot(2, "claimed")
    backfilled = slot(7, "claimed", "backfill")
    manual = djag.run_now(hourly)
    one_off = djag.enqueue("reports.build", [1], options={"queue": "q"})
    details = history.run_details(using, [third.pk, backfilled.pk, manual.pk, one_off.pk])
    assert details[third.pk].context == RunContext(
        third.pk, Trigger.SCHEDULE, NOW - 2 * HOUR, NOW - 4 * HOUR
    )
    assert details[third.pk].message is None  # the task's message, from beat's catalog
    assert details[backfilled.pk].context.previous_scheduled_for is None  # nothing before it
    assert details[manual.pk].context == RunContext(manual.pk, Trigger.MANUAL, None, NOW - 4 * HOUR)
    assert details[one_off.pk].context == RunContext(one_off.pk, Trigger.ONEOFF)
    assert details[one_off.pk].message == ([1], {}, {"queue": "q", "headers": {}})
    assert details[one_off.pk].task == "reports.build"


def test_retention_keeps_waiting_runs_and_ignores_them_as_starts(hourly: PeriodicTask) -> None:
    from djag.store.retention import old_finished_runs, runs_beat_still_reads

    waiting = djag.enqueue("t")
    backfilled = djag.backfill(hourly, NOW - HOUR, NOW - HOUR)[0]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert waiting not in old_finished_runs(later)
    assert backfilled not in old_finished_runs(later)
    assert backfilled.pk in runs_beat_still_reads()  # as the newest handled slot only
    djag.cancel(backfilled)
    assert backfilled in old_finished_runs(later)


def test_a_run_that_waits_or_was_cancelled_is_no_start_for_the_dependency_rule(
    hourly: PeriodicTask,
) -> None:
    """Until beat claims it, a waiting run started nothing: a depender must not count it."""
    using = default_database()
    assert history.run_marks(using, [hourly.pk]) == {}
    waiting = djag.run_now(hourly)
    djag.cancel(djag.run_now(hourly))
    assert history.run_marks(using, [hourly.pk]) == {}
    [claimed] = ledger.claim_waiting(using, [waiting.pk], time.time())
    assert history.run_marks(using, [hourly.pk])[hourly.pk].last_start == pytest.approx(
        claimed.claimed_at, abs=1e-5
    )
