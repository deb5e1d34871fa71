"""DjagScheduler through a dropped database connection, on the real server.

The server ends beat's session (``pg_terminate_backend`` on PostgreSQL, ``KILL``
on MariaDB) between two ticks, as a restart or a failover would. Beat must log
the outage once, keep ticking, reconnect, and handle the events it missed by
the task's misfire policy. The clock is injected (``DjagScheduler.clock``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import pytest
from django.db import connection

from djag.beat.outbox import Dispatch
from djag.models import Crontab, PeriodicTask, RunState, TaskRun
from djag.scheduler import DjagScheduler
from sample_site.celery import app

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite", reason="an embedded database has no session to drop"
    ),
]

T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0.timestamp()

    def time(self) -> float:
        return self.now


def drop_beats_session() -> None:
    """End the session of Django's connection from a second, independent one."""
    session = connection.connection  # the raw DB-API connection beat's queries use
    if connection.vendor == "postgresql":
        pid = session.info.backend_pid
        kill, args = "SELECT pg_terminate_backend(%s)", [pid]
    else:
        pid = session.thread_id()
        kill, args = "KILL %s", [pid]
    other = connection.copy()
    try:
        with other.cursor() as cursor:
            cursor.execute(kill, args)
    finally:
        other.close()


def test_beat_survives_a_dropped_connection_and_catches_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    every_second, _ = Crontab.objects.get_or_create(second="*", minute="*", hour="*")
    PeriodicTask.objects.create(
        name="tick",
        task="tests.append_line",
        crontab=every_second,
        start_at=T0,
        max_running=0,
        misfire_policy="coalesce",
    )
    clock = Clock()
    sent: list[Dispatch] = []

    def publish(dispatches: Sequence[Dispatch]) -> list[tuple[Dispatch, Exception]]:
        sent.extend(dispatches)
        return []

    beat = DjagScheduler(app=app, lazy=True)
    beat.clock = clock.time  # type: ignore[method-assign]
    beat.engine.publish = publish
    try:
        for step in range(1, 4):
            clock.now = T0.timestamp() + step + 0.1
            beat.tick()
        assert len(sent) == 3

        drop_beats_session()
        with caplog.at_level(logging.ERROR, logger="djag.beat"):
            for step in range(4, 8):  # the outage: one tick fails, beat waits, retries
                clock.now = T0.timestamp() + step + 0.1
                beat.tick()
        for step in range(8, 11):
            clock.now = T0.timestamp() + step + 0.1
            beat.tick()
    finally:
        beat.close()

    outage_logs = [r for r in caplog.records if "retrying with backoff" in r.getMessage()]
    assert len(outage_logs) == 1
    rows = list(TaskRun.objects.order_by("scheduled_for"))
    seconds = [int(r.scheduled_for.timestamp() - T0.timestamp()) for r in rows]
    # Every second is accounted for, once: as its own run or folded into a coalesced one.
    assert sorted(set(seconds)) == seconds
    assert sum(r.coalesced_count for r in rows) == 10
    assert seconds[-1] == 10
    assert all(r.state == RunState.SENT for r in rows)
