"""``djag.current_run()``: what a task learns of the run it executes, from its message.

Beat puts the run's id and context in the message headers (``djag.core.message``);
Celery hands a message's headers to the task as attributes of ``task.request``.
Nothing is read from the database: asking costs a few attribute lookups.
"""

from __future__ import annotations

from typing import Any

from celery import current_task

from djag.core.message import RUN_HEADERS, RunContext, context_of


def current_run() -> RunContext | None:
    """The context of the djag run the current task executes; None outside a task, or
    when djag did not send the task's message (a ``.delay()``, a chord's callback...)."""
    request = getattr(current_task, "request", None)
    if request is None:
        return None
    return context_of(headers_of(request))


def headers_of(request: Any) -> dict[str, Any]:
    """djag's headers of a task request: request attributes, or its ``headers`` mapping."""
    found = {name: getattr(request, name) for name in RUN_HEADERS if hasattr(request, name)}
    headers = getattr(request, "headers", None)
    if isinstance(headers, dict):
        found = {**{n: headers[n] for n in RUN_HEADERS if n in headers}, **found}
    return found
