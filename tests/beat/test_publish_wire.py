"""What lands in a real Redis list or RabbitMQ queue: djag's publisher against ``send_task``.

For each case, one run is published by ``app.send_task`` and the same run by
``RunPublisher`` (pipelined on Redis, with publisher confirms on RabbitMQ);
what the broker then holds is read raw and compared:

- Redis: every key the messages landed in (queue, priority sub-queue) and the
  bytes pushed there, identical except kombu's ``delivery_tag``, a random
  uuid per message;
- RabbitMQ: the body bytes, every property and the delivery info, except the
  ``delivery_tag`` and ``message_count`` the broker gives each ``basic.get``.

The app's clock is frozen so that an expiry computed from "now" is equal.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from celery import Celery
from kombu import Connection, Exchange, Queue

from djag.beat.outbox import Dispatch
from djag.beat.publish import RunPublisher
from djag.core.message import message_options
from tests.beat.test_publish import ARGS, KWARGS, NOW
from tests.e2e.conftest import AMQP_URL, REDIS_URL

CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "default queue": ("t.plain", {}),
    "own queue": ("t.plain", {"queue": "reports"}),
    "priority": ("t.plain", {"queue": "reports", "priority": 7}),
    "topic exchange": ("t.plain", {"queue": "nightly", "routing_key": "jobs.nightly"}),
    "headers and expiry": ("t.plain", {"headers": {"tenant": "acme"}, "expires": 90}),
    "task's own options": ("t.own_options", {}),
    "unregistered task": ("unknown.task", {"queue": "reports"}),
}

TAG = re.compile(rb'"delivery_tag": "[0-9a-f-]{36}"')


def wire_app(broker: str, prefix: str) -> Celery:
    """An app whose queues and exchanges are the test's own (named ``prefix-*``)."""
    app = Celery(f"wire-{prefix}", broker=broker, set_as_current=False)
    app.conf.task_default_queue = f"{prefix}-celery"
    app.conf.task_queues = [
        Queue(f"{prefix}-celery"),
        Queue(f"{prefix}-reports", max_priority=9),
        Queue(f"{prefix}-own"),
        Queue(f"{prefix}-nightly", Exchange(f"{prefix}-jobs", type="topic"), routing_key="jobs.#"),
    ]

    @app.task(shared=False, name="t.plain")
    def plain() -> None: ...

    @app.task(shared=False, name="t.own_options", queue=f"{prefix}-own", time_limit=30)
    def own_options() -> None: ...

    app.finalize()
    app.now = lambda: NOW.astimezone(app.timezone)  # type: ignore[method-assign]
    with app.connection_for_write() as connection:  # as a worker consuming them would
        for queue in app.amqp.queues.values():
            queue.bind(connection.default_channel).declare()
    return app


def prefixed(options: dict[str, Any], prefix: str) -> dict[str, Any]:
    options = dict(options)
    for key in ("queue", "exchange"):
        if key in options:
            options[key] = f"{prefix}-{options[key]}"
    return options


def publish_each_way(app: Celery, name: str, options: dict[str, Any], read: Callable[[], Any]):
    """(what send_task left in the broker, what RunPublisher left), for the same run."""
    task_id = str(uuid.uuid4())
    with app.producer_or_acquire() as producer:
        app.send_task(
            name,
            args=ARGS,
            kwargs=KWARGS,
            task_id=task_id,
            producer=producer,
            **message_options(options, run_id=41),
        )
        by_celery = read()
        dispatch = Dispatch(41, task_id, 7, name, ARGS, KWARGS, options)
        assert RunPublisher(app, producer).publish([dispatch]) == []
        by_djag = read()
    return by_celery, by_djag


# -- Redis ---------------------------------------------------------------------------------


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    prefix = f"djag-wire-{uuid.uuid4().hex[:10]}"
    yield prefix
    with contextlib.closing(redis.Redis.from_url(REDIS_URL)) as client:
        for key in client.scan_iter(match=f"*{prefix}*"):
            client.delete(key)


