"""djag_run: a run now (of a periodic task), or a one-off of a Celery task, now or later."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from djag import runs
from djag.inspect.registry import registered_task_names
from djag.management.common import command_actor, json_of, moment, non_negative
from djag.models import PeriodicTask
from djag.text import utc_text

#: The options that only a one-off takes, by their destination.
ONE_OFF_OPTIONS = {
    "at": "--at",
    "delay": "--in",
    "task_args": "--args",
    "task_kwargs": "--kwargs",
    "routing": "--options",
}


class Command(BaseCommand):
    help = (
        "Run a periodic task now (by its name: with its own arguments and routing, as the "
        "admin's Run now does), or a Celery task once (by its registered name), now, at a "
        "time or after a delay. The run waits in the ledger; beat sends it at or after its "
        "time. Prints the run's id. Exit status: 0 queued, 1 refused, 2 usage error."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "name", metavar="NAME_OR_TASK", help="A periodic task's name, or a Celery task's."
        )
        when = parser.add_mutually_exclusive_group()
        when.add_argument(
            "--at",
            type=moment,
            metavar="WHEN",
            help="Not before WHEN (ISO 8601; without an offset, in TIME_ZONE). One-offs only.",
        )
        when.add_argument(
            "--in",
            dest="delay",
            type=non_negative,
            metavar="SECONDS",
            help="Not before SECONDS from now. One-offs only.",
        )
        parser.add_argument(
            "--args", dest="task_args", type=json_of(list), metavar="JSON", help="A JSON list."
        )
        parser.add_argument(
            "--kwargs",
            dest="task_kwargs",
            type=json_of(dict),
            metavar="JSON",
            help="A JSON object.",
        )
        parser.add_argument(
            "--options",
            dest="routing",
            type=json_of(dict),
            metavar="JSON",
            help='Routing options, e.g. {"queue": "reports", "priority": 5}. One-offs only.',
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"]
        task = PeriodicTask.objects.filter(name=name).first()
        try:
            if task is not None:
                given = [flag for key, flag in ONE_OFF_OPTIONS.items() if options[key] is not None]
                if given:
                    raise CommandError(
                        f"{name!r} is a periodic task: it runs now, with its own arguments and "
                        f"routing. {', '.join(given)} are for a one-off of a Celery task: give "
                        f"the task's registered name ({task.task!r}) instead."
                    )
                run = runs.run_now(task, by=command_actor("djag_run"))
                what = f"a manual run of {name}, now"
            else:
                self._warn_if_unknown(name)
                run = runs.enqueue(
                    name,
                    options["task_args"] or [],
                    options["task_kwargs"] or {},
                    at=options["at"],
                    delay=options["delay"],
                    options=options["routing"] or {},
                    by=command_actor("djag_run"),
                )
                when = "now" if run.scheduled_for is None else f"at {utc_text(run.scheduled_for)}"
                what = f"a one-off of the Celery task {name}, {when}"
        except runs.RunRefused as exc:
            raise CommandError(f"Refused: {exc}.") from None
        self.stdout.write(
            f"Queued run {run.pk}: {what} (Celery task id {run.celery_task_id}). "
            "Beat sends it at or after its time."
        )

    def _warn_if_unknown(self, name: str) -> None:
        if name not in registered_task_names():
            self.stderr.write(
                f"Warning: no periodic task is named {name!r}, and no Celery task of that "
                "name is registered in this process; queuing a one-off of it anyway (a worker "
                "that does not know it fails the run)."
            )
