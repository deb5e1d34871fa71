"""djag_check: schedule data that keeps tasks from running, reported with a fix."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from djag.inspect.check import SECTIONS, check
from djag.management.common import add_now_argument, positive

#: How long ``--workers`` waits for the workers' answers by default.
DEFAULT_WORKERS_TIMEOUT = 2.0


class Command(BaseCommand):
    help = (
        "Check the schedule for what keeps tasks from running, and exit with code 1 if "
        "anything is found: crontabs that cannot fire (that no longer parse, or match no "
        "date), tasks beat reported a problem "
        "with, dependers that can never run (their dependee is disabled, has ended, reached "
        "max_runs or never fires again, or can itself never run) and deadlocked cycles "
        "(tasks that each wait for the next, none with a run in flight) and tasks with a "
        "tripped alert (overdue or failing). With --workers, "
        "also the enabled tasks whose Celery task no running worker has registered. Run it "
        "after deploys or from monitoring."
    )

    def add_arguments(self, parser: Any) -> None:
        add_now_argument(parser, "and check as of then")
        parser.add_argument(
            "--workers",
            nargs="?",
            type=positive,
            const=DEFAULT_WORKERS_TIMEOUT,
            default=None,
            metavar="SECONDS",
            help="Also ask the running workers (inspect registered over the broker, waiting "
            f"SECONDS for answers; {DEFAULT_WORKERS_TIMEOUT:g} when not given) which task "
            "names they know, and flag enabled tasks none of them has registered. No worker "
            "answering is a warning, not a problem.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = check(options["now"] or timezone.now(), workers_timeout=options["workers"])
        for warning in report.warnings:
            self.stderr.write(self.style.WARNING(f"Warning: {warning}"))
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
