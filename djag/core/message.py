"""What djag adds to a run's Celery message, and the header names a task may not set.

The run and its context travel in headers, never in the task's args or kwargs.
The headers are composed here when beat publishes a run and read back here by
``djag.current_run()`` inside the task, so both ends agree on one format:
instants as ISO 8601 in UTC, absent when there is none.

A task's stored ``headers`` are merged into the message after Celery's own, so a
stored header named like one of Celery's would replace it: ``{"task": ...}``
would make the worker run another task than the one the admin shows. Those
names, and every name djag uses or may use (the ``djag_`` prefix), are
reserved: refused when a task is validated, and a recorded problem (no message)
for a row written past validation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from djag.core.vocab import Trigger

#: The header that carries the TaskRun id to the worker.
RUN_ID_HEADER = "djag_run_id"
#: The run's context (``djag.current_run()``): how it started, and the data interval.
TRIGGER_HEADER = "djag_trigger"
SCHEDULED_FOR_HEADER = "djag_scheduled_for"
PREVIOUS_SCHEDULED_FOR_HEADER = "djag_previous_scheduled_for"
COALESCED_COUNT_HEADER = "djag_coalesced_count"

#: Every header beat writes (all under ``DJAG_HEADER_PREFIX``, so reserved).
RUN_HEADERS = (
    RUN_ID_HEADER,
    TRIGGER_HEADER,
    SCHEDULED_FOR_HEADER,
    PREVIOUS_SCHEDULED_FOR_HEADER,
    COALESCED_COUNT_HEADER,
)

#: Every header djag adds to a message starts with this; a task's headers may not.
DJAG_HEADER_PREFIX = "djag_"

#: The headers of Celery's task message protocol 2 (``celery.app.amqp.as_task_v2``),
#: and the request fields the worker builds next to them, which a header of the same
#: name could shadow in ``task.request``.
CELERY_HEADERS = frozenset(
    {
        # protocol 2 headers
        "lang",
        "task",
        "id",
        "shadow",
        "eta",
        "expires",
        "group",
        "group_index",
        "retries",
        "timelimit",
        "root_id",
        "parent_id",
        "argsrepr",
        "kwargsrepr",
        "origin",
        "ignore_result",
        "replaced_task_nesting",
        "stamped_headers",
        "stamps",
        # what the worker's request holds besides the headers
        "args",
        "kwargs",
        "callbacks",
        "errbacks",
        "chain",
        "chord",
        "correlation_id",
        "reply_to",
        "delivery_info",
        "properties",
        "hostname",
        "is_eager",
        "called_directly",
        "headers",
    }
)


def reserved_header_names(names: Iterable[Any]) -> list[str]:
    """The names among ``names`` a task's stored headers may not use, sorted.

    Compared without case: a transport or a consumer that folds case must not
    turn ``"Task"`` into ``"task"``.
    """
    reserved = set()
    for name in names:
        folded = str(name).lower()
        if folded in CELERY_HEADERS or folded.startswith(DJAG_HEADER_PREFIX):
            reserved.add(str(name))
    return sorted(reserved)


def reserved_headers_text(names: list[str]) -> str:
    """The one sentence validation and beat give for reserved header names."""
    listed = ", ".join(repr(name) for name in names)
    return (
        f"headers may not use {listed}: Celery's message headers and djag's own "
        f"({DJAG_HEADER_PREFIX}...) are reserved, as a stored value would replace theirs"
    )


@dataclass(frozen=True, slots=True)
class RunContext:
    """What a task learns of its run from ``djag.current_run()``.

    ``scheduled_for`` is the schedule's event the run stands for (a backfilled
    event, or the ``at`` of a one-off); ``previous_scheduled_for`` the event of
    the task's last successful run before it: together, the data interval.
    """

    run_id: int
    trigger: Trigger
    scheduled_for: dt.datetime | None = None
    previous_scheduled_for: dt.datetime | None = None
    coalesced_count: int = 1


def context_headers(context: RunContext) -> dict[str, Any]:
    """The headers that carry ``context`` (the run id included)."""
    headers: dict[str, Any] = {
        RUN_ID_HEADER: context.run_id,
        TRIGGER_HEADER: str(context.trigger),
        COALESCED_COUNT_HEADER: context.coalesced_count,
    }
    if context.scheduled_for is not None:
        headers[SCHEDULED_FOR_HEADER] = _instant_text(context.scheduled_for)
    if context.previous_scheduled_for is not None:
        headers[PREVIOUS_SCHEDULED_FOR_HEADER] = _instant_text(context.previous_scheduled_for)
    return headers


def context_of(headers: Mapping[str, Any]) -> RunContext | None:
    """The run context in a message's headers; None if djag did not send the message.

    A header that cannot be read (a message made by hand) counts as absent,
    so a task never fails for asking.
    """
    try:
        run_id = int(headers[RUN_ID_HEADER])
    except (KeyError, TypeError, ValueError):
        return None
    try:
        trigger = Trigger(str(headers.get(TRIGGER_HEADER)))
    except ValueError:
        trigger = Trigger.SCHEDULE  # a run published before djag sent its context
    try:
        count = int(headers.get(COALESCED_COUNT_HEADER, 1))
    except (TypeError, ValueError):
        count = 1
    return RunContext(
        run_id,
        trigger,
        _instant(headers.get(SCHEDULED_FOR_HEADER)),
        _instant(headers.get(PREVIOUS_SCHEDULED_FOR_HEADER)),
        count,
    )


def _instant_text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def _instant(text: Any) -> dt.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.astimezone(dt.UTC) if moment.tzinfo is not None else None


def run_headers(run_id: int, context: RunContext | None = None) -> dict[str, Any]:
    """The headers beat adds to a run's message: its id, and its context when known."""
    return {RUN_ID_HEADER: run_id} if context is None else context_headers(context)


def message_options(
    options: dict[str, Any], run_id: int, context: RunContext | None = None
) -> dict[str, Any]:
    """A run's message options: the routing options, with the run's headers added."""
    return {**options, "headers": {**options.get("headers", {}), **run_headers(run_id, context)}}
