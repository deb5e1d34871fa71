"""djag: a database-backed Celery beat scheduler with task dependencies."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__version__ = "0.1.0"


def touch(model: Any = None, pks: Iterable[Any] | None = None) -> None:
    """Tell beat about writes made with raw SQL: ``djag.touch()`` reloads everything,
    ``djag.touch(PeriodicTask, [1, 2])`` only those rows. See docs/changes.md."""
    from djag.models.changes import touch as record_touch

    record_touch(model, pks)
