"""The run ledger's state machine: every write of a TaskRun's state happens here.

A run is claimed (inserted, or recorded as skipped) by beat or a manual run,
published and marked ``sent``, moved by the worker's signals through
``started`` to a terminal state, or marked ``lost`` when it outlives its
timeout. Each move is one UPDATE guarded by the states it may come from
(:data:`ENTERED_FROM`), so a late or repeated signal never moves a run
backwards, and a run that finished is never made active again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import partial
from typing import Any

from django.db import connections, transaction
from django.db.models.constants import OnConflict

from djag.core.batches import chunks
from djag.core.vocab import ACTIVE_STATES, RunState
from djag.models import TaskRun
from djag.models.run import ERROR_MAX_CHARS, NOTE_MAX_CHARS
from djag.store.db import from_epoch, retry_deadlocks
from djag.store.rows import ClaimedRun, NewRun

#: The states a run may enter each state from.
ENTERED_FROM: dict[RunState, tuple[RunState, ...]] = {
    # Only from "claimed": a fast worker may already have marked the run started.
    RunState.SENT: (RunState.CLAIMED,),
    RunState.STARTED: (RunState.CLAIMED, RunState.SENT, RunState.RETRY),
    RunState.RETRY: ACTIVE_STATES,
    RunState.SUCCESS: ACTIVE_STATES,
    RunState.FAILURE: ACTIVE_STATES,
    RunState.REVOKED: ACTIVE_STATES,
    RunState.LOST: ACTIVE_STATES,
}

LOST_AFTER_TIMEOUT = "No result before the run timeout: marked lost (worker gone?)."

#: The ledger columns a claim writes, in the order of the rows ``claim`` builds.
#: The others are nullable; the model's defaults are not the database's, so every
#: column that is not must be here.
CLAIM_FIELDS = (
    "periodic_task",
    "task_name",
    "task",
    "scheduled_for",
    "trigger",
    "state",
    "celery_task_id",
    "claimed_at",
    "finished_at",
    "coalesced_count",
    "worker",
    "error",
    "delay_seconds",
    "note",
)
_CELERY_ID = CLAIM_FIELDS.index("celery_task_id")


def move(using: str, run_ids: Sequence[int], state: RunState, **fields: Any) -> int:
    """Move the runs that may enter ``state`` into it; return how many moved."""
    moved = 0
    for chunk in chunks(run_ids):
        rows = TaskRun.objects.using(using).filter(id__in=chunk, state__in=ENTERED_FROM[state])
        moved += retry_deadlocks(partial(rows.update, state=state, **fields), using)
    return moved


def mark_sent(using: str, run_ids: Sequence[int], now: float) -> int:
    return move(using, run_ids, RunState.SENT, sent_at=from_epoch(now))


def mark_started(using: str, run_id: int, now: float, worker: str) -> int:
    return move(using, [run_id], RunState.STARTED, started_at=from_epoch(now), worker=worker)


def mark_retry(using: str, run_id: int, reason: str) -> int:
    return move(using, [run_id], RunState.RETRY, error=reason[:ERROR_MAX_CHARS])


def mark_finished(
    using: str, run_ids: Sequence[int], state: RunState, now: float, error: str = ""
) -> int:
    """A terminal state: success, failure, revoked or lost, with the error if any."""
    if state not in (RunState.SUCCESS, RunState.FAILURE, RunState.REVOKED, RunState.LOST):
        raise ValueError(f"{state} is not a terminal state")
    return move(using, run_ids, state, finished_at=from_epoch(now), error=error[:ERROR_MAX_CHARS])


def mark_lost(using: str, run_ids: Sequence[int], now: float, why: str = LOST_AFTER_TIMEOUT) -> int:
    return mark_finished(using, run_ids, RunState.LOST, now, why)


def active_run_ids(using: str, task_ids: Sequence[int]) -> list[int]:
    rows = TaskRun.objects.using(using).filter(
        periodic_task_id__in=list(task_ids), state__in=ACTIVE_STATES
    )
    return list(rows.values_list("id", flat=True))


def claim(using: str, new_runs: Sequence[NewRun], now: float) -> list[ClaimedRun]:
    """Insert ledger rows; return the runs this process won, in claim order.

    The unique slot (task, scheduled_for) lets exactly one claimer insert a
    slot: rows another beat inserted first are silently left out, and each
    row is recognised as ours by the Celery task id generated for it here.
    """
    if not new_runs:
        return []
    claimed_at = from_epoch(now)
    rows = [
        (
            run.task_id,
            run.task_name[:200],
            run.task[:200],
            None if run.scheduled_for is None else from_epoch(run.scheduled_for),
            run.trigger,
            RunState.SKIPPED if run.skipped else RunState.CLAIMED,
            "" if run.skipped else str(uuid.uuid4()),
            claimed_at,
            claimed_at if run.skipped else None,
            run.coalesced_count,
            "",
            "",
            run.delay,
            run.note[:NOTE_MAX_CHARS],
        )
        for run in new_runs
    ]
    _insert_runs(using, rows)
    mine = [row[_CELERY_ID] for row in rows if row[_CELERY_ID]]
    won: list[ClaimedRun] = []
    for chunk in chunks(mine):
        won.extend(
            ClaimedRun(run_id, task_id, celery_id, now)
            for run_id, task_id, celery_id in TaskRun.objects.using(using)
            .filter(celery_task_id__in=chunk)
            .order_by("id")
            .values_list("id", "periodic_task_id", "celery_task_id")
        )
    return won


def _insert_runs(using: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """``bulk_create(ignore_conflicts=True)`` for ``CLAIM_FIELDS`` rows, without models.

    Building and preparing a model instance per row was most of the cost of
    claiming a burst of runs; the statement is the one Django writes.
    """
    connection = connections[using]
    ops = connection.ops
    by_name = {field.name: field for field in TaskRun._meta.concrete_fields}
    columns = [by_name[name] for name in CLAIM_FIELDS]
    datetimes = [
        i for i, field in enumerate(columns) if field.get_internal_type() == "DateTimeField"
    ]
    sql = " ".join(
        part
        for part in (
            ops.insert_statement(on_conflict=OnConflict.IGNORE),
            ops.quote_name(TaskRun._meta.db_table),
            f"({', '.join(ops.quote_name(field.column) for field in columns)})",
            f"VALUES ({', '.join(['%s'] * len(columns))})",
            ops.on_conflict_suffix_sql(columns, OnConflict.IGNORE, None, None),
        )
        if part
    )
    adapt = ops.adapt_datetimefield_value
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for chunk in chunks(rows):
            params = []
            for row in chunk:
                values = list(row)
                for i in datetimes:
                    values[i] = adapt(values[i])
                params.append(values)
            cursor.executemany(sql, params)
