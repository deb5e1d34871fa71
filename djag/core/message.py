"""What djag adds to a run's Celery message, and the header names a task may not set.

The run id travels in a header, never in kwargs. A task's stored ``headers`` are
merged into the message after Celery's own, so a stored header named like one of
Celery's would replace it: ``{"task": ...}`` would make the worker run another
task than the one the admin shows. Those names, and every name djag uses or may
use (the ``djag_`` prefix), are reserved: refused when a task is validated, and a
recorded problem (no message) for a row written past validation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: The header that carries the TaskRun id to the worker.
RUN_ID_HEADER = "djag_run_id"

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


def message_options(options: dict[str, Any], run_id: int) -> dict[str, Any]:
    """A run's message options: the task's routing options, with the run id in the headers."""
    return {**options, "headers": {**options.get("headers", {}), RUN_ID_HEADER: run_id}}
