"""Retention: which ledger, audit and change-log rows may go, and deleting them in short batches.

Never an active or waiting run, never a run beat still reads (``runs_beat_still_reads``), never
a run that counts towards its task's ``max_runs``; never a schedule change beat may still read
(``changes_cutoff``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.db.models import Max, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from djag.core.vocab import ACTIVE_STATES, NOT_STARTED_STATES, TERMINAL_STATES, RunState
from djag.models import PeriodicTask, ScheduleChange, SchedulerLease, TaskRun, UserActionAudit
from djag.store.feed import ChangeFeed
from djag.store.history import COUNTS_TOWARDS_MAX_RUNS

#: Rows deleted per statement: keeps each transaction and lock short on a big ledger.
BATCH = 2000


@dataclass(frozen=True)
class Pruned:
    runs: int  # deleted (or, in a dry run, that would be)
    runs_kept: int  # old enough, but still read by beat
    audits: int
    changes: int = 0  # schedule changes deleted (or that would be)
    changes_cutoff: dt.datetime | None = None  # the changes made before it were pruned


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


def changes_cutoff(asked: dt.datetime) -> dt.datetime:
    """The moment before which schedule changes may be deleted: ``asked``, or earlier.

    A running beat reads the changes with an id above the newest it has read, and those
    in id gaps for ``ChangeFeed.GAP_SECONDS`` (ids that commit out of order); at start or
    takeover it loads the whole schedule instead. So a change is kept while it is younger
    than the gap window, and while it is newer than a gap window before the last tick of
    any beat that has held the lease: a stalled beat that comes back reads the changes made
    since, and they must be there. Both windows are counted on the real clock, whatever
    moment the caller pretends it is.
    """
    window = dt.timedelta(seconds=ChangeFeed.GAP_SECONDS)
    last_tick = SchedulerLease.objects.aggregate(oldest=Min("ticked_at"))["oldest"]
    return min(asked, timezone.now() - window, *([last_tick - window] if last_tick else []))


def old_changes(cutoff: dt.datetime) -> QuerySet[ScheduleChange]:
    """Schedule changes made before ``cutoff``, except the newest change of all: the next id
    must stay above every id beat has read (SQLite and older MariaDB servers hand out
    the deleted newest ids again)."""
    newest = ScheduleChange.objects.aggregate(newest=Max("id"))["newest"]
    return ScheduleChange.objects.filter(at__lt=cutoff).exclude(id=newest)


def prune(
    cutoff: dt.datetime,
    dry_run: bool = False,
    changes_before: dt.datetime | None = None,
) -> Pruned:
    """Delete the runs and audit rows older than ``cutoff`` and, with ``changes_before``,
    the schedule changes made before it that beat cannot still read."""
    runs, kept = delete_in_batches(old_finished_runs(cutoff), runs_beat_still_reads(), dry_run)
    audits, _ = delete_in_batches(
        UserActionAudit.objects.filter(deleted_at__lt=cutoff), (), dry_run
    )
    if changes_before is None:
        return Pruned(runs, kept, audits)
    safe = changes_cutoff(changes_before)
    changes, _ = delete_in_batches(old_changes(safe), (), dry_run)
    return Pruned(runs, kept, audits, changes, safe)
