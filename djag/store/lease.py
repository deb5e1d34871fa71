"""The lease row's writes: renew and take over fenced by holder and generation.

The timing rules (when to renew, when to step down) are beat's, in
``djag.beat.lease``; this module only says what each write does to the row.
"""

from __future__ import annotations

import contextlib

from django.db import IntegrityError
from django.db.models import F, Q, QuerySet

from djag.models import SchedulerLease
from djag.store.db import from_epoch

#: The one lease row beats compete for (it also records when checkpoints were saved).
LEASE_NAME = "default"


def _rows(using: str, name: str) -> QuerySet[SchedulerLease]:
    return SchedulerLease.objects.using(using).filter(name=name)


def renew(
    using: str, name: str, holder: str, generation: int, now: float, lease_seconds: float
) -> bool:
    """Extend the lease if ``holder`` still holds ``generation`` of it."""
    updated = (
        _rows(using, name)
        .filter(holder=holder, generation=generation)
        .update(renewed_at=from_epoch(now), expires_at=from_epoch(now + lease_seconds))
    )
    return bool(updated)


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
