"""The lease row's writes: renew and take over fenced by holder and generation.

The timing rules (when to renew, when to step down) are beat's, in
``djag.beat.lease``; this module only says what each write does to the row, and
:func:`fenced` is the transaction a leader's claim is made in.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db.models import F, Q, QuerySet

from djag.models import SchedulerLease
from djag.store.db import from_epoch
from djag.store.rows import Fence

#: The one lease row beats compete for (it also records when checkpoints were saved).
LEASE_NAME = "default"


def _rows(using: str, name: str) -> QuerySet[SchedulerLease]:
    return SchedulerLease.objects.using(using).filter(name=name)


class Deposed(Exception):
    """The lease row no longer names the claimer's holder and generation: it claimed nothing."""


def renew(
    using: str,
    name: str,
    holder: str,
    generation: int,
    now: float,
    lease_seconds: float,
    ticked_at: float | None = None,
) -> bool:
    """Extend the lease if ``holder`` still holds ``generation`` of it, and record when the
    leader last ticked successfully (None: not since it took the lease)."""
    updated = (
        _rows(using, name)
        .filter(holder=holder, generation=generation)
        .update(
            renewed_at=from_epoch(now),
            expires_at=from_epoch(now + lease_seconds),
            ticked_at=None if ticked_at is None else from_epoch(ticked_at),
        )
    )
    return bool(updated)


@contextlib.contextmanager
def fenced(using: str, fence: Fence | None) -> Iterator[None]:
    """A transaction that commits only while ``fence`` still holds the lease (no fence:
    a plain transaction); raises :class:`Deposed` at once if it no longer does.

    The check is an UPDATE of the lease row that changes nothing, so that the row stays
    locked (PostgreSQL and MariaDB lock it, SQLite the whole database) until the
    transaction ends: a standby's takeover, itself an UPDATE of the row, waits for the
    claim to commit and then sees its runs, or commits first and the claim is refused.

    A claimer frozen (SIGSTOP, a pause) or cut off inside the transaction would keep the
    row locked and the standby waiting; so the server ends such a transaction once it
    has been idle for the lease time (PostgreSQL's idle_in_transaction_session_timeout,
    MariaDB's wait_timeout), and the takeover goes ahead.
    """
    if fence is None:
        with transaction.atomic(using=using):
            yield
        return
    connection = connections[using]
    try:
        with transaction.atomic(using=using):
            _end_when_idle(using, fence.lease_seconds)
            held = (
                _rows(using, fence.name)
                .filter(holder=fence.holder, generation=fence.generation)
                .update(generation=F("generation"))
            )
            if not held:
                raise Deposed(
                    f"{fence.holder} no longer holds the lease (generation "
                    f"{fence.generation}): another beat took it over"
                )
            yield
    finally:
        if connection.vendor == "mysql":
            with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
                cursor.execute("SET SESSION wait_timeout = @@GLOBAL.wait_timeout")


def _end_when_idle(using: str, seconds: float) -> None:
    """Have the server end this transaction if the client leaves it idle for ``seconds``."""
    connection = connections[using]
    whole = max(1, math.ceil(seconds))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT set_config('idle_in_transaction_session_timeout', %s, true)",
                [str(whole * 1000)],
            )
        elif connection.vendor == "mysql":
            cursor.execute("SET SESSION wait_timeout = %s", [whole])


def acquire(using: str, name: str, holder: str, now: float, lease_seconds: float) -> int | None:
    """Take the lease if it is vacant or expired; the new generation, or None."""
    if not _rows(using, name).exists():
        with contextlib.suppress(IntegrityError):  # another beat created it first
            SchedulerLease.objects.using(using).create(name=name)
    vacant = Q(expires_at__isnull=True) | Q(expires_at__lt=from_epoch(now)) | Q(holder="")
    updated = (
        _rows(using, name)
        .filter(vacant)
        .update(
            holder=holder,
            generation=F("generation") + 1,
            acquired_at=from_epoch(now),
            renewed_at=from_epoch(now),
            expires_at=from_epoch(now + lease_seconds),
            ticked_at=None,
        )
    )
    if not updated:
        return None
    return _rows(using, name).filter(holder=holder).values_list("generation", flat=True).first()


def release(using: str, name: str, holder: str, generation: int, now: float) -> None:
    """Give the lease up, so that a standby takes over at once."""
    _rows(using, name).filter(holder=holder, generation=generation).update(
        holder="", expires_at=from_epoch(now)
    )
