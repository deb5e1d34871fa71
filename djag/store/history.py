"""Reads of the run ledger: what runs are in flight, what the dependency rule and
``max_runs`` need of each task's past, the one query an idle beat makes, the runs
that wait to be claimed, and what a run's message needs (its context)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import connections
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    DateTimeField,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber

from djag.core.batches import chunks
from djag.core.dag import RunMarks
from djag.core.message import RunContext
from djag.core.requested import Requested
from djag.core.vocab import (
    ACTIVE_STATES,
    NOT_STARTED_STATES,
    SCHEDULED_TRIGGERS,
    TERMINAL_STATES,
    RunState,
    Trigger,
)
from djag.models import ScheduleChange, TaskRun
from djag.store.db import from_epoch, timestamp, to_epoch
from djag.store.rows import ActiveRun, Activity, FinishedRun, RunDetail

#: Runs that count towards ``max_runs``: dispatched by the schedule (not manual, not
#: one-offs, not backfills, not skips).
COUNTS_TOWARDS_MAX_RUNS = Q(trigger__in=SCHEDULED_TRIGGERS) & ~Q(state=RunState.SKIPPED)


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
            .exclude(state__in=NOT_STARTED_STATES)
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


def activity(using: str) -> Activity:
    """One cheap query whose answer changes whenever beat has something to read.

    A schedule change raises the newest change id; a run written anywhere (a
    waiting run asked for, another beat's claim) raises the newest run id; a run
    that finishes lowers the count of active runs (runs never move back to an
    active state); a waiting run claimed or cancelled lowers the count of
    waiting ones. The earliest waiting time tells beat when to look next, and
    changes when a run committed out of id order would be due first.
    """
    connection = connections[using]
    quote = connection.ops.quote_name
    changes = quote(ScheduleChange._meta.db_table)
    runs = quote(TaskRun._meta.db_table)
    active = ", ".join(["%s"] * len(ACTIVE_STATES))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT MAX(id) FROM {changes}), (SELECT MAX(id) FROM {runs}), "
            f"(SELECT COUNT(*) FROM {runs} WHERE state IN ({active})), "
            f"(SELECT COUNT(*) FROM {runs} WHERE state = %s), "
            f"(SELECT MIN({quote('not_before')}) FROM {runs} WHERE state = %s)",
            [*(str(state) for state in ACTIVE_STATES), RunState.WAITING, RunState.WAITING],
        )
        row = cursor.fetchone()
    assert row is not None
    return Activity(*row)


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
            FinishedRun(run_id, task_id, state, timestamp(finished), timestamp(started), name)
            for run_id, task_id, state, finished, started, name in TaskRun.objects.using(using)
            .filter(id__in=chunk)
            .exclude(state__in=ACTIVE_STATES)
            .values_list(
                "id", "periodic_task_id", "state", "finished_at", "started_at", "task_name"
            )
        )
    return result


def task_of_run(using: str, run_id: int) -> int | None:
    rows = TaskRun.objects.using(using).filter(id=run_id)
    return rows.values_list("periodic_task_id", flat=True).first()


def requested_runs(
    using: str, now: float, limit: int, per_task: int
) -> tuple[list[Requested], float | None]:
    """The waiting runs due by ``now``, oldest first, and when the next one is due.

    At most ``per_task`` backfilled runs of each task are read (the oldest): a
    long backfill that waits for its task's slot must not fill the ``limit``
    and keep other runs from being seen. Other runs are not capped per task.
    """
    moment = from_epoch(now)
    waiting = TaskRun.objects.using(using).filter(state=RunState.WAITING)
    order = (F("not_before").asc(), F("scheduled_for").asc(), F("id").asc())
    place = Window(
        RowNumber(),
        partition_by=[
            F("periodic_task_id"),
            # Every run but a backfilled one is a partition of its own: only those are capped.
            Case(
                When(trigger=Trigger.BACKFILL, then=Value(0)),
                default=F("id"),
                output_field=BigIntegerField(),
            ),
        ],
        order_by=order,
    )
    rows = (
        waiting.filter(not_before__lte=moment)
        .annotate(place=place)
        .filter(place__lte=per_task)
        .order_by(*order)
        .values_list("id", "periodic_task_id", "trigger", "not_before", "scheduled_for")[:limit]
    )
    due = [
        Requested(run_id, task_id, trigger, timestamp(not_before) or 0.0, to_epoch(slot))
        for run_id, task_id, trigger, not_before, slot in rows
    ]
    later = waiting.filter(not_before__gt=moment).aggregate(first=Min("not_before"))["first"]
    return due, timestamp(later)


def run_details(using: str, run_ids: Sequence[int]) -> dict[int, RunDetail]:
    """What each run's message carries besides its task's: its context (trigger, event,
    the previous successful event of its task), and a one-off's own message."""
    succeeded = TaskRun.objects.using(using).filter(
        periodic_task_id=OuterRef("periodic_task_id"),
        state=RunState.SUCCESS,
        scheduled_for__isnull=False,
    )
    newest = succeeded.order_by("-scheduled_for").values("scheduled_for")
    before = newest.filter(scheduled_for__lt=OuterRef("scheduled_for"))
    details: dict[int, RunDetail] = {}
    for chunk in chunks(run_ids):
        rows = (
            TaskRun.objects.using(using)
            .filter(id__in=chunk)
            .annotate(
                previous=Case(
                    When(scheduled_for__isnull=True, then=Subquery(newest[:1])),
                    default=Subquery(before[:1]),
                    output_field=DateTimeField(),
                )
            )
            .values_list(
                "id",
                "task",
                "trigger",
                "scheduled_for",
                "previous",
                "coalesced_count",
                "args",
                "kwargs",
                "options",
            )
        )
        for run_id, task, trigger, slot, previous, count, args, kwargs, options in rows:
            context = RunContext(run_id, Trigger(trigger), slot, previous, count)
            message = None
            if trigger == Trigger.ONEOFF:
                message = (args or [], kwargs or {}, options or {})
            details[run_id] = RunDetail(context, task, message)
    return details
