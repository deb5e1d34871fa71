"""AMQP publisher confirms, waited for once per batch instead of once per message.

py-amqp publishes asynchronously: ``basic_publish`` returns before RabbitMQ has
taken the message. With confirms on, the broker acknowledges (or, when a queue
refuses it, negatively acknowledges) each message by a per-channel sequence
number, possibly many at once. A :class:`ConfirmChannel` publishes a batch on
a channel of its own in confirm mode, then reads the acknowledgements until
every message of the batch is settled: the acknowledged ones are sent, the
refused ones and any still unsettled when the channel or connection fails (or
the wait times out) are not.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from amqp import spec
from kombu import Connection, Producer

T = TypeVar("T")

#: How long a batch may wait for the broker's acknowledgements.
CONFIRM_TIMEOUT = 30.0


class Refused(Exception):
    """The broker refused the message (a negative acknowledgement)."""


class Unconfirmed(Exception):
    """The broker did not acknowledge the message: it may or may not have it."""


class ConfirmChannel:
    """A channel of its own, in confirm mode, on a py-amqp connection."""

    def __init__(self, connection: Connection, timeout: float = CONFIRM_TIMEOUT) -> None:
        self.connection = connection
        self.timeout = timeout
        self.channel: Any = None
        self.producer: Producer | None = None
        self.published = 0  # the channel's last delivery tag
        self.pending: dict[int, int] = {}  # delivery tag -> index in the batch
        self.refused: set[int] = set()  # indexes

    def _open(self) -> Producer:
        if self.producer is not None:
            return self.producer
        self.connection.ensure_connection(max_retries=1)
        channel: Any = self.connection.channel()
        channel.confirm_select()
        # With the connection's ``confirm_publish`` option, py-amqp makes each
        # publish on a channel wait for its own confirm; this one waits per batch.
        vars(channel).pop("basic_publish", None)
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        self.channel, self.published = channel, 0
        self.producer = Producer(channel, auto_declare=False)
        return self.producer

    def close(self) -> None:
        """Drop the channel (after a failure: the next batch opens a new one)."""
        channel, self.channel, self.producer = self.channel, None, None
        if channel is not None:
            with contextlib.suppress(Exception):  # already broken: nothing to release
                channel.close()

    def send(
        self, items: Sequence[T], publish: Callable[[Producer, T], None]
    ) -> list[tuple[int, Exception]]:
        """Publish ``items`` with ``publish(producer, item)``; return (index, error) of the unsent.

        An item whose ``publish`` raised for a reason of its own (not the
        connection's) is returned with that error; the others still go.
        """
        failures: list[tuple[int, Exception]] = []
        self.pending, self.refused = {}, set()
        reached = 0  # the items before this one were published, or failed on their own
        try:
            producer = self._open()
            for reached, item in enumerate(items):
                try:
                    publish(producer, item)
                except self.connection.connection_errors + self.connection.channel_errors:
                    raise
                except Exception as exc:
                    failures.append((reached, exc))
                    continue
                self.published += 1
                self.pending[self.published] = reached
            reached = len(items)
            self._wait()
        except Exception as exc:
            # The channel is gone with whatever it did not confirm.
            self.close()
            failures += [(index, exc) for index in self.pending.values()]
            failures += [(index, exc) for index in range(reached, len(items))]
        failures += [(index, Refused("the broker refused the message")) for index in self.refused]
        return sorted(failures, key=lambda failure: failure[0])

    def _wait(self) -> None:
        while self.pending:
            try:
                self.channel.wait([spec.Basic.Ack, spec.Basic.Nack], timeout=self.timeout)
            except TimeoutError as exc:
                raise Unconfirmed(
                    f"no acknowledgement from the broker within {self.timeout:g} s"
                ) from exc

    def _on_ack(self, tag: int, multiple: bool) -> None:
        self._settle(tag, multiple, refused=False)

    def _on_nack(self, tag: int, multiple: bool) -> None:
        self._settle(tag, multiple, refused=True)

    def _settle(self, tag: int, multiple: bool, refused: bool) -> None:
        settled = []
        if multiple:
            while self.pending:
                first = next(iter(self.pending))
                if first > tag:
                    break
                settled.append(self.pending.pop(first))
        elif tag in self.pending:
            settled.append(self.pending.pop(tag))
        if refused:
            self.refused.update(settled)
