"""DjagScheduler's outage handling (logged once, retried with backoff) and its collector use."""

from __future__ import annotations

import gc
import logging

import pytest

from djag.beat.scheduler import DjagScheduler, Outage
from sample_site.celery import app


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
