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

Templates are cached per slot (beat uses the PeriodicTask id), and a cached
template is used only if it was made from equal values: a task whose row
changed gets a new one. The cache is bounded (least recently used first out),
so that a million tasks do not keep a million templates.
"""

from __future__ import annotations

import datetime as dt
import numbers
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from celery import Celery
from celery.utils.saferepr import saferepr
from kombu import Queue
from kombu.common import Broadcast
from kombu.serialization import dumps

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

#: At most this many templates are kept (about 2 KB each).
MAX_TEMPLATES = 20_000


class NeedsSendTask(Exception):
    """This message is not composed here: it goes through ``app.send_task`` as it is."""


@dataclass(frozen=True, slots=True)
class RunPart:
    """What differs from one run of a task to the next."""

    task_id: str  # the Celery task id (also the message's root id)
    headers: Mapping[str, Any]  # per-run headers, added after the task's own
    expires: dt.datetime | None = None  # overrides the task's expiry in seconds


@dataclass(slots=True)
class Template:
    """Everything of a task's message that is the same for every run."""

    name: str
    made_from: tuple[list, dict, dict]  # (args, kwargs, options): reused only for equal values
    body: tuple[Any, ...]  # (args, kwargs, embed), as the publish signals see it
    payload: bytes  # the body, serialised
    content_type: str
    content_encoding: str
    headers: dict[str, Any]  # Celery's task headers and the task's own, the id left to the run
    properties: dict[str, Any]
    exchange: Any  # a name or an Exchange, as send_task hands it to kombu
    routing_key: str
    queue_name: str | None
    declare: list[Any]
    publish: dict[str, Any]  # the rest of ``Producer.publish``'s keyword arguments
    expires_seconds: float | None
    sent_event: dict[str, Any] | None

    def message(self, run: RunPart, now: dt.datetime) -> tuple[dict, dict]:
        """(headers, properties) of ``run``'s message, published at ``now`` (app time zone)."""
        headers = self.headers.copy()
        headers["id"] = headers["root_id"] = run.task_id
        properties = self.properties.copy()
        properties["correlation_id"] = run.task_id
        if run.expires is not None:
            headers["expires"] = run.expires.isoformat()
            properties["expiration"] = max((run.expires - now).total_seconds(), 0)
        elif self.expires_seconds is not None:
            headers["expires"] = _after(now, self.expires_seconds).isoformat()
        headers.update(run.headers)
        return headers, properties

    def event(self, headers: dict[str, Any]) -> dict[str, Any] | None:
        """The ``task-sent`` event of the message with ``headers`` (None: events are off)."""
        if self.sent_event is None:
            return None
        return {
            **self.sent_event,
            "uuid": headers["id"],
            "root_id": headers["root_id"],
            "expires": headers["expires"],
            "queue": self.queue_name,
            "exchange": self.exchange_name,
            "routing_key": self.routing_key,
        }

    @property
    def exchange_name(self) -> str:
        return self.exchange if isinstance(self.exchange, str) else self.exchange.name


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

    def template(
        self, slot: Hashable, name: str, args: list, kwargs: dict, options: dict[str, Any]
    ) -> Template:
        """The template of ``slot`` if it was made from these values, else a new one.

        Raises NeedsSendTask for what only ``send_task`` composes (an expiry date).
        """
        template = self.templates.get(slot)
        if (
            template is not None
            and template.name == name
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
        made_from = (args, kwargs, options)
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
            argsrepr=saferepr(args, self.amqp.argsrepr_maxsize, maxlevels=self.repr_levels),
            kwargsrepr=saferepr(kwargs, self.amqp.kwargsrepr_maxsize, maxlevels=self.repr_levels),
            **arguments,
            **options,
        )
        headers, properties, body, sent_event = message
        sending = {key: options.pop(key, None) for key in _SEND_ARGUMENTS}
        if sending["headers"]:
            headers.update(sending["headers"])
        properties.update(options)
        return self._resolve(
            name, made_from, body, headers, properties, sending, expires, sent_event
        )

    def _resolve(
        self,
        name: str,
        made_from: tuple[list, dict, dict],
        body: tuple[Any, ...],
        headers: dict[str, Any],
        properties: dict[str, Any],
        sending: dict[str, Any],
        expires: Any,
        sent_event: dict[str, Any] | None,
    ) -> Template:
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
        content_type, content_encoding, payload = dumps(body, serializer=serializer)
        return Template(
            name=name,
            made_from=made_from,
            body=body,
            payload=payload if isinstance(payload, bytes) else payload.encode(content_encoding),
            content_type=content_type,
            content_encoding=content_encoding,
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
