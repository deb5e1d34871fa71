"""djag_plan: when each enabled task fires in the coming hours, in its zone and in UTC."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from djag.inspect.plan import UnknownTasks, as_json, as_text, task_plans
from djag.management.common import add_now_argument


class Command(BaseCommand):
    help = (
        "List when each enabled task fires in the next HOURS hours, in the crontab's time zone "
        "and in UTC, dependees before their dependers. Start and end times, a pause "
        "(resume time) and the runs max_runs has left are taken into account; dependencies "
        "and the misfire policy, which may delay or merge runs, are not."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--hours",
            type=float,
            default=24.0,
            help="How far ahead to look, in hours (default 24).",
        )
        parser.add_argument(
            "--task",
            action="append",
            default=[],
            metavar="NAME",
            help="Only this task (by name); repeat for several. A disabled task named here "
            "is listed as disabled.",
        )
        parser.add_argument(
            "--limit",
            type=int,
            default=20,
            help="At most this many fire times per task (default 20); the rest are counted.",
        )
        parser.add_argument(
            "--format", choices=("text", "json"), default="text", help="text (default) or json."
        )
        add_now_argument(parser, "and plan from then")

    def handle(self, *args: Any, **options: Any) -> None:
        hours, limit = options["hours"], options["limit"]
        if not 0 < hours <= 24 * 366:
            raise CommandError(
                f"--hours must be more than 0 and at most 8784 (a year), not {hours:g}."
            )
        if limit < 1:
            raise CommandError(f"--limit must be at least 1, not {limit}.")
        start = options["now"] or timezone.now()
        until = start + dt.timedelta(hours=hours)
        try:
            plans = task_plans(options["task"], start, until, limit)
        except UnknownTasks as exc:
            raise CommandError(str(exc)) from None
        if options["format"] == "json":
            self.stdout.write(json.dumps(as_json(plans, start, until), indent=2))
        else:
            self.stdout.write(as_text(plans, start, until, hours, limit))
