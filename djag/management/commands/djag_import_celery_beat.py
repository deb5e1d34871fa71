"""djag_import_celery_beat: copy django-celery-beat's periodic tasks into djag."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from djag.models import PeriodicTask, acting_as
from djag.sync.celery_beat import ACTOR, Outcome, import_one


class Command(BaseCommand):
    help = (
        "Import django-celery-beat's periodic tasks (crontab, interval, clocked; solar is "
        "refused) into djag. A task whose name exists in djag is skipped, so a re-run "
        "imports only what is new. Prints each task imported, skipped or refused with the "
        "reason; exits 0 unless --strict and something was refused."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would be imported; write nothing."
        )
        parser.add_argument(
            "--strict",
            action="store_true",
            help="Exit with an error (and import nothing) if any task is refused.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            from django_celery_beat.models import PeriodicTask as BeatTask
        except (ImportError, RuntimeError) as exc:
            raise CommandError(
                "django-celery-beat is not installed (or not in INSTALLED_APPS): "
                "pip install django-celery-beat, and add 'django_celery_beat' to "
                "INSTALLED_APPS while you import."
            ) from exc
        dry_run, strict = options["dry_run"], options["strict"]
        now = timezone.now()
        outcomes: list[Outcome] = []
        beat_tasks = BeatTask.objects.select_related(
            "crontab", "interval", "clocked", "solar"
        ).order_by("name")
        with transaction.atomic(), acting_as(ACTOR):
            existing = set(PeriodicTask.objects.values_list("name", flat=True))
            for beat_task in beat_tasks:
                outcomes.append(import_one(beat_task, existing, now))
            refused = [o for o in outcomes if o.status == "refused"]
            if dry_run or (strict and refused):
                transaction.set_rollback(True)
        self.report(outcomes, dry_run)
        if strict and refused:
            raise CommandError(f"{len(refused)} task(s) refused (--strict): nothing was imported.")

    def report(self, outcomes: list[Outcome], dry_run: bool) -> None:
        verbs = {"imported": "would import" if dry_run else "imported"}
        for outcome in outcomes:
            verb = verbs.get(outcome.status, outcome.status)
            self.stdout.write(f"{verb} {outcome.name!r}: {outcome.detail}")
        counts = dict.fromkeys(("imported", "skipped", "refused"), 0)
        for outcome in outcomes:
            counts[outcome.status] += 1
        self.stdout.write(
            f"{counts['imported']} {verbs['imported']}, {counts['skipped']} skipped "
            f"(already in djag), {counts['refused']} refused, of {len(outcomes)} "
            "django-celery-beat task(s)."
        )
        if dry_run:
            self.stdout.write("Dry run: nothing was written.")
