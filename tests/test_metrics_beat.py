"""Beat's metrics wired in: a DjagScheduler with DJAG_METRICS_PORT set serves what its engine
saw (the page read with prometheus_client's own parser) and stops serving when it closes;
the engine's backlog and lag as the report measures them."""

from __future__ import annotations

import datetime as dt
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence

import pytest
from django.test import override_settings
from django.utils import timezone

from djag.beat.due import DueQueue
from djag.beat.engine import Engine
from djag.beat.metrics import Metrics
from djag.beat.outbox import Dispatch
from djag.beat.report import MetricsReport
from djag.core.vocab import RunState
from djag.models import PeriodicTask, TaskRun, Trigger
from djag.scheduler import DjagScheduler
from sample_site.celery import app
from tests.beat.fakes import FakeStore, task_row
from tests.e2e.conftest import free_port
from tests.test_metrics import scrape


def publish(dispatches: Sequence[Dispatch]) -> list[tuple[Dispatch, Exception]]:
    return []


@pytest.mark.django_db(transaction=True)
def test_a_beat_serves_what_it_saw_and_stops_when_it_closes(
    make_task: Callable[..., PeriodicTask],
) -> None:
    watched = make_task(name="watched")
    broken = make_task(name="broken")
    PeriodicTask._base_manager.filter(pk=broken.pk).update(headers={"id": "mine"})  # reserved
    started = timezone.now() - dt.timedelta(seconds=30)
    run = TaskRun.objects.create(
        periodic_task=watched,
        task_name=watched.name,
        trigger=Trigger.MANUAL,
        state=RunState.STARTED,
        claimed_at=started,
        started_at=started,
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    with override_settings(DJAG_METRICS_PORT=port, DJAG_METRICS_ADDRESS="127.0.0.1"):
        beat = DjagScheduler(app=app, lazy=True)
        with pytest.raises(urllib.error.URLError):  # served from the first tick on
            urllib.request.urlopen(url, timeout=5)
        try:
            beat.engine.publish = publish
            beat.tick()  # leads and loads: the run is in flight
            finished = started + dt.timedelta(seconds=12.5)
            TaskRun.objects.filter(pk=run.pk).update(state=RunState.SUCCESS, finished_at=finished)
            beat.engine.next_db_poll = beat.engine.next_check = 0.0  # poll now
            beat.tick()
            page = scrape(url)
        finally:
            beat.close()
    assert page["djag_beat_leader"] == {("djag_beat_leader", ()): 1.0}
    assert page["djag_tasks_with_problem"] == {("djag_tasks_with_problem", ()): 1.0}
    assert page["djag_runs"]["djag_runs_total", (("state", "success"),)] == 1.0
    task = (("task", "watched"),)
    durations = page["djag_run_duration_seconds"]
    assert durations["djag_run_duration_seconds_count", task] == 1.0
    assert durations["djag_run_duration_seconds_sum", task] == pytest.approx(12.5)
    assert page["djag_last_success_timestamp_seconds"] == {
        ("djag_last_success_timestamp_seconds", task): pytest.approx(finished.timestamp())
    }
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=5)


class Recorded(Metrics):
    def __init__(self) -> None:
        self.ticks: list[tuple[float, int, bool]] = []
        self.ended: list[tuple[str, str, float | None, float | None]] = []
        self.forgotten: list[str] = []

    def tick(self, lag: float, backlog: int, leading: bool) -> None:
        self.ticks.append((lag, backlog, leading))

    def run_finished(
        self, task: str, state: str, duration: float | None, finished_at: float | None
    ) -> None:
        self.ended.append((task, state, duration, finished_at))

    def forget_task(self, task: str) -> None:
        self.forgotten.append(task)


T0 = 1_772_452_800.0  # 2026-03-02 12:00:00 UTC, a Monday


