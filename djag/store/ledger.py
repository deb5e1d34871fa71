"""The run ledger's state machine: every write of a TaskRun's state happens here.

A run is claimed by beat: inserted for an event of the schedule (or recorded as
skipped), or moved from ``waiting`` when it was asked for outside the schedule
(a one-off, a manual run, a backfilled event: :func:`request`; called off
while waiting with :func:`cancel`). A claimed run is published and marked
``sent``, moved by the worker's signals through ``started`` to a terminal
state, or marked ``lost`` when it outlives its timeout. Each move is one
UPDATE guarded by the states it may come from (:data:`ENTERED_FROM`), so a
late or repeated signal never moves a run backwards, and a run that finished
is never made active again.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from functools import partial
from typing import Any

from django.db import connections, transaction
from django.db.models.constants import OnConflict
from uuid6 import uuid7

from djag.core.batches import CHUNK, chunks
from djag.core.vocab import ACTIVE_STATES, RunState
from djag.models import ScheduleChange, TaskRun
from djag.models.run import ERROR_MAX_CHARS, NOTE_MAX_CHARS
from djag.store.db import from_epoch, retry_deadlocks
from djag.store.lease import fenced
from djag.store.rows import ClaimedRun, Fence, NewRun, RunRequest

#: The states a run may enter each state from.
ENTERED_FROM: dict[RunState, tuple[RunState, ...]] = {
    RunState.CLAIMED: (RunState.WAITING,),
    RunState.CANCELLED: (RunState.WAITING,),
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
    "requested_by",
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


def new_celery_task_id() -> str:
    """The Celery task id of a new run: a UUID of version 7 (RFC 9562), its time first.

    Any unique string would do for Celery; time-ordered ids make the ledger's
    ``celery_task_id`` index grow at its end, where random (version 4) ids
    touched a random page of it per inserted run: at 100,000 runs claimed at
    once on SQLite that was a quarter of the claims' time, and the part of a
    burst that grew faster than the burst.
    """
    return str(uuid7())


def claim(
    using: str, new_runs: Sequence[NewRun], now: float, fence: Fence | None = None
) -> list[ClaimedRun]:
    """Insert ledger rows; return the runs this process won, in claim order.

    With a ``fence`` (beat's claims), the lease row must still name its holder and
    generation, checked in the transaction of the inserts: a leader deposed while it
    was frozen or cut off inserts nothing and gets ``djag.store.lease.Deposed``. The
    unique slot (task, scheduled_for) is the second guard: exactly one claimer
    inserts a slot, rows another beat inserted first are silently left out, and each
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
            "" if run.skipped else new_celery_task_id(),
            claimed_at,
            claimed_at if run.skipped else None,
            run.coalesced_count,
            "",
            "",
            "",
            run.delay,
            run.note[:NOTE_MAX_CHARS],
        )
        for run in new_runs
    ]
    return _insert_runs(using, rows, fence, now)


