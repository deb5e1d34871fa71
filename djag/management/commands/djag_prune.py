"""djag_prune: delete old run history and user action audit rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand
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
