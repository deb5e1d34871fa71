"""djag's publisher sends, message for message, what Celery's ``send_task`` sends.

Two different paths are compared: ``app.send_task`` (Celery composes the
message and ``amqp.send_task_message`` publishes it) and ``RunPublisher``
(djag's template, composed once per task, filled in per run and handed to
``Producer.publish``). Each is observed through Celery's ``before_task_publish``
signal, which carries everything handed to kombu (body, headers, properties,
exchange, routing key, declarations, retry policy), and through the raw
message that arrives in kombu's in-memory transport. The app's clock is
frozen, so that an expiry computed from "now" is the same on both paths.
``test_publish_wire.py`` compares the bytes in a real Redis and RabbitMQ.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from celery.signals import after_task_publish, before_task_publish
from kombu import Exchange, Queue

from djag.beat.compose import Composer, RunPart
from djag.beat.outbox import Dispatch
from djag.beat.publish import RunPublisher
from djag.core.message import RUN_ID_HEADER, message_options

NOW = dt.datetime(2026, 3, 2, 12, 0, 0, 123456, tzinfo=dt.UTC)
ARGS, KWARGS = [1, "two", {"three": 3}], {"x": [1, 2]}

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

TASKS = ["t.plain", "t.own_options", "t.ignores_result", "unknown.task"]


def make_app(broker: str = "memory://") -> Celery:
    app = Celery(f"publish-{uuid.uuid4().hex[:8]}", broker=broker, set_as_current=False)
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
    app.now = lambda: NOW.astimezone(app.timezone)  # type: ignore[method-assign]
    return app


@pytest.fixture
def app() -> Iterator[Celery]:
    app = make_app()
    yield app
    app.close()


def dispatch(
    name: str, options: dict[str, Any], task_id: str, args: list = ARGS, kwargs: dict = KWARGS
) -> Dispatch:
    return Dispatch(41, task_id, 7, name, args, kwargs, options)


def publish_both(
    app: Celery, name: str, options: dict[str, Any], djag: Dispatch | None = None
) -> tuple[dict, dict]:
    """What the signal saw from send_task and from RunPublisher, for the same run.

    ``djag``: what djag's side publishes instead of the same run (to check that
    a difference shows).
    """
    seen: list[dict] = []

    def record(sender: str, **kwargs: Any) -> None:
        kwargs.pop("signal")
        seen.append({"sender": sender, **kwargs})

    before_task_publish.connect(record, weak=False)
    task_id = str(uuid.uuid4())
    try:
        with app.producer_or_acquire() as producer:
            app.send_task(
                name,
                args=ARGS,
                kwargs=KWARGS,
                task_id=task_id,
                producer=producer,
                **message_options(options, run_id=41),
            )
            publisher = RunPublisher(app, producer)
            assert publisher.publish([djag or dispatch(name, options, task_id)]) == []
    finally:
        before_task_publish.disconnect(record)
    assert len(seen) == 2
    return normalised(seen[0]), normalised(seen[1])


def normalised(published: dict) -> dict:
    """Declared queues by what they are (a bound copy or not)."""
    published["declare"] = [(q.name, q.exchange.name, q.routing_key) for q in published["declare"]]
    return published


@pytest.mark.parametrize("options", DJAG_OPTIONS.values(), ids=DJAG_OPTIONS.keys())
@pytest.mark.parametrize("name", TASKS)
def test_run_publisher_publishes_what_send_task_publishes(
    app: Celery, name: str, options: dict[str, Any]
) -> None:
    by_celery, by_djag = publish_both(app, name, options)
    assert by_djag == by_celery
    assert by_djag["headers"][RUN_ID_HEADER] == 41
    assert by_djag["body"] == (ARGS, KWARGS, by_celery["body"][2])


@pytest.mark.parametrize(
    "change",
    ["args", "kwargs", "header", "queue", "priority", "expiry", "task id"],
)
def test_the_comparison_sees_any_difference(app: Celery, change: str) -> None:
    """The comparison above can fail: the same run with one thing changed on djag's side."""
    options: dict[str, Any] = {"headers": {"tenant": "acme"}, "priority": 3, "expires": 60}
    task_id = str(uuid.uuid4())
    changed = dispatch("t.plain", options, task_id)
    if change == "args":
        changed = dispatch("t.plain", options, task_id, args=[1, "two", {"three": 4}])
    elif change == "kwargs":
        changed = dispatch("t.plain", options, task_id, kwargs={"x": [1, 2], "y": 0})
    elif change == "header":
        changed = dispatch("t.plain", {**options, "headers": {"tenant": "acne"}}, task_id)
    elif change == "queue":
        changed = dispatch("t.plain", {**options, "queue": "reports"}, task_id)
    elif change == "priority":
        changed = dispatch("t.plain", {**options, "priority": 4}, task_id)
    elif change == "expiry":
        changed = dispatch("t.plain", {**options, "expires": 61}, task_id)
    else:
        changed = dispatch("t.plain", options, str(uuid.uuid4()))
    by_celery, by_djag = publish_both(app, "t.plain", options, djag=changed)
    assert by_djag != by_celery


