"""The worker's batched ledger writes (``djag.recorder``): when a batch is due, that each
run's start and end are written exactly once and in order, and what a failed batch does.

A real worker's shutdown and a SIGKILL mid-buffer: ``tests/e2e/test_worker_batching.py``.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from django.db import OperationalError
from django.utils import timezone

from djag import completions, recorder, wakeup, worker
from djag.models import RunState, TaskRun
from djag.store import worker_batch
from tests.e2e.support import wait_for
from tests.test_worker import sender


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_batch_is_due_when_its_oldest_entry_is_old_enough_or_it_is_full() -> None:
    policy = recorder.FlushPolicy(seconds=0.5, max_batch=3)
    assert policy.wait(None, 0, 10.0) is None  # nothing held: nothing to wait for
    assert policy.wait(10.0, 1, 10.0) == 0.5
    assert policy.wait(10.0, 2, 10.25) == 0.25
    assert policy.wait(10.0, 2, 10.5) == 0.0
    assert policy.wait(10.0, 2, 99.0) == 0.0  # overdue: now, never a negative wait
    assert policy.wait(10.0, 3, 10.0) == 0.0  # full: now, however young


def test_the_recorder_counts_from_the_oldest_entry_it_holds() -> None:
    clock = Clock()
    held = recorder.Recorder(recorder.FlushPolicy(2.0), clock=clock, background=False)
    assert held.due() is None
    held.start(recorder.Start(1, 0.0, "w"))
    clock.now += 1.5
    held.end(completions.Completion(1, RunState.SUCCESS, 0.0))
    assert held.due() == 0.5  # from the start, not from the end
    clock.now += 0.5
    assert held.due() == 0.0


class Batches:
    """What ``worker_batch.record_batch`` was asked to write, batch by batch."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fail: int = 0) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.calls = 0
        self.fail = fail  # the first ``fail`` calls raise as a dropped connection does
        real = worker_batch.record_batch

        def record(using: str, starts: Sequence[Any], ends: Sequence[Any]) -> None:
            self.calls += 1
            if self.calls <= self.fail:
                raise OperationalError("server closed the connection unexpectedly")
            real(using, starts, ends)
            self.starts += [row[0] for row in starts]
            self.ends += [row[0] for row in ends]

        monkeypatch.setattr(worker_batch, "record_batch", record)


pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def runs(make_task: Any) -> list[TaskRun]:
    task = make_task(name="report")
    return [
        TaskRun.objects.create(
            periodic_task=task,
            task_name=task.name,
            task=task.task,
            scheduled_for=timezone.now() - dt.timedelta(seconds=n),
            trigger="schedule",
            state=RunState.SENT,
        )
        for n in range(60)
    ]


