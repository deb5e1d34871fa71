"""Beat's alert watch over the engine, with a fake store and a simulated clock: when a
task's alerts are checked, what is recorded and announced, and the pause after failures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest

from djag.alerts import Alert
from djag.beat import alerting
from djag.beat.alerting import CHECK_SECONDS, AlertWatch
from djag.beat.engine import Engine
from djag.beat.outbox import Dispatch
from djag.core.alerts import AlertKind, AlertRule
from djag.core.vocab import ACTIVE_STATES, RunState
from tests.beat.fakes import FakeStore, task_row

T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC).timestamp()  # a Monday, 12:00:00 UTC


def broker(dispatches: Sequence[Dispatch]) -> list[tuple[Dispatch, Exception]]:
    return []


class Beat:
    """An engine and its alert watch, ticked on a simulated clock; runs end as told."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.engine = Engine(store, broker, poll_seconds=1.0, read_wake_token=lambda: None)
        self.announced: list[Alert] = []
        self.watch = AlertWatch(self.engine, self.announced.append)
        self.engine.runs.on_ended.append(self.watch.runs_ended)
        self.engine.load(T0)
        self.now = T0

    def run(self, until: float, ends: Any = None, step: float = 0.5) -> None:
        """Tick to ``until``; each run in flight ends 5 s after its claim in the state
        ``ends`` gives for it (a state, or a function of the run's number), if any."""
        while self.now <= until:
            for run in self.store.runs.values():
                if (
                    ends is not None
                    and run.state in ACTIVE_STATES
                    and self.now >= run.claimed_at + 5
                ):
                    state = ends(run.id) if callable(ends) else ends
                    self.store.finish(run.id, state, self.now)
            self.engine.tick(self.now)
            self.watch.tick(self.now)
            self.now += step

    def alerts(self) -> list[tuple[str, AlertKind, bool, str]]:
        return [(a.task_name, a.kind, a.tripped, a.reason) for a in self.announced]


def rule(**thresholds: int) -> dict[str, Any]:
    return {"alert_rule": AlertRule(**thresholds), "start_at": int(T0) - 1}


def test_failures_in_a_row_trip_once_then_recover_at_a_success() -> None:
    store = FakeStore()
    store.add_task(task_row(1, **rule(failures_in_a_row=2)))
    beat = Beat(store)
    beat.run(T0 + 60 + 30, ends=RunState.FAILURE)  # the 12:00 and 12:01 runs failed
    assert beat.alerts() == [
        ("task-1", AlertKind.FAILING, True, "2 runs failed in a row (the alert is at 2)")
    ]
    assert store.alerts[1] == (
        frozenset({AlertKind.FAILING}),
        "failing: 2 runs failed in a row (the alert is at 2)",
    )
    beat.run(T0 + 120 + 30, ends=RunState.FAILURE)  # a third failure: still tripped, no news
    assert len(beat.alerts()) == 1
    beat.run(T0 + 180 + 30, ends=RunState.SUCCESS)
    assert beat.alerts()[1] == ("task-1", AlertKind.FAILING, False, "a run succeeded")
    assert store.alerts[1] == (frozenset(), "")


def test_revoked_runs_neither_trip_nor_recover_the_failing_alert() -> None:
    store = FakeStore()
    store.add_task(task_row(1, **rule(failures_in_a_row=2)))
    beat = Beat(store)
    states = {1: RunState.FAILURE, 2: RunState.REVOKED, 3: RunState.FAILURE}
    beat.run(T0 + 120 + 30, ends=states.get)
    assert [(kind, tripped) for _, kind, tripped, _ in beat.alerts()] == [(AlertKind.FAILING, True)]
    assert beat.announced[0].at == dt.datetime.fromtimestamp(T0 + 125, dt.UTC)


def test_the_task_is_paused_after_n_failures_and_runs_no_more() -> None:
    store = FakeStore()
    store.add_task(task_row(1, **rule(failures_in_a_row=2, pause_after_failures=3)))
    beat = Beat(store)
    beat.run(T0 + 600, ends=RunState.FAILURE)
    assert len(store.runs_of(1)) == 3  # 12:00, 12:01, 12:02; nothing after the pause
    why = "paused after 3 runs failed in a row (pause_after_failures = 3)"
    assert store.paused == [(1, why)]
    assert not store.tasks[1].enabled
    tripped, note = store.alerts[1]
    assert tripped == {AlertKind.FAILING}
    assert note.endswith(why)
    assert [(kind, tripped) for _, kind, tripped, _ in beat.alerts()] == [(AlertKind.FAILING, True)]


def test_a_re_enabled_task_gets_n_new_tries_before_it_is_paused_again() -> None:
    store = FakeStore()
    store.add_task(task_row(1, **rule(pause_after_failures=2)))
    beat = Beat(store)
    beat.run(T0 + 200, ends=RunState.FAILURE)
    assert len(store.paused) == 1
    assert len(store.runs_of(1)) == 2
    # A person enables it again: the model sets resume_at to now.
    store.edit_task(1, enabled=True, resume_at=int(beat.now))
    beat.run(beat.now + 65, ends=RunState.FAILURE)  # one new failure: not paused yet
    assert len(store.paused) == 1
    assert store.tasks[1].enabled
    beat.run(beat.now + 60, ends=RunState.FAILURE)
    assert len(store.paused) == 2
    assert not store.tasks[1].enabled


