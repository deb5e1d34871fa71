"""Bounded work per tick and fenced claims, on the engine with a fake store and a simulated clock.

The defects: a ``run_all`` task with an unbounded ``max_catchup`` claimed its whole backlog
(21,600 runs for six hours of a per-second task) in one tick while every other task
waited; and a leader that had lost its lease while frozen still claimed when it woke.
"""

from __future__ import annotations

import pytest

from djag.beat.engine import MAX_CLAIMS_PER_TICK, Engine
from djag.core.vocab import MAX_CATCHUP, RunState, Trigger
from djag.store.lease import Deposed
from djag.store.rows import CrontabRow, Fence
from tests.beat.fakes import Broker, FakeStore, task_row
from tests.beat.test_engine import T0

EVERY_SECOND = ("*", "*", "*", "*", "*", "*")
HOUR = 3600


@pytest.fixture
def store() -> FakeStore:
    store = FakeStore()
    store.crontabs[2] = CrontabRow(2, EVERY_SECOND, "UTC")
    return store


def claims_per_tick(engine: Engine, store: FakeStore, now: float, ticks: int) -> list[int]:
    """Tick ``ticks`` times at the same instant (beat ticks again at once when work is left);
    return how many ledger rows each tick claimed."""
    counts = []
    for _ in range(ticks):
        before = len(store.runs)
        engine.tick(now)
        counts.append(len(store.runs) - before)
    return counts


def test_the_bound_leaves_room_for_a_whole_catch_up() -> None:
    assert MAX_CLAIMS_PER_TICK > MAX_CATCHUP  # one task's decision always fits in a tick


def test_a_six_hour_backlog_is_bounded_and_the_other_tasks_stay_on_time(
    store: FakeStore,
) -> None:
    # A per-second run_all task down for six hours: 21,600 events pending.
    store.add_task(
        task_row(
            1,
            crontab_id=2,
            misfire_policy="run_all",
            max_catchup=MAX_CATCHUP,
            max_running=0,
            start_at=int(T0) - 6 * HOUR,
        )
    )
    for task_id in (2, 3, 4):  # every minute, due at T0
        store.add_task(task_row(task_id, start_at=int(T0) - 1))
    broker = Broker()
    engine = Engine(
        store, broker, poll_seconds=5.0, read_wake_token=lambda: None, max_claims_per_tick=600
    )
    engine.load(T0)
    counts = claims_per_tick(engine, store, T0 + 0.25, ticks=4)
    assert max(counts) <= MAX_CATCHUP + 1  # one decision at most, never the whole backlog
    backlog = store.runs_of(1)
    assert len(backlog) == MAX_CATCHUP  # run_all's bound: the oldest run alone, ...
    assert sum(run.coalesced_count for run in backlog) == 6 * HOUR  # ... the rest coalesced
    # The tasks due behind the backlog went out in the next tick, at the same instant.
    for task_id in (2, 3, 4):
        [on_time] = store.runs_of(task_id)
        assert (on_time.scheduled_for, on_time.trigger) == (int(T0), Trigger.SCHEDULE)
        assert on_time.claimed_at == T0 + 0.25


def test_many_backlogs_are_worked_off_in_batches_within_the_bound(store: FakeStore) -> None:
    # Ten per-second run_all tasks, each 300 events behind; 200 rows per tick at most.
    for task_id in range(1, 11):
        store.add_task(
            task_row(
                task_id,
                crontab_id=2,
                misfire_policy="run_all",
                max_catchup=300,
                max_running=0,
                start_at=int(T0) - 301,
            )
        )
    store.add_task(task_row(11, start_at=int(T0) - 1))  # every minute, due at T0
    broker = Broker()
    engine = Engine(
        store, broker, poll_seconds=5.0, read_wake_token=lambda: None, max_claims_per_tick=700
    )
    engine.load(T0)
    counts = claims_per_tick(engine, store, T0 + 0.25, ticks=8)
    assert sum(counts) == 10 * 300 + 1
    assert max(counts) <= 700  # two backlogs a tick: a third does not fit
    assert counts[5:] == [0, 0, 0]  # worked off in five ticks
    for task_id in range(1, 11):
        assert len(store.runs_of(task_id)) == 300
    assert [run.scheduled_for for run in store.runs_of(11)] == [int(T0)]
    assert len(broker.sent) == sum(counts)


def test_a_tick_with_work_left_asks_to_be_called_again_at_once(store: FakeStore) -> None:
    for task_id in (1, 2):
        store.add_task(
            task_row(
                task_id,
                crontab_id=2,
                misfire_policy="run_all",
                max_catchup=100,
                max_running=0,
                start_at=int(T0) - 101,
            )
        )
    engine = Engine(
        store, Broker(), poll_seconds=5.0, read_wake_token=lambda: None, max_claims_per_tick=150
    )
    engine.load(T0)
    assert engine.tick(T0 + 0.25) == 0.0
    assert len(store.runs) == 100
    engine.tick(T0 + 0.25)
    assert len(store.runs) == 200


# -- fenced claims -----------------------------------------------------------------------


def test_a_deposed_leader_claims_nothing_and_its_tasks_stay_due(store: FakeStore) -> None:
    store.add_task(task_row(1, start_at=int(T0) - 1, max_running=0))
    mine = Fence("default", "beat-a", 1)
    store.lease = mine
    broker = Broker()
    engine = Engine(store, broker, poll_seconds=5.0, read_wake_token=lambda: None)
    engine.fence = mine
    engine.load(T0)
    engine.tick(T0 + 0.5)
    assert [run.scheduled_for for run in store.runs_of(1)] == [int(T0)]

    # Frozen past its lease; another beat took over (a higher generation) meanwhile.
    store.lease = Fence("default", "beat-b", 2)
    with pytest.raises(Deposed):
        engine.tick(T0 + 60.5)
    assert [run.scheduled_for for run in store.runs_of(1)] == [int(T0)]
    assert len(broker.sent) == 1
    assert 1 in engine.due  # nothing was applied: decided again if it leads again


def test_an_unfenced_engine_claims_as_before(store: FakeStore) -> None:
    store.add_task(task_row(1, start_at=int(T0) - 1))
    store.lease = Fence("default", "someone-else", 9)
    engine = Engine(store, Broker(), poll_seconds=5.0, read_wake_token=lambda: None)
    engine.load(T0)
    engine.tick(T0 + 0.5)
    assert [run.state for run in store.runs_of(1)] == [RunState.SENT]