def test_task_routes_apply_as_with_send_task(app: Celery) -> None:
    app.conf.task_routes = {"t.*": {"queue": "routed"}}
    by_celery, by_djag = publish_both(app, "t.plain", {})
    assert by_djag == by_celery
    assert by_djag["routing_key"] == "routed"


def test_a_task_expiry_date_goes_through_send_task(app: Celery) -> None:
    task_id = str(uuid.uuid4())
    with app.producer_or_acquire() as producer:
        publisher = RunPublisher(app, producer)
        seen: list[dict] = []

        def record(sender: str, headers: dict, **kwargs: Any) -> None:
            seen.append(headers)

        before_task_publish.connect(record, weak=False)
        try:
            assert publisher.publish([dispatch("t.expiry_date", {}, task_id)]) == []
        finally:
            before_task_publish.disconnect(record)
    assert publisher.composer.templates == {}  # not composed by djag
    assert [(h["id"], h["expires"][:4], h[RUN_ID_HEADER]) for h in seen] == [(task_id, "2099", 41)]


def raw_messages(app: Celery, queue: str) -> list[dict]:
    """The messages waiting in ``queue`` of the in-memory transport, as the transport keeps them."""
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        messages = []
        while True:
            try:
                messages.append(channel._get(queue))
            except Exception:  # Empty
                return messages


def test_what_arrives_is_what_send_task_makes_arrive(app: Celery) -> None:
    """The raw message in the transport's queue, all but kombu's per-message delivery tag."""
    raw_messages(app, "reports")  # the in-memory broker is shared by the tests
    task_id = str(uuid.uuid4())
    options = DJAG_OPTIONS["everything"]
    with app.producer_or_acquire() as producer:
        full = message_options(options, 41)
        app.send_task("t.plain", ARGS, KWARGS, task_id=task_id, producer=producer, **full)
        assert RunPublisher(app, producer).publish([dispatch("t.plain", options, task_id)]) == []
    by_celery, by_djag = raw_messages(app, "reports")
    tags = by_celery["properties"].pop("delivery_tag"), by_djag["properties"].pop("delivery_tag")
    assert tags[0] != tags[1]
    assert json.dumps(by_djag) == json.dumps(by_celery)


def test_messages_arrive_in_their_queues(app: Celery) -> None:
    for queue in ("celery", "reports", "own"):
        raw_messages(app, queue)
    task_ids = [str(uuid.uuid4()) for _ in range(3)]
    with app.producer_or_acquire() as producer:
        publisher = RunPublisher(app, producer)
        failures = publisher.publish(
            [
                Dispatch(1, task_ids[0], 1, "t.plain", [], {}, {}),
                Dispatch(2, task_ids[1], 2, "t.plain", [], {}, {"queue": "reports"}),
                Dispatch(3, task_ids[2], 3, "t.own_options", [], {}, {}),
            ]
        )
    assert failures == []
    arrived = {
        message["headers"]["id"]: (queue, message["headers"][RUN_ID_HEADER])
        for queue in ("celery", "reports", "own")
        for message in raw_messages(app, queue)
    }
    assert [arrived.get(task_id) for task_id in task_ids] == [
        ("celery", 1),
        ("reports", 2),
        ("own", 3),
    ]


def test_after_task_publish_fires_for_each_message_sent(app: Celery) -> None:
    seen: list[tuple[str, int]] = []

    def record(sender: str, headers: dict, **kwargs: Any) -> None:
        seen.append((headers["id"], headers[RUN_ID_HEADER]))

    after_task_publish.connect(record, weak=False)
    try:
        with app.producer_or_acquire() as producer:
            RunPublisher(app, producer).publish(
                [Dispatch(run, f"id-{run}", run, "t.plain", [], {}, {}) for run in (1, 2)]
            )
    finally:
        after_task_publish.disconnect(record)
    assert seen == [("id-1", 1), ("id-2", 2)]


