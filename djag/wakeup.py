"""Waking beat: news on its channel (``djag.news``) and the wake-up key in ``DJAG_CACHE``.

Workers touch when a run finishes and schedule edits touch on commit, so beat
notices within one tick: at once by NOTIFY or pub/sub where ``djag.news.mode``
says so, else when it next reads the key (a value that changes with each touch).
It is only a hint: the database stays the truth, and a flushed or unreachable
cache means beat learns at its next fallback poll.
"""

from __future__ import annotations

import logging
import uuid
from functools import partial

from django.core.cache import caches
from django.db import transaction

from djag import conf, news

logger = logging.getLogger(__name__)

WAKE_KEY = "djag:wake"


def touch(using: str | None = None) -> None:
    """Wake beat now (call it once the news is committed); failures are logged, never raised.

    ``using``: the database of the news, for NOTIFY and pub/sub; without it, only the key.
    """
    if using is not None:
        try:
            news.notify(using)
        except Exception as exc:  # the write it announces is done; beat's poll finds it
            logger.warning("djag: could not notify beat on database %r: %s", using, exc)
        news.publish(using)
    _touch_key()


def _touch_key() -> None:
    try:
        caches[conf.get().cache].set(WAKE_KEY, uuid.uuid4().hex, timeout=None)
    except Exception as exc:  # a cache outage must not break a worker or an admin save
        logger.warning(
            "djag: could not touch the wake-up key in cache %r: %s", conf.get().cache, exc
        )


def _committed(using: str) -> None:
    news.publish(using)
    _touch_key()


def touch_on_commit(using: str) -> None:
    """Wake beat once the current transaction commits, however many changes it holds.

    NOTIFY is sent in the transaction itself (PostgreSQL delivers it at commit and
    drops it on rollback); the key and pub/sub are written by an on-commit callback.
    """
    connection = transaction.get_connection(using)
    if not connection.in_atomic_block:
        touch(using)
        return
    # Django drops the callbacks of a rolled-back transaction or savepoint, as PostgreSQL
    # drops its NOTIFY, so looking in its list (rather than keeping a flag of our own)
    # cannot go stale.
    if any(getattr(entry[1], "func", None) is _committed for entry in connection.run_on_commit):
        return
    news.notify(using)
    transaction.on_commit(partial(_committed, using), using=using)


def read() -> str | None:
    """The current wake-up value; raises if the cache cannot be reached."""
    value = caches[conf.get().cache].get(WAKE_KEY)
    return None if value is None else str(value)
