"""The wake-up key: a value in ``DJAG_CACHE`` that changes whenever beat has news.

Workers touch it when a run finishes and schedule edits touch it on commit, so
beat notices within one tick. It is only a hint: the database stays the truth,
and a flushed or unreachable cache means beat learns at its next fallback poll.
"""

from __future__ import annotations

import logging
import uuid

from django.core.cache import caches
from django.db import transaction

from djag import conf

logger = logging.getLogger(__name__)

WAKE_KEY = "djag:wake"


def touch() -> None:
    """Change the wake-up value now; failures are logged, never raised."""
    try:
        caches[conf.get().cache].set(WAKE_KEY, uuid.uuid4().hex, timeout=None)
    except Exception as exc:  # a cache outage must not break a worker or an admin save
        logger.warning(
            "djag: could not touch the wake-up key in cache %r: %s", conf.get().cache, exc
        )


def touch_on_commit(using: str) -> None:
    """Touch once when the current transaction commits, however many changes it holds."""
    connection = transaction.get_connection(using)
    if not connection.in_atomic_block:
        touch()
        return
    # Django drops the callbacks of a rolled-back transaction or savepoint, so
    # looking in its list (rather than keeping a flag of our own) cannot go stale.
    if any(entry[1] is touch for entry in connection.run_on_commit):
        return
    transaction.on_commit(touch, using=using)


def read() -> str | None:
    """The current wake-up value; raises if the cache cannot be reached."""
    value = caches[conf.get().cache].get(WAKE_KEY)
    return None if value is None else str(value)
