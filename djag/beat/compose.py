"""A task's Celery message, composed once; each run fills in only what varies.

``app.send_task`` builds every message from scratch: it routes the task,
renders ``saferepr`` of the arguments for the ``argsrepr``/``kwargsrepr``
headers, serialises the body and resolves the exchange, routing key and
declarations, reading a dozen settings through Celery's configuration view on
the way. For beat, all of that depends only on the task's name, args, kwargs
and options, which do not change between runs. A :class:`Template` holds the
result; a run supplies its :class:`RunPart` (Celery task id, per-run headers,
expiry) and gets the headers and properties of its message.

The template is built with the layer ``send_task`` stands on
(``router.route``, ``amqp.create_task_message``, kombu's serialiser) and the
resolution ``amqp.send_task_message`` does before it publishes, so that the
message is the one ``send_task`` sends; ``tests/beat/test_publish.py`` and
``tests/beat/test_publish_wire.py`` compare them, through Celery's
``before_task_publish`` signal and byte for byte in the broker.

What depends only on the task's name and options (routing, Celery's headers
and properties, the exchange and declarations, the publish options) is a
:class:`Shape`, composed once for all the tasks with that name and options:
a burst of 10,000 tasks of one Celery task with different arguments composes
one shape and 10,000 small templates, each only its arguments' reprs
(``djag.beat.reprs``) and its serialised body. A router given as a function
may look at the arguments: then each task has a shape of its own.

Templates are cached per slot (beat uses the PeriodicTask id), and a cached
template is used only if it was made from equal values: a task whose row
changed gets a new one. The cache is bounded (least recently used first out)
at a size a burst of 100,000 distinct tasks fits in, so that the next burst of
the same tasks composes nothing, while a million tasks do not keep a million
templates.
"""

from __future__ import annotations

import datetime as dt
import numbers
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from celery import Celery
from celery.app.routes import MapRoute
from kombu import Queue
from kombu.common import Broadcast
from kombu.serialization import dumps

from djag.beat.reprs import task_repr

#: The execution options ``send_task`` takes out of the message options and
#: passes to the task message instead.
_MESSAGE_ARGUMENTS = ("time_limit", "soft_time_limit", "expires", "ignore_result")

#: The keyword arguments of ``amqp.send_task_message`` itself; any other option
#: becomes a message property, as there.
_SEND_ARGUMENTS = (
    "exchange",
    "routing_key",
    "queue",
    "event_dispatcher",
    "retry",
    "retry_policy",
    "serializer",
    "delivery_mode",
    "compression",
    "declare",
    "headers",
    "exchange_type",
    "timeout",
    "confirm_timeout",
)

#: At most this many templates are kept (a few hundred bytes each): enough for a
#: burst of this many distinct tasks to find every one composed the next time.
MAX_TEMPLATES = 100_000

#: Shapes kept per task name (one per distinct options), and task names with shapes.
MAX_SHAPES_PER_NAME = 16
MAX_SHAPE_NAMES = 10_000

#: The headers each task fills in with its own arguments' reprs.
_REPRS = frozenset(("argsrepr", "kwargsrepr"))


class NeedsSendTask(Exception):
    """This message is not composed here: it goes through ``app.send_task`` as it is."""


@dataclass(frozen=True, slots=True)
class RunPart:
    """What differs from one run of a task to the next."""

    task_id: str  # the Celery task id (also the message's root id)
    headers: Mapping[str, Any]  # per-run headers, added after the task's own
    expires: dt.datetime | None = None  # overrides the task's expiry in seconds


@dataclass(slots=True)
class Shape:
    """What a task's messages share with those of every task of the same name and options."""

    name: str
    options: dict[str, Any]  # as given: a shape is reused only for equal options
    embed: dict[str, Any]  # the body's third part (callbacks, errbacks, chain, chord)
    content_type: str
    content_encoding: str
    serializer: str
    headers: dict[str, Any]  # Celery's task headers and the task's own, no id nor argument reprs
    properties: dict[str, Any]
    exchange: Any  # a name or an Exchange, as send_task hands it to kombu
    routing_key: str
    queue_name: str | None
    declare: list[Any]
    publish: dict[str, Any]  # the rest of ``Producer.publish``'s keyword arguments
    expires_seconds: float | None
    sent_event: dict[str, Any] | None