@pytest.fixture
def batched(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    settings.DJAG_WORKER_FLUSH_SECONDS = 0.01
    monkeypatch.setattr(recorder, "_recorder", None)
    yield
    if recorder._recorder is not None:
        recorder._recorder.stop()  # its thread's connection must not outlive the database


def states(runs: Sequence[TaskRun]) -> list[str]:
    ids = [run.id for run in runs]
    return list(TaskRun.objects.filter(id__in=ids).order_by("id").values_list("state", flat=True))


def test_every_run_is_written_exactly_once_by_the_background_thread(
    batched: None, runs: list[TaskRun], monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = Batches(monkeypatch)
    real = recorder.FlushPolicy
    monkeypatch.setattr(recorder, "FlushPolicy", lambda seconds: real(seconds, max_batch=7))
    before = wakeup.read()

    def work(share: Sequence[TaskRun]) -> None:  # two task threads, as a threads pool has
        for run in share:
            worker.on_prerun(sender=sender(run.id))
            if run.id % 3:
                worker.on_success(sender=sender(run.id))
            else:
                worker.on_failure(sender=sender(run.id), exception=ValueError(run.id))

    threads = [threading.Thread(target=work, args=(runs[i::2],)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ended = {RunState.SUCCESS, RunState.FAILURE}
    wait_for(lambda: set(states(runs)) <= ended, 30, "every end to be written")
    ids = sorted(run.id for run in runs)
    assert sorted(batches.starts) == ids
    assert sorted(batches.ends) == ids  # each end once, none lost between batches
    for run in TaskRun.objects.filter(id__in=ids):
        assert run.state == (RunState.SUCCESS if run.id % 3 else RunState.FAILURE)
        assert run.started_at is not None
        assert run.finished_at is not None
        assert run.started_at <= run.finished_at
        assert run.worker == "worker-1@box"
        assert run.error == ("" if run.id % 3 else f"ValueError: {run.id}")
    assert wakeup.read() != before


@pytest.fixture
def held(settings: Any, monkeypatch: pytest.MonkeyPatch) -> recorder.Recorder:
    """This process's recorder, holding what it is given for an hour: only flush() writes."""
    settings.DJAG_WORKER_FLUSH_SECONDS = 3600
    kept = recorder.Recorder(recorder.FlushPolicy(3600), background=False)
    monkeypatch.setattr(recorder, "_recorder", kept)
    return kept


def test_a_write_made_at_once_lands_after_what_the_process_held(
    runs: list[TaskRun], held: recorder.Recorder
) -> None:
    """A start is held; the retry that follows it is written at once: the start first."""
    run = runs[0]
    worker.on_prerun(sender=sender(run.id))
    assert held.pending() == 1
    worker.on_retry(request=sender(run.id).request, reason="Retry in 5s")
    run.refresh_from_db()
    assert (run.state, run.worker, run.error) == (RunState.RETRY, "worker-1@box", "Retry in 5s")
    assert held.pending() == 0


def test_a_dropped_connection_is_retried_once_before_anything_is_parked(
    runs: list[TaskRun], held: recorder.Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    parked: list[completions.Completion] = []
    monkeypatch.setattr(recorder, "park", parked.append)
    batches = Batches(monkeypatch, fail=1)
    worker.on_prerun(sender=sender(runs[0].id))
    worker.on_success(sender=sender(runs[0].id))
    assert recorder.flush() == 2
    assert (batches.calls, parked, states(runs[:1])) == (2, [], [RunState.SUCCESS])


def test_ends_a_batch_cannot_write_are_parked_and_its_starts_dropped(
    runs: list[TaskRun], held: recorder.Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    parked: list[completions.Completion] = []
    monkeypatch.setattr(recorder, "park", parked.append)
    Batches(monkeypatch, fail=2)  # still down on the fresh connection
    worker.on_prerun(sender=sender(runs[0].id))
    worker.on_prerun(sender=sender(runs[1].id))
    worker.on_success(sender=sender(runs[1].id))
    assert recorder.flush() == 3
    assert [(end.run_id, end.state) for end in parked] == [(runs[1].id, RunState.SUCCESS)]
    assert states(runs[:2]) == [RunState.SENT, RunState.SENT]
    assert recorder.flush() == 0  # handed over: the parked path writes the end, not a retry


def test_the_worker_s_shutdown_signals_write_what_the_process_held(
    settings: Any, runs: list[TaskRun], monkeypatch: pytest.MonkeyPatch
) -> None:
    from celery import signals

    settings.DJAG_WORKER_FLUSH_SECONDS = 3600
    for signal in (signals.worker_process_shutdown, signals.worker_shutdown):
        monkeypatch.setattr(recorder, "_recorder", None)
        run = runs.pop()
        worker.on_prerun(sender=sender(run.id))
        worker.on_success(sender=sender(run.id))
        assert states([run]) == [RunState.SENT]  # held: an hour to go
        signal.send(sender=None, pid=0, exitcode=0)
        assert states([run]) == [RunState.SUCCESS]
        assert recorder._recorder is not None
        recorder._recorder.stop()


def test_of_two_entries_for_one_run_in_a_batch_the_first_counts(runs: list[TaskRun]) -> None:
    """As the guarded moves one by one would have it (PostgreSQL's one statement per kind
    would otherwise pick either)."""
    first, second = runs[0], runs[1]
    worker_batch.record_batch(
        "default",
        [(first.id, 100.0, "a"), (first.id, 200.0, "b"), (second.id, 300.0, "c")],
        [(first.id, RunState.FAILURE, 400.0, "boom"), (first.id, RunState.SUCCESS, 500.0, "")],
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, first.worker, first.error) == (RunState.FAILURE, "a", "boom")
    assert first.started_at is not None
    assert first.finished_at is not None
    assert (first.started_at.timestamp(), first.finished_at.timestamp()) == (100.0, 400.0)
    assert (second.state, second.worker) == (RunState.STARTED, "c")
