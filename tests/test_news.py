"""News to beat by PostgreSQL LISTEN/NOTIFY and Redis pub/sub, on the real servers.

A committed edit is heard without a query by the listener; a rolled-back one is not;
a listener whose session the server ends is replaced and the news is still read (by
a poll meanwhile); an idle leading beat that listens makes no query but its lease
renewals. NOTIFY tests run on PostgreSQL only, pub/sub tests where the database is
not PostgreSQL (there NOTIFY is used); the decision itself everywhere.
"""

from __future__ import annotations

import contextlib
import os
import select
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.db import connection, transaction
from django.test import override_settings

from djag import news, wakeup
from djag.beat.engine import Engine
from djag.beat.listen import PgListener, RedisListener, watch_for
from djag.beat.watch import LISTEN_CHECK_SECONDS, KeyWatch, ListenWatch
from djag.models import Crontab, PeriodicTask, SchedulerLease
from djag.scheduler import DjagScheduler
from djag.store.door import Store
from sample_site.celery import app
from sample_site.settings import cache_from_url

REDIS_URL = os.environ.get("DJAG_TEST_REDIS_URL", "redis://127.0.0.1:6379/12")
POSTGRES = connection.vendor == "postgresql"
postgres_only = pytest.mark.skipif(not POSTGRES, reason="LISTEN/NOTIFY is PostgreSQL's")
not_postgres = pytest.mark.skipif(POSTGRES, reason="on PostgreSQL, news goes by NOTIFY")


class Rollback(Exception):
    pass


def rolled_back(make_task: Callable[..., PeriodicTask], name: str) -> None:
    """Make a task in a transaction (or a savepoint, inside one) that is rolled back."""
    with contextlib.suppress(Rollback), transaction.atomic():
        make_task(name=name)
        raise Rollback


def heard(listener: Any, readable: Callable[[], bool], seconds: float = 5.0) -> int:
    """What the listener received once something came (or ``seconds`` passed)."""
    deadline = time.monotonic() + seconds
    received = 0
    while time.monotonic() < deadline:
        if readable():
            received += listener.drain()
            if received:
                time.sleep(0.1)  # anything sent with it has come too
                return received + listener.drain()
        time.sleep(0.01)
    return received


def pg_readable(listener: PgListener) -> Callable[[], bool]:
    return lambda: bool(select.select([listener.raw.fileno()], [], [], 0.05)[0])


def listening_engine() -> tuple[Engine, ListenWatch, float]:
    """An engine on the test database with the listener beat would get, loaded now."""
    watch = watch_for("default", wakeup.read, 5.0)
    assert isinstance(watch, ListenWatch)
    engine = Engine(
        Store(), lambda d: [], poll_seconds=5.0, read_wake_token=wakeup.read, watch=watch
    )
    now = time.time()
    engine.load(now)
    return engine, watch, now


