"""What beat reads and writes for a task's alerts: its newest outcomes, the alerts it
recorded as tripped, and the pause after failures in a row."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from django.db import transaction
from django.db.models import F, Max, Value
from django.db.models.functions import Coalesce

from djag.core.alerts import AlertKind, Outcome
from djag.core.vocab import RunState
from djag.models import PeriodicTask, TaskRun, acting_as
from djag.models.run import ERROR_MAX_CHARS
from djag.store.db import from_epoch, to_epoch
from djag.store.rows import AlertHistory

#: The finished states the checks count; a revoked run (stopped by a person) counts neither way.
COUNTED_STATES = (RunState.SUCCESS, RunState.FAILURE, RunState.LOST)


class TrippedAlerts(NamedTuple):
    task: str
    kinds: tuple[str, ...]  # "failing", "overdue"
    note: str
    since: dt.datetime | None


def tripped_alerts(using: str) -> list[TrippedAlerts]:
    """The tasks with an alert tripped now, by name, as beat last recorded them."""
    rows = (
        PeriodicTask._base_manager.using(using)
        .exclude(alerts_tripped="")
        .order_by("name")
        .values_list("name", "alerts_tripped", "alert_note", "alert_since")
    )
    return [
        TrippedAlerts(name, tuple(k for k in kinds.split(",") if k), note, since)
        for name, kinds, note, since in rows
    ]


def alert_history(using: str, task_id: int, newest: int) -> AlertHistory:
    """The task's ``newest`` finished runs (newest slot first) and its newest successful slot.

    A run's slot is its event; a manual run's, when it was asked for (its ``not_before``).
    """
    runs = (
        TaskRun.objects.using(using)
        .filter(periodic_task_id=task_id, state__in=COUNTED_STATES)
        .annotate(slot=Coalesce("scheduled_for", "not_before", "claimed_at"))
    )
    finished: tuple[Outcome, ...] = ()
    if newest > 0:
        rows = runs.order_by("-slot", "-id").values_list("slot", "state")[:newest]
        finished = tuple(Outcome(int(slot.timestamp()), RunState(state)) for slot, state in rows)
    last = runs.filter(state=RunState.SUCCESS).aggregate(last=Max("slot"))["last"]
    return AlertHistory(finished, to_epoch(last))


def record_alerts(
    using: str,
    task_id: int,
    tripped: frozenset[AlertKind],
    note: str,
    now: float,
    pause: str | None = None,
) -> bool:
    """Write the alerts tripped now and why and, when ``pause`` says why, pause the task:
    in one transaction, so that a task seen paused also says why. ``alert_since`` keeps
    the moment the first tripped. Returns whether the task was paused now (not if it was
    disabled already)."""
    since = Coalesce(F("alert_since"), Value(from_epoch(now))) if tripped else None
    with transaction.atomic(using=using):
        paused = pause is not None and pause_failing(using, task_id, pause)
        if paused:
            note = "\n".join(line for line in (note, pause) if line)
        PeriodicTask._base_manager.using(using).filter(pk=task_id).update(
            alerts_tripped=",".join(sorted(tripped)),
            alert_note=note[:ERROR_MAX_CHARS],
            alert_since=since,
        )
    return paused


def pause_failing(using: str, task_id: int, reason: str) -> bool:
    """Disable the task (logged as a schedule change by "djag beat: <reason>"); False if it
    was disabled already."""
    with acting_as(f"djag beat: {reason}"):
        return bool(
            PeriodicTask.objects.using(using).filter(pk=task_id, enabled=True).update(enabled=False)
        )
