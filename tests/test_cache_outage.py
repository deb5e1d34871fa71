"""Beat with a real memcached as its wake-up cache: flushed, stopped, restarted.

The cache only speeds beat up: with it, an edit is seen at the next check (half a
second); without it (flushed key, server down), at the next fallback poll of the
database. Beat logs the outage once and its recovery once. The clock is injected.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from django.core.cache import caches
from django.test import override_settings

from djag import wakeup
from djag.beat.engine import Engine
from djag.models import Crontab, PeriodicTask
from djag.store.door import Store

pytestmark = [
    pytest.mark.django_db(transaction=True),  # wake-ups fire on commit
    pytest.mark.skipif(shutil.which("memcached") is None, reason="needs memcached installed"),
]

T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
E0 = T0.timestamp()
POLL = 30.0
LOCMEM = "django.core.cache.backends.locmem.LocMemCache"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Memcached:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = ["memcached", "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-u", "root"]
        self.process = subprocess.Popen(command)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("memcached did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def memcached() -> Iterator[Memcached]:
    server = Memcached()
    server.start()
    cache = {
        "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
        "LOCATION": f"127.0.0.1:{server.port}",
        # pymemcache keeps a failed server "dead" for 60 s of real time by default.
        "OPTIONS": {"connect_timeout": 0.5, "timeout": 0.5, "dead_timeout": 0, "retry_timeout": 0},
    }
    with override_settings(
        CACHES={
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            "wake": cache,
        },
        DJAG_CACHE="wake",
    ):
        try:
            yield server
        finally:
            server.stop()
            caches["wake"].close()


def enabled_in_beat(engine: Engine, task: PeriodicTask) -> bool:
    return engine.tasks[task.pk].row.enabled


def toggle(task: PeriodicTask, enabled: bool) -> None:
    PeriodicTask.objects.filter(pk=task.pk).update(enabled=enabled)


def test_edits_reach_beat_through_flushes_and_outages_of_the_cache(
    memcached: Memcached, caplog: pytest.LogCaptureFixture
) -> None:
    minutely, _ = Crontab.objects.get_or_create(second="0", minute="*", hour="*")
    task = PeriodicTask.objects.create(
        name="t", task="tests.append_line", crontab=minutely, start_at=T0
    )
    engine = Engine(Store(), lambda dispatches: [], poll_seconds=POLL, read_wake_token=wakeup.read)
    engine.load(E0)
    engine.tick(E0 + 0.5)  # the first check polls

    # Cache up: an edit is seen at the next check.
    toggle(task, enabled=False)
    engine.tick(E0 + 1.1)  # woken: reads the database, next fallback poll at E0 + 31.1
    assert not enabled_in_beat(engine, task)

    # Key flushed after the edit: seen at the fallback poll, not before.
    toggle(task, enabled=True)
    caches["wake"].clear()
    engine.tick(E0 + 1.7)
    assert not enabled_in_beat(engine, task)
    engine.tick(E0 + 31.2)  # the fallback poll; the next one at E0 + 61.2
    assert enabled_in_beat(engine, task)

    # Server down: saving still works (the touch fails quietly), beat polls, logs once.
    memcached.stop()
    with caplog.at_level(logging.WARNING, logger="djag.beat"):
        toggle(task, enabled=False)
        for moment in (31.8, 32.4, 40, 50, 60.9):
            engine.tick(E0 + moment)
            assert enabled_in_beat(engine, task)
        engine.tick(E0 + 61.5)
        assert not enabled_in_beat(engine, task)
        down = [r for r in caplog.records if "wake-up cache cannot be read" in r.getMessage()]
        assert len(down) == 1

        # Back up: recovery is logged once and edits are quick again.
        memcached.start()
        for moment in (62.2, 62.8):  # the client's first call finds its old socket closed
            engine.tick(E0 + moment)
        toggle(task, enabled=True)
        engine.tick(E0 + 63.4)
        assert enabled_in_beat(engine, task)
    back = [r for r in caplog.records if "readable again" in r.getMessage()]
    assert len(back) == 1
