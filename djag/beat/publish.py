"""Beat's one publish path: the runs' messages, in pipelined batches where the transport allows.

Each run's message is the one ``app.send_task`` would send (see
``djag.beat.compose``: composed once per task, the run's id, headers and
expiry filled in per run), published through kombu's ``Producer.publish``
as ``send_task`` publishes it. What differs is how many broker round trips a
burst costs:

- **Redis** (and any transport whose kombu channel buffers publishes,
  ``Producer.batch``, kombu 5.7 and later): the messages of a batch are
  buffered by kombu's own Redis channel in one pipeline of its client, the
  same ``LPUSH`` to the same priority-queue keys with the same bytes, and
  written in one round trip;
- **AMQP** (py-amqp): a channel of its own in publisher-confirm mode, the batch
  published at once and the broker's acknowledgements read afterwards
  (``djag.beat.confirms``);
- **any other transport** (filesystem, memory, SQS...): message by message.

Safe under a broker failure in mid-batch: a run whose message the broker did
not take for certain (a pipeline that failed, a message not acknowledged) is
returned as failed, stays ``claimed`` and is published again later with the
same Celery task id. After a connection failure the rest of the burst is not
tried: it fails at once and is retried with it, so a broker outage costs one
failed batch, not one timeout per message.

Celery's publish signals (``before_task_publish``, ``after_task_publish``,
the deprecated ``task_sent``) fire for every message, as with ``send_task``;
``after_task_publish`` once the message is written (Redis) or acknowledged
(AMQP). With a ``before_task_publish`` receiver connected the body is
serialised again after it, in case the receiver changed it. With
``task_send_sent_event`` on, messages go one by one, each followed by its
``task-sent`` event.

One difference on purpose: ``send_task`` registers the run with the result
backend (a Redis backend subscribes to its result) unless results are ignored;
beat never waits for a result, so djag does not. A task declared with an
``expires`` date rather than seconds goes through ``send_task`` itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from celery import Celery
from celery.signals import after_task_publish, before_task_publish, task_sent
from kombu import Producer, Queue
from kombu.serialization import dumps

from djag.beat.compose import Composer, NeedsSendTask, RunPart, Template, bound_queues
from djag.beat.confirms import ConfirmChannel
from djag.beat.heap import collector_paused
from djag.beat.outbox import Dispatch
from djag.core.message import run_headers

#: Messages per pipeline (Redis) or per wait for confirms (AMQP).
BATCH_SIZE = 1000

#: kombu flushes a batch by itself when it holds this many commands: never, here.
_NO_AUTO_FLUSH = 1 << 30


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One run's message, ready to go."""

    dispatch: Dispatch
    template: Template
    run: RunPart


