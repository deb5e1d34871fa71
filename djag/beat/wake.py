"""Reading the wake-up key: a hint that beat has news, whose outages are logged once."""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger("djag.beat")


class WakeKey:
    def __init__(self, read: Callable[[], str | None], poll_seconds: float) -> None:
        self.read_key = read
        self.poll_seconds = poll_seconds
        self.error: str | None = None  # set while the key cannot be read

    def read(self) -> str | None:
        """The key's value; None when it is unset or cannot be read (beat then polls)."""
        try:
            token = self.read_key()
        except Exception as exc:
            if self.error is None:
                logger.warning(
                    "djag beat: the wake-up cache cannot be read (%s: %s); reading the "
                    "database every %g s until it is back",
                    type(exc).__name__,
                    exc,
                    self.poll_seconds,
                )
            self.error = str(exc)
            return None
        if self.error is not None:
            logger.warning("djag beat: the wake-up cache is readable again")
            self.error = None
        return token