def _insert_runs(
    using: str, rows: Sequence[tuple[Any, ...]], fence: Fence | None, now: float
) -> list[ClaimedRun]:
    """``bulk_create(ignore_conflicts=True)`` of ``CLAIM_FIELDS`` rows, without models; the
    runs inserted (skip records left out: they are never published), in id order.

    Many rows a statement (``INSERT ... VALUES (...), (...) ON CONFLICT DO
    NOTHING``; on PostgreSQL ``INSERT ... SELECT * FROM UNNEST(column arrays)``,
    as ``bulk_create`` does: one parameter per column, whatever the rows), each
    statement returning the rows it inserted where the database can
    (PostgreSQL, SQLite 3.35+: ``RETURNING``); elsewhere (MariaDB) the rows won
    are read back by the Celery task ids generated for them. Building a model
    instance per row, or a statement per row, was most of the cost of claiming
    a burst.
    """
    connection = connections[using]
    ops = connection.ops
    by_name = {field.name: field for field in TaskRun._meta.concrete_fields}
    columns = [by_name[name] for name in CLAIM_FIELDS]
    datetimes = [
        i for i, field in enumerate(columns) if field.get_internal_type() == "DateTimeField"
    ]
    returning = connection.vendor in ("postgresql", "sqlite") and bool(
        connection.features.can_return_rows_from_bulk_insert
    )
    head = " ".join(
        part
        for part in (
            ops.insert_statement(on_conflict=OnConflict.IGNORE),
            ops.quote_name(TaskRun._meta.db_table),
            f"({', '.join(ops.quote_name(field.column) for field in columns)})",
        )
        if part
    )
    tail = ops.on_conflict_suffix_sql(columns, OnConflict.IGNORE, None, None) or ""
    if returning:
        names = ("id", "periodic_task_id", "celery_task_id")
        tail += " RETURNING " + ", ".join(ops.quote_name(name) for name in names)
    one_row = f"({', '.join(['%s'] * len(columns))})"
    # Without the length of varchar(n): a longer value fails at the insert, not the cast.
    arrays = ", ".join(
        f"(%s)::{str(field.db_type(connection)).split('(')[0]}[]" for field in columns
    )
    unnest = connection.vendor == "postgresql"
    adapt = ops.adapt_datetimefield_value
    found: list[tuple[int, int | None, str]] = []
    with fenced(using, fence), connection.cursor() as cursor:
        per_statement = CHUNK if unnest else _rows_per_statement(using, len(columns))
        for chunk in chunks(rows, per_statement):
            adapted = []
            for row in chunk:
                values = list(row)
                for i in datetimes:
                    values[i] = adapt(values[i])
                adapted.append(values)
            if unnest:
                sql = f"{head} SELECT * FROM UNNEST({arrays}) {tail}"
                params = [list(column) for column in zip(*adapted, strict=True)]
            else:
                sql = f"{head} VALUES {', '.join([one_row] * len(chunk))} {tail}"
                params = [value for values in adapted for value in values]
            cursor.execute(sql, params)
            if returning:
                found.extend(cursor.fetchall())
    if not returning:
        mine = [row[_CELERY_ID] for row in rows if row[_CELERY_ID]]
        for chunk in chunks(mine):
            found.extend(
                TaskRun.objects.using(using)
                .filter(celery_task_id__in=chunk)
                .values_list("id", "periodic_task_id", "celery_task_id")
            )
    return [
        ClaimedRun(run_id, task_id, celery_id, now)
        for run_id, task_id, celery_id in sorted(found)
        if celery_id
    ]


