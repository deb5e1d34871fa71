"""djag: a database-backed Celery beat scheduler with task dependencies.

The public API: ``enqueue``, ``run_now``, ``backfill``, ``cancel`` (runs from code,
``djag.runs``), ``current_run`` (inside a task, ``djag.context``) and ``touch``.
They are imported on first use, so importing djag imports no model.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from djag.context import current_run
    from djag.core.message import RunContext
    from djag.runs import RunRefused, backfill, cancel, enqueue, run_now

__version__ = "0.1.0"

__all__ = [
    "RunContext",
    "RunRefused",
    "backfill",
    "cancel",
    "current_run",
    "enqueue",
    "run_now",
    "touch",
]

#: Public names and the module each lives in, imported when first asked for.
_LAZY = {
    "enqueue": "djag.runs",
    "run_now": "djag.runs",
    "backfill": "djag.runs",
    "cancel": "djag.runs",
    "RunRefused": "djag.runs",
    "current_run": "djag.context",
    "RunContext": "djag.core.message",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'djag' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def touch(model: Any = None, pks: Iterable[Any] | None = None) -> None:
    """Tell beat about writes made with raw SQL: ``djag.touch()`` reloads everything,
    ``djag.touch(PeriodicTask, [1, 2])`` only those rows. See docs/changes.md."""
    from djag.models.changes import touch as record_touch

    record_touch(model, pks)