def test_a_run_that_cannot_be_routed_fails_alone(app: Celery) -> None:
    app.conf.task_create_missing_queues = False
    raw_messages(app, "celery")
    with app.producer_or_acquire() as producer:
        failures = RunPublisher(app, producer).publish(
            [
                Dispatch(1, "id-1", 1, "t.plain", [], {}, {"queue": "nowhere"}),
                Dispatch(2, "id-2", 2, "t.plain", [], {}, {}),
            ]
        )
    assert [(d.run_id, type(exc).__name__) for d, exc in failures] == [(1, "QueueNotFound")]
    assert [m["headers"]["id"] for m in raw_messages(app, "celery")] == ["id-2"]


# -- templates: composed once per task, never reused for other values ---------------------


def test_a_task_is_composed_once_for_all_its_runs(app: Celery) -> None:
    composer = Composer(app)
    first = composer.template(7, "t.plain", [1], {"a": 1}, {"headers": {}})
    again = composer.template(7, "t.plain", [1], {"a": 1}, {"headers": {}})  # equal, not same
    assert again is first
    one, _ = first.message(RunPart("id-1", {RUN_ID_HEADER: 1}), NOW)
    two, _ = first.message(RunPart("id-2", {RUN_ID_HEADER: 2}), NOW)
    assert (one["id"], one["root_id"], one[RUN_ID_HEADER]) == ("id-1", "id-1", 1)
    assert (two["id"], two["root_id"], two[RUN_ID_HEADER]) == ("id-2", "id-2", 2)
    assert "id-2" not in first.headers.values()  # a run's part never leaks into the template


@pytest.mark.parametrize(
    ("name", "args", "kwargs", "options"),
    [
        ("t.own_options", [1], {"a": 1}, {"headers": {}}),
        ("t.plain", [2], {"a": 1}, {"headers": {}}),
        ("t.plain", [1], {"a": 2}, {"headers": {}}),
        ("t.plain", [1], {"a": 1}, {"headers": {"h": 1}}),
        ("t.plain", [1], {"a": 1}, {"headers": {}, "queue": "reports"}),
    ],
)
def test_a_changed_task_gets_a_new_template(
    app: Celery, name: str, args: list, kwargs: dict, options: dict
) -> None:
    composer = Composer(app)
    old = composer.template(7, "t.plain", [1], {"a": 1}, {"headers": {}})
    new = composer.template(7, name, args, kwargs, options)
    assert new is not old
    assert new.body[:2] == (args, kwargs)
    assert new.headers["task"] == name


def test_templates_are_bounded_least_recently_used_first(app: Celery) -> None:
    composer = Composer(app, max_templates=2)
    one = composer.template(1, "t.plain", [1], {}, {})
    composer.template(2, "t.plain", [2], {}, {})
    assert composer.template(1, "t.plain", [1], {}, {}) is one  # 1 used last
    composer.template(3, "t.plain", [3], {}, {})
    assert list(composer.templates) == [1, 3]


def test_a_run_may_carry_its_own_expiry(app: Celery) -> None:
    template = Composer(app).template(7, "t.plain", [], {}, {"expires": 60})
    headers, properties = template.message(RunPart("id", {}), NOW)
    assert headers["expires"] == "2026-03-02T12:01:00.123456+00:00"
    assert properties["expiration"] == 60
    until = NOW + dt.timedelta(seconds=30)
    headers, properties = template.message(RunPart("id", {}, expires=until), NOW)
    assert headers["expires"] == until.isoformat()
    assert properties["expiration"] == 30


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_paused_while_publishing_and_restored(app: Celery, enabled: bool) -> None:
    collections: list[str] = []
    seen_enabled: list[bool] = []

    def record(phase: str, info: dict) -> None:
        collections.append(phase)

    def make_garbage_while_publishing(sender: str, **kwargs: Any) -> None:
        seen_enabled.append(gc.isenabled())
        if record not in gc.callbacks:  # from the first message on
            gc.callbacks.append(record)
        for _ in range(2000):  # far past the first generation's threshold
            cycle: list = []
            cycle.append(cycle)

    was_enabled = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    before_task_publish.connect(make_garbage_while_publishing, weak=False)
    try:
        with app.producer_or_acquire() as producer:
            publisher = RunPublisher(app, producer)
            inner = publisher._publish

            def publish_then_stop_recording(dispatches: list[Dispatch]) -> list:
                try:
                    return inner(dispatches)
                finally:  # still inside the pause: the garbage is collected after it
                    gc.callbacks.remove(record)

            publisher._publish = publish_then_stop_recording  # type: ignore[method-assign]
            publisher.publish(
                [Dispatch(run, f"gc-{run}", run, "t.plain", [], {}, {}) for run in range(3)]
            )
            assert gc.isenabled() is enabled
    finally:
        before_task_publish.disconnect(make_garbage_while_publishing)
        (gc.enable if was_enabled else gc.disable)()
    assert seen_enabled == [False, False, False]
    assert collections == []
    raw_messages(app, "celery")


