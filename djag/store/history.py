"""Reads of the run ledger: what runs are in flight, what the dependency rule and
``max_runs`` need of each task's past, and the one query an idle beat makes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import connections
from django.db.models import Count, Max, Q

from djag.core.batches import chunks
from djag.core.dag import RunMarks
from djag.core.vocab import ACTIVE_STATES, TERMINAL_STATES, RunState, Trigger
from djag.models import ScheduleChange, TaskRun
from djag.store.db import timestamp
from djag.store.rows import ActiveRun, FinishedRun

#: Runs that count towards ``max_runs``: dispatched by the schedule (not manual, not skips).
COUNTS_TOWARDS_MAX_RUNS = ~Q(trigger=Trigger.MANUAL) & ~Q(state=RunState.SKIPPED)


def last_events(
    using: str, since: dt.datetime | None, task_ids: Sequence[int] | None = None
) -> dict[int, int]:
    """Newest handled event per task among runs claimed since ``since`` (all if None)."""
    rows = TaskRun.objects.using(using).filter(
        scheduled_for__isnull=False, periodic_task__isnull=False
    )
    if since is not None:
        rows = rows.filter(claimed_at__gte=since)
    if task_ids is not None:
        rows = rows.filter(periodic_task_id__in=list(task_ids))
    return {
        task_id: int(newest.timestamp())
        for task_id, newest in rows.values("periodic_task_id")
        .annotate(newest=Max("scheduled_for"))
        .values_list("periodic_task_id", "newest")
    }


def scheduled_run_counts(using: str, task_ids: Sequence[int]) -> dict[int, int]:
    """How many runs of each task count towards its max_runs."""
    counts: dict[int, int] = {}
    for chunk in chunks(task_ids):
        rows = (
            TaskRun.objects.using(using)
            .filter(COUNTS_TOWARDS_MAX_RUNS, periodic_task_id__in=chunk)
            .values("periodic_task_id")
            .annotate(total=Count("id"))
            .values_list("periodic_task_id", "total")
        )
        counts.update(rows)
    return counts


def run_marks(using: str, task_ids: Sequence[int]) -> dict[int, RunMarks]:
    """What the dependency rule needs of each task's runs."""
    marks: dict[int, RunMarks] = {}
    for chunk in chunks(task_ids):
        rows = (
            TaskRun.objects.using(using)
            .filter(periodic_task_id__in=chunk)
            .exclude(state=RunState.SKIPPED)
            .values("periodic_task_id")
            .annotate(
                last_start=Max("claimed_at"),
                last_success=Max("finished_at", filter=Q(state=RunState.SUCCESS)),
                last_finish=Max("finished_at", filter=Q(state__in=TERMINAL_STATES)),
            )
        )
        for row in rows:
            marks[row["periodic_task_id"]] = RunMarks(
                last_start=timestamp(row["last_start"]),
                last_success=timestamp(row["last_success"]),
                last_finish=timestamp(row["last_finish"]),
            )
    return marks


def activity(using: str) -> tuple[Any, ...]:
    """One cheap query whose answer changes whenever beat has something to read.

    A schedule change raises the newest change id; a run claimed anywhere (a
    manual run, another beat) raises the newest run id; a run that finishes
    lowers the count of active runs (runs never move back to an active state).
    """
    connection = connections[using]
    quote = connection.ops.quote_name
    changes = quote(ScheduleChange._meta.db_table)
    runs = quote(TaskRun._meta.db_table)
    active = ", ".join(["%s"] * len(ACTIVE_STATES))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT MAX(id) FROM {changes}), (SELECT MAX(id) FROM {runs}), "
            f"(SELECT COUNT(*) FROM {runs} WHERE state IN ({active}))",
            [str(state) for state in ACTIVE_STATES],
        )
        row = cursor.fetchone()
    return tuple(row) if row is not None else ()


def active_runs(using: str) -> list[ActiveRun]:
    rows = (
        TaskRun.objects.using(using)
        .filter(state__in=ACTIVE_STATES)
        .values_list(
            "id", "periodic_task_id", "state", "celery_task_id", "claimed_at", "started_at"
        )
    )
    return [
        ActiveRun(run_id, task_id, state, celery_id, claimed.timestamp(), timestamp(started))
        for run_id, task_id, state, celery_id, claimed, started in rows
    ]


def finished_runs(using: str, run_ids: Sequence[int]) -> list[FinishedRun]:
    """The runs among ``run_ids`` that are no longer active."""
    result: list[FinishedRun] = []
    for chunk in chunks(run_ids):
        result.extend(
            FinishedRun(run_id, task_id, state, timestamp(finished))
            for run_id, task_id, state, finished in TaskRun.objects.using(using)
            .filter(id__in=chunk)
            .exclude(state__in=ACTIVE_STATES)
            .values_list("id", "periodic_task_id", "state", "finished_at")
        )
    return result


def task_of_run(using: str, run_id: int) -> int | None:
    rows = TaskRun.objects.using(using).filter(id=run_id)
    return rows.values_list("periodic_task_id", flat=True).first()
