"""Database helpers of the store: instants as epoch seconds, deadlock retries."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import OperationalError, connections, router

from djag.models import TaskRun

T = TypeVar("T")

#: Errors a database raises on the victim of a deadlock: MariaDB/MySQL's errno,
#: PostgreSQL's SQLSTATE. The statement was rolled back and may simply be run again.
DEADLOCK_ERRNOS = {1213}
DEADLOCK_SQLSTATES = {"40P01", "40001"}
DEADLOCK_ATTEMPTS = 4


def default_database() -> str:
    """The database alias djag's tables are written to (the router decides)."""
    return router.db_for_write(TaskRun)


def to_epoch(moment: dt.datetime | None) -> int | None:
    """An aware datetime as whole UTC epoch seconds (the core's instants)."""
    return None if moment is None else int(moment.timestamp())


def timestamp(moment: dt.datetime | None) -> float | None:
    """An aware datetime as UTC epoch seconds, fractions kept (run times)."""
    return None if moment is None else moment.timestamp()


def from_epoch(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def db_datetime(using: str, moment: dt.datetime) -> Any:
    """``moment`` as the backend's driver wants it in a raw statement."""
    return connections[using].ops.adapt_datetimefield_value(moment)


def is_deadlock(exc: OperationalError) -> bool:
    cause = exc.__cause__
    if getattr(cause, "sqlstate", None) in DEADLOCK_SQLSTATES:
        return True
    args: tuple[Any, ...] = getattr(cause, "args", ())
    return bool(args) and args[0] in DEADLOCK_ERRNOS


def retry_deadlocks(write: Callable[[], T], using: str) -> T:
    """Run a single-statement write again when the database made it a deadlock victim.

    InnoDB does so under concurrent updates of nearby rows (a worker marking a
    run started while beat marks a batch sent); retrying is its documented
    remedy. Inside a transaction the whole transaction is gone, so the error is
    raised for the caller's transaction to handle.
    """
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            return write()
        except OperationalError as exc:
            if (
                attempt == DEADLOCK_ATTEMPTS
                or connections[using].in_atomic_block
                or not is_deadlock(exc)
            ):
                raise
            time.sleep(0.01 * attempt)
    raise AssertionError("unreachable")
