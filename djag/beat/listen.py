"""Listeners: beat's end of ``djag.news``, read without a query, and the watch to use.

:class:`PgListener` holds a PostgreSQL connection of its own (never Django's, which
the store closes on errors) in autocommit, LISTENing on ``djag.news.CHANNEL``; each
look is a ``select()`` on its socket and, when readable, libpq reading what came;
between ticks the scheduler blocks in :meth:`wait` (a ``select()`` with a timeout).
:class:`RedisListener` is subscribed to the Redis channel; each look is redis-py's
``get_message(timeout=0)``, a ``select()`` too. A listener that raises is lost: the
watch (``djag.beat.watch.ListenWatch``) drops it, polls, and connects again.
"""

from __future__ import annotations

import select
from collections.abc import Callable
from typing import Any

from django.db import connections

from djag import conf, news
from djag.beat.watch import KeyWatch, ListenWatch, Watch

#: TCP keepalives of the listening connection, so that a silently dead peer is noticed
#: (libpq ignores them on a Unix socket, where death is noticed at once).
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10}


class PgListener:
    name = "PostgreSQL LISTEN"

    def __init__(self, using: str) -> None:
        wrapper: Any = connections[using]
        params = dict(wrapper.get_connection_params())
        # What Django's own get_new_connection() takes out before connecting.
        for key in ("assume_role", "isolation_level", "server_side_binding", "pool"):
            params.pop(key, None)
        if "host" in params and not str(params["host"]).startswith("/"):
            params = {**KEEPALIVES, **params}
        self.database = wrapper.Database
        self.raw = self.database.connect(**params)
        try:
            self.raw.autocommit = True
            with self.raw.cursor() as cursor:
                cursor.execute(f"LISTEN {news.CHANNEL}")
        except BaseException:
            self.raw.close()
            raise
        self.psycopg3 = hasattr(self.raw, "pgconn")

    def drain(self) -> int:
        received = 0
        # Readable also when the server ends the connection: reading then raises.
        while select.select([self.raw.fileno()], [], [], 0)[0]:
            if self.psycopg3:
                self.raw.pgconn.consume_input()
                while self.raw.pgconn.notifies() is not None:
                    received += 1
            else:
                self.raw.poll()
                received += len(self.raw.notifies)
                self.raw.notifies.clear()
            if self.raw.closed:
                raise self.database.OperationalError("the listening connection is closed")
        return received

    def wait(self, seconds: float) -> bool:
        """Block until something comes (or the connection ends), at most ``seconds``."""
        return bool(select.select([self.raw.fileno()], [], [], seconds)[0])

    def close(self) -> None:
        self.raw.close()


class RedisListener:
    name = "Redis pub/sub"

    def __init__(self, alias: str) -> None:
        # Subscribe confirmations are kept: redis-py resubscribes by itself after a
        # reconnection, and the confirmation is how a gap (news maybe missed) shows.
        self.pubsub = news.redis_client(alias).pubsub(ignore_subscribe_messages=False)
        self.pubsub.subscribe(news.redis_channel(alias))
        confirmed = self.pubsub.get_message(timeout=2.0)
        if confirmed is None or confirmed.get("type") != "subscribe":
            self.pubsub.close()
            raise ConnectionError(f"Redis did not confirm the subscription ({confirmed!r})")

    def drain(self) -> int:
        received = 0
        while (message := self.pubsub.get_message(timeout=0)) is not None:
            received += 1
            if message.get("type") == "subscribe":
                received += 1  # reconnected: what was sent meanwhile is lost
        return received

    def wait(self, seconds: float) -> bool:
        connection = self.pubsub.connection
        return connection is None or bool(connection.can_read(timeout=seconds))

    def close(self) -> None:
        self.pubsub.close()


def watch_for(using: str, read_key: Callable[[], str | None], poll_seconds: float) -> Watch:
    """The watch of a beat whose tables are in ``using``: the one place ``djag.news.mode``
    becomes a listener."""
    kind = news.mode(using)
    if kind == "notify":
        return ListenWatch(lambda: PgListener(using), read_key, poll_seconds, PgListener.name)
    if kind == "pubsub":
        alias = conf.get().cache
        return ListenWatch(lambda: RedisListener(alias), read_key, poll_seconds, RedisListener.name)
    return KeyWatch(read_key, poll_seconds)
