"""djag_prune: delete old run history, user action audit rows and schedule changes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from djag import conf
from djag.management.common import add_now_argument, non_negative
from djag.store.retention import prune
from djag.text import utc_text


class Command(BaseCommand):
    help = (
        "Delete run history (TaskRun rows) that finished or was skipped more than DAYS days "
        "ago, and user action audit rows deleted more than DAYS days ago. Active runs "
        "(claimed, sent, started, retry) are never deleted, nor the runs beat still reads: "
        "each task's newest run, newest success and newest finished run (the dependency "
        "rule uses them), and the runs that count towards a task's max_runs. Tasks whose "
        "keep_history is 'failures' or 'last' lose their successes, or all but their last "
        "runs, whatever their age (at most 100,000 runs looked at per pass). With "
        "--changes-older-than (or DJAG_CHANGE_RETENTION_DAYS), also the schedule change log "
        "(ScheduleChange) older than that, never a change beat may not have read yet."
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
            "--changes-older-than",
            type=non_negative,
            default=None,
            metavar="DAYS",
            help="Also delete schedule changes (the ScheduleChange log) made more than DAYS "
            "days ago, never one beat may not have read: the newest, those of the last 5 "
            "minutes, and those since 5 minutes before beat's last tick. Default: "
            "DJAG_CHANGE_RETENTION_DAYS (unset: keep every change).",
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
        cutoff = _before(now, days, "--older-than")
        change_days = options["changes_older_than"]
        if change_days is None:
            change_days = conf.get().change_retention_days
        changes_before = (
            None if change_days is None else _before(now, change_days, "--changes-older-than")
        )
        dry_run = options["dry_run"]
        result = prune(cutoff, dry_run=dry_run, changes_before=changes_before)
        verb = "Would delete" if dry_run else "Deleted"
        kept = f" (kept {result.runs_kept} that beat still reads)" if result.runs_kept else ""
        self.stdout.write(
            f"{verb} {result.runs} runs finished before {utc_text(cutoff)}{kept}.\n"
            f"{verb} {result.audits} user action audit rows deleted before {utc_text(cutoff)}."
        )
        if result.trimmed or result.trim_unfinished:
            more = " (this pass stopped at its limit: run again for the rest)"
            self.stdout.write(
                f"{verb} {result.trimmed} runs that their task's keep_history lets go"
                f"{more if result.trim_unfinished else ''}."
            )
        if result.changes_cutoff is not None:
            self.stdout.write(
                f"{verb} {result.changes} schedule changes made before "
                f"{utc_text(result.changes_cutoff)}."
            )
        if dry_run:
            self.stdout.write("Dry run: nothing was deleted.")


def _before(now: dt.datetime, days: float, option: str) -> dt.datetime:
    """``days`` days before ``now``; a clear error when that is before the year 1."""
    try:
        return now - dt.timedelta(days=days)
    except OverflowError:
        raise CommandError(
            f"{option} {days:g} days reaches before the year 1; give a number of "
            f"days up to {(now - now.replace(year=1, month=1, day=1)).days}."
        ) from None
