"""Retention: which ledger, audit and change-log rows may go, and deleting them in short batches.

Never an active or waiting run, never a run beat still reads (``runs_beat_still_reads``), never
a run that counts towards its task's ``max_runs``; never a schedule change beat may still read
(``changes_cutoff``). Runs go by age, and, for the tasks whose ``keep_history`` is not ``all``,
whatever their age (``trim``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.db.models import F, Max, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from djag.core.alerts import FAILED_STATES
from djag.core.vocab import (
    ACTIVE_STATES,
    NOT_STARTED_STATES,
    TERMINAL_STATES,
    KeepHistory,
    RunState,
)
from djag.models import PeriodicTask, ScheduleChange, SchedulerLease, TaskRun, UserActionAudit
from djag.store.feed import ChangeFeed
from djag.store.history import COUNTS_TOWARDS_MAX_RUNS

#: Rows deleted per statement: keeps each transaction and lock short on a big ledger.
BATCH = 2000

#: Runs one ``trim`` pass looks at, at most: a pass stays short whatever the backlog (an
#: every-second task writes 86,400 rows a day); the next pass carries on.
TRIM_PER_PASS = 50 * BATCH


@dataclass(frozen=True)
class Pruned:
    runs: int  # deleted (or, in a dry run, that would be)
    runs_kept: int  # old enough, but still read by beat
    audits: int
    changes: int = 0  # schedule changes deleted (or that would be)
    changes_cutoff: dt.datetime | None = None  # the changes made before it were pruned
    trimmed: int = 0  # runs deleted for their task's keep_history (or that would be)
    trim_unfinished: bool = False  # the pass stopped at TRIM_PER_PASS: more may go


def runs_beat_still_reads(tasks: QuerySet[PeriodicTask] | None = None) -> set[int]:
    """The newest run, newest success and newest finished run of each task (of ``tasks``,
    or all), the row of its newest handled event and of its newest successful event.

    The dependency rule reads the first three (the last start, success and finish of
    each task): deleting them would change what a depender waits for. Beat recovers
    a task's last handled event from the newest ``scheduled_for`` in the ledger (skips
    included) when its checkpoint is older; deleting that row would free the slot and
    let the event be handled again. A run's ``previous_scheduled_for`` (its data
    interval) is the newest successful event before its own.
    """
    of_task = TaskRun.objects.filter(periodic_task=OuterRef("pk"))
    runs = of_task.exclude(state__in=NOT_STARTED_STATES)
    finished = runs.filter(finished_at__isnull=False).order_by("-finished_at", "-id")
    handled = of_task.filter(scheduled_for__isnull=False).order_by("-scheduled_for", "-id")
    newest = (tasks if tasks is not None else PeriodicTask._base_manager.all()).annotate(
        started=Subquery(runs.order_by("-claimed_at", "-id").values("id")[:1]),
        succeeded=Subquery(finished.filter(state=RunState.SUCCESS).values("id")[:1]),
        ended=Subquery(finished.filter(state__in=TERMINAL_STATES).values("id")[:1]),
        handled=Subquery(handled.values("id")[:1]),
        good_event=Subquery(handled.filter(state=RunState.SUCCESS).values("id")[:1]),
    )
    columns = newest.values_list("started", "succeeded", "ended", "handled", "good_event")
    return {run_id for row in columns for run_id in row if run_id is not None}


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


def trimmable_runs() -> QuerySet[TaskRun]:
    """The finished runs their task's ``keep_history`` lets go, whatever their age.

    ``failures``: the successes; ``last``: every finished run, except the failures after
    the task's newest success (the alerts count failures in a row back to it). Never an
    active or waiting run, never a run that counts towards max_runs; the caller keeps
    the runs beat still reads.
    """
    newest_success = (
        TaskRun.objects.filter(
            periodic_task=OuterRef("periodic_task"),
            state=RunState.SUCCESS,
            finished_at__isnull=False,
        )
        .order_by("-finished_at", "-id")
        .values("finished_at")[:1]
    )
    failing_now = Q(state__in=FAILED_STATES) & (
        Q(newest_success__isnull=True) | Q(finished_at__gt=F("newest_success"))
    )
    return (
        let_go_by_keep_history().alias(newest_success=Subquery(newest_success)).exclude(failing_now)
    )


def let_go_by_keep_history() -> QuerySet[TaskRun]:
    """The finished runs ``keep_history`` lets go, the failure streak of ``last`` tasks
    aside: what each DELETE of the trim checks again (MariaDB refuses a DELETE whose
    subquery reads the table it deletes from)."""
    counted_towards_max_runs = Q(periodic_task__max_runs__isnull=False) & COUNTS_TOWARDS_MAX_RUNS
    return (
        TaskRun.objects.exclude(state__in=(*ACTIVE_STATES, RunState.WAITING))
        .filter(
            Q(periodic_task__keep_history=KeepHistory.LAST)
            | Q(periodic_task__keep_history=KeepHistory.FAILURES, state=RunState.SUCCESS)
        )
        .exclude(counted_towards_max_runs)
    )


def trim(dry_run: bool = False, limit: int = TRIM_PER_PASS) -> tuple[int, bool]:
    """Delete what ``keep_history`` lets go, looking at ``limit`` runs at most: (deleted,
    whether the pass stopped at the limit)."""
    tasks = PeriodicTask._base_manager.exclude(keep_history=KeepHistory.ALL)
    if not tasks.exists():
        return 0, False
    # A failure in the streak stays in it: the newest success it counts from is kept.
    deleted, kept = delete_in_batches(
        trimmable_runs(), runs_beat_still_reads(tasks), dry_run, limit, let_go_by_keep_history()
    )
    return deleted, deleted + kept >= limit


def delete_in_batches(
    rows: QuerySet[Any],
    keep: Collection[int],
    dry_run: bool,
    limit: int | None = None,
    guard: QuerySet[Any] | None = None,
) -> tuple[int, int]:
    """Delete ``rows`` except the ids in ``keep``, a batch at a time, looking at ``limit``
    rows at most; (deleted, kept). Each DELETE checks the conditions of ``guard`` (by
    default, of ``rows``) again."""
    deleted = kept = 0
    after = 0
    while True:
        size = BATCH if limit is None else min(BATCH, limit - deleted - kept)
        if size <= 0:
            return deleted, kept
        ids = list(rows.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:size])
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
            deleted += (rows if guard is None else guard).filter(pk__in=doomed).delete()[0]


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
    """Delete the runs and audit rows older than ``cutoff``, the runs ``keep_history`` lets
    go and, with ``changes_before``, the schedule changes made before it that beat cannot
    still read."""
    runs, kept = delete_in_batches(old_finished_runs(cutoff), runs_beat_still_reads(), dry_run)
    audits, _ = delete_in_batches(
        UserActionAudit.objects.filter(deleted_at__lt=cutoff), (), dry_run
    )
    trimmed, unfinished = trim(dry_run)
    if changes_before is None:
        return Pruned(runs, kept, audits, trimmed=trimmed, trim_unfinished=unfinished)
    safe = changes_cutoff(changes_before)
    changes, _ = delete_in_batches(old_changes(safe), (), dry_run)
    return Pruned(runs, kept, audits, changes, safe, trimmed, unfinished)
