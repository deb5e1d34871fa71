"""The leader lease: one beat process dispatches, the others stand by.

The lease is one SchedulerLease row. The leader renews it every third of
``DJAG_LEASE_SECONDS`` with an UPDATE fenced by its holder name and
generation; a standby takes it over only once it has expired, raising the
generation. A leader that cannot renew stops dispatching when its own clock
says the lease is about to end, before any standby may take over: the margin
covers clock skew between machines (keep them NTP-synced). Whatever happens,
the unique slot on TaskRun keeps each event at most once.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid

from djag.store import lease as rows
from djag.store.db import default_database
from djag.store.lease import LEASE_NAME

logger = logging.getLogger("djag.beat")


class Lease:
    #: A leader stops this fraction of the lease before its end if it could not renew.
    SAFETY_FRACTION = 0.2

    def __init__(
        self, lease_seconds: float, name: str = LEASE_NAME, using: str | None = None
    ) -> None:
        self.lease_seconds = lease_seconds
        self.name = name
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.using = using or default_database()
        self.generation: int | None = None
        self.valid_until = 0.0
        self.renew_at = 0.0
        self.next_attempt = 0.0

    @property
    def leading(self) -> bool:
        return self.generation is not None

    def hold(self, now: float) -> bool:
        """Renew or take the lease as needed; True while this process may dispatch.

        Raises database errors, except that a leader keeps leading until its
        lease runs out on its own clock (a short outage does not stop beat).
        """
        if self.leading:
            if now < self.renew_at:
                return True
            try:
                renewed = self._renew(now)
            except Exception:
                if now < self.valid_until:
                    return True
                self._step_down("its lease ran out while the database was unreachable")
                raise
            if renewed:
                return True
            self._step_down("another process took the lease")
        if now < self.next_attempt:
            return False
        self.next_attempt = now + min(1.0, self.lease_seconds / 3)
        return self._acquire(now)

    def retry_in(self, now: float) -> float:
        """Seconds a standby may sleep before its next attempt."""
        return max(0.05, self.next_attempt - now)

    def _renew(self, now: float) -> bool:
        generation = self.generation
        if generation is None:
            return False
        renewed = rows.renew(
            self.using, self.name, self.holder, generation, now, self.lease_seconds
        )
        if renewed:
            self._extend(now)
        return renewed

    def _acquire(self, now: float) -> bool:
        generation = rows.acquire(self.using, self.name, self.holder, now, self.lease_seconds)
        if generation is None:
            return False
        self.generation = generation
        self._extend(now)
        logger.info(
            "djag beat: %s leads (generation %d, lease %.0f s)",
            self.holder,
            self.generation,
            self.lease_seconds,
        )
        return True

    def _extend(self, now: float) -> None:
        self.valid_until = now + self.lease_seconds * (1 - self.SAFETY_FRACTION)
        self.renew_at = now + self.lease_seconds / 3

    def _step_down(self, why: str) -> None:
        logger.warning("djag beat: %s stops dispatching: %s", self.holder, why)
        self.generation = None
        self.valid_until = 0.0

    def release(self, now: float) -> None:
        """Give the lease up at shutdown so a standby takes over at once."""
        generation = self.generation
        if generation is None:
            return
        rows.release(self.using, self.name, self.holder, generation, now)
        self.generation = None
