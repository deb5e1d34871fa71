"""The engine with a fake store, a recording publisher and a simulated clock: no database.

Each test states one behaviour of beat as a timeline: what is due when, what is
claimed and published, what waits and what frees it.
"""

from __future__ import annotations

import datetime as dt

import pytest

from djag.beat.engine import Engine
from djag.beat.outbox import Outbox
from djag.core.dag import Edge
from djag.core.vocab import RunState, Trigger
from djag.store.rows import CrontabRow
from tests.beat.fakes import Broker, FakeStore, task_row

T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC).timestamp()  # a Monday, 12:00:00 UTC


def make_engine(store: FakeStore, broker: Broker) -> Engine:
    engine = Engine(store, broker, poll_seconds=5.0, read_wake_token=lambda: None)
    engine.load(T0)
    return engine


def run_until(engine: Engine, until: float, start: float = T0, step: float = 0.5) -> None:
    """Tick the engine every ``step`` seconds of simulated time from ``start`` to ``until``."""
    now = start
    while now <= until:
        engine.tick(now)
        now += step


def test_a_task_runs_once_per_event(store: FakeStore, broker: Broker) -> None:
    store.add_task(task_row(1, start_at=int(T0) - 1, max_running=0))
    engine = make_engine(store, broker)
    run_until(engine, T0 + 180)
    slots = sorted(run.scheduled_for for run in store.runs_of(1))
    assert slots == [int(T0), int(T0) + 60, int(T0) + 120, int(T0) + 180]
    assert [d.celery_task_id for d in broker.sent] == [r.celery_task_id for r in store.runs_of(1)]
    assert {run.state for run in store.runs_of(1)} == {RunState.SENT}


def test_max_running_holds_the_next_event_until_the_run_finishes(
    store: FakeStore, broker: Broker
) -> None:
    store.add_task(task_row(1, start_at=int(T0) - 1))
    engine = make_engine(store, broker)
    run_until(engine, T0 + 70)
    [first] = store.runs_of(1)  # the 12:00 run, still in flight
    assert engine.progress(1).active_runs == 1
    assert 1 in engine.waiting  # the 12:01 event waits for a free slot

    store.finish(first.id, RunState.SUCCESS, T0 + 75)
    run_until(engine, T0 + 90, start=T0 + 75)  # the next fallback poll sees it
    second = [run for run in store.runs_of(1) if run.id != first.id]
    assert [run.scheduled_for for run in second] == [int(T0) + 60]
    assert [run.trigger for run in second] == [Trigger.SCHEDULE]  # 15 s late: within grace


def test_a_depender_waits_for_a_successful_run_of_its_dependee(
    store: FakeStore, broker: Broker
) -> None:
    store.add_task(task_row(1, start_at=int(T0) - 1))
    store.add_task(task_row(2, start_at=int(T0) - 1))
    store.add_edge(2, Edge(dependee=1))
    engine = make_engine(store, broker)
    run_until(engine, T0 + 10)
    assert [run.task_id for run in store.runs.values()] == [1]

    [producer] = store.runs_of(1)
    store.finish(producer.id, RunState.FAILURE, T0 + 12)
    run_until(engine, T0 + 20, start=T0 + 12)
    assert store.runs_of(2) == []  # a failure does not count

    store.runs[producer.id].state = RunState.SUCCESS  # as if it had succeeded
    store.changes.append((len(store.changes) + 1, "periodictask", 1))  # and poll sees news
    run_until(engine, T0 + 30, start=T0 + 21)
    assert [run.scheduled_for for run in store.runs_of(2)] == [int(T0)]


def test_a_refused_publish_keeps_the_run_claimed_and_sends_it_again_with_its_id(
    store: FakeStore, broker: Broker
) -> None:
    store.add_task(task_row(1, start_at=int(T0) - 1))
    engine = make_engine(store, broker)
    broker.down = True
    run_until(engine, T0 + 2)
    [run] = store.runs_of(1)
    assert run.state == RunState.CLAIMED
    assert broker.sent == []

    broker.down = False
    run_until(engine, T0 + Outbox.RETRY_SECONDS - 1, start=T0 + 2.5)
    assert broker.sent == []  # not before the retry delay
    run_until(engine, T0 + Outbox.RETRY_SECONDS + 1, start=T0 + Outbox.RETRY_SECONDS)
    assert [d.celery_task_id for d in broker.sent] == [run.celery_task_id]
    assert run.state == RunState.SENT


def test_a_run_past_its_timeout_is_lost_and_frees_its_slot(
    store: FakeStore, broker: Broker
) -> None:
    store.add_task(task_row(1, start_at=int(T0) - 1, run_timeout_seconds=100))
    engine = make_engine(store, broker)
    run_until(engine, T0 + 100)
    [first] = store.runs_of(1)
    assert first.state == RunState.SENT
    run_until(engine, T0 + 110, start=T0 + 100.5)
    assert first.state == RunState.LOST
    assert len(store.runs_of(1)) == 2  # the waiting 12:01 event ran at once


def test_a_broken_crontab_is_a_recorded_problem_and_other_tasks_run(
    store: FakeStore, broker: Broker
) -> None:
    store.crontabs[2] = CrontabRow(2, ("0", "*/²", "*", "*", "*", "*"), "UTC")
    store.crontabs[3] = CrontabRow(3, ("0", "0", "0", "31", "2", "*"), "UTC")
    store.add_task(task_row(1, start_at=int(T0) - 1, max_running=0))
    store.add_task(task_row(2, crontab_id=2))
    store.add_task(task_row(3, crontab_id=3))
    engine = make_engine(store, broker)
    run_until(engine, T0 + 60)
    assert store.problems[2].startswith("crontab 2: minute: ")
    assert store.problems[3] == "crontab 3: never fires (no such day in the chosen months)"
    assert [run.scheduled_for for run in store.runs_of(1)] == [int(T0), int(T0) + 60]


def test_an_edit_is_applied_without_a_reload(store: FakeStore, broker: Broker) -> None:
    store.add_task(task_row(1, start_at=int(T0) - 1))
    engine = make_engine(store, broker)
    run_until(engine, T0 + 1)
    store.edit_task(1, enabled=False)
    run_until(engine, T0 + 200, start=T0 + 1.5)
    assert [run.scheduled_for for run in store.runs_of(1)] == [int(T0)]
    assert not engine.tasks[1].row.enabled


def test_a_claimed_but_unsent_run_is_published_again_when_beat_loads(
    store: FakeStore, broker: Broker
) -> None:
    store.add_task(task_row(1, start_at=int(T0) - 1))
    broker.down = True
    run_until(make_engine(store, broker), T0 + 1)  # a beat that claims, then dies
    [run] = store.runs_of(1)
    assert run.state == RunState.CLAIMED
    other = Broker()
    make_engine(store, other)  # its successor, with a working broker
    assert [d.celery_task_id for d in other.sent] == [run.celery_task_id]
    assert run.state == RunState.SENT


def test_checkpoints_are_saved_on_sync_and_kept_when_saving_fails(
    store: FakeStore, broker: Broker
) -> None:
    store.add_task(task_row(1, start_at=int(T0) - 1, max_running=0))
    engine = make_engine(store, broker)
    run_until(engine, T0 + 60)

    def refuse(last_events: dict[int, int], now: float) -> None:
        raise ConnectionError("database down")

    save = store.save_checkpoints
    store.save_checkpoints = refuse  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        engine.sync(T0 + 61)
    store.save_checkpoints = save  # type: ignore[method-assign]
    engine.sync(T0 + 62)
    assert store.checkpoints == {1: int(T0) + 60}