def last_statement(pid: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return "" if row is None else str(row[0])


@pytest.fixture
def listener() -> Iterator[PgListener]:
    listening = PgListener("default")
    yield listening
    listening.close()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_committed_edit_is_heard_by_the_listener_without_a_query(
    make_task: Callable[..., PeriodicTask], listener: PgListener
) -> None:
    assert listener.drain() == 0
    task = make_task(name="edited")  # its ScheduleChange row notifies in the transaction
    assert heard(listener, pg_readable(listener)) == 1
    with transaction.atomic():  # many changes, one transaction: one notification
        task.kwargs = {"edit": 1}
        task.save()
        make_task(name="another")
    assert heard(listener, pg_readable(listener)) == 1
    wakeup.touch("default")  # a worker's run end, outside a transaction
    assert heard(listener, pg_readable(listener)) == 1
    # The listening session ran nothing since its LISTEN: reading is its socket's.
    assert last_statement(listener.raw.info.backend_pid) == f"LISTEN {news.CHANNEL}"


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_edit_sends_no_notification(
    make_task: Callable[..., PeriodicTask], listener: PgListener
) -> None:
    rolled_back(make_task, "never")
    with transaction.atomic():
        make_task(name="kept")
        rolled_back(make_task, "never either")  # a savepoint
    # Notifications come in commit order: had the rollback sent one, it came first.
    assert heard(listener, pg_readable(listener)) == 1
    assert list(PeriodicTask.objects.values_list("name", flat=True)) == ["kept"]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_dropped_listener_is_replaced_and_news_is_still_read(
    make_task: Callable[..., PeriodicTask],
) -> None:
    engine, watch, now = listening_engine()
    first = watch.listener
    assert isinstance(first, PgListener)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [first.raw.info.backend_pid])
    missed = make_task(name="written while nobody listens")
    deadline = time.monotonic() + 5
    while watch.listener is not None and time.monotonic() < deadline:
        now += LISTEN_CHECK_SECONDS
        engine.tick(now)
        time.sleep(LISTEN_CHECK_SECONDS)
    assert watch.listener is None
    assert missed.pk in engine.tasks  # the loss is news: the database was read at once
    engine.tick(now + 5.5)  # DJAG_POLL_SECONDS later: a regular poll...
    engine.tick(now + 6.0)  # ...and at the next check, listening again
    second = watch.listener
    assert isinstance(second, PgListener)
    assert second.raw.info.backend_pid != first.raw.info.backend_pid
    missed.kwargs = {"edit": 2}
    missed.save()
    select.select([second.raw.fileno()], [], [], 5)
    engine.tick(now + 6.0 + LISTEN_CHECK_SECONDS)  # long before the next fallback poll
    assert engine.tasks[missed.pk].row.kwargs == {"edit": 2}
    watch.stop()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_an_idle_listening_beat_makes_no_query_but_its_lease_renewals(
    make_task: Callable[..., PeriodicTask],
) -> None:
    yearly = Crontab.objects.create(minute="0", hour="0", day_of_month="1", month_of_year="1")
    for number in range(20):
        make_task(name=f"yearly-{number}", crontab=yearly)
    clock = [time.time()]
    with override_settings(DJAG_LEASE_SECONDS=10.0, DJAG_POLL_SECONDS=5.0):
        beat = DjagScheduler(app=app, lazy=True)
    beat.clock = lambda: clock[0]  # type: ignore[method-assign]
    statements: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    try:
        beat.tick()  # leads and loads
        assert isinstance(beat.engine.watch, ListenWatch)
        assert beat.engine.watch.listener is not None
        start = clock[0]
        ticks = 0
        with connection.execute_wrapper(count):
            while clock[0] < start + 50:  # each tick when the last one asked, as Celery does
                clock[0] += beat.tick()
                ticks += 1
    finally:
        beat.close()
    assert ticks >= 50
    lease_table = SchedulerLease._meta.db_table
    assert statements, "the lease is renewed"
    assert all(sql.startswith(f'UPDATE "{lease_table}"') for sql in statements), statements
    assert len(statements) in (15, 16)  # every third of the 10 s lease, on time


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_listening_beat_waits_for_news_in_tick_and_reads_it_at_the_next(
    make_task: Callable[..., PeriodicTask],
) -> None:
    """On the real clock tick() waits on the socket: a notification ends the wait, and the
    next tick reads the news, however far the next check or poll is."""
    task = make_task(name="edited")
    beat = DjagScheduler(app=app, lazy=True)
    beat.engine.publish = lambda dispatches: []
    try:
        beat.tick()  # leads and loads
        assert beat.engine.watch.listener is not None
        beat.engine.next_db_poll = beat.engine.next_check = time.time() + 3600
        task.kwargs = {"edit": 1}
        task.save()  # notifies at commit
        assert beat.tick() == DjagScheduler.NAP_SECONDS  # woken by it (or its interval ended)
        assert beat.engine.next_check == 0.0, "not woken by the notification"
        beat.tick()
        assert beat.engine.tasks[task.pk].row.kwargs == {"edit": 1}
    finally:
        beat.close()


@pytest.mark.django_db
def test_how_news_travels_is_decided_by_the_database_the_cache_and_the_setting() -> None:
    redis = {"default": cache_from_url(REDIS_URL)}
    with override_settings(CACHES=redis):
        assert news.mode("default") == ("notify" if POSTGRES else "pubsub")
        with override_settings(DJAG_NOTIFY=False):
            assert news.mode("default") == "key"
            assert isinstance(watch_for("default", wakeup.read, 5.0), KeyWatch)
    with override_settings(CACHES={"default": cache_from_url("db://djag_cache")}):
        assert news.mode("default") == ("notify" if POSTGRES else "key")


@pytest.fixture
def redis_cache() -> Iterator[None]:
    with override_settings(CACHES={"default": cache_from_url(REDIS_URL)}):
        yield


@not_postgres
@pytest.mark.django_db(transaction=True)
def test_a_committed_edit_is_published_to_the_subscribed_beat_and_a_rolled_back_one_is_not(
    redis_cache: None, make_task: Callable[..., PeriodicTask]
) -> None:
    assert news.mode("default") == "pubsub"
    listener = RedisListener("default")
    try:
        assert listener.drain() == 0

        def readable() -> bool:
            return bool(listener.pubsub.connection.can_read(timeout=0.05))

        make_task(name="edited")
        assert heard(listener, readable) == 1
        rolled_back(make_task, "never")
        make_task(name="kept")
        assert heard(listener, readable) == 1
        # A dropped subscription is a lost listener (the watch polls and subscribes again).
        news.redis_client("default").client_kill_filter(_type="pubsub")
        time.sleep(0.2)
        with pytest.raises(redis.ConnectionError):
            listener.drain()
    finally:
        listener.close()


@not_postgres
@pytest.mark.django_db(transaction=True)
def test_a_beat_on_a_redis_cache_reads_an_edit_on_its_publication(
    redis_cache: None, make_task: Callable[..., PeriodicTask]
) -> None:
    task = make_task(name="edited")
    engine, watch, now = listening_engine()
    listener = watch.listener
    assert isinstance(listener, RedisListener)
    try:
        task.kwargs = {"edit": 1}
        task.save()  # published once committed
        assert watch.wait(5.0)
        engine.tick(now + LISTEN_CHECK_SECONDS)  # long before the next fallback poll
        assert engine.tasks[task.pk].row.kwargs == {"edit": 1}
    finally:
        watch.stop()
