"""Beat's run messages: what ``app.send_task`` sends, at a fraction of its cost per message.

``send_task`` looks up half a dozen settings per message through Celery's
configuration view (with Django settings, each one a chain of failed attribute
lookups), builds a result object beat never reads, and copies the queue to
declare it again. Beat publishes up to thousands of runs in one tick, so a
``RunSender`` reads those settings once and composes each message with the
layer ``send_task`` itself stands on: ``router.route``,
``amqp.create_task_message`` and ``amqp.send_task_message``.

It handles what djag's options can hold (queue, exchange, routing key, priority,
headers, expiry in seconds) and a registered task's own execution options, as
Celery beat does; a task option outside that (an ``expires`` date) goes through
``send_task``. ``tests/test_publish.py`` checks, message by message, that both
send the same thing.

One difference on purpose: ``send_task`` registers the run with the result
backend (a Redis backend subscribes to its result) unless results are ignored;
beat never waits for a result, so djag does not.
"""

from __future__ import annotations

import numbers
from typing import Any

from celery import Celery
from celery.utils.saferepr import saferepr
from kombu import Producer, Queue
from kombu.common import Broadcast

#: The execution options ``send_task`` takes out of the message options and
#: passes to the task message instead.
_MESSAGE_ARGUMENTS = ("time_limit", "soft_time_limit", "expires", "ignore_result")


class RunSender:
    """Publishes messages on one producer; settings are read once, when it is made."""

    def __init__(self, app: Celery, producer: Producer) -> None:
        self.app = app
        self.amqp = app.amqp
        self.producer = producer
        self.reply_to = app.thread_oid
        self.sent_event = app.conf.task_send_sent_event
        self.repr_levels = app.conf.task_repr_maxlevels
        self.bound_queues: dict[Queue, Queue] = {}

    def send(
        self, name: str, args: list, kwargs: dict, task_id: str, options: dict[str, Any]
    ) -> None:
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
            self.app.send_task(name, args=args, kwargs=kwargs, task_id=task_id, **options)
            return
        arguments = {key: options.pop(key, None) for key in _MESSAGE_ARGUMENTS}
        router: Any = self.amqp.router  # its stubs want args as a tuple; send_task passes a list
        options = router.route(options, name, args, kwargs, task)
        if expires is not None:
            options["expiration"] = max(expires, 0)
        message = self.amqp.create_task_message(
            task_id,
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
        queue = options.get("queue")
        if isinstance(queue, Queue) and not isinstance(queue, Broadcast):
            options["declare"] = [self._bound(queue)]
        self.amqp.send_task_message(self.producer, name, message, **options)

    def _bound(self, queue: Queue) -> Queue:
        """The queue bound to the producer's channel once, not copied per message."""
        channel = self.producer.channel
        if channel is None:  # kombu binds (copies) it itself, as for send_task
            return queue
        bound = self.bound_queues.get(queue)
        if bound is None or bound.channel is not channel:
            bound = self.bound_queues[queue] = queue.bind(channel)
        return bound
