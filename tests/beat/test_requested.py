"""Runs asked for outside the schedule (one-off, run now, backfill), as the engine sends
them: a fake store, a recording broker and a simulated clock, no database.

Each test is a timeline: what is asked for when, what beat claims and publishes,
what waits for its task and what frees it.
"""

from __future__ import annotations

import datetime as dt

import pytest

from djag.beat.engine import Engine
from djag.beat.requested import RequestWatch
from djag.core.dag import Edge
from djag.core.message import RunContext
from djag.core.requested import TASK_GONE
from djag.core.vocab import RunState, Trigger
from djag.store.rows import CrontabRow
from tests.beat.fakes import Broker, FakeStore, Wake, task_row
from tests.beat.test_engine import T0, run_until

HOURLY = ("0", "0", "*", "*", "*", "*")


@pytest.fixture
def wake() -> Wake:
    return Wake()


def make_engine(store: FakeStore, broker: Broker, wake: Wake, now: float = T0) -> Engine:
    engine = Engine(store, broker, poll_seconds=5.0, read_wake_token=wake)
    engine.load(now)
    return engine


def moment(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def test_a_one_off_goes_at_its_time_not_before_and_once(
    store: FakeStore, broker: Broker, wake: Wake
) -> None:
    engine = make_engine(store, broker, wake)
    run = store.request(
        Trigger.ONEOFF,
        T0 + 10.25,
        scheduled_for=int(T0) + 10,
        task="reports.build",
        message=([1], {"k": "v"}, {"queue": "q", "headers": {}}),
    )
    wake.touch()
    run_until(engine, T0 + 10.2, step=0.05)
    assert broker.sent == []
    assert run.state == RunState.WAITING
    assert engine.requests.look_at == T0 + 10.25  # beat wakes for it, not later
    run_until(engine, T0 + 30, start=T0 + 10.25, step=0.05)
    [dispatch] = broker.sent
    assert (dispatch.run_id, dispatch.celery_task_id) == (run.id, run.celery_task_id)
    assert (dispatch.task_id, dispatch.task, dispatch.args, dispatch.kwargs) == (
        None,
        "reports.build",
        [1],
        {"k": "v"},
    )
    assert dispatch.options == {"queue": "q", "headers": {}}
    assert dispatch.context == RunContext(run.id, Trigger.ONEOFF, moment(int(T0) + 10))
    assert (run.state, run.claimed_at) == (RunState.SENT, T0 + 10.25)


def test_a_one_off_asked_for_now_is_seen_at_the_next_check_of_the_wake_up_key(
    store: FakeStore, broker: Broker, wake: Wake
) -> None:
    engine = make_engine(store, broker, wake)
    run_until(engine, T0 + 2)
    store.request(Trigger.ONEOFF, T0 + 2.1)
    wake.touch()
    engine.tick(T0 + 2.5)  # the key is read every half second
    assert len(broker.sent) == 1


def test_a_one_off_waiting_through_a_leader_change_is_sent_once_by_the_new_leader(
    store: FakeStore, broker: Broker, wake: Wake
) -> None:
    first = make_engine(store, broker, wake)
    run = store.request(Trigger.ONEOFF, T0 + 60)
    run_until(first, T0 + 30)  # then the leader dies
    successor = make_engine(store, broker, wake, now=T0 + 40)
    run_until(successor, T0 + 59.5, start=T0 + 40)
    assert broker.sent == []
    run_until(successor, T0 + 120, start=T0 + 60)
    assert [d.run_id for d in broker.sent] == [run.id]


def test_two_engines_on_one_ledger_send_a_one_off_once(
    store: FakeStore, broker: Broker, wake: Wake
) -> None:
    """Were the lease to fail, the claim (a guarded move out of ``waiting``) still holds."""
    engines = [make_engine(store, broker, wake), make_engine(store, broker, wake)]
    run = store.request(Trigger.ONEOFF, T0 + 5)
    now = T0
    while now < T0 + 20:
        for engine in engines:
            engine.tick(now)
        now += 0.5
    assert [d.run_id for d in broker.sent] == [run.id]


def test_a_cancelled_one_off_is_never_sent(store: FakeStore, broker: Broker, wake: Wake) -> None:
    engine = make_engine(store, broker, wake)
    run = store.request(Trigger.ONEOFF, T0 + 10)
    run_until(engine, T0 + 5)
    assert store.cancel([run.id], T0 + 5, "alice", "Cancelled by alice") == [run.id]
    run_until(engine, T0 + 60, start=T0 + 5.5)
    assert broker.sent == []
    assert run.state == RunState.CANCELLED
    assert engine.requests.look_at is None  # nothing waits: beat stops looking


def test_a_manual_run_goes_at_once_whatever_max_running_and_carries_the_last_good_slot(
    store: FakeStore, broker: Broker, wake: Wake
) -> None:
    store.add_task(task_row(1, start_at=int(T0) - 1, enabled=False))
    done = store.request(Trigger.BACKFILL, T0 - 100, task_id=1, scheduled_for=int(T0) - 3600)
    done.state = RunState.SUCCESS
    busy = store.request(Trigger.MANUAL, T0 - 50, task_id=1)
    busy.state = RunState.STARTED  # holds the only slot
    engine = make_engine(store, broker, wake)
    manual = store.request(Trigger.MANUAL, T0 + 1, task_id=1)
    wake.touch()
    run_until(engine, T0 + 2)
    [dispatch] = broker.sent
    assert dispatch.run_id == manual.id
    assert (dispatch.task_id, dispatch.args, dispatch.options) == (1, [], {"headers": {}})
    assert dispatch.context == RunContext(
        manual.id, Trigger.MANUAL, None, moment(int(T0) - 3600), 1
    )


def test_a_backfill_with_max_running_1_runs_every_event_in_order_one_at_a_time(
    store: FakeStore, broker: Broker, wake: Wake
) -> None:
    store.add_task(task_row(1, start_at=int(T0) - 1, enabled=False))  # backfills ignore enabled
    events = [int(T0) - 3600 * n for n in (5, 4, 3, 2, 1)]
    for event in reversed(events):  # asked for out of order: beat sends them oldest first
        store.request(Trigger.BACKFILL, T0, task_id=1, scheduled_for=event)
    engine = make_engine(store, broker, wake)
    now = T0
    for expected in events:
        run_until(engine, now + 6, start=now)
        [active] = [r for r in store.runs_of(1) if r.state == RunState.SENT]
        assert active.scheduled_for == expected
        now += 6.5
        store.finish(active.id, RunState.SUCCESS, now)
        wake.touch()
    run_until(engine, now + 30, start=now)
    assert [d.context.scheduled_for for d in broker.sent if d.context] == [
        moment(e) for e in events
    ]
    previous = [d.context.previous_scheduled_for for d in broker.sent if d.context]
    assert previous == [None, *map(moment, events[:-1])]


def test_a_backfill_waits_for_its_dependee_like_a_scheduled_run(
    store: FakeStore, broker: Broker, wake: Wake
) -> None:
    store.crontabs[2] = CrontabRow(2, HOURLY, "UTC")
    store.add_task(task_row(1, crontab_id=2, start_at=int(T0)))  # next events at 13:00
    store.add_task(task_row(2, crontab_id=2, start_at=int(T0)))
    store.add_edge(2, Edge(dependee=1))
    backfilled = store.request(Trigger.BACKFILL, T0, task_id=2, scheduled_for=int(T0) - 3600)
    engine = make_engine(store, broker, wake)
    run_until(engine, T0 + 20)
    assert backfilled.state == RunState.WAITING  # task 1 has produced nothing yet
    manual = store.request(Trigger.MANUAL, T0 + 20, task_id=1)
    wake.touch()
    run_until(engine, T0 + 25, start=T0 + 20)
    store.finish(manual.id, RunState.SUCCESS, T0 + 25)
    wake.touch()
    run_until(engine, T0 + 30, start=T0 + 25)
    assert backfilled.state == RunState.SENT


def test_a_run_of_a_deleted_task_is_cancelled_not_sent(
    store: FakeStore, broker: Broker, wake: Wake
) -> None:
    store.add_task(task_row(1, enabled=False))
    manual = store.request(Trigger.MANUAL, T0 + 10, task_id=1)
    engine = make_engine(store, broker, wake)
    store.delete_task(1)
    wake.touch()
    run_until(engine, T0 + 20)
    assert broker.sent == []
    assert (manual.state, manual.error) == (RunState.CANCELLED, TASK_GONE)


def test_a_long_held_backfill_does_not_hide_later_one_offs(
    store: FakeStore, broker: Broker, wake: Wake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(RequestWatch, "PER_LOOK", 4)
    monkeypatch.setattr(RequestWatch, "PER_TASK", 2)
    store.add_task(task_row(1, enabled=False))
    busy = store.request(Trigger.MANUAL, T0 - 10, task_id=1)
    busy.state = RunState.STARTED
    for hour in range(1, 11):
        store.request(Trigger.BACKFILL, T0 - 5, task_id=1, scheduled_for=int(T0) - 3600 * hour)
    one_off = store.request(Trigger.ONEOFF, T0 + 1)
    engine = make_engine(store, broker, wake)
    run_until(engine, T0 + 3)
    assert [d.run_id for d in broker.sent] == [one_off.id]


def test_an_idle_beat_does_not_read_waiting_runs_when_none_wait(
    store: FakeStore, broker: Broker, wake: Wake, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[float] = []
    read = store.requested_runs
    monkeypatch.setattr(store, "requested_runs", lambda now, *a: reads.append(now) or read(now, *a))
    engine = make_engine(store, broker, wake)
    run_until(engine, T0 + 60)
    assert reads == []
    store.request(Trigger.ONEOFF, T0 + 100)
    wake.touch()
    run_until(engine, T0 + 120, start=T0 + 60.5)
    assert reads == [T0 + 60.5, T0 + 100]  # when it appeared, and at its time


def test_a_one_off_the_broker_refused_is_sent_again_with_its_id_and_context(
    store: FakeStore, broker: Broker, wake: Wake
) -> None:
    run = store.request(Trigger.ONEOFF, T0 + 1, task="reports.build", message=([], {}, {}))
    broker.down = True
    run_until(make_engine(store, broker, wake), T0 + 2)  # claims, cannot publish, dies
    assert run.state == RunState.CLAIMED
    successor = Broker()
    make_engine(store, successor, wake, now=T0 + 3)
    [dispatch] = successor.sent
    assert (dispatch.celery_task_id, dispatch.task) == (run.celery_task_id, "reports.build")
    assert dispatch.context == RunContext(run.id, Trigger.ONEOFF)


def test_more_due_runs_than_one_look_reads_go_at_the_next_ticks_not_the_next_poll(
    store: FakeStore, broker: Broker, wake: Wake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(RequestWatch, "PER_LOOK", 2)
    engine = make_engine(store, broker, wake)
    runs = [store.request(Trigger.ONEOFF, T0 + 1) for _ in range(5)]
    wake.touch()
    run_until(engine, T0 + 1.5, start=T0 + 0.5)  # bounded: two per tick
    assert len(broker.sent) == 4
    engine.tick(T0 + 2)
    assert sorted(d.run_id for d in broker.sent) == [run.id for run in runs]
