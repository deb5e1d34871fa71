"""What djag adds to a run's Celery message: the run id travels in a header, never in kwargs."""

from __future__ import annotations

from typing import Any

#: The header that carries the TaskRun id to the worker.
RUN_ID_HEADER = "djag_run_id"


def message_options(options: dict[str, Any], run_id: int) -> dict[str, Any]:
    """A run's message options: the task's routing options, with the run id in the headers."""
    return {**options, "headers": {**options.get("headers", {}), RUN_ID_HEADER: run_id}}
