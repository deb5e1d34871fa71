"""How beat learns of news (schedule edits, runs asked for, runs ended), decided here only.

:func:`mode` is the one decision, read by the writers (``djag.wakeup``) and by beat
(``djag.beat.listen``), so both sides always agree:

- ``"notify"``: the database is PostgreSQL. A writer sends ``NOTIFY djag_news``
  inside its own transaction: PostgreSQL delivers it at commit and drops it on
  rollback. Beat LISTENs on a connection of its own and reads its socket: no query.
- ``"pubsub"``: otherwise, where ``DJAG_CACHE`` is a Redis cache (Django's
  ``RedisCache`` or django-redis). A writer PUBLISHes on commit; beat subscribes.
- ``"key"``: otherwise, or with ``DJAG_NOTIFY = False``: beat reads the wake-up key.

The wake-up key is touched in every mode: it is what beat reads while its listener
is down. Every mode keeps beat's fallback poll of the database: news is a hint, the
database stays the truth.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from django.core.cache import caches
from django.db import connections

from djag import conf

logger = logging.getLogger(__name__)

Mode = Literal["notify", "pubsub", "key"]

#: The PostgreSQL channel (one per database, as NOTIFY is).
CHANNEL = "djag_news"
#: The Redis channel, made a cache key so that the cache's KEY_PREFIX keeps sites apart.
REDIS_CHANNEL_KEY = "djag:news"

_REDIS_BACKENDS = {
    "django.core.cache.backends.redis.RedisCache",
    "django_redis.cache.RedisCache",
}


def mode(using: str) -> Mode:
    """How news reaches beat when djag's tables are in database ``using``."""
    settings = conf.get()
    if not settings.notify:
        return "key"
    if connections[using].vendor == "postgresql":
        return "notify"
    if is_redis_cache(settings.cache):
        return "pubsub"
    return "key"


def is_redis_cache(alias: str) -> bool:
    cache = caches[alias]
    return f"{type(cache).__module__}.{type(cache).__qualname__}" in _REDIS_BACKENDS


def redis_client(alias: str) -> Any:
    """The redis-py client of a Redis cache (the primary, where PUBLISH and SUBSCRIBE meet)."""
    cache: Any = caches[alias]
    if type(cache).__module__.startswith("django_redis"):
        return cache.client.get_client(write=True)
    return cache._cache.get_client(write=True)


def redis_channel(alias: str) -> str:
    return str(caches[alias].make_key(REDIS_CHANNEL_KEY))


def notify(using: str) -> None:
    """In "notify" mode, NOTIFY beat in the current transaction (delivered at its commit;
    at once outside a transaction). Raises database errors, as any statement would."""
    if mode(using) != "notify":
        return
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, '')", [CHANNEL])


def publish(using: str) -> None:
    """In "pubsub" mode, PUBLISH to beat now (call it once committed); failures are logged."""
    if mode(using) != "pubsub":
        return
    alias = conf.get().cache
    try:
        redis_client(alias).publish(redis_channel(alias), "")
    except Exception as exc:  # a cache outage must not break a worker or an admin save
        logger.warning("djag: could not publish news to beat on cache %r: %s", alias, exc)
