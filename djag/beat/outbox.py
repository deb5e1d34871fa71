"""Messages beat owes the broker: what one claimed run publishes, and who publishes it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from djag.core.message import RunContext

logger = logging.getLogger("djag.beat")


@dataclass(frozen=True, slots=True)
class Dispatch:
    """One message to publish for a claimed run."""

    run_id: int
    celery_task_id: str
    task_id: int | None  # the periodic task; None for a one-off
    task: str
    args: list
    kwargs: dict
    options: dict
    context: RunContext | None = None  # per-run headers: djag.core.message.context_headers


#: Publishes messages; returns those that failed, each with its error.
Publisher = Callable[[Sequence[Dispatch]], list[tuple[Dispatch, Exception]]]


class Outbox:
    """Publishes dispatches and keeps those the broker refused, to try again later.

    A run that could not be published stays ``claimed`` in the ledger; it is
    published again, with the same Celery task id, every ``RETRY_SECONDS``.
    """

    #: After a failed publish (broker down), wait this long before trying again.
    RETRY_SECONDS = 5.0

    def __init__(self, publish: Publisher) -> None:
        self.publish = publish
        self.unpublished: dict[int, Dispatch] = {}
        self.retry_at = 0.0

    def __contains__(self, run_id: int) -> bool:
        return run_id in self.unpublished

    def clear(self) -> None:
        self.unpublished.clear()

    def forget(self, run_id: int) -> None:
        self.unpublished.pop(run_id, None)

    def retry_due(self, now: float) -> bool:
        return bool(self.unpublished) and now >= self.retry_at

    def send(self, dispatches: Sequence[Dispatch], now: float) -> list[int]:
        """Publish; return the run ids that went out. Failures are kept and logged once."""
        if not dispatches:
            return []
        failed = {dispatch.run_id: exc for dispatch, exc in self.publish(dispatches)}
        sent = []
        for dispatch in dispatches:
            exc = failed.get(dispatch.run_id)
            if exc is None:
                sent.append(dispatch.run_id)
                self.unpublished.pop(dispatch.run_id, None)
                continue
            if dispatch.run_id not in self.unpublished:
                logger.warning(
                    "djag beat: could not publish run %d (%s): %s; will retry",
                    dispatch.run_id,
                    dispatch.task,
                    exc,
                )
            self.unpublished[dispatch.run_id] = dispatch
        if failed:
            self.retry_at = now + self.RETRY_SECONDS
        return sent

    def resend(self, now: float) -> list[int]:
        return self.send(list(self.unpublished.values()), now)
