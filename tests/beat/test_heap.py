"""Beat and the cyclic garbage collector (``djag.beat.heap``): what is frozen, when it pauses."""

from __future__ import annotations

import datetime as dt
import gc
import weakref
from collections.abc import Iterator, Sequence

import pytest

from djag.beat import heap
from djag.beat.engine import Engine
from djag.beat.outbox import Dispatch
from djag.store.rows import ChangeBatch, ClaimedRun, Fence, NewRun
from tests.beat.fakes import FakeStore, task_row

T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC).timestamp()


class Node:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.itself = self


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    (gc.enable if enabled else gc.disable)()


def test_a_load_freezes_what_is_alive_and_the_next_load_frees_what_it_replaced() -> None:
    node = Node()
    replaced = weakref.ref(node)
    heap.freeze_loaded()  # the first load
    assert gc.get_freeze_count() > 0
    del node  # the schedule a reload replaces: cyclic garbage, but frozen
    gc.collect()
    assert replaced() is not None
    heap.freeze_loaded()  # the reload
    assert replaced() is None


def test_cyclic_garbage_made_before_a_load_is_collected_not_frozen() -> None:
    node = Node()
    garbage = weakref.ref(node)
    del node
    heap.freeze_loaded()
    assert garbage() is None


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_paused_while_a_burst_is_decided_and_claimed(enabled: bool) -> None:
    seen: list[bool] = []

    class Recording(FakeStore):
        def claim(
            self, new_runs: Sequence[NewRun], now: float, fence: Fence | None = None
        ) -> list[ClaimedRun]:
            seen.append(gc.isenabled())
            return super().claim(new_runs, now, fence)

    def publish(dispatches: Sequence[Dispatch]) -> list[tuple[Dispatch, Exception]]:
        seen.append(gc.isenabled())
        return []

    store = Recording()
    for task_id in (1, 2, 3):
        store.add_task(task_row(task_id, start_at=int(T0) - 1))
    engine = Engine(store, publish, poll_seconds=5.0, read_wake_token=lambda: None)
    engine.load(T0 - 1)
    (gc.enable if enabled else gc.disable)()
    engine.tick(T0)
    assert seen == [False, False]  # the claim, then the publish
    assert gc.isenabled() is enabled


def test_the_engine_calls_after_load_on_every_full_load() -> None:
    loads: list[int] = []
    store = FakeStore()
    store.add_task(task_row(1, start_at=int(T0) - 1))
    engine = Engine(
        store,
        lambda dispatches: [],
        poll_seconds=5.0,
        read_wake_token=lambda: None,
        after_load=lambda: loads.append(len(engine.tasks)),
    )
    engine.load(T0)
    engine.apply_changes(ChangeBatch(tasks=frozenset({1})), T0)  # an edit: no full load
    engine.apply_changes(ChangeBatch(reload_all=True), T0)
    assert loads == [1, 1]


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_paused_while_the_schedule_loads(enabled: bool) -> None:
    seen: list[bool] = []

    class Recording(FakeStore):
        def load_tasks(self, ids=None, crontab_ids=None):  # type: ignore[no-untyped-def]
            seen.append(gc.isenabled())
            return super().load_tasks(ids, crontab_ids)

    store = Recording()
    store.add_task(task_row(1, start_at=int(T0) - 1))
    engine = Engine(
        store,
        lambda sent: [],
        poll_seconds=5.0,
        read_wake_token=lambda: None,
        after_load=lambda: seen.append(gc.isenabled()),
    )
    (gc.enable if enabled else gc.disable)()
    engine.load(T0 - 1)
    assert seen == [False, False]  # the rows read, then beat's freeze of them
    assert gc.isenabled() is enabled
    assert 1 in engine.tasks


def test_closing_beat_freezes_what_is_alive_for_the_exit() -> None:
    gc.unfreeze()
    try:
        heap.freeze_closed()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
