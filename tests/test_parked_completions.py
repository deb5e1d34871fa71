"""A run's end the worker cannot write (the database is down) is parked, then written.

The defect: a completion that could not be written was only logged, so the run stayed
in flight until ``run_timeout_seconds`` and a ``max_running=1`` task was blocked all
that time. In-process here, with the ledger write failing as a database outage makes it
fail; ``tests/e2e/test_database_restart.py`` restarts a real PostgreSQL server.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from django.core.cache import caches
from django.db import OperationalError
from django.utils import timezone

from djag import completions, recorder, worker
from djag.beat.outbox import Dispatch
from djag.models import Crontab, PeriodicTask, RunState, TaskRun
from djag.scheduler import DjagScheduler
from djag.store import ledger, worker_batch
from sample_site.celery import app
from tests.e2e.support import wait_for
from tests.test_worker import sender

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def parked(monkeypatch: pytest.MonkeyPatch) -> Iterator[completions._Retrier]:
    """This process's parked completions, written only when the test says so."""
    retrier = completions._Retrier(background=False)
    monkeypatch.setattr(completions, "_retrier", retrier)
    yield retrier
    caches["default"].clear()


@pytest.fixture
def database_down(monkeypatch: pytest.MonkeyPatch) -> Any:
    """While ``down.on``, every ledger move fails as it does with the database stopped."""

    class Down:
        on = True

    def failing(real: Any) -> Any:
        def write(*args: Any, **kwargs: Any) -> Any:
            if Down.on:
                raise OperationalError("connection to server at 127.0.0.1 failed: refused")
            return real(*args, **kwargs)

        return write

    monkeypatch.setattr(ledger, "move", failing(ledger.move))
    monkeypatch.setattr(worker_batch, "record_batch", failing(worker_batch.record_batch))
    return Down


@pytest.fixture(autouse=True, params=["at once", "batched"])
def recording(
    request: pytest.FixtureRequest, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Every test here twice: the end written by its handler, and noted by the process's
    recorder, whose flush (done here right after the handler) meets the outage."""
    if request.param == "at once":
        settings.DJAG_WORKER_FLUSH_SECONDS = 0
        return "at once"
    settings.DJAG_WORKER_FLUSH_SECONDS = 60
    monkeypatch.setattr(
        recorder, "_recorder", recorder.Recorder(recorder.FlushPolicy(60), background=False)
    )
    for name in ("on_success", "on_failure"):
        handler = getattr(worker, name)

        def then_flush(*args: Any, _handler: Any = handler, **kwargs: Any) -> None:
            _handler(*args, **kwargs)
            recorder.flush()

        monkeypatch.setattr(worker, name, then_flush)
    return "batched"


@pytest.fixture
def in_flight(make_task: Any) -> TaskRun:
    task = make_task(name="report", max_running=1)
    return TaskRun.objects.create(
        periodic_task=task,
        task_name=task.name,
        task=task.task,
        scheduled_for=timezone.now() - dt.timedelta(seconds=5),
        trigger="schedule",
        state=RunState.STARTED,
    )


def state_of(run: TaskRun) -> TaskRun:
    run.refresh_from_db()
    return run


def test_an_end_the_ledger_refused_is_written_when_the_database_answers(
    parked: completions._Retrier, database_down: Any, in_flight: TaskRun
) -> None:
    before = time.time()
    worker.on_failure(sender=sender(in_flight.id), exception=ValueError("boom"))
    after = time.time()
    assert state_of(in_flight).state == RunState.STARTED  # not written: the database is down
    assert list(parked.pending) == [in_flight.id]
    with pytest.raises(OperationalError):
        completions.write_parked()  # still down: it stays parked
    database_down.on = False
    assert completions.write_parked() == 1
    run = state_of(in_flight)
    assert (run.state, run.error) == (RunState.FAILURE, "ValueError: boom")
    assert run.finished_at is not None
    assert before <= run.finished_at.timestamp() <= after  # when it ended, not when written
    assert parked.pending == {}
    assert caches["default"].get(completions.PARKED_KEY.format(in_flight.id)) is None


def test_an_end_is_in_the_cache_before_the_worker_logs_it_parked(
    parked: completions._Retrier,
    database_down: Any,
    in_flight: TaskRun,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker killed right after the line (as the fault test kills it) loses nothing."""
    cached_when_logged: list[bool] = []
    key = completions.PARKED_KEY.format(in_flight.id)

    def warning(message: str, *args: Any) -> None:
        if "parked" in message:
            cached_when_logged.append(caches["default"].get(key) is not None)

    monkeypatch.setattr(worker.logger, "warning", warning)
    worker.on_success(sender=sender(in_flight.id))
    assert cached_when_logged == [True]


def test_the_worker_thread_writes_it_without_any_other_signal(
    monkeypatch: pytest.MonkeyPatch, database_down: Any, in_flight: TaskRun
) -> None:
    monkeypatch.setattr(completions, "_retrier", completions._Retrier())
    monkeypatch.setattr(completions, "RETRY_FIRST", 0.05)
    worker.on_success(sender=sender(in_flight.id))
    time.sleep(0.2)  # the outage lasts: the thread retries with backoff
    assert state_of(in_flight).state == RunState.STARTED
    database_down.on = False
    wait_for(lambda: state_of(in_flight).state == RunState.SUCCESS, 10, "the parked success")


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Dispatch] = []

    def __call__(self, dispatches: Sequence[Dispatch]) -> list[tuple[Dispatch, Exception]]:
        self.sent.extend(dispatches)
        return []