def _rows_per_statement(using: str, columns: int) -> int:
    """At most 1,000 rows a statement, within the backend's limit on bound parameters."""
    connection = connections[using]
    limit = connection.features.max_query_params
    if connection.vendor == "sqlite":  # Django assumes 999; the library knows (32,766 since 3.32)
        limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return max(1, min(1000, (limit or 65535) // columns))


# -- runs asked for outside the schedule ----------------------------------------------------


def request(using: str, requests: Sequence[RunRequest], by: str, now: float) -> list[int]:
    """Write waiting runs and their audit rows; return the ids written, in order.

    A backfilled event whose slot (task, scheduled_for) another writer took
    meanwhile is left out, as in :func:`claim`. Each row gets its Celery task id
    now, so the caller can follow the run before it is sent.
    """
    written_at = from_epoch(now)
    rows = [
        TaskRun(
            periodic_task_id=asked.task_id,
            task_name=asked.task_name[:200],
            task=asked.task[:200],
            scheduled_for=None if asked.scheduled_for is None else from_epoch(asked.scheduled_for),
            trigger=asked.trigger,
            state=RunState.WAITING,
            celery_task_id=new_celery_task_id(),
            claimed_at=written_at,
            not_before=from_epoch(asked.not_before),
            requested_by=by[:150],
            args=None if asked.message is None else asked.message[0],
            kwargs=None if asked.message is None else asked.message[1],
            options=None if asked.message is None else asked.message[2],
        )
        for asked in requests
    ]
    # Only a slot can conflict; elsewhere an error must not be ignored (SQLite's
    # INSERT OR IGNORE would drop a row that breaks any constraint, silently).
    slots = any(asked.task_id is not None and asked.scheduled_for for asked in requests)
    with transaction.atomic(using=using):
        TaskRun.objects.using(using).bulk_create(rows, ignore_conflicts=slots)
        written: list[tuple[int, str, str, Any, Any]] = []
        for chunk in chunks([row.celery_task_id for row in rows]):
            written.extend(
                TaskRun.objects.using(using)
                .filter(celery_task_id__in=chunk)
                .values_list("id", "task_name", "trigger", "scheduled_for", "not_before")
            )
        written.sort()
        _audit(
            using,
            by,
            now,
            [
                (
                    run_id,
                    name,
                    ScheduleChange.Action.CREATE,
                    {
                        "trigger": [None, trigger],
                        "scheduled_for": [None, _text(slot)],
                        "not_before": [None, _text(not_before)],
                    },
                )
                for run_id, name, trigger, slot, not_before in written
            ],
        )
    return [run_id for run_id, *_ in written]


def claim_waiting(
    using: str, run_ids: Sequence[int], now: float, fence: Fence | None = None
) -> list[ClaimedRun]:
    """Claim waiting runs that are due by ``now``; return those this process moved.

    The rows are locked before they move (PostgreSQL and MariaDB: ``SELECT ...
    FOR UPDATE``; SQLite: its one writer at a time), so of two claimers each
    run goes to one, and a cancelled or not yet due run to none. Fenced as
    :func:`claim` is: a deposed leader moves nothing.
    """
    claimed_at = from_epoch(now)
    won: list[ClaimedRun] = []
    with fenced(using, fence):
        for chunk in chunks(sorted(run_ids)):
            rows = list(
                TaskRun.objects.using(using)
                .select_for_update()
                .filter(id__in=chunk, state=RunState.WAITING, not_before__lte=claimed_at)
                .order_by("id")
                .values_list("id", "periodic_task_id", "celery_task_id")
            )
            TaskRun.objects.using(using).filter(
                id__in=[run_id for run_id, _, _ in rows], state=RunState.WAITING
            ).update(state=RunState.CLAIMED, claimed_at=claimed_at)
            won.extend(ClaimedRun(run_id, task_id, celery, now) for run_id, task_id, celery in rows)
    order = {run_id: i for i, run_id in enumerate(run_ids)}
    return sorted(won, key=lambda run: order[run.id])


def cancel(using: str, run_ids: Sequence[int], now: float, by: str, why: str) -> list[int]:
    """Call off waiting runs: they are never sent. Returns the ids cancelled (a run
    already claimed is left alone), each with an audit row."""
    done_at = from_epoch(now)
    with transaction.atomic(using=using):
        rows = list(
            TaskRun.objects.using(using)
            .select_for_update()
            .filter(id__in=list(run_ids), state=RunState.WAITING)
            .order_by("id")
            .values_list("id", "task_name")
        )
        moved = [run_id for run_id, _ in rows]
        TaskRun.objects.using(using).filter(id__in=moved, state=RunState.WAITING).update(
            state=RunState.CANCELLED, finished_at=done_at, error=why[:ERROR_MAX_CHARS]
        )
        _audit(
            using,
            by,
            now,
            [
                (
                    run_id,
                    name,
                    ScheduleChange.Action.UPDATE,
                    {"state": [RunState.WAITING.value, RunState.CANCELLED.value]},
                )
                for run_id, name in rows
            ],
        )
    return moved


def _audit(
    using: str, by: str, now: float, rows: Sequence[tuple[int, str, str, dict[str, Any]]]
) -> None:
    """The audit log's rows for runs (``ScheduleChange`` of kind "run"), one per run."""
    ScheduleChange.objects.using(using).bulk_create(
        [
            ScheduleChange(
                at=from_epoch(now),
                actor=by[:150],
                model=ScheduleChange.Kind.RUN,
                object_id=run_id,
                object_repr=f"{name} run {run_id}"[:200],
                action=action,
                changes=changes,
            )
            for run_id, name, action, changes in rows
        ]
    )


def _text(moment: Any) -> str | None:
    return None if moment is None else moment.astimezone(dt.UTC).isoformat()