def redis_reader(prefix: str) -> Callable[[], dict[bytes, list[bytes]]]:
    def read() -> dict[bytes, list[bytes]]:
        """Every list the messages landed in, emptied; kombu's random delivery tag masked."""
        landed = {}
        with contextlib.closing(redis.Redis.from_url(REDIS_URL)) as client:
            for key in client.scan_iter(match=f"{prefix}-*"):
                if client.type(key) == b"list":
                    messages = client.lrange(key, 0, -1)
                    landed[key] = [TAG.sub(b'"delivery_tag": "-"', m) for m in messages]
                    client.delete(key)
        return landed

    return read


@pytest.mark.parametrize(("name", "options"), CASES.values(), ids=CASES.keys())
def test_redis_holds_the_same_bytes(redis_prefix: str, name: str, options: dict) -> None:
    app = wire_app(REDIS_URL, redis_prefix)
    read = redis_reader(redis_prefix)
    by_celery, by_djag = publish_each_way(app, name, prefixed(options, redis_prefix), read)
    assert len(by_celery) == 1
    assert len(next(iter(by_celery.values()))) == 1
    assert by_djag == by_celery
    app.close()


def test_redis_comparison_sees_a_different_byte(redis_prefix: str) -> None:
    """The comparison can fail: the same run published by djag with another priority."""
    app = wire_app(REDIS_URL, redis_prefix)
    read = redis_reader(redis_prefix)
    options = prefixed({"queue": "reports"}, redis_prefix)
    task_id = str(uuid.uuid4())
    with app.producer_or_acquire() as producer:
        app.send_task("t.plain", ARGS, KWARGS, task_id=task_id, producer=producer, **options)
        by_celery = read()
        dispatch = Dispatch(41, task_id, 7, "t.plain", ARGS, KWARGS, {**options, "priority": 0})
        RunPublisher(app, producer).publish([dispatch])
        by_djag = read()
    assert by_djag.keys() == by_celery.keys()
    assert by_djag != by_celery
    app.close()


# -- RabbitMQ ------------------------------------------------------------------------------


@pytest.fixture
def amqp_prefix() -> Iterator[str]:
    prefix = f"djag-wire-{uuid.uuid4().hex[:10]}"
    yield prefix
    with Connection(AMQP_URL) as connection:
        channel = connection.default_channel
        for queue in ("celery", "reports", "own", "nightly"):
            channel.queue_delete(f"{prefix}-{queue}")
        channel.exchange_delete(f"{prefix}-jobs")
        for queue in ("celery", "reports", "own"):
            with contextlib.suppress(Exception):
                channel.exchange_delete(f"{prefix}-{queue}")


def amqp_reader(prefix: str) -> Callable[[], list[tuple[str, bytes, dict, dict]]]:
    def read() -> list[tuple[str, bytes, dict, dict]]:
        """(queue, body, properties, delivery info) of every message, taken off the queues."""
        landed = []
        with Connection(AMQP_URL) as connection:
            channel = connection.channel()
            channel.auto_decode = False  # the body's bytes, as they arrived
            for name in ("celery", "reports", "own", "nightly"):
                queue = f"{prefix}-{name}"
                while (message := channel.basic_get(queue, no_ack=True)) is not None:
                    info = dict(message.delivery_info)
                    del info["delivery_tag"], info["message_count"]  # the broker's, per get
                    landed.append((queue, message.body, message.properties, info))
            channel.close()
        return landed

    return read


@pytest.mark.parametrize(("name", "options"), CASES.values(), ids=CASES.keys())
def test_rabbitmq_holds_the_same_message(amqp_prefix: str, name: str, options: dict) -> None:
    app = wire_app(AMQP_URL, amqp_prefix)
    app.conf.broker_transport_options = {"confirm_publish": False}
    read = amqp_reader(amqp_prefix)
    by_celery, by_djag = publish_each_way(app, name, prefixed(options, amqp_prefix), read)
    assert len(by_celery) == 1
    assert by_djag == by_celery
    app.close()
