"""Messages beat owes the broker: what one claimed run publishes, and who publishes it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Dispatch:
    """One message to publish for a claimed run."""

    run_id: int
    celery_task_id: str
    task_id: int
    task: str
    args: list
    kwargs: dict
    options: dict


#: Publishes messages; returns those that failed, each with its error.
Publisher = Callable[[Sequence[Dispatch]], list[tuple[Dispatch, Exception]]]
