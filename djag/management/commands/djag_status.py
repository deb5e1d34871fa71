"""djag_status: who leads beat, how fresh its lease is, and what needs attention."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from djag import conf
from djag.inspect.health import NOT_ALIVE, as_json, as_text, liveness_failure, read_status
from djag.management.common import add_now_argument, non_negative


class Command(BaseCommand):
    help = (
        "Show which beat process leads (the SchedulerLease holder and generation), when it "
        "last ticked successfully and renewed its lease (the tick is recorded at each "
        "renewal, every third of DJAG_LEASE_SECONDS), runs claimed but not yet sent, runs "
        "lost in the last hour, tasks beat reports a problem with and tasks with a "
        "tripped alert. With --max-lag it is a "
        "liveness probe: exit code 3 when no beat leads, or the leader has not renewed its "
        "lease or not ticked successfully (loaded its schedule and done what was due) for "
        "more than SECONDS."
    )
    # A probe measures beat, not the project's configuration: skip the system checks.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--max-lag",
            type=non_negative,
            default=None,
            metavar="SECONDS",
            help="Exit with code 3 when no beat leads or the leader's last renewal or last "
            "successful tick is older than SECONDS. It must be at least a third of "
            "DJAG_LEASE_SECONDS (the renewal interval); give it a few times that, e.g. 30 "
            "with the default 10 s lease.",
        )
        parser.add_argument(
            "--format", choices=("text", "json"), default="text", help="text (default) or json."
        )
        add_now_argument(parser, "and measure ages from then")

    def handle(self, *args: Any, **options: Any) -> None:
        max_lag = options["max_lag"]
        lease_seconds = conf.get().lease_seconds
        if max_lag is not None and max_lag < lease_seconds / 3:
            raise CommandError(
                f"--max-lag {max_lag:g} is shorter than the lease renewal interval "
                f"({lease_seconds / 3:.1f} s, a third of DJAG_LEASE_SECONDS): a healthy leader "
                f"would fail it. Give a few times that, e.g. {lease_seconds * 3:g}."
            )
        status = read_status(options["now"] or timezone.now())
        if options["format"] == "json":
            document = as_json(status)
            if max_lag is not None:
                document["alive"] = liveness_failure(status, max_lag) is None
            self.stdout.write(json.dumps(document, indent=2))
        else:
            self.stdout.write(as_text(status))
        if max_lag is not None:
            failure = liveness_failure(status, max_lag)
            if failure is not None:
                raise CommandError(f"djag beat is not alive: {failure}.", returncode=NOT_ALIVE)
            if options["format"] == "text":
                alive = f"Alive: the leader renewed and ticked within {max_lag:g} s."
                self.stdout.write(self.style.SUCCESS(alive))
