"""What the admin's periodic-task actions do, apart from the pages that ask for them.

Each function writes through the ORM (so schedule changes land in ScheduleChange,
attributed to whoever ``acting_as`` names), through ``djag.runs`` (runs asked for,
as from code) or through the ledger's transitions, and returns what it did so the
admin can say so.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from django.db import DatabaseError
from django.db.models import QuerySet

from djag import runs, wakeup
from djag.models import PeriodicTask
from djag.store import ledger

# -- run now -----------------------------------------------------------------------------------


@dataclass
class RunNowResult:
    queued: list[tuple[str, int]] = field(default_factory=list)  # (task name, run id)
    refused: list[str] = field(default_factory=list)  # why, one sentence each: nothing written


def run_now(tasks: QuerySet[PeriodicTask], by: object) -> RunNowResult:
    """A manual run of each task, queued in the ledger for beat to send (``djag.run_now``)."""
    result = RunNowResult()
    for task in tasks.order_by("name"):
        try:
            run = runs.run_now(task, by=by)
        except runs.RunRefused as exc:
            result.refused.append(f"{exc}.")
        except DatabaseError as exc:  # e.g. the task was deleted meanwhile
            result.refused.append(f"{task.name} was not run: it could not be recorded ({exc}).")
        else:
            result.queued.append((task.name, run.pk))
    return result


# -- enable, disable, pause, resume -----------------------------------------------------------


def set_enabled(queryset: QuerySet[PeriodicTask], enabled: bool) -> tuple[int, int]:
    """(changed, already so). Enabling sets ``resume_at`` to now (no backlog)."""
    total = queryset.count()
    changed = queryset.filter(enabled=not enabled).update(enabled=enabled)
    return changed, total - changed


def set_resume_at(queryset: QuerySet[PeriodicTask], when: dt.datetime) -> int:
    """Let no event at or before ``when`` run: a pause until then, or (now) a fresh start."""
    return queryset.update(resume_at=when)


def mark_in_flight_lost(queryset: QuerySet[PeriodicTask]) -> int:
    """Mark the tasks' runs still in flight (claimed, sent, started, retry) lost now.

    What beat does on its own once ``run_timeout_seconds`` have passed: the rows stay
    in the ledger (history and dependencies keep them) and the slots are freed.
    """
    using = queryset.db
    run_ids = ledger.active_run_ids(using, list(queryset.values_list("pk", flat=True)))
    count = ledger.mark_lost(
        using,
        run_ids,
        time.time(),
        "Marked lost by hand in the admin (its worker was known to be gone).",
    )
    if count:
        wakeup.touch_on_commit(using)
    return count
