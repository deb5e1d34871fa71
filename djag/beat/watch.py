"""How often the engine looks for news, how, and how often it polls the database anyway.

Two watches, chosen by ``djag.beat.listen.watch_for`` from ``djag.news.mode``:

- :class:`KeyWatch` reads the wake-up key every ``CHECK_SECONDS`` (a cache read:
  a query with Django's database cache) and leaves the database poll at
  ``DJAG_POLL_SECONDS``.
- :class:`ListenWatch` reads a listener's socket (PostgreSQL LISTEN, Redis
  pub/sub), which costs a ``select()`` and no query. Between ticks the scheduler
  waits on that socket (:meth:`ListenWatch.wait`) instead of sleeping, so beat
  wakes as a notification comes; the engine alone looks every
  ``LISTEN_CHECK_SECONDS``. The database poll, kept as the fallback, then comes
  every ``LISTEN_POLL_SECONDS`` (or
  ``DJAG_POLL_SECONDS`` if longer). A listener that fails is dropped: beat polls
  at once (what was missed is read), then reads the key and polls every
  ``DJAG_POLL_SECONDS`` as without one, and connects again every
  ``DJAG_POLL_SECONDS``; once connected it polls once more. The outage is logged
  once, and its end.

Both answer :meth:`news` with True when the database should be read now.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from djag.beat.wake import WakeKey

logger = logging.getLogger("djag.beat")

#: How often the wake-up key is read: changes show within a second.
CHECK_SECONDS = 0.5
#: How often the engine looks at a listener's socket by itself; in beat the scheduler
#: waits on the socket between ticks, so news does not wait for this.
LISTEN_CHECK_SECONDS = 1.0
#: The database poll while a listener is up: only a safety net for a lost notification.
LISTEN_POLL_SECONDS = 60.0


class Listener(Protocol):
    name: str

    def drain(self) -> int:
        """The notifications received since the last call, without waiting or a query;
        raises when the connection is lost."""

    def wait(self, seconds: float) -> bool:
        """Block until something may have come (news, or the connection's end), at most
        ``seconds``; True if so."""

    def close(self) -> None: ...


class KeyWatch:
    """News is a new value of the wake-up key."""

    def __init__(self, read: Callable[[], str | None], poll_seconds: float) -> None:
        self.key = WakeKey(read, poll_seconds)
        self.check_seconds = CHECK_SECONDS
        self.poll_seconds = poll_seconds
        self.token: str | None = None

    def start(self, now: float) -> None:
        """Before a full load: what is written from here on is news."""
        self.token = self.key.read()

    listening = False  # nothing to wait on: the scheduler leaves Celery to sleep

    def wait(self, seconds: float) -> bool:
        return False

    def news(self, now: float) -> bool:
        token = self.key.read()
        if token is None or token == self.token:
            return False
        self.token = token
        return True

    def stop(self) -> None:
        pass


class ListenWatch:
    """News is a notification on the listener; the key while the listener is down."""

    def __init__(
        self,
        connect: Callable[[], Listener],
        read: Callable[[], str | None],
        poll_seconds: float,
        what: str,
    ) -> None:
        self.connect = connect
        self.what = what  # "PostgreSQL LISTEN" or "Redis pub/sub", for the log
        self.fallback = KeyWatch(read, poll_seconds)
        self.listener: Listener | None = None
        self.retry_at = 0.0
        self.down: str | None = None  # why, while the listener is down

    @property
    def listening(self) -> bool:
        return self.listener is not None

    @property
    def check_seconds(self) -> float:
        return CHECK_SECONDS if self.listener is None else LISTEN_CHECK_SECONDS

    @property
    def poll_seconds(self) -> float:
        regular = self.fallback.poll_seconds
        return regular if self.listener is None else max(regular, LISTEN_POLL_SECONDS)

    def start(self, now: float) -> None:
        """Before a full load: listening first, so that nothing written later goes unheard."""
        self.fallback.start(now)
        if self.listener is None:
            self._connect(now)
        self.news(now)  # what came before the load is in the load

    def news(self, now: float) -> bool:
        if self.listener is None:
            if now >= self.retry_at and self._connect(now):
                return True  # back: read what was written while it was down
            return self.fallback.news(now)
        try:
            return self.listener.drain() > 0
        except Exception as exc:
            self._lost(exc, now)
            return True  # whatever was sent since the last look may be lost: read it now

    def wait(self, seconds: float) -> bool:
        """Wait on the listener (only while :attr:`listening`)."""
        if self.listener is None:
            return False
        try:
            return self.listener.wait(seconds)
        except Exception:
            return True  # the next look finds out what is wrong

    def stop(self) -> None:
        """Stop listening (a beat that stands by: unread notifications must not pile up)."""
        if self.listener is not None:
            listener, self.listener = self.listener, None
            try:
                listener.close()
            except Exception:
                logger.debug("djag beat: closing the %s listener failed", self.what, exc_info=True)

    def _connect(self, now: float) -> bool:
        self.retry_at = now + self.fallback.poll_seconds
        try:
            self.listener = self.connect()
        except Exception as exc:
            self._lost(exc, now)
            return False
        if self.down is not None:
            logger.warning("djag beat: listening for news by %s again", self.what)
            self.down = None
        return True

    def _lost(self, exc: BaseException, now: float) -> None:
        self.stop()
        self.retry_at = now + self.fallback.poll_seconds
        if self.down is None:
            logger.warning(
                "djag beat: cannot listen for news by %s (%s: %s); reading the wake-up key "
                "and polling the database every %g s until it is back",
                self.what,
                type(exc).__name__,
                exc,
                self.fallback.poll_seconds,
            )
        self.down = str(exc)


Watch = KeyWatch | ListenWatch
