"""Alerts against a real database: the task's thresholds as beat compiles them, the store's
reads and writes for alerts, and beat's watch sending the signals and mail with an
injected clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import override_settings

from djag.alerts import Alert, alert_recovered, alert_tripped, announce, notify
from djag.beat.alerting import CHECK_SECONDS, AlertWatch
from djag.beat.engine import Engine
from djag.beat.outbox import Dispatch
from djag.core.alerts import AlertKind, AlertRule, Outcome
from djag.models import Crontab, PeriodicTask, RunState, ScheduleChange, TaskRun, Trigger
from djag.store import alerts, schedule
from djag.store.door import Store

T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)  # a Monday, 12:00:00 UTC
E0 = T0.timestamp()

pytestmark = pytest.mark.django_db


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def add_run(task: PeriodicTask, state: str, slot: float | None, **fields: Any) -> TaskRun:
    return TaskRun.objects.create(
        periodic_task=task,
        task_name=task.name,
        scheduled_for=None if slot is None else at(slot),
        trigger=Trigger.SCHEDULE if slot is not None else Trigger.MANUAL,
        state=state,
        claimed_at=at(slot or 0),
        finished_at=at((slot or 0) + 5),
        **fields,
    )


# --- the thresholds -------------------------------------------------------------------------


def test_the_thresholds_compile_into_the_task_row(make_task: Callable[..., PeriodicTask]) -> None:
    make_task(name="watched", alert_succeed_within_seconds=600, pause_after_failures=3)
    make_task(name="unwatched")
    rows = {row.name: row for row in schedule.load_tasks("default")}
    assert rows["watched"].alert_rule == AlertRule(succeed_within=600, pause_after_failures=3)
    assert rows["unwatched"].alert_rule is None


@pytest.mark.parametrize(
    "field", ["alert_succeed_within_seconds", "alert_failures_in_a_row", "pause_after_failures"]
)
def test_a_threshold_below_one_is_refused_and_a_stored_one_is_the_tasks_problem(
    make_task: Callable[..., PeriodicTask], field: str
) -> None:
    task = make_task(name="watched")
    setattr(task, field, 0)
    with pytest.raises(ValidationError) as refused:
        task.full_clean()
    assert field in refused.value.message_dict
    PeriodicTask._base_manager.filter(pk=task.pk).update(**{field: 0})  # past validation
    [row] = schedule.load_tasks("default", ids=[task.pk])
    assert f"{field} is 0, outside 1-" in row.problem
    assert row.alert_rule is None


def test_beat_state_is_not_a_schedule_change(make_task: Callable[..., PeriodicTask]) -> None:
    task = make_task(name="watched", alert_failures_in_a_row=2)
    logged = ScheduleChange.objects.count()
    alerts.record_alerts("default", task.pk, frozenset({AlertKind.FAILING}), "failing: 2", E0)
    assert ScheduleChange.objects.count() == logged
    task.refresh_from_db()
    assert task.tripped_alerts() == ["failing"]
    [row] = schedule.load_tasks("default", ids=[task.pk])
    assert row.alerts_tripped == {AlertKind.FAILING}


# --- the store ------------------------------------------------------------------------------


def test_alert_history_lists_the_newest_counted_outcomes_by_slot(
    make_task: Callable[..., PeriodicTask],
) -> None:
    task = make_task(name="watched")
    add_run(task, RunState.SUCCESS, 0)
    add_run(task, RunState.FAILURE, 60)
    add_run(task, RunState.REVOKED, 120)  # counts neither way
    add_run(task, RunState.LOST, 180)
    add_run(task, RunState.FAILURE, None, not_before=at(200))  # a manual run: when asked for
    add_run(task, RunState.SENT, 240)  # in flight
    history = alerts.alert_history("default", task.pk, 3)
    assert history.finished == (
        Outcome(int(E0) + 200, RunState.FAILURE),
        Outcome(int(E0) + 180, RunState.LOST),
        Outcome(int(E0) + 60, RunState.FAILURE),
    )
    assert history.last_success_slot == int(E0)
    assert alerts.alert_history("default", task.pk, 0).finished == ()


def test_record_alerts_keeps_since_while_any_stays_tripped(
    make_task: Callable[..., PeriodicTask],
) -> None:
    task = make_task(name="watched")
    alerts.record_alerts("default", task.pk, frozenset({AlertKind.OVERDUE}), "overdue: x", E0)
    both = frozenset(AlertKind)
    alerts.record_alerts("default", task.pk, both, "overdue: x\nfailing: y", E0 + 60)
    task.refresh_from_db()
    assert (task.alerts_tripped, task.alert_since) == ("failing,overdue", T0)
    assert task.alert_note == "overdue: x\nfailing: y"
    alerts.record_alerts("default", task.pk, frozenset(), "", E0 + 120)
    task.refresh_from_db()
    assert (task.alerts_tripped, task.alert_since, task.alert_note) == ("", None, "")


def test_pause_failing_disables_the_task_once_saying_why(
    make_task: Callable[..., PeriodicTask],
) -> None:
    task = make_task(name="watched")
    why = "paused after 3 runs failed in a row (pause_after_failures = 3)"
    assert alerts.pause_failing("default", task.pk, why) is True
    assert alerts.pause_failing("default", task.pk, why) is False
    task.refresh_from_db()
    assert task.enabled is False
    change = ScheduleChange.objects.filter(object_id=task.pk).latest("id")
    assert change.actor == f"djag beat: {why}"
    assert change.changes == {"enabled": [True, False]}


def test_a_pause_is_written_with_its_reason_in_one_step(
    make_task: Callable[..., PeriodicTask],
) -> None:
    """Whoever sees the task paused also reads why (an observer once saw only the first)."""
    task = make_task(name="watched")
    why = "paused after 3 runs failed in a row (pause_after_failures = 3)"
    failing = frozenset({AlertKind.FAILING})
    assert alerts.record_alerts("default", task.pk, failing, "failing: 3", E0, why) is True
    task.refresh_from_db()
    assert (task.enabled, task.alert_note) == (False, f"failing: 3\n{why}")
    # Disabled already: nothing paused now, and the note does not claim it.
    assert alerts.record_alerts("default", task.pk, failing, "failing: 4", E0, why) is False
    task.refresh_from_db()
    assert task.alert_note == "failing: 4"


# --- beat's watch, the signals and the mail ----------------------------------------------


def publish(dispatches: Sequence[Dispatch]) -> list[tuple[Dispatch, Exception]]:
    return []


@pytest.fixture
def received() -> Iterator[list[Alert]]:
    alerts_seen: list[Alert] = []

    def receive(sender: Any, alert: Alert, **kwargs: Any) -> None:
        alerts_seen.append(alert)

    alert_tripped.connect(receive)
    alert_recovered.connect(receive)
    yield alerts_seen
    alert_tripped.disconnect(receive)
    alert_recovered.disconnect(receive)
    notify.shutdown()


@override_settings(ADMINS=[("Ops", "ops@example.com")], DJAG_ALERT_MAIL=True)
def test_beat_signals_mails_records_and_pauses_a_failing_task(
    make_task: Callable[..., PeriodicTask], received: list[Alert]
) -> None:
    notify.shutdown()  # a notifier built from these settings
    minutely, _ = Crontab.objects.get_or_create(second="0", minute="*", hour="*")
    task = make_task(
        name="flaky",
        crontab=minutely,
        start_at=at(-1),
        alert_failures_in_a_row=2,
        pause_after_failures=2,
    )
    engine = Engine(Store(), publish, poll_seconds=1.0, read_wake_token=lambda: None)
    watch = AlertWatch(engine, announce)
    engine.runs.on_ended.append(watch.runs_ended)
    engine.load(E0)
    now = E0
    while now < E0 + 200:
        TaskRun.objects.filter(
            periodic_task=task, state=RunState.SENT, claimed_at__lte=at(now - 5 - E0)
        ).update(state=RunState.FAILURE, finished_at=at(now - E0))
        engine.tick(now)
        watch.tick(now)
        now += 0.5
    assert TaskRun.objects.filter(periodic_task=task).count() == 2  # paused after the second
    [alert] = received
    assert (alert.task_name, alert.kind, alert.tripped) == ("flaky", AlertKind.FAILING, True)
    assert notify.notifier().flush(timeout=30)
    [message] = mail.outbox
    assert message.subject.endswith("djag: 'flaky' is failing")
    task.refresh_from_db()
    assert task.enabled is False
    assert task.tripped_alerts() == ["failing"]
    assert task.alert_note.endswith("(pause_after_failures = 2)")
    # The paused task's row came back through the change feed: nothing more is announced.
    engine.tick(now + CHECK_SECONDS)
    watch.tick(now + CHECK_SECONDS)
    assert len(received) == 1


def test_saving_an_instance_read_before_beat_recorded_keeps_beats_state(
    make_task: Callable[..., PeriodicTask],
) -> None:
    task = make_task(name="watched", alert_failures_in_a_row=1)
    stale = PeriodicTask.objects.get(pk=task.pk)  # a form or a script reads the task
    alerts.record_alerts("default", task.pk, frozenset({AlertKind.FAILING}), "failing: 1", E0)
    stale.description = "edited"
    stale.save()
    task.refresh_from_db()
    assert (task.description, task.alerts_tripped, task.alert_note) == (
        "edited",
        "failing",
        "failing: 1",
    )
    deferred = PeriodicTask.objects.only("name", "description").get(pk=task.pk)
    deferred.description = "again"
    deferred.save()
    task.refresh_from_db()
    assert (task.description, task.alerts_tripped) == ("again", "failing")