def test_overdue_trips_at_the_deadline_of_a_slot_and_recovers_on_a_success() -> None:
    store = FakeStore()
    store.add_task(task_row(1, **rule(succeed_within=30)))
    beat = Beat(store)
    beat.run(T0 + 29.5)  # the 12:00 run is in flight, its deadline (12:00:30) is not passed
    assert beat.alerts() == []
    beat.run(T0 + 31 + CHECK_SECONDS)
    [alert] = beat.announced
    assert (alert.kind, alert.tripped) == (AlertKind.OVERDUE, True)
    assert alert.reason.startswith(
        "no run for the slot at 2026-03-02 12:00:00 UTC or later succeeded within 30 s"
    )
    assert T0 + 30 <= alert.at.timestamp() <= T0 + 30 + CHECK_SECONDS
    [run] = store.runs_of(1)
    store.finish(run.id, RunState.SUCCESS, beat.now)
    beat.run(beat.now + 2)
    assert (beat.announced[-1].kind, beat.announced[-1].tripped) == (AlertKind.OVERDUE, False)
    assert beat.announced[-1].reason == "a run for 2026-03-02 12:00:00 UTC succeeded"


def test_disabling_an_overdue_task_recovers_its_alert() -> None:
    store = FakeStore()
    store.add_task(task_row(1, **rule(succeed_within=30)))
    beat = Beat(store)
    beat.run(T0 + 40)
    assert [a.tripped for a in beat.announced] == [True]
    store.edit_task(1, enabled=False)
    beat.run(beat.now + 2 + CHECK_SECONDS)
    assert beat.announced[-1].reason == "the task is disabled or paused: no slot is due"


def test_an_idle_pass_reads_nothing_until_a_deadline_passes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = FakeStore()
    store.add_task(task_row(1, **rule(succeed_within=90)))
    store.add_task(task_row(2, start_at=int(T0) - 1))  # no rule: never read
    reads: list[tuple[int, float]] = []
    history = store.alert_history
    beat = Beat(store)

    def counted(task_id: int, newest: int) -> Any:
        reads.append((task_id, beat.now))
        return history(task_id, newest)

    monkeypatch.setattr(store, "alert_history", counted)
    beat.run(T0 + 89)
    assert [task for task, _ in reads] == [1]  # the first look, after the load
    beat.run(T0 + 149)  # 12:00's deadline (12:01:30) passed: one read, then none till 12:02:30
    assert len(reads) == 2
    assert T0 + 90 <= reads[1][1] <= T0 + 90 + CHECK_SECONDS
    beat.run(T0 + 151 + CHECK_SECONDS)
    assert len(reads) == 3


def test_a_reloaded_beat_does_not_announce_an_alert_already_recorded() -> None:
    store = FakeStore()
    store.add_task(task_row(1, **rule(failures_in_a_row=1)))
    beat = Beat(store)
    beat.run(T0 + 30, ends=RunState.FAILURE)
    assert len(beat.announced) == 1
    tripped, _ = store.alerts[1]
    store.edit_task(1, alerts_tripped=tripped)  # as the store reads the recorded state back
    successor = Beat(store)  # another beat takes over, with the same facts
    successor.now = beat.now
    successor.run(beat.now + 2 * CHECK_SECONDS)
    assert successor.announced == []


def test_one_tick_checks_a_bounded_number_of_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alerting, "MAX_CHECKS_PER_TICK", 3)
    store = FakeStore()
    for task_id in range(1, 8):
        store.add_task(task_row(task_id, **rule(failures_in_a_row=1)))
    beat = Beat(store)
    checked: list[int] = []
    monkeypatch.setattr(beat.watch, "check", lambda task_id, now: checked.append(task_id))
    for step in range(3):
        beat.watch.tick(T0 + step * 0.5)
        assert checked == list(range(1, min(3 * (step + 1), 7) + 1))


def test_the_pause_comes_before_the_next_run_that_waited_for_the_failed_one() -> None:
    store = FakeStore()
    store.add_task(task_row(1, **rule(pause_after_failures=2)))
    beat = Beat(store)
    # Each run takes 70 s: the next minute's event waits for it, and goes the moment it ends.
    ending = {}

    def ends(run_id: int) -> RunState | None:
        ending.setdefault(run_id, beat.now)
        return RunState.FAILURE if beat.now >= ending[run_id] + 65 else None

    while beat.now <= T0 + 400:
        for run in store.runs.values():
            if run.state in ACTIVE_STATES and (state := ends(run.id)) is not None:
                store.finish(run.id, state, beat.now)
        beat.engine.tick(beat.now)
        beat.watch.tick(beat.now)
        beat.now += 0.5
    assert [run.state for run in store.runs_of(1)] == [RunState.FAILURE] * 2
    assert len(store.paused) == 1
