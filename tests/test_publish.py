"""Beat's RunSender sends, message for message, what Celery's ``send_task`` sends.

Both paths are compared through Celery's ``before_task_publish`` signal, which
carries everything handed to kombu (body, headers, properties, exchange,
routing key, declarations, retry policy), and through what arrives in the
queue of kombu's in-memory transport.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from celery.signals import before_task_publish
from kombu import Exchange, Queue

from djag.beat.publish import RunSender
from djag.core.message import message_options

DJAG_OPTIONS: dict[str, dict[str, Any]] = {
    "none": {},
    "queue": {"queue": "reports"},
    "exchange and routing key": {"exchange": "jobs", "routing_key": "jobs.nightly"},
    "priority": {"priority": 7},
    "headers": {"headers": {"tenant": "acme"}},
    "expiry": {"expires": 90},
    "everything": {
        "queue": "reports",
        "routing_key": "reports.daily",
        "priority": 3,
        "headers": {"tenant": "acme"},
        "expires": 3600,
    },
}


@pytest.fixture
def app() -> Iterator[Celery]:
    app = Celery(f"publish-{uuid.uuid4().hex[:8]}", broker="memory://", set_as_current=False)
    app.conf.task_queues = [
        Queue("celery"),
        Queue("reports"),
        Queue("routed"),
        Queue("own"),
        Queue("nightly", Exchange("jobs", type="topic"), routing_key="jobs.#"),
    ]

    @app.task(shared=False, name="t.plain")
    def plain() -> None: ...

    @app.task(
        shared=False,
        name="t.own_options",
        queue="own",
        time_limit=30,
        soft_time_limit=20,
        priority=2,
    )
    def own_options() -> None: ...

    @app.task(shared=False, name="t.ignores_result", ignore_result=True)
    def ignores_result() -> None: ...

    @app.task(shared=False, name="t.expiry_date", expires=dt.datetime(2099, 1, 1, tzinfo=dt.UTC))
    def expiry_date() -> None: ...

    app.finalize()
    yield app
    app.close()


def publish_both(app: Celery, name: str, options: dict[str, Any]) -> tuple[dict, dict]:
    """What the signal saw from send_task and from RunSender, for the same run."""
    seen: list[dict] = []

    def record(sender: str, **kwargs: Any) -> None:
        kwargs.pop("signal")
        seen.append({"sender": sender, **kwargs})

    before_task_publish.connect(record, weak=False)
    task_id = str(uuid.uuid4())
    args, kwargs = [1, "two", {"three": 3}], {"x": [1, 2]}
    try:
        with app.producer_or_acquire() as producer:
            full = message_options(options, run_id=41)
            app.send_task(
                name, args=args, kwargs=kwargs, task_id=task_id, producer=producer, **full
            )
            RunSender(app, producer).send(name, args, kwargs, task_id, message_options(options, 41))
    finally:
        before_task_publish.disconnect(record)
    assert len(seen) == 2
    return normalised(seen[0]), normalised(seen[1])


def normalised(published: dict) -> dict:
    """Declared queues by what they are (a bound copy or not); expiry times to the second."""
    published["declare"] = [(q.name, q.exchange.name, q.routing_key) for q in published["declare"]]
    headers = published["headers"]
    if headers.get("expires"):
        headers["expires"] = dt.datetime.fromisoformat(headers["expires"]).replace(microsecond=0)
    if "expiration" in published["properties"]:
        published["properties"]["expiration"] = round(published["properties"]["expiration"])
    return published


@pytest.mark.parametrize("options", DJAG_OPTIONS.values(), ids=DJAG_OPTIONS.keys())
@pytest.mark.parametrize("name", ["t.plain", "t.own_options", "t.ignores_result", "unknown.task"])
def test_run_sender_publishes_what_send_task_publishes(
    app: Celery, name: str, options: dict[str, Any]
) -> None:
    by_celery, by_djag = publish_both(app, name, options)
    assert by_djag == by_celery
    assert by_djag["headers"]["djag_run_id"] == 41


def test_task_routes_apply_as_with_send_task(app: Celery) -> None:
    app.conf.task_routes = {"t.*": {"queue": "routed"}}
    by_celery, by_djag = publish_both(app, "t.plain", {})
    assert by_djag == by_celery
    assert by_djag["routing_key"] == "routed"


def test_a_task_expiry_date_goes_through_send_task(app: Celery) -> None:
    by_celery, by_djag = publish_both(app, "t.expiry_date", {})
    assert by_djag == by_celery
    assert by_djag["headers"]["expires"].year == 2099


def test_messages_arrive_in_their_queues(app: Celery) -> None:
    task_ids = [str(uuid.uuid4()) for _ in range(3)]
    with app.producer_or_acquire() as producer:
        sender = RunSender(app, producer)
        sender.send("t.plain", [], {}, task_ids[0], message_options({}, 1))
        sender.send("t.plain", [], {}, task_ids[1], message_options({"queue": "reports"}, 2))
        sender.send("t.own_options", [], {}, task_ids[2], message_options({}, 3))
    arrived = {}
    with app.connection_for_read() as connection:
        for queue in ("celery", "reports", "own"):  # the in-memory broker is shared by the tests
            with connection.SimpleQueue(queue) as simple:
                while True:
                    try:
                        message = simple.get_nowait()
                    except simple.Empty:
                        break
                    message.ack()
                    arrived[message.headers["id"]] = (queue, message.headers["djag_run_id"])
    assert [arrived.get(task_id) for task_id in task_ids] == [
        ("celery", 1),
        ("reports", 2),
        ("own", 3),
    ]