@dataclass(slots=True)
class Template:
    """Everything of a task's message that is the same for every run.

    Small on purpose (a burst of 100,000 new tasks makes 100,000 of them): what
    it shares with other tasks of the same name and options is in its shape;
    it holds its arguments, their reprs and its serialised body.
    """

    shape: Shape
    made_from: tuple[list, dict, dict]  # (args, kwargs, options): reused only for equal values
    body: tuple[Any, ...]  # (args, kwargs, embed), as the publish signals see it
    payload: bytes  # the body, serialised
    argsrepr: str
    kwargsrepr: str

    @property
    def name(self) -> str:
        return self.shape.name

    @property
    def headers(self) -> dict[str, Any]:
        """The task's message headers, the id left to the run."""
        headers = self.shape.headers.copy()
        headers["argsrepr"] = self.argsrepr
        headers["kwargsrepr"] = self.kwargsrepr
        return headers

    def message(self, run: RunPart, now: dt.datetime) -> tuple[dict, dict]:
        """(headers, properties) of ``run``'s message, published at ``now`` (app time zone)."""
        shape = self.shape
        headers = shape.headers.copy()
        headers["id"] = headers["root_id"] = run.task_id
        headers["argsrepr"] = self.argsrepr
        headers["kwargsrepr"] = self.kwargsrepr
        properties = shape.properties.copy()
        properties["correlation_id"] = run.task_id
        if run.expires is not None:
            headers["expires"] = run.expires.isoformat()
            properties["expiration"] = max((run.expires - now).total_seconds(), 0)
        elif shape.expires_seconds is not None:
            headers["expires"] = _after(now, shape.expires_seconds).isoformat()
        headers.update(run.headers)
        return headers, properties

    def event(self, headers: dict[str, Any]) -> dict[str, Any] | None:
        """The ``task-sent`` event of the message with ``headers`` (None: events are off)."""
        shape = self.shape
        if shape.sent_event is None:
            return None
        return {
            **shape.sent_event,
            "args": self.argsrepr,
            "kwargs": self.kwargsrepr,
            "uuid": headers["id"],
            "root_id": headers["root_id"],
            "expires": headers["expires"],
            "queue": shape.queue_name,
            "exchange": self.exchange_name,
            "routing_key": shape.routing_key,
        }

    # What publishing reads, as send_task hands it to kombu.

    @property
    def content_type(self) -> str:
        return self.shape.content_type

    @property
    def content_encoding(self) -> str:
        return self.shape.content_encoding

    @property
    def exchange(self) -> Any:
        return self.shape.exchange

    @property
    def routing_key(self) -> str:
        return self.shape.routing_key

    @property
    def declare(self) -> list[Any]:
        return self.shape.declare

    @property
    def publish(self) -> dict[str, Any]:
        return self.shape.publish

    @property
    def exchange_name(self) -> str:
        exchange = self.shape.exchange
        return exchange if isinstance(exchange, str) else exchange.name


def _after(now: dt.datetime, seconds: float) -> dt.datetime:
    """``now`` plus elapsed seconds, in ``now``'s zone (as Celery adds an expiry)."""
    later = now.astimezone(dt.UTC) + dt.timedelta(seconds=seconds)
    return later.astimezone(now.tzinfo)


