"""Load the demo schedules (idempotent: running it twice changes nothing)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from djag.models import Crontab, PeriodicTask, TaskDependency, acting_as

EVERY_MINUTE: dict[str, Any] = {"second": "0", "minute": "*", "hour": "*"}
EVERY_5_SECONDS: dict[str, Any] = {"second": "*/5", "minute": "*", "hour": "*"}
WEEKDAYS_6AM_PARIS: dict[str, Any] = {
    "second": "0",
    "minute": "0",
    "hour": "6",
    "day_of_week": "1-5",
    "timezone": "Europe/Paris",
}

TASKS = [
    ("import sales", "demo.import_sales", EVERY_MINUTE, {"source": "shop"}),
    ("build report", "demo.build_report", EVERY_MINUTE, {"kind": "minutely"}),
    ("email report", "demo.email_report", EVERY_MINUTE, {"to": "team@example.com"}),
    ("send queued mail", "demo.send_queued_mail", EVERY_5_SECONDS, {"batch": 50}),
    ("morning report", "demo.build_report", WEEKDAYS_6AM_PARIS, {"kind": "morning"}),
]

# (depender, dependee): the depender runs after the dependee succeeded.
EDGES = [("build report", "import sales"), ("email report", "build report")]


class Command(BaseCommand):
    help = "Load the sample site's demo schedules: a three-task chain and a fast mail task."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic(), acting_as("load_demo"):
            tasks = {}
            for name, task, cron_fields, kwargs in TASKS:
                crontab, _ = Crontab.objects.get_or_create(**cron_fields)
                tasks[name], created = PeriodicTask.objects.get_or_create(
                    name=name,
                    defaults={"task": task, "crontab": crontab, "kwargs": kwargs},
                )
                self.stdout.write(f"{'created' if created else 'kept'} task {name!r}")
            for depender, dependee in EDGES:
                TaskDependency.objects.get_or_create(
                    depender=tasks[depender], dependee=tasks[dependee]
                )
        self.stdout.write(self.style.SUCCESS("Demo schedules loaded."))
