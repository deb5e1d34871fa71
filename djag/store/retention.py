"""Retention: which ledger and audit rows may go, and deleting them in short batches.

Never an active or waiting run, never a run beat still reads (``runs_beat_still_reads``), never
a run that counts towards its task's ``max_runs``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from djag.core.vocab import ACTIVE_STATES, NOT_STARTED_STATES, TERMINAL_STATES, RunState
from djag.models import PeriodicTask, TaskRun, UserActionAudit
from djag.store.history import COUNTS_TOWARDS_MAX_RUNS

#: Rows deleted per statement: keeps each transaction and lock short on a big ledger.
BATCH = 2000


@dataclass(frozen=True)
class Pruned:
    runs: int  # deleted (or, in a dry run, that would be)
    runs_kept: int  # old enough, but still read by beat
    audits: int


def runs_beat_still_reads() -> set[int]:
    """The newest run, newest success and newest finished run of each task, and the
    row of its newest handled event.

    The dependency rule reads the first three (the last start, success and finish of
    each task): deleting them would change what a depender waits for. Beat recovers
    a task's last handled event from the newest ``scheduled_for`` in the ledger (skips
    included) when its checkpoint is older; deleting that row would free the slot and
    let the event be handled again.
    """
    of_task = TaskRun.objects.filter(periodic_task=OuterRef("pk"))
    runs = of_task.exclude(state__in=NOT_STARTED_STATES)
    finished = runs.filter(finished_at__isnull=False).order_by("-finished_at", "-id")
    handled = of_task.filter(scheduled_for__isnull=False).order_by("-scheduled_for", "-id")
    newest = PeriodicTask._base_manager.annotate(
        started=Subquery(runs.order_by("-claimed_at", "-id").values("id")[:1]),
        succeeded=Subquery(finished.filter(state=RunState.SUCCESS).values("id")[:1]),
        ended=Subquery(finished.filter(state__in=TERMINAL_STATES).values("id")[:1]),
        handled=Subquery(handled.values("id")[:1]),
    ).values_list("started", "succeeded", "ended", "handled")
    return {run_id for row in newest for run_id in row if run_id is not None}


def old_finished_runs(cutoff: dt.datetime) -> QuerySet[TaskRun]:
    """Runs that finished (or were skipped or cancelled) before ``cutoff``; never an active
    one, never one that waits to be sent.

    The runs of a task with max_runs that count towards it are left: the count is
    taken from the ledger. They are at most max_runs rows.
    """
    counted_towards_max_runs = Q(periodic_task__max_runs__isnull=False) & COUNTS_TOWARDS_MAX_RUNS
    return (
        TaskRun.objects.exclude(state__in=(*ACTIVE_STATES, RunState.WAITING))
        # A terminal row without a finish time (written by hand) is dated by its claim.
        .alias(done_at=Coalesce("finished_at", "claimed_at"))
        .filter(done_at__lt=cutoff)
        .exclude(counted_towards_max_runs)
    )


def delete_in_batches(rows: QuerySet[Any], keep: Collection[int], dry_run: bool) -> tuple[int, int]:
    """Delete ``rows`` except the ids in ``keep``, a batch at a time; (deleted, kept)."""
    deleted = kept = 0
    after = 0
    while True:
        ids = list(rows.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:BATCH])
        if not ids:
            return deleted, kept
        after = ids[-1]
        doomed = [pk for pk in ids if pk not in keep]
        kept += len(ids) - len(doomed)
        if dry_run:
            deleted += len(doomed)
        elif doomed:
            # The condition is repeated in the DELETE itself, so a row that became
            # active meanwhile is never deleted.
            deleted += rows.filter(pk__in=doomed).delete()[0]


def prune(cutoff: dt.datetime, dry_run: bool = False) -> Pruned:
    runs, kept = delete_in_batches(old_finished_runs(cutoff), runs_beat_still_reads(), dry_run)
    audits, _ = delete_in_batches(
        UserActionAudit.objects.filter(deleted_at__lt=cutoff), (), dry_run
    )
    return Pruned(runs, kept, audits)
