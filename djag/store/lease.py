"""The lease row's writes: renew and take over fenced by holder and generation.

The timing rules (when to renew, when to step down) are beat's, in
``djag.beat.lease``; this module only says what each write does to the row, and
:func:`hold_fence` is the check a claim makes in its own transaction.
"""

from __future__ import annotations

import contextlib

from django.db import IntegrityError
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


def hold_fence(using: str, fence: Fence) -> None:
    """Inside a transaction: make sure ``fence`` still holds the lease until it commits.

    An UPDATE that changes nothing, so that the row is locked (PostgreSQL and MariaDB
    lock it, SQLite the whole database) until the transaction ends: a standby's
    takeover, itself an UPDATE of the row, waits for the claim to commit and then
    sees its runs, or commits first and the claim raises :class:`Deposed`.
    """
    held = (
        _rows(using, fence.name)
        .filter(holder=fence.holder, generation=fence.generation)
        .update(generation=F("generation"))
    )
    if not held:
        raise Deposed(
            f"{fence.holder} no longer holds the lease (generation {fence.generation}): "
            "another beat took it over"
        )


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
