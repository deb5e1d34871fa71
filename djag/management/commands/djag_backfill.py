"""djag_backfill: one run per event of a periodic task's schedule in a past range."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from djag import runs
from djag.core.requested import BACKFILL_LIMIT
from djag.management.common import command_actor, moment
from djag.text import utc_text


class Command(BaseCommand):
    help = (
        "Queue one run of the periodic task NAME per event of its schedule from START to END "
        "(both included, END not in the future), oldest first, each with its own "
        "scheduled_for. Events that have a ledger row already (they ran, failed, were "
        "skipped or wait) are left as they are. The runs go one after the other as the "
        f"task's max_running and dependencies allow. At most {BACKFILL_LIMIT} events: a "
        "longer range is refused. Exit status: 0 queued, 1 refused, 2 usage error."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name", metavar="NAME", help="The periodic task's name.")
        parser.add_argument(
            "--start",
            type=moment,
            required=True,
            metavar="WHEN",
            help="The first instant of the range (ISO 8601; without an offset, in TIME_ZONE).",
        )
        parser.add_argument(
            "--end", type=moment, required=True, metavar="WHEN", help="The last instant."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List the events; queue nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name, start, end = options["name"], options["start"], options["end"]
        try:
            plan = runs.plan_backfill(name, start, end)
            queued = (
                []
                if options["dry_run"]
                else runs.backfill(plan.task, start, end, by=command_actor("djag_backfill"))
            )
        except runs.RunRefused as exc:
            raise CommandError(f"Refused: {exc}.") from None
        span = f"from {utc_text(start)} to {utc_text(end)}"
        if not plan.events:
            self.stdout.write(f"{name} has no event {span}: nothing to backfill.")
            return
        left = len(plan.in_ledger)
        kept = (
            f" {left} of its {len(plan.events)} events have a ledger row already and are "
            "left as they are."
            if left
            else ""
        )
        if options["dry_run"]:
            self.stdout.write(f"Would queue {len(plan.new)} runs of {name} {span}.{kept}")
            in_ledger = set(plan.in_ledger)
            for event in plan.events:
                note = "  (in the ledger: left)" if event in in_ledger else ""
                self.stdout.write(f"  {utc_text(event)}{note}")
            self.stdout.write("Dry run: nothing was queued.")
            return
        ids = f" (runs {queued[0].pk} to {queued[-1].pk})" if queued else ""
        self.stdout.write(
            f"Queued {len(queued)} runs of {name} {span}{ids}, oldest event first; beat sends "
            f"them as the task's max_running and dependencies allow.{kept}"
        )