def test_lag_backlog_and_lost_runs_as_the_report_measures_them() -> None:
    store = FakeStore()
    # Two tasks due at 12:00, one claim allowed per tick: the second waits a tick.
    store.add_task(task_row(1, start_at=int(T0) - 1, run_timeout_seconds=30))
    store.add_task(task_row(2, start_at=int(T0) - 1, run_timeout_seconds=30))
    engine = Engine(
        store, publish, poll_seconds=1.0, read_wake_token=lambda: None, max_claims_per_tick=1
    )
    recorded = Recorded()
    report = MetricsReport(engine, recorded)
    engine.load(T0)
    lag = report.lag(T0 + 2.5)
    engine.tick(T0 + 2.5)
    report.ticked(lag, T0 + 2.5, leading=True)
    assert recorded.ticks == [(2.5, 1, True)]  # 2.5 s late, one task still due
    now = T0 + 2.5
    while now < T0 + 40:
        now += 0.5
        engine.tick(now)
    assert sorted(recorded.ended) == [
        ("task-1", RunState.LOST, None, pytest.approx(T0 + 33)),
        ("task-2", RunState.LOST, None, pytest.approx(T0 + 33.5)),
    ]
    report.ticked(0.0, now, leading=False)
    assert recorded.ticks[-1] == (0.0, 0, False)


def test_count_due_walks_only_the_due_part_of_the_queue() -> None:
    engine = Engine(FakeStore(), publish, poll_seconds=1.0, read_wake_token=lambda: None)
    for task_id, due in enumerate([50, 10, 30, 20, 40, 60, 10], start=1):
        engine.due.push(task_id, due)
    engine.due.forget(2)  # a stale entry is not counted
    engine.due.push(3, 70)  # nor a replaced one
    assert [engine.due.count_due(t) for t in (5, 10, 20, 45, 100)] == [0, 1, 2, 3, 6]


def test_the_series_of_a_deleted_or_renamed_task_are_dropped() -> None:
    store = FakeStore()
    for task_id in (1, 2, 3):
        store.add_task(task_row(task_id, start_at=int(T0) - 1, max_running=0))
    engine = Engine(store, publish, poll_seconds=1.0, read_wake_token=lambda: None)
    recorded = Recorded()
    report = MetricsReport(engine, recorded)
    engine.load(T0)
    engine.tick(T0)
    for run in list(store.runs.values()):
        store.finish(run.id, RunState.SUCCESS, T0 + 1)
    engine.tick(T0 + 2)
    assert sorted(name for name, *_ in recorded.ended) == ["task-1", "task-2", "task-3"]
    store.delete_task(1)
    store.edit_task(2, name="task-2b")
    engine.tick(T0 + 4)
    report.ticked(0.0, T0 + 4, leading=True)
    assert sorted(recorded.forgotten) == ["task-1", "task-2"]
    report.ticked(0.0, T0 + 30, leading=True)  # said once
    assert len(recorded.forgotten) == 2


def test_a_long_backlog_is_counted_at_most_every_few_seconds_and_at_once_when_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = FakeStore()
    for task_id in range(1, 31):  # thirty tasks due at 12:00, ten claimed per tick
        store.add_task(task_row(task_id, start_at=int(T0) - 1, max_running=0))
    engine = Engine(
        store, publish, poll_seconds=1.0, read_wake_token=lambda: None, max_claims_per_tick=10
    )
    recorded = Recorded()
    report = MetricsReport(engine, recorded)
    engine.load(T0)
    walks = []
    count_due = DueQueue.count_due

    def counted(queue: DueQueue, moment: int) -> int:
        walks.append(moment)
        return count_due(queue, moment)

    monkeypatch.setattr(DueQueue, "count_due", counted)
    for now in (T0 + 1, T0 + 2, T0 + 3):  # ticks of a burst, a second apart
        engine.tick(now)
        report.ticked(0.0, now, leading=True)
    assert walks == [int(T0 + 1)]  # once in BACKLOG_SECONDS
    assert [backlog for _, backlog, _ in recorded.ticks] == [20, 20, 0]  # done: known at once