class RunPublisher:
    """Publishes runs on one producer (beat's); picks the pipeline its transport allows."""

    def __init__(self, app: Celery, producer: Producer) -> None:
        self.app = app
        self.producer = producer
        self.composer = Composer(app)
        self.bound: dict[Queue, Queue] = {}
        self.confirms: ConfirmChannel | None = None

    def publish(self, dispatches: Sequence[Dispatch]) -> list[tuple[Dispatch, Exception]]:
        """Publish each run's message; return the runs not published, with their errors."""
        with collector_paused():
            return self._publish(dispatches)

    def _publish(self, dispatches: Sequence[Dispatch]) -> list[tuple[Dispatch, Exception]]:
        failures: list[tuple[Dispatch, Exception]] = []
        outgoing: list[Outgoing] = []
        for dispatch in dispatches:
            run = RunPart(dispatch.celery_task_id, run_headers(dispatch.run_id, dispatch.context))
            try:
                template = self.composer.template(
                    dispatch.task_id,
                    dispatch.task,
                    dispatch.args,
                    dispatch.kwargs,
                    dispatch.options,
                )
            except NeedsSendTask:
                failures.extend(self._send_task(dispatch, run))
                continue
            except Exception as exc:  # a task that cannot be routed or serialised
                failures.append((dispatch, exc))
                continue
            outgoing.append(Outgoing(dispatch, template, run))
        if outgoing:
            failures.extend(self._send(outgoing))
        return failures

    def _send(self, outgoing: list[Outgoing]) -> list[tuple[Dispatch, Exception]]:
        connection = self.producer.connection
        transport = connection.transport if connection is not None else None
        if self.composer.sent_event or transport is None:
            return self._one_by_one(outgoing)
        if getattr(transport, "driver_name", "") == "py-amqp":
            return self._confirmed(outgoing)
        if getattr(self.producer, "supports_batch_publish", False):
            return self._pipelined(outgoing)
        return self._one_by_one(outgoing)

    # -- the three ways ----------------------------------------------------------

    def _one_by_one(self, outgoing: list[Outgoing]) -> list[tuple[Dispatch, Exception]]:
        failures = []
        for index, item in enumerate(outgoing):
            try:
                headers = self._publish_one(self.producer, item, self.app.now())
            except Exception as exc:
                failures.append((item.dispatch, exc))
                if self._is_connection_error(exc):
                    failures.extend((later.dispatch, exc) for later in outgoing[index + 1 :])
                    break
                continue
            self._published(item, headers)
            event = item.template.event(headers)
            if event is not None:
                self.app.amqp._event_dispatcher.publish(  # type: ignore[attr-defined]
                    "task-sent",
                    event,
                    self.producer,
                    retry=item.template.publish["retry"],
                    retry_policy=item.template.publish["retry_policy"],
                )
        return failures

    def _pipelined(self, outgoing: list[Outgoing]) -> list[tuple[Dispatch, Exception]]:
        failures: list[tuple[Dispatch, Exception]] = []
        for start in range(0, len(outgoing), BATCH_SIZE):
            batch = outgoing[start : start + BATCH_SIZE]
            now = self.app.now()  # the expiry of the batch's messages counts from here
            buffered: list[tuple[Outgoing, dict]] = []
            alone: set[int] = set()  # ids of the items that failed on their own
            declared: set[Any] = set()
            try:
                with self.producer.batch(max_size=_NO_AUTO_FLUSH):  # type: ignore[attr-defined]
                    for item in batch:
                        try:
                            headers = self._publish_one(self.producer, item, now, declared)
                        except Exception as exc:
                            if self._is_connection_error(exc):
                                raise
                            failures.append((item.dispatch, exc))
                            alone.add(id(item))
                        else:
                            buffered.append((item, headers))
            except Exception as exc:
                # Nothing of this batch was written for certain, and the rest is not tried.
                rest = outgoing[start:]
                failures.extend((item.dispatch, exc) for item in rest if id(item) not in alone)
                return failures
            for item, headers in buffered:
                self._published(item, headers)
        return failures

    def _confirmed(self, outgoing: list[Outgoing]) -> list[tuple[Dispatch, Exception]]:
        connection = self.producer.connection
        assert connection is not None
        if self.confirms is None or self.confirms.connection is not connection:
            self.confirms = ConfirmChannel(connection)
        headers: dict[int, dict] = {}  # by id of the item
        declared: set[Any] = set()

        def publish(producer: Producer, item: Outgoing) -> None:
            headers[id(item)] = self._publish_one(producer, item, now, declared)

        failures: list[tuple[Dispatch, Exception]] = []
        for start in range(0, len(outgoing), BATCH_SIZE):
            batch = outgoing[start : start + BATCH_SIZE]
            now = self.app.now()  # the expiry of the batch's messages counts from here
            failed = dict(self.confirms.send(batch, publish))
            failures.extend((batch[index].dispatch, exc) for index, exc in failed.items())
            for index, item in enumerate(batch):
                if index not in failed:
                    self._published(item, headers[id(item)])
            broken = [exc for exc in failed.values() if self._is_connection_error(exc)]
            if broken:  # the rest is not tried
                rest = outgoing[start + len(batch) :]
                failures.extend((item.dispatch, broken[0]) for item in rest)
                break
            headers.clear()
            declared.clear()
        return failures

    # -- one message ---------------------------------------------------------------

    def _publish_one(
        self,
        producer: Producer,
        item: Outgoing,
        now: dt.datetime,
        declared: set[Any] | None = None,
    ) -> dict:
        """Hand one message to kombu as ``send_task`` does; return its headers.

        ``declared``: the batch's entities declared so far. A batch fails or
        succeeds as a whole, so its messages are buffered without kombu's
        per-message retry wrapper, and each queue is declared once per batch.
        """
        template = item.template
        headers, properties = template.message(item.run, now)
        payload: bytes | str = template.payload
        if before_task_publish.receivers:
            before_task_publish.send(
                sender=template.name,
                body=template.body,
                exchange=template.exchange,
                routing_key=template.routing_key,
                declare=template.declare,
                headers=headers,
                properties=properties,
                retry_policy=template.publish["retry_policy"],
            )
            payload = dumps(template.body, serializer=template.publish["serializer"])[2]
        declare = bound_queues(template.declare, producer.channel, self.bound)
        options = template.publish
        if declared is not None:
            declare = [entity for entity in declare if entity not in declared]
            declared.update(declare)
            options = {**options, "retry": False}
        producer.publish(
            payload,
            content_type=template.content_type,
            content_encoding=template.content_encoding,
            exchange=template.exchange,
            routing_key=template.routing_key,
            declare=declare,
            headers=headers,
            **options,
            **properties,
        )
        return headers

    def _published(self, item: Outgoing, headers: dict[str, Any]) -> None:
        """The signals ``send_task`` sends after a message went out."""
        template = item.template
        if after_task_publish.receivers:
            after_task_publish.send(
                sender=template.name,
                body=template.body,
                headers=headers,
                exchange=template.exchange,
                routing_key=template.routing_key,
            )
        if task_sent.receivers:
            task_sent.send(
                sender=template.name,
                task_id=headers["id"],
                task=template.name,
                args=template.body[0],
                kwargs=template.body[1],
                eta=headers["eta"],
                taskset=headers["group"],
            )

    def _send_task(self, dispatch: Dispatch, run: RunPart) -> list[tuple[Dispatch, Exception]]:
        options = dict(dispatch.options)
        options["headers"] = {**options.get("headers", {}), **run.headers}
        try:
            self.app.send_task(
                dispatch.task,
                args=dispatch.args,
                kwargs=dispatch.kwargs,
                task_id=run.task_id,
                producer=self.producer,
                **options,
            )
        except Exception as exc:
            return [(dispatch, exc)]
        return []

    def _is_connection_error(self, exc: Exception) -> bool:
        connection = self.producer.connection
        if connection is None:
            return False
        return isinstance(exc, connection.connection_errors)
