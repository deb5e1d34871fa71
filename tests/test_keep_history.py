"""keep_history: a task keeps every run, only its failures, or its last runs; the trim never
takes a row beat reads, and scheduling and dependencies carry on as before."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db.models import F

from djag.beat.engine import Engine
from djag.models import (
    KeepHistory,
    PeriodicTask,
    RunState,
    TaskCheckpoint,
    TaskDependency,
    TaskRun,
    Trigger,
)
from djag.store import history, retention
from djag.store.door import Store
from tests.test_engine import E0, T0, Recorder, Wake, every, finish, make_task, run

pytestmark = pytest.mark.django_db

#: Minute by minute: the states of a task's finished runs, oldest first.
STORY = [
    RunState.SUCCESS,
    RunState.FAILURE,
    RunState.SUCCESS,
    RunState.SKIPPED,
    RunState.SUCCESS,
    RunState.REVOKED,
    RunState.FAILURE,
    RunState.LOST,
]


def ledger(task: PeriodicTask, states: list[str]) -> dict[int, TaskRun]:
    """One run per minute before T0, in ``states`` (oldest first), by minute."""
    rows = {}
    for minute, state in enumerate(states, start=1):
        slot = T0 - dt.timedelta(minutes=len(states) + 1 - minute)
        skipped = state == RunState.SKIPPED
        rows[minute] = TaskRun.objects.create(
            periodic_task=task,
            task_name=task.name,
            scheduled_for=slot,
            trigger=Trigger.SCHEDULE,
            state=state,
            claimed_at=slot,
            finished_at=None if skipped else slot + dt.timedelta(seconds=5),
        )
    return rows


def left(task: PeriodicTask) -> list[str]:
    rows = TaskRun.objects.filter(periodic_task=task).order_by(
        F("scheduled_for").asc(nulls_first=True), "id"
    )
    return [row.state for row in rows]


def beat_view(tasks: list[PeriodicTask]) -> Any:
    """What beat reads of the ledger: run marks, last events, max_runs counts."""
    ids = [task.pk for task in tasks]
    capped = [task.pk for task in tasks if task.max_runs is not None]
    return (
        history.run_marks("default", ids),
        history.last_events("default", None, ids),
        history.scheduled_run_counts("default", capped),
    )


def test_all_keeps_every_run() -> None:
    task = make_task("all")
    ledger(task, STORY)
    assert retention.trim() == (0, False)
    assert left(task) == STORY


def test_failures_deletes_the_successes_beat_does_not_read() -> None:
    task = make_task("failures", keep_history=KeepHistory.FAILURES)
    ledger(task, STORY)
    before = beat_view([task])

    deleted, unfinished = retention.trim()

    # The last success stays: dependers and the data interval read it.
    assert left(task) == [
        RunState.FAILURE,
        RunState.SKIPPED,
        RunState.SUCCESS,
        RunState.REVOKED,
        RunState.FAILURE,
        RunState.LOST,
    ]
    assert (deleted, unfinished) == (2, False)
    assert beat_view([task]) == before


def test_last_keeps_what_beat_reads_and_the_failures_since_the_last_success() -> None:
    task = make_task("last", keep_history=KeepHistory.LAST)
    ledger(task, STORY)
    before = beat_view([task])

    retention.trim()

    # The newest success (minute 5), the failures since (7, 8: failures in a row),
    # the newest run and handled event (8). The revoked run counts neither way.
    assert left(task) == [RunState.SUCCESS, RunState.FAILURE, RunState.LOST]
    assert beat_view([task]) == before


def test_last_with_no_success_yet_keeps_the_failures() -> None:
    task = make_task("failing", keep_history=KeepHistory.LAST)
    ledger(task, [RunState.FAILURE, RunState.REVOKED, RunState.FAILURE, RunState.SKIPPED])
    retention.trim()
    assert left(task) == [RunState.FAILURE, RunState.FAILURE, RunState.SKIPPED]


def test_active_waiting_and_max_runs_rows_stay() -> None:
    task = make_task("capped", keep_history=KeepHistory.LAST, max_runs=10)
    ledger(task, [RunState.SUCCESS] * 3)
    other = make_task("busy", keep_history=KeepHistory.LAST)
    ledger(other, [RunState.SUCCESS, RunState.STARTED, RunState.SUCCESS, RunState.CLAIMED])
    manual = TaskRun.objects.create(
        periodic_task=other, task_name="busy", trigger=Trigger.MANUAL, state=RunState.WAITING
    )
    before = beat_view([task, other])

    retention.trim()

    assert left(task) == [RunState.SUCCESS] * 3  # they count towards max_runs
    assert left(other) == [RunState.WAITING, RunState.STARTED, RunState.SUCCESS, RunState.CLAIMED]
    assert TaskRun.objects.filter(pk=manual.pk).exists()
    assert beat_view([task, other]) == before


def test_a_pass_stops_at_its_limit_and_the_next_carries_on() -> None:
    task = make_task("busy", keep_history=KeepHistory.LAST)
    ledger(task, [RunState.SUCCESS] * 12)

    assert retention.trim(limit=5) == (5, True)
    assert retention.trim(limit=5) == (5, True)
    assert retention.trim(limit=5) == (1, False)  # the newest run stays
    assert left(task) == [RunState.SUCCESS]


def test_dry_run_counts_and_deletes_nothing() -> None:
    task = make_task("last", keep_history=KeepHistory.LAST)
    ledger(task, [RunState.SUCCESS] * 4)
    assert retention.trim(dry_run=True) == (3, False)
    assert len(left(task)) == 4


def test_scheduling_and_dependencies_carry_on_with_trimmed_ledgers() -> None:
    """Every minute: a runs, b runs after a's success; the ledger is trimmed between
    minutes, and a fresh beat (which recovers its progress from the ledger) after."""
    a = make_task("a", keep_history=KeepHistory.LAST)
    b = make_task("b", keep_history=KeepHistory.FAILURES)
    TaskDependency.objects.create(depender=b, dependee=a)
    publisher, wake = Recorder(), Wake()
    engine = Engine(Store(), publisher, poll_seconds=5.0, read_wake_token=wake)
    engine.load(E0)
    for minute in range(1, 6):
        start = minute * 60
        run(engine, start + 0.5)
        finish("a", at=start + 1)
        wake.touch()
        run(engine, start + 2)
        finish("b", at=start + 3)
        wake.touch()
        run(engine, start + 4)
        retention.trim()
    assert publisher.names() == ["a", "b"] * 5
    assert [row.state for row in TaskRun.objects.filter(task_name="a")] == [RunState.SUCCESS]
    assert [row.state for row in TaskRun.objects.filter(task_name="b")] == [RunState.SUCCESS]

    # A new beat (a restart, a takeover) neither runs a trimmed event again nor lets b
    # run before a's next success.
    TaskCheckpoint.objects.all().delete()
    restarted = Engine(Store(), publisher, poll_seconds=5.0, read_wake_token=wake)
    restarted.load(E0 + 5 * 60 + 10)
    run(restarted, 5 * 60 + 11)
    assert publisher.names() == ["a", "b"] * 5
    run(restarted, 6 * 60 + 0.5)
    assert publisher.names() == ["a", "b"] * 5 + ["a"]


def test_djag_prune_trims_whatever_the_age() -> None:
    from tests.commands.conftest import run as command

    task = make_task("last", keep_history=KeepHistory.LAST)
    ledger(task, [RunState.SUCCESS] * 4)
    out = command("djag_prune", "--older-than", "30", "--now", T0.isoformat())
    assert "Deleted 3 runs that their task's keep_history lets go." in out
    assert len(left(task)) == 1


def test_an_every_second_task_keeps_one_row() -> None:
    task = make_task("tick", every(second="*"), keep_history=KeepHistory.LAST)
    ledger(task, [RunState.SUCCESS] * 300)
    assert retention.trim() == (299, False)
    assert len(left(task)) == 1
