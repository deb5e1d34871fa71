"""What the admin's periodic-task actions do, apart from the pages that ask for them.

Each function writes through the ORM (so schedule changes land in ScheduleChange,
attributed to whoever ``acting_as`` names) or through ``Store`` (the ledger writes
beat itself uses), and returns what it did so the admin can say so.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from celery import current_app
from django.db import DatabaseError
from django.db.models import QuerySet

from djag import wakeup
from djag.core.message import message_options
from djag.core.vocab import RunState, Trigger
from djag.models import PeriodicTask
from djag.models.run import ERROR_MAX_CHARS
from djag.store import ledger
from djag.store.door import Store
from djag.store.rows import NewRun

# -- run now -----------------------------------------------------------------------------------


@dataclass
class RunNowResult:
    sent: list[tuple[str, int]] = field(default_factory=list)  # (task name, run id)
    failed: list[tuple[str, int, str]] = field(default_factory=list)  # (name, run id, error)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (name, why): nothing claimed


def run_now(task_ids: Sequence[int], store: Store | None = None) -> RunNowResult:
    """Claim a manual run of each task, publish it like beat does, mark it sent.

    A manual run ignores dependencies, ``max_running`` and the task's enabled flag (it
    was asked for explicitly), but it holds a ``max_running`` slot while it is active and
    does not count towards ``max_runs``. A publish that fails marks the run failed with
    the error. The row is committed before its message goes out, so a fast worker finds it.
    """
    store = store or Store()
    result = RunNowResult()
    rows = sorted(store.load_tasks(list(task_ids)), key=lambda row: row.name)
    for row in rows:
        if row.problem:
            result.refused.append((row.name, row.problem))
            continue
        try:
            won = store.claim(
                [NewRun(row.id, row.name, row.task, None, Trigger.MANUAL)], time.time()
            )
        except DatabaseError as exc:  # e.g. the task was deleted meanwhile
            result.refused.append((row.name, f"the run could not be recorded ({exc})"))
            continue
        if not won:
            result.refused.append((row.name, "the run could not be recorded"))
            continue
        [claimed] = won
        try:
            current_app.send_task(
                row.task,
                args=row.args,
                kwargs=row.kwargs,
                task_id=claimed.celery_task_id,
                **message_options(row.options, claimed.id),
            )
        except Exception as exc:  # any broker error: the page must say it, never a 500
            error = f"{type(exc).__name__}: {exc}".strip()[:ERROR_MAX_CHARS]
            ledger.mark_finished(
                store.using,
                [claimed.id],
                RunState.FAILURE,
                time.time(),
                f"Could not publish: {error}",
            )
            result.failed.append((row.name, claimed.id, error))
        else:
            store.mark_sent([claimed.id], time.time())
            result.sent.append((row.name, claimed.id))
    if result.sent or result.failed:
        wakeup.touch_on_commit(store.using)  # beat counts the new active run at once
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
