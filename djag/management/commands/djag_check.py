"""djag_check: schedule data that keeps tasks from running, reported with a fix."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from djag.inspect.check import SECTIONS, check
from djag.management.common import add_now_argument


class Command(BaseCommand):
    help = (
        "Check the schedule for what keeps tasks from running, and exit with code 1 if "
        "anything is found: crontabs that no longer parse, tasks beat reported a problem "
        "with, dependers that can never run (their dependee is disabled, has ended, reached "
        "max_runs or never fires again, or can itself never run) and deadlocked cycles "
        "(tasks that each wait for the next, none with a run in flight). Run it after "
        "deploys or from monitoring."
    )

    def add_arguments(self, parser: Any) -> None:
        add_now_argument(parser, "and check as of then")

    def handle(self, *args: Any, **options: Any) -> None:
        report = check(options["now"] or timezone.now())
        for attribute, title in SECTIONS:
            items = getattr(report, attribute)
            if items:
                self.stdout.write(f"{title}:")
                self.stdout.write("\n".join(f"  {item}" for item in items))
                self.stdout.write("")
        if report.count:
            raise CommandError(
                f"{report.count} problem{'s' if report.count != 1 else ''} found "
                f"({report.checked})."
            )
        self.stdout.write(self.style.SUCCESS(f"No problems: {report.checked}."))
