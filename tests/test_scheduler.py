"""DjagScheduler's outage handling (logged once, retried with backoff) and its collector use."""

from __future__ import annotations

import datetime as dt
import gc
import logging

import pytest

from djag.beat.scheduler import DjagScheduler, Outage
from djag.models import Crontab, PeriodicTask, TaskCheckpoint
from sample_site.celery import app

T0 = 1_900_000_020 - 1_900_000_020 % 60  # a minute's first second


def test_outage_is_logged_once_and_retried_with_growing_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = Outage()
    with caplog.at_level(logging.WARNING, logger="djag.beat"):
        waits = [outage.failed(ConnectionError("db down"), now=float(i)) for i in range(8)]
        outage.recovered(now=100.0)
    assert waits == [1, 2, 4, 8, 10, 10, 10, 10]
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "djag beat: ConnectionError: db down; retrying with backoff, every other task waits",
        "djag beat: recovered after 100.0 s (8 failed attempts)",
    ]


def test_a_different_error_during_an_outage_is_logged_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = Outage()
    with caplog.at_level(logging.WARNING, logger="djag.beat"):
        outage.failed(ConnectionError("db down"), now=0.0)
        outage.failed(ConnectionError("db down"), now=1.0)
        outage.failed(TimeoutError("broker"), now=2.0)
    assert len(caplog.records) == 2
    assert "TimeoutError: broker" in caplog.records[1].getMessage()


def test_recovery_without_outage_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="djag.beat"):
        Outage().recovered(now=5.0)
    assert caplog.records == []


@pytest.mark.django_db(transaction=True)
def test_beat_leaves_its_loaded_schedule_out_of_garbage_collections() -> None:
    beat = DjagScheduler(app=app, lazy=True)
    beat.engine.publish = lambda dispatches: []
    gc.unfreeze()
    try:
        beat.tick()
        assert beat.loaded
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        beat.close()


@pytest.mark.django_db(transaction=True)
def test_close_saves_every_checkpoint_moved_since_the_last_sync_and_a_new_beat_reads_them() -> None:
    """What SIGTERM runs (Celery's ``Service.sync`` -> ``close``): all checkpoints saved."""
    minute = Crontab.objects.create(minute="*")
    start = dt.datetime.fromtimestamp(T0 - 1, dt.UTC)
    PeriodicTask.objects.bulk_create(
        [
            PeriodicTask(name=f"t{i}", task="tests.noop", crontab=minute, start_at=start)
            for i in range(30)
        ]
    )
    beat = DjagScheduler(app=app, lazy=True)
    beat.clock = lambda: T0 + 1  # type: ignore[method-assign]
    beat.engine.publish = lambda dispatches: []
    try:
        beat.tick()
        assert len(beat.engine.checkpoints.unsaved) == 30
        assert not TaskCheckpoint.objects.exists()
    finally:
        gc.unfreeze()
        beat.close()
    assert set(TaskCheckpoint.objects.values_list("handled_through", flat=True)) == {T0}
    assert TaskCheckpoint.objects.count() == 30

    again = DjagScheduler(app=app, lazy=True)
    again.clock = lambda: T0 + 2  # type: ignore[method-assign]
    again.engine.publish = lambda dispatches: []
    try:
        again.tick()
        assert {task.last_event for task in again.engine.tasks.values()} == {T0}
        assert not again.engine.checkpoints.unsaved  # nothing handled twice
    finally:
        gc.unfreeze()
        again.close()


@pytest.mark.django_db(transaction=True)
def test_close_leaves_what_is_alive_out_of_the_exits_collections() -> None:
    beat = DjagScheduler(app=app, lazy=True)
    gc.unfreeze()
    try:
        beat.close()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


@pytest.mark.django_db(transaction=True)
def test_a_close_from_a_signal_in_mid_tick_waits_for_the_close_after_the_tick() -> None:
    """Celery's SIGTERM handler: ``close()`` then ``SystemExit`` wherever the tick was, then
    ``close()`` again from ``Service.start``'s ``finally``."""
    minute = Crontab.objects.create(minute="*")
    start = dt.datetime.fromtimestamp(T0 - 1, dt.UTC)
    PeriodicTask.objects.create(name="t", task="tests.noop", crontab=minute, start_at=start)
    beat = DjagScheduler(app=app, lazy=True)
    beat.clock = lambda: T0 + 1  # type: ignore[method-assign]
    beat.engine.publish = lambda dispatches: []
    try:
        beat.tick()
        assert beat.engine.checkpoints.unsaved
        tick = beat.engine.tick

        def interrupted(now: float) -> float:
            beat.close()  # the signal handler, inside the tick
            assert not TaskCheckpoint.objects.exists()
            assert beat.lease.leading
            raise SystemExit

        beat.engine.tick = interrupted  # type: ignore[method-assign]
        with pytest.raises(SystemExit):
            beat.tick()
        beat.engine.tick = tick  # type: ignore[method-assign]
    finally:
        gc.unfreeze()
        beat.close()
    assert list(TaskCheckpoint.objects.values_list("handled_through", flat=True)) == [T0]
    assert not beat.lease.leading
