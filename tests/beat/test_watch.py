"""When the engine reads the database with a listener (``djag.beat.watch``): a fake listener,
a fake store counting its reads and a simulated clock, no database.

News on the listener is read at the next short check; without news the database is
polled only every LISTEN_POLL_SECONDS; a lost listener means a poll at once, the key
and the regular poll meanwhile, and a poll again once it is back.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from djag.beat.engine import Engine
from djag.beat.watch import (
    CHECK_SECONDS,
    LISTEN_CHECK_SECONDS,
    LISTEN_POLL_SECONDS,
    KeyWatch,
    ListenWatch,
)
from djag.core.vocab import RunState
from djag.store.rows import Activity
from tests.beat.fakes import Broker, FakeStore, Wake, task_row
from tests.beat.test_engine import T0

POLL = 5.0


class FakeListener:
    name = "fake"

    def __init__(self, line: Line) -> None:
        self.line = line
        self.closed = False

    def drain(self) -> int:
        if self.line.broken:
            raise ConnectionError("listener gone")
        received, self.line.pending = self.line.pending, 0
        return received

    def close(self) -> None:
        self.closed = True


class Line:
    """The channel: notifications sent, whether the connection works, connections made."""

    def __init__(self) -> None:
        self.pending = 0
        self.broken = False
        self.refuse = False
        self.listeners: list[FakeListener] = []

    def connect(self) -> FakeListener:
        if self.refuse:
            raise ConnectionError("cannot connect")
        self.broken = False
        listener = FakeListener(self)
        self.listeners.append(listener)
        return listener


class CountingStore(FakeStore):
    def __init__(self) -> None:
        super().__init__()
        self.polls = 0

    def activity(self) -> Activity:
        self.polls += 1
        return super().activity()


@pytest.fixture
def line() -> Line:
    return Line()


@pytest.fixture
def wake() -> Wake:
    return Wake()


@pytest.fixture
def counting() -> CountingStore:
    return CountingStore()


def listening(store: FakeStore, line: Line, wake: Wake) -> Engine:
    watch = ListenWatch(line.connect, wake, POLL, "fake")
    engine = Engine(store, Broker(), poll_seconds=POLL, read_wake_token=wake, watch=watch)
    engine.load(T0)
    return engine


def ticks(engine: Engine, start: float, until: float, step: float = LISTEN_CHECK_SECONDS) -> None:
    now = start
    while now <= until:
        engine.tick(now)
        now += step


def test_news_on_the_listener_is_read_at_the_next_short_check(
    counting: CountingStore, line: Line, wake: Wake
) -> None:
    engine = listening(counting, line, wake)
    assert engine.tick(T0 + 0.01) == pytest.approx(LISTEN_CHECK_SECONDS - 0.01)
    counting.add_task(task_row(7, name="edited"))
    polls = counting.polls
    line.pending += 1  # the NOTIFY of the edit's commit
    engine.tick(T0 + LISTEN_CHECK_SECONDS)
    assert counting.polls == polls + 1
    assert 7 in engine.tasks


def test_without_news_the_listening_engine_polls_only_as_a_safety_net(
    counting: CountingStore, line: Line, wake: Wake
) -> None:
    engine = listening(counting, line, wake)
    polls = counting.polls
    ticks(engine, T0, T0 + LISTEN_POLL_SECONDS - 1, step=0.25)
    assert counting.polls == polls
    wake.touch()  # the key is not read while the listener works
    ticks(engine, T0 + LISTEN_POLL_SECONDS - 0.75, T0 + LISTEN_POLL_SECONDS + 0.5, step=0.25)
    assert counting.polls == polls + 1


def test_a_run_past_its_timeout_is_lost_at_the_next_check_not_at_the_safety_poll(
    counting: CountingStore, line: Line, wake: Wake
) -> None:
    counting.add_task(task_row(1, start_at=int(T0) - 1, run_timeout_seconds=10))
    engine = listening(counting, line, wake)
    ticks(engine, T0, T0 + 9)
    [first] = counting.runs_of(1)
    polls = counting.polls
    ticks(engine, T0 + 10, T0 + 12)
    assert first.state == RunState.LOST
    assert counting.polls == polls  # the clock said so, no read of the database


def test_a_lost_listener_means_a_poll_at_once_the_key_meanwhile_and_a_poll_when_back(
    counting: CountingStore, line: Line, wake: Wake, caplog: pytest.LogCaptureFixture
) -> None:
    engine = listening(counting, line, wake)
    polls = counting.polls
    line.broken = True
    line.refuse = True
    with caplog.at_level(logging.WARNING, logger="djag.beat"):
        engine.tick(T0 + 1)
        assert counting.polls == polls + 1  # the news sent since the last look may be lost
        assert line.listeners[0].closed
        assert engine.watch.check_seconds == CHECK_SECONDS
        assert engine.watch.poll_seconds == POLL
        # Meanwhile the key and the regular poll, as without a listener.
        wake.touch()
        engine.tick(T0 + 1 + CHECK_SECONDS)
        assert counting.polls == polls + 2
        ticks(engine, T0 + 1.5, T0 + 1 + POLL + 0.5, step=CHECK_SECONDS)
        assert counting.polls == polls + 3  # a regular poll, and one failed reconnection
        line.refuse = False
        ticks(engine, T0 + 7, T0 + 1 + 2 * POLL + 0.5, step=CHECK_SECONDS)
    assert len(line.listeners) == 2  # connected again after DJAG_POLL_SECONDS
    assert counting.polls == polls + 4  # and read what was written meanwhile
    assert engine.watch.check_seconds == LISTEN_CHECK_SECONDS
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(messages) == 2, messages  # the outage once (not per failed attempt), its end
    assert "cannot listen for news by fake (ConnectionError: listener gone)" in messages[0]
    assert "listening for news by fake again" in messages[1]


def test_a_listener_that_cannot_connect_at_load_leaves_the_key_and_the_regular_poll(
    counting: CountingStore, line: Line, wake: Wake
) -> None:
    line.refuse = True
    engine = listening(counting, line, wake)
    polls = counting.polls
    assert engine.tick(T0 + 0.1) == pytest.approx(CHECK_SECONDS - 0.1)
    wake.touch()
    engine.tick(T0 + CHECK_SECONDS)
    assert counting.polls == polls + 1


def test_notifications_before_the_load_are_in_the_load(
    counting: CountingStore, line: Line, wake: Wake
) -> None:
    watch = ListenWatch(line.connect, wake, POLL, "fake")
    watch.start(T0)
    line.pending = 3
    engine = Engine(counting, Broker(), poll_seconds=POLL, read_wake_token=wake, watch=watch)
    engine.load(T0)
    polls = counting.polls
    engine.tick(T0 + LISTEN_CHECK_SECONDS)
    assert counting.polls == polls


def test_stop_closes_the_listener_and_start_listens_again(line: Line, wake: Wake) -> None:
    watch = ListenWatch(line.connect, wake, POLL, "fake")
    watch.start(T0)
    watch.stop()
    assert line.listeners[0].closed
    assert watch.listener is None
    watch.start(T0 + 1)
    assert len(line.listeners) == 2


def test_the_key_watch_polls_on_a_new_key_value(counting: CountingStore, wake: Wake) -> None:
    watch: Any = KeyWatch(wake, POLL)
    engine = Engine(counting, Broker(), poll_seconds=POLL, read_wake_token=wake, watch=watch)
    engine.load(T0)
    polls = counting.polls
    engine.tick(T0 + CHECK_SECONDS)
    assert counting.polls == polls
    wake.touch()
    engine.tick(T0 + 2 * CHECK_SECONDS)
    assert counting.polls == polls + 1