# -- shapes: what tasks of one name and options share -----------------------------------


def publish_many(app: Celery, name: str, options: dict[str, Any], arguments: list[tuple]) -> list:
    """What the signal saw from send_task, then from one RunPublisher, for each (args, kwargs)."""
    seen: list[dict] = []

    def record(sender: str, **kwargs: Any) -> None:
        kwargs.pop("signal")
        seen.append(normalised({"sender": sender, **kwargs}))

    task_ids = [str(uuid.uuid4()) for _ in arguments]
    before_task_publish.connect(record, weak=False)
    try:
        with app.producer_or_acquire() as producer:
            for task_id, (args, kwargs) in zip(task_ids, arguments, strict=True):
                full = message_options(options, run_id=41)
                app.send_task(name, args, kwargs, task_id=task_id, producer=producer, **full)
            publisher = RunPublisher(app, producer)
            runs = [
                Dispatch(41, task_id, slot, name, args, kwargs, options)
                for slot, (task_id, (args, kwargs)) in enumerate(
                    zip(task_ids, arguments, strict=True)
                )
            ]
            assert publisher.publish(runs) == []
    finally:
        before_task_publish.disconnect(record)
    half = len(arguments)
    assert len(seen) == 2 * half
    return list(zip(seen[:half], seen[half:], strict=True))


ARGUMENTS = [([], {}), ([1], {"n": 1}), (["x", {"y": 2}], {"n": 2, "it's": "quoted"}), ([], {})]


@pytest.mark.parametrize("options", DJAG_OPTIONS.values(), ids=DJAG_OPTIONS.keys())
def test_tasks_sharing_a_shape_each_publish_what_send_task_publishes(
    app: Celery, options: dict[str, Any]
) -> None:
    for by_celery, by_djag in publish_many(app, "t.own_options", options, ARGUMENTS):
        assert by_djag == by_celery


def test_tasks_of_one_name_and_options_share_one_shape(app: Celery) -> None:
    composer = Composer(app)
    one = composer.template(1, "t.plain", [1], {"n": 1}, {"queue": "reports"})
    two = composer.template(2, "t.plain", [2], {"n": 2}, {"queue": "reports"})
    other = composer.template(3, "t.plain", [3], {"n": 3}, {"queue": "celery"})
    assert two.shape is one.shape
    assert other.shape is not one.shape
    assert (one.argsrepr, two.kwargsrepr) == ("[1]", "{'n': 2}")
    assert one.payload != two.payload


def test_a_router_function_sees_each_task_s_arguments(app: Celery) -> None:
    def by_argument(name: str, args: list, kwargs: dict, options: dict, **rest: Any) -> Any:
        return {"queue": "reports"} if kwargs.get("n") == 1 else None

    app.conf.task_routes = (by_argument,)
    arguments = [([], {"n": 1}), ([], {"n": 2})]
    pairs = publish_many(app, "t.plain", {}, arguments)
    assert [by_djag["routing_key"] for _, by_djag in pairs] == ["reports", "celery"]
    for by_celery, by_djag in pairs:
        assert by_djag == by_celery


def test_a_burst_of_100000_distinct_tasks_stays_composed_and_each_template_is_small(
    app: Celery,
) -> None:
    """The next burst of the same tasks composes nothing, and what the cache holds costs the
    cyclic collector little: a few tracked objects per task, not a dozen dicts."""
    composer = Composer(app)
    assert composer.max_templates >= 100_000
    composer.template(0, "t.plain", [0], {"n": 0}, {"headers": {}})  # the shape
    gc.collect()
    before = len(gc.get_objects())
    kept = [
        composer.template(slot, "t.plain", [slot], {"n": slot}, {"headers": {}})
        for slot in range(1, 201)
    ]
    gc.collect()
    tracked = len(gc.get_objects()) - before - 1  # the list ``kept``
    # Per task: the args list and kwargs dict made here, the template, its two tuples.
    assert tracked <= 5 * len(kept)
    assert len({id(template.shape) for template in kept}) == 1