class Composer:
    """Builds and keeps the templates of one Celery app; settings are read once, here."""

    def __init__(self, app: Celery, max_templates: int = MAX_TEMPLATES) -> None:
        conf = app.conf
        self.app = app
        self.amqp = app.amqp
        self.reply_to = app.thread_oid
        self.sent_event = bool(conf.task_send_sent_event)
        self.repr_levels = conf.task_repr_maxlevels
        self.default_retry = conf.task_publish_retry
        self.default_policy = conf.task_publish_retry_policy
        self.default_delivery_mode = conf.task_default_delivery_mode
        self.default_routing_key = conf.task_default_routing_key
        self.default_serializer = conf.task_serializer
        self.default_compression = conf.task_compression
        self.max_templates = max_templates
        self.templates: OrderedDict[Hashable, Template] = OrderedDict()
        #: Shapes by task name, most recent last, each reused for equal options.
        self.shapes: dict[str, list[Shape]] = {}

    def template(
        self, slot: Hashable, name: str, args: list, kwargs: dict, options: dict[str, Any]
    ) -> Template:
        """The template of ``slot`` if it was made from these values, else a new one.

        Raises NeedsSendTask for what only ``send_task`` composes (an expiry date).
        """
        template = self.templates.get(slot)
        if (
            template is not None
            and template.shape.name == name
            and template.made_from
            == (
                args,
                kwargs,
                options,
            )
        ):
            self.templates.move_to_end(slot)
            return template
        template = self.compose(name, args, kwargs, options)
        self.templates[slot] = template
        self.templates.move_to_end(slot)
        if len(self.templates) > self.max_templates:
            self.templates.popitem(last=False)
        return template

    def compose(self, name: str, args: list, kwargs: dict, options: dict[str, Any]) -> Template:
        """The task's message, as ``send_task`` would compose it, its id left to the run."""
        if self._routes_by_name_only():
            shape = self.shape(name, options)
        else:  # a router that may look at the arguments: a shape of their own
            shape = self._compose_shape(name, options, args, kwargs)
        # As Celery's task message: no arguments are an empty tuple, no keywords a new dict.
        body = (args or (), kwargs or {}, shape.embed)
        argsrepr = task_repr(body[0], self.amqp.argsrepr_maxsize, self.repr_levels)
        kwargsrepr = task_repr(body[1], self.amqp.kwargsrepr_maxsize, self.repr_levels)
        serialised: bytes | str = dumps(body, serializer=shape.serializer)[2]
        if isinstance(serialised, str):
            serialised = serialised.encode(shape.content_encoding)
        return Template(shape, (args, kwargs, options), body, serialised, argsrepr, kwargsrepr)

    def shape(self, name: str, options: dict[str, Any]) -> Shape:
        """The shape of the messages of ``name`` with ``options``, composed once."""
        shapes = self.shapes.setdefault(name, [])
        for shape in shapes:
            if shape.options == options:
                return shape
        shape = self._compose_shape(name, options, [], {})
        shapes.append(shape)
        if len(shapes) > MAX_SHAPES_PER_NAME:
            del shapes[0]
        if len(self.shapes) > MAX_SHAPE_NAMES:
            self.shapes = {name: shapes}
        return shape

    def _routes_by_name_only(self) -> bool:
        """Whether the routers can look at nothing but the task's name (Celery's task_routes
        as a mapping); a router function also gets the arguments."""
        router: Any = self.amqp.router
        return all(isinstance(route, MapRoute) for route in router.routes)

    def _compose_shape(self, name: str, options: dict[str, Any], args: list, kwargs: dict) -> Shape:
        """``send_task``'s composition with these arguments; the argument reprs left out."""
        given = options
        task = self.app.tasks.get(name)
        if task is not None:
            # The options the task was declared with, applied as Celery's beat and send_task do.
            declared = task._get_exec_options()  # type: ignore[attr-defined]
            own = {key: value for key, value in declared.items() if value is not None}
            options = {**own, **options}
        else:
            options = dict(options)
        expires = options.get("expires")
        if expires is not None and not isinstance(expires, numbers.Real):
            raise NeedsSendTask(f"{name}: an expiry that is not in seconds ({expires!r})")
        arguments = {key: options.pop(key, None) for key in _MESSAGE_ARGUMENTS}
        arguments["expires"] = None  # a run's own: see Template.message
        router: Any = self.amqp.router  # its stubs want args as a tuple; send_task passes a list
        options = router.route(options, name, args, kwargs, task)
        if expires is not None:
            options["expiration"] = max(expires, 0)
        message = self.amqp.create_task_message(
            "",
            name,
            args,
            kwargs,
            reply_to=self.reply_to,
            create_sent_event=self.sent_event,
            argsrepr="",  # per task: Template.argsrepr
            kwargsrepr="",
            **arguments,
            **options,
        )
        headers, properties, body, sent_event = message
        sending = {key: options.pop(key, None) for key in _SEND_ARGUMENTS}
        if sending["headers"]:
            if _REPRS & set(sending["headers"]):
                raise NeedsSendTask(f"{name}: its own {sorted(_REPRS)} headers")
            headers.update(sending["headers"])
        properties.update(options)
        return self._resolve(
            name, given, body[2], headers, properties, sending, expires, sent_event
        )

    def _resolve(
        self,
        name: str,
        given: dict[str, Any],
        embed: dict[str, Any],
        headers: dict[str, Any],
        properties: dict[str, Any],
        sending: dict[str, Any],
        expires: Any,
        sent_event: dict[str, Any] | None,
    ) -> Shape:
        """What ``amqp.send_task_message`` works out before it publishes, in its order."""
        exchange, routing_key, queue = sending["exchange"], sending["routing_key"], sending["queue"]
        qname = queue
        if queue is None and exchange is None:
            queue = self.amqp.default_queue
        if queue is not None:
            if isinstance(queue, str):
                qname, queue = queue, self.amqp.queues[queue]
            else:
                qname = queue.name
        delivery_mode = sending["delivery_mode"]
        if delivery_mode is None:
            delivery_mode = getattr(getattr(queue, "exchange", None), "delivery_mode", None)
            delivery_mode = delivery_mode or self.default_delivery_mode
        exchange_type = sending["exchange_type"]
        if exchange_type is None:
            exchange_type = getattr(getattr(queue, "exchange", None), "type", "direct")
        if (not exchange or not routing_key) and exchange_type == "direct":
            exchange, routing_key = "", qname
        elif exchange is None:
            exchange = queue.exchange.name or self.amqp.default_exchange
            routing_key = routing_key or queue.routing_key or self.default_routing_key
        declare = sending["declare"]
        if declare is None:
            declare = [queue] if queue and not isinstance(queue, Broadcast) else []
        retry = self.default_retry if sending["retry"] is None else sending["retry"]
        policy = dict(self.default_policy, **(sending["retry_policy"] or {}))
        serializer = sending["serializer"] or self.default_serializer
        content_type, content_encoding, _ = dumps(((), {}, embed), serializer=serializer)
        if not isinstance(content_encoding, str):  # pragma: no cover - kombu always names one
            content_encoding = "utf-8"
        return Shape(
            name=name,
            options=given,
            embed=embed,
            content_type=content_type,
            content_encoding=content_encoding,
            serializer=serializer,
            headers=headers,
            properties=properties,
            exchange=exchange,
            routing_key=routing_key,
            queue_name=qname,
            declare=declare,
            publish={
                "serializer": serializer,
                "compression": sending["compression"] or self.default_compression,
                "retry": retry,
                "retry_policy": policy,
                "delivery_mode": delivery_mode,
                "timeout": sending["timeout"],
                "confirm_timeout": sending["confirm_timeout"],
            },
            expires_seconds=expires,
            sent_event=sent_event,
        )


def bound_queues(declare: list[Any], channel: Any, bound: dict[Queue, Queue]) -> list[Any]:
    """The declarations bound to ``channel`` once, not copied by kombu for every message."""
    if channel is None:
        return declare
    result = []
    for entity in declare:
        if isinstance(entity, Queue):
            copy = bound.get(entity)
            if copy is None or copy.channel is not channel:
                copy = bound[entity] = entity.bind(channel)
            entity = copy
        result.append(entity)
    return result