def test_beat_folds_the_parked_end_of_a_worker_that_died(
    parked: completions._Retrier, database_down: Any
) -> None:
    every_second, _ = Crontab.objects.get_or_create(second="*", minute="*", hour="*")
    task = PeriodicTask.objects.create(
        name="every second",
        task="tests.append_line",
        crontab=every_second,
        start_at=timezone.now() - dt.timedelta(seconds=10),
        max_running=1,
    )
    run = TaskRun.objects.create(
        periodic_task=task,
        task_name=task.name,
        scheduled_for=timezone.now() - dt.timedelta(seconds=5),
        trigger="schedule",
        state=RunState.STARTED,
    )
    worker.on_success(sender=sender(run.id))
    parked.pending.clear()  # the worker process is gone: only the cache holds the end
    database_down.on = False

    beat = DjagScheduler(app=app, lazy=True)
    publisher = Recorder()
    beat.engine.publish = publisher
    try:
        beat.tick()  # leads, folds the parked end, loads: the slot is free
    finally:
        beat.close()
    assert state_of(run).state == RunState.SUCCESS
    assert [d.task for d in publisher.sent] == [task.task]  # max_running=1 no longer blocks
    assert caches["default"].get(completions.PARKED_KEY.format(run.id)) is None


def test_an_end_already_written_is_not_overwritten(
    parked: completions._Retrier, database_down: Any, in_flight: TaskRun
) -> None:
    worker.on_success(sender=sender(in_flight.id))
    database_down.on = False
    ledger.mark_lost("default", [in_flight.id], time.time(), "marked lost by hand")
    assert completions.fold_parked("default", [in_flight.id]) == 0
    assert completions.write_parked() == 1  # written: the guarded move changed nothing
    assert state_of(in_flight).state == RunState.LOST


@pytest.mark.parametrize(
    "value",
    ["garbage", {"run_id": 1}, {"run_id": 999, "state": "success", "finished_at": 1.0}, None],
)
def test_beat_ignores_a_parked_value_it_cannot_read(
    parked: completions._Retrier, in_flight: TaskRun, value: Any
) -> None:
    if value == {"run_id": 1}:
        value = {"run_id": in_flight.id, "state": "started", "finished_at": 1.0}
    caches["default"].set(completions.PARKED_KEY.format(in_flight.id), value)
    assert completions.fold_parked("default") == 0
    assert state_of(in_flight).state == RunState.STARTED
