"""A burst longer than a tick keeps going, and its polls do not read every run in flight.

The defect: during a burst worked off over many ticks, every poll found the
ledger changed (beat's own claims) and read back every run in flight, up to
100,000 rows at a time (a real beat at 100,000 tasks took 157-173 s to send
the burst). The engine is driven with a fake store and a simulated clock.
"""

from __future__ import annotations

from djag.beat.backlog import MAX_DEFERRAL_SECONDS
from djag.beat.engine import Engine
from djag.core.vocab import RunState
from tests.beat.fakes import Broker, FakeStore, task_row
from tests.beat.test_engine import T0

TASKS = 50
PER_TICK = 10


def burst_engine(store: FakeStore, broker: Broker) -> tuple[Engine, list[float]]:
    """TASKS tasks due at T0 (every minute), PER_TICK claimed per tick; the instants at which
    the engine read the runs in flight."""
    for task_id in range(1, TASKS + 1):
        store.add_task(task_row(task_id, start_at=int(T0) - 1, max_running=0))
    engine = Engine(
        store,
        broker,
        poll_seconds=5.0,
        read_wake_token=lambda: None,
        max_claims_per_tick=PER_TICK,
    )
    reads: list[float] = []
    active_runs = store.active_runs
    clock = [T0]

    def counted() -> list:
        reads.append(clock[0])
        return active_runs()

    store.active_runs = counted  # type: ignore[method-assign]
    engine.load(T0 - 1)
    reads.clear()
    engine.clock = clock  # type: ignore[attr-defined]
    return engine, reads


def tick_at(engine: Engine, now: float) -> float:
    engine.clock[0] = now  # type: ignore[attr-defined]
    return engine.tick(now)


def test_a_burst_longer_than_a_tick_keeps_going_and_reads_the_runs_after_it(
    store: FakeStore, broker: Broker
) -> None:
    engine, reads = burst_engine(store, broker)
    now = T0
    sleeps = []
    while len(store.runs) < TASKS:
        sleeps.append(tick_at(engine, now))
        now += 6  # each tick slower than the poll interval: every tick polls
    assert sleeps[:-1] == [0.0] * (len(sleeps) - 1)  # work left: tick again at once
    assert len(sleeps) == TASKS // PER_TICK
    assert reads == []  # every poll of the burst left the runs in flight unread
    assert engine.runs_refresh.deferred == len(sleeps) - 1
    assert len(broker.sent) == TASKS
    for run in store.runs.values():  # finished while the burst was worked off
        run.state, run.finished_at = RunState.SUCCESS, now
    tick_at(engine, now)  # the backlog is done: this poll reads them
    assert reads == [now]
    assert not engine.runs.active


def test_schedule_changes_are_applied_during_a_burst(store: FakeStore, broker: Broker) -> None:
    engine, _ = burst_engine(store, broker)
    tick_at(engine, T0)
    store.edit_task(TASKS, enabled=False)  # the last one, not claimed yet
    now = T0 + 6
    while engine.due.next_due() is not None and engine.due.next_due() <= now:
        tick_at(engine, now)
        now += 6
    assert store.runs_of(TASKS) == []
    assert len(store.runs) == TASKS - 1


def test_a_backlog_that_never_ends_still_has_its_runs_read(
    store: FakeStore, broker: Broker
) -> None:
    engine, reads = burst_engine(store, broker)
    engine.max_claims_per_tick = 1  # far slower than the tasks come due
    now = T0
    for _ in range(40):
        tick_at(engine, now)
        now += 6
    still = engine.due.next_due()  # still behind
    assert still is not None
    assert still <= now
    assert reads  # at least once per MAX_DEFERRAL_SECONDS
    gaps = [later - earlier for earlier, later in zip([T0, *reads], reads, strict=False)]
    assert max(gaps) <= MAX_DEFERRAL_SECONDS + 6
