"""djag_prune: delete old run history and user action audit rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.core.management.base import BaseCommand
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from djag import conf
from djag.management.common import add_now_argument, non_negative, utc_text
from djag.models import (
    ACTIVE_STATES,
    TERMINAL_STATES,
    PeriodicTask,
    RunState,
    TaskRun,
    Trigger,
    UserActionAudit,
)

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
    runs = of_task.exclude(state=RunState.SKIPPED)
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
    """Runs that finished (or were skipped) before ``cutoff``; never an active one.

    The runs of a task with max_runs that count towards it are left: the count is
    taken from the ledger. They are at most max_runs rows.
    """
    counted_towards_max_runs = (
        Q(periodic_task__max_runs__isnull=False)
        & ~Q(trigger=Trigger.MANUAL)
        & ~Q(state=RunState.SKIPPED)
    )
    return (
        TaskRun.objects.exclude(state__in=ACTIVE_STATES)
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


class Command(BaseCommand):
    help = (
        "Delete run history (TaskRun rows) that finished or was skipped more than DAYS days "
        "ago, and user action audit rows deleted more than DAYS days ago. Active runs "
        "(claimed, sent, started, retry) are never deleted, nor the runs beat still reads: "
        "each task's newest run, newest success and newest finished run (the dependency "
        "rule uses them), and the runs that count towards a task's max_runs."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--older-than",
            type=non_negative,
            default=None,
            metavar="DAYS",
            help="Age in days (decimals allowed). Default: DJAG_RUN_RETENTION_DAYS "
            f"({conf.DEFAULTS['DJAG_RUN_RETENTION_DAYS']} unless set).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )
        add_now_argument(parser, "and count the age from then")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["older_than"]
        if days is None:
            days = conf.get().run_retention_days
        now = options["now"] or timezone.now()
        cutoff = now - dt.timedelta(days=days)
        dry_run = options["dry_run"]
        result = prune(cutoff, dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        kept = f" (kept {result.runs_kept} that beat still reads)" if result.runs_kept else ""
        self.stdout.write(
            f"{verb} {result.runs} runs finished before {utc_text(cutoff)}{kept}.\n"
            f"{verb} {result.audits} user action audit rows deleted before {utc_text(cutoff)}."
        )
        if dry_run:
            self.stdout.write("Dry run: nothing was deleted.")
