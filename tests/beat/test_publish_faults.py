"""The publisher under broker failures in mid-batch: what the broker did not take is returned.

A run returned as failed stays ``claimed`` and is published again later with
the same Celery task id (the engine's part, ``tests/test_engine.py``); here,
that the publisher never reports a message as sent that the broker may not
have, and that publishing the failed runs again once the broker is back
delivers them with their ids.

- Redis: a private ``redis-server`` killed while a batch is being buffered
  (pipelined) or between two messages (one by one);
- RabbitMQ: a queue that refuses messages beyond its length (negative
  acknowledgements), and the connection cut while a batch waits for its
  confirms (through a local TCP relay the test cuts).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from celery.signals import before_task_publish
from kombu import Connection, Queue

from djag.beat import publish
from djag.beat.confirms import Refused
from djag.beat.outbox import Dispatch
from djag.beat.publish import RunPublisher
from tests.e2e.conftest import AMQP_URL, RedisServer

pytestmark = pytest.mark.faults


def dispatches(count: int) -> list[Dispatch]:
    return [Dispatch(run, str(uuid.uuid4()), run, "t.plain", [run], {}, {}) for run in range(count)]


def make_app(broker: str, queue: str, **transport_options: Any) -> Celery:
    app = Celery(f"faults-{queue}", broker=broker, set_as_current=False)
    app.conf.task_default_queue = queue
    app.conf.broker_transport_options = transport_options
    app.conf.task_publish_retry_policy = {"max_retries": 1, "interval_start": 0}
    return app


@contextlib.contextmanager
def on_message(number: int, action: Callable[[], None]) -> Iterator[None]:
    """Run ``action`` when the publisher hands its ``number``-th message (from 1) to kombu."""
    seen = 0

    def count(sender: str, **kwargs: Any) -> None:
        nonlocal seen
        seen += 1
        if seen == number:
            action()

    before_task_publish.connect(count, weak=False)
    try:
        yield
    finally:
        before_task_publish.disconnect(count)


# -- Redis -----------------------------------------------------------------------------------


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis-server.log")
    server.start()
    yield server
    server.kill()


def landed_ids(url: str, queue: str) -> list[str]:
    import json

    with contextlib.closing(redis.Redis.from_url(url)) as client:
        return [json.loads(m)["headers"]["id"] for m in reversed(client.lrange(queue, 0, -1))]


def test_redis_killed_while_a_batch_is_buffered(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publish, "BATCH_SIZE", 5)
    app = make_app(redis_server.url, "burst")
    runs = dispatches(12)
    before_kill: list[str] = []

    def kill() -> None:
        before_kill.extend(landed_ids(redis_server.url, "burst"))
        redis_server.kill()

    with app.producer_or_acquire() as producer:
        publisher = RunPublisher(app, producer)
        assert producer.supports_batch_publish
        with on_message(8, kill):  # in the second batch of five
            failures = publisher.publish(runs)
        assert before_kill == [d.celery_task_id for d in runs[:5]]  # the first batch, written
        assert [d.run_id for d, _ in failures] == list(range(5, 12))
        assert all(isinstance(exc, Exception) for _, exc in failures)

        redis_server.start()  # back, empty (memory only), on the same port
        assert publisher.publish([d for d, _ in failures]) == []
    assert landed_ids(redis_server.url, "burst") == [d.celery_task_id for d in runs[5:]]
    app.close()


def test_redis_killed_between_two_messages_sent_one_by_one(redis_server: RedisServer) -> None:
    # With retry_on_timeout, kombu does not pipeline (a retried pipeline could write twice).
    app = make_app(redis_server.url, "single", retry_on_timeout=True)
    runs = dispatches(6)
    with app.producer_or_acquire() as producer:
        publisher = RunPublisher(app, producer)
        assert not producer.supports_batch_publish
        with on_message(3, redis_server.kill):
            failures = publisher.publish(runs)
        # The third and every later one failed; the later ones were not even tried.
        assert [d.run_id for d, _ in failures] == [2, 3, 4, 5]
        redis_server.start()
        assert landed_ids(redis_server.url, "single") == []  # the server came back empty
        assert publisher.publish([d for d, _ in failures]) == []
    assert landed_ids(redis_server.url, "single") == [d.celery_task_id for d in runs[2:]]
    app.close()


# -- RabbitMQ --------------------------------------------------------------------------------


@pytest.fixture
def amqp_queue() -> Iterator[str]:
    name = f"djag-faults-{uuid.uuid4().hex[:10]}"
    yield name
    with Connection(AMQP_URL) as connection:
        connection.default_channel.queue_delete(name)


def queued_ids(queue: str) -> list[str]:
    ids = []
    with Connection(AMQP_URL) as connection:
        channel = connection.channel()
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            ids.append(message.headers["id"])
        channel.close()
    return ids


@pytest.mark.parametrize("confirm_publish", [False, True], ids=["plain", "confirm_publish"])
def test_rabbitmq_refusals_are_returned(amqp_queue: str, confirm_publish: bool) -> None:
    app = make_app(AMQP_URL, amqp_queue, confirm_publish=confirm_publish)
    app.conf.task_queues = [
        Queue(amqp_queue, queue_arguments={"x-max-length": 3, "x-overflow": "reject-publish"})
    ]
    runs = dispatches(5)
    with app.producer_or_acquire() as producer:
        failures = RunPublisher(app, producer).publish(runs)
    assert [(d.run_id, type(exc)) for d, exc in failures] == [(3, Refused), (4, Refused)]
    assert queued_ids(amqp_queue) == [d.celery_task_id for d in runs[:3]]
    app.close()


class Relay:
    """A local TCP relay to RabbitMQ that the test can cut, as a failed network would."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)

    def cut(self) -> None:
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def test_rabbitmq_connection_cut_in_mid_batch(amqp_queue: str) -> None:
    relay = Relay(("127.0.0.1", 5672))
    app = make_app(f"amqp://guest:guest@127.0.0.1:{relay.port}//", amqp_queue)
    app.conf.task_queues = [Queue(amqp_queue)]
    runs = dispatches(20)
    try:
        with app.producer_or_acquire() as producer, on_message(10, relay.cut):
            failures = RunPublisher(app, producer).publish(runs)
    finally:
        relay.cut()
    failed = [d.celery_task_id for d, _ in failures]
    arrived = queued_ids(amqp_queue)
    # Unconfirmed: returned as failed, though some may have reached the queue (and
    # will arrive twice, with the same id). Only confirmed messages count as sent.
    assert set(failed) >= {d.celery_task_id for d in runs[9:]}
    assert {d.celery_task_id for d in runs} - set(failed) <= set(arrived)

    app2 = make_app(AMQP_URL, amqp_queue)
    app2.conf.task_queues = [Queue(amqp_queue)]
    with app2.producer_or_acquire() as producer:
        assert RunPublisher(app2, producer).publish([d for d, _ in failures]) == []
    assert set(queued_ids(amqp_queue)) == set(failed)
    app.close()
    app2.close()
