"""Intervals, exclusions and jitter end to end: a real beat, a real worker, the filesystem broker.

Each test writes its tasks through the ORM while beat runs, waits on the ledger with a
deadline, and checks what beat dispatched and what the worker ran.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from djag.core.jitter import Jitter
from djag.models import PeriodicTask, RunState, TaskRun, Trigger
from djag.store.db import from_epoch
from tests.e2e.support import append_task, epoch, every, runs_of, slot, wait_for

pytestmark = pytest.mark.e2e

SETTLE_SECONDS = 10


def succeeded(task: PeriodicTask, count: int) -> list[TaskRun] | None:
    runs = [run for run in runs_of(task) if run.state != RunState.SKIPPED]
    done = [run for run in runs if run.state == RunState.SUCCESS]
    return done[:count] if len(done) >= count else None


@pytest.mark.timeout(60)
def test_an_interval_task_runs_every_n_seconds_from_its_anchor(worker, beat, tmp_path):
    anchor = int(time.time()) + 3
    task = PeriodicTask.objects.create(
        name="every 2 s",
        task="tests.append_line",
        interval_seconds=2,
        interval_anchor=from_epoch(anchor),
        start_at=from_epoch(anchor - 1),
        kwargs={"path": str(tmp_path / "interval.txt"), "label": "interval"},
    )
    runs = wait_for(lambda: succeeded(task, 5), 8 + SETTLE_SECONDS, "five interval runs")
    assert [slot(run) for run in runs] == [anchor + 2 * k for k in range(5)]
    for run in runs:
        assert (run.trigger, run.worker) == (Trigger.SCHEDULE, worker.node)
        assert run.started_at is not None
        assert slot(run) <= epoch(run.claimed_at) <= epoch(run.started_at)


@pytest.mark.timeout(60)
def test_excluded_dates_are_skipped_with_their_reason(worker, beat, tmp_path):
    now = dt.datetime.now(dt.UTC)
    yesterday = (now - dt.timedelta(days=1)).date()
    # Two days of every-second events, yesterday excluded: beat records yesterday as one
    # skipped row with its reason, and runs the rest.
    listed = append_task(
        "listed",
        every("*"),
        tmp_path / "listed.txt",
        start_at=now - dt.timedelta(days=2),
        exclude_dates=yesterday.isoformat(),
    )
    # Today and tomorrow excluded by weekday (cron numbers, 0 = Sunday): it never runs.
    weekdays = ",".join(str(day.isoweekday() % 7) for day in (now, now + dt.timedelta(days=1)))
    idle = append_task(
        "idle", every("*", hour="0-23"), tmp_path / "idle.txt", exclude_weekdays=weekdays
    )

    def skip_and_runs() -> list[TaskRun] | None:
        skips = runs_of(listed, state=RunState.SKIPPED)
        return skips if skips and succeeded(listed, 3) else None

    [skip] = wait_for(skip_and_runs, SETTLE_SECONDS, "yesterday's skip and three runs")
    assert skip.note == f"excluded: {yesterday.isoformat()} (listed date)"
    assert skip.coalesced_count == 86400  # every second of the date, in one row
    end_of_yesterday = dt.datetime.combine(yesterday, dt.time(23, 59, 59), dt.UTC)
    assert skip.scheduled_for == end_of_yesterday
    assert all(
        slot(run) > epoch(end_of_yesterday) or slot(run) < epoch(end_of_yesterday) - 86399
        for run in runs_of(listed)
        if run.state != RunState.SKIPPED
    )
    assert runs_of(idle) == []
    assert not (tmp_path / "idle.txt").exists()


@pytest.mark.timeout(60)
def test_jitter_releases_runs_after_their_slot_by_a_stable_delay(worker, beat, tmp_path):
    tasks = [
        append_task(f"jittered {n}", every("*/10"), tmp_path / f"jitter-{n}.txt", jitter_seconds=8)
        for n in range(3)
    ]
    delays = []
    for task in tasks:
        runs = wait_for(lambda task=task: succeeded(task, 2), 20 + SETTLE_SECONDS, task.name)
        for run in runs:
            expected = Jitter(8, f"task {task.pk}").delay(slot(run), slot(run) + 10)
            assert run.delay_seconds == expected
            assert run.started_at is not None
            assert slot(run) + expected <= epoch(run.claimed_at) <= epoch(run.started_at)
            assert run.trigger == Trigger.SCHEDULE
            delays.append(expected)
    assert len(set(delays)) > 1  # spread over the ten seconds, not all at the slot
