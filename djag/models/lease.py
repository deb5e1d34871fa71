"""SchedulerLease: which beat process leads, until when, with a fencing generation."""

from __future__ import annotations

from django.db import models


class SchedulerLease(models.Model):
    name = models.CharField(max_length=100, unique=True, default="default")
    holder = models.CharField(max_length=255, blank=True, help_text="host:pid:token of the leader.")
    generation = models.BigIntegerField(
        default=0, help_text="Raised at every change of leader; fences off a deposed one."
    )
    acquired_at = models.DateTimeField(null=True, blank=True)
    renewed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the leader last renewed the lease."
    )
    ticked_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The leader's last successful tick, as of its last renewal: a leader that "
        "renews but cannot load or tick shows here (djag_status --max-lag).",
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(
        null=True, blank=True, help_text="When beat last saved its task checkpoints."
    )

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return f"{self.name}: {self.holder or 'nobody'} (generation {self.generation})"
