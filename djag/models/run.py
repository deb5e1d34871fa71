"""TaskRun: the run ledger, one row per run: waiting, dispatched or skipped."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models.lookups import Exact
from django.utils import timezone

from djag.core.vocab import ACTIVE_STATES, TERMINAL_STATES, RunState, Trigger, choices, values

from ._compat import JSONTypeOf, check_constraint
from .task import PeriodicTask

__all__ = ["ACTIVE_STATES", "TERMINAL_STATES", "RunState", "TaskRun", "Trigger"]

# Bound on the stored error text (type and message), so a huge traceback
# cannot bloat the ledger.
ERROR_MAX_CHARS = 2000
#: Bound on a run's note (a skip's reason).
NOTE_MAX_CHARS = 500


class TaskRun(models.Model):
    id = models.BigAutoField(primary_key=True)
    periodic_task = models.ForeignKey(
        PeriodicTask,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="runs",
        help_text="Empty once the task is deleted: the history stays.",
    )
    task_name = models.CharField(max_length=200, help_text="The periodic task's name at dispatch.")
    task = models.CharField(max_length=200, blank=True, help_text="The Celery task at dispatch.")
    scheduled_for = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The event the run stands for (UTC): a cron instant, a backfilled event or a "
        "one-off's time; empty for a run asked for now.",
    )
    trigger = models.CharField(max_length=10, choices=choices(Trigger))
    state = models.CharField(max_length=10, choices=choices(RunState), default=RunState.CLAIMED)
    celery_task_id = models.CharField(max_length=255, blank=True, db_index=True)
    claimed_at = models.DateTimeField(
        default=timezone.now,
        help_text="When beat claimed the run; for a run still waiting, when it was asked for.",
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    coalesced_count = models.PositiveIntegerField(
        default=1, help_text="How many events this row stands for."
    )
    # Runs asked for outside the schedule (djag.enqueue, run_now, backfill).
    not_before = models.DateTimeField(
        null=True, blank=True, help_text="A waiting run is not claimed before this moment."
    )
    requested_by = models.CharField(
        max_length=150,
        blank=True,
        help_text="Who asked for the run (a user, a command, the caller's text); "
        "empty for the schedule's own runs.",
    )
    args = models.JSONField(null=True, blank=True, help_text="A one-off's positional arguments.")
    kwargs = models.JSONField(null=True, blank=True, help_text="A one-off's keyword arguments.")
    options = models.JSONField(
        null=True,
        blank=True,
        help_text="A one-off's routing options (queue, exchange, routing_key, priority, "
        "headers, expires); a periodic task's runs use the task's.",
    )
    delay_seconds = models.PositiveIntegerField(
        default=0,
        help_text="Jitter: the run was released this many seconds after its scheduled time.",
    )
    note = models.CharField(
        max_length=NOTE_MAX_CHARS,
        blank=True,
        help_text="Why the row is what it is, e.g. the reason of a skip: 'excluded: 2026-12-25 "
        "(Christmas Day)'.",
    )

    class Meta:
        ordering = ("-claimed_at", "-id")
        get_latest_by = "claimed_at"
        constraints = [
            models.UniqueConstraint(
                fields=("periodic_task", "scheduled_for"),
                name="djag_run_unique_slot",
                violation_error_message="This event of this task has already been handled.",
            ),
            check_constraint(models.Q(coalesced_count__gte=1), name="djag_run_count_positive"),
            check_constraint(models.Q(state__in=values(RunState)), name="djag_run_state_valid"),
            check_constraint(models.Q(trigger__in=values(Trigger)), name="djag_run_trigger_valid"),
            *(
                check_constraint(
                    models.Q(**{f"{name}__isnull": True})
                    | Exact(JSONTypeOf(name), models.Value(kind)),
                    name=f"djag_run_{name}_is_{'list' if kind == 'array' else kind}",
                )
                for name, kind in (("args", "array"), ("kwargs", "object"), ("options", "object"))
            ),
        ]
        indexes = [
            models.Index(fields=("state",), name="djag_run_state"),
            models.Index(fields=("periodic_task", "claimed_at"), name="djag_run_task_claimed"),
            models.Index(fields=("claimed_at",), name="djag_run_claimed"),
            models.Index(fields=("state", "not_before"), name="djag_run_waiting"),
        ]

    def __str__(self) -> str:
        when = self.scheduled_for.isoformat() if self.scheduled_for else self.trigger
        return f"{self.task_name} @ {when} ({self.state})"

    @property
    def duration(self) -> dt.timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None
