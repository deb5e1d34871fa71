"""A worker's batch of ledger writes (``djag.recorder``): many starts and ends, one commit.

The moves are :mod:`djag.store.ledger`'s (the same guards, ``ENTERED_FROM``), written
in bulk: what a worker paid per task, one write at a time, was the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections, transaction

from djag.core.vocab import RunState
from djag.models import TaskRun
from djag.models.run import ERROR_MAX_CHARS
from djag.store.db import db_datetime, from_epoch, retry_deadlocks
from djag.store.ledger import ENTERED_FROM


def record_batch(
    using: str,
    starts: Sequence[tuple[int, float, str]],
    ends: Sequence[tuple[int, RunState, float, str]],
) -> None:
    """A worker's batch in one transaction: ``starts`` (run, started at, worker) then
    ``ends`` (run, terminal state, finished at, error).

    The same guarded moves as :func:`mark_started` and :func:`mark_finished`, and one
    commit for the whole batch: the commit, not the statements, is what a write per task
    paid for. Starts go first, so a run started and ended within the batch ends with
    its start time and worker as if written one by one; of two entries for one run the
    first counts, as the guard would have it. PostgreSQL: one ``UPDATE ... FROM
    unnest(...)`` per kind (a statement per row costs a server round trip each);
    elsewhere one ``executemany`` per kind (SQLite runs it in the process).
    """
    starts, ends = _first_per_run(starts), _first_per_run(ends)
    if not starts and not ends:
        return
    connection = connections[using]
    table = connection.ops.quote_name(TaskRun._meta.db_table)
    postgres = connection.vendor == "postgresql"

    def guard(state: RunState) -> str:
        return ", ".join(f"'{entered.value}'" for entered in ENTERED_FROM[state])

    def write() -> None:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            if starts and postgres:
                cursor.execute(
                    f"UPDATE {table} SET state = %s, started_at = to_timestamp(v.at), "
                    "worker = v.who FROM unnest(%s::bigint[], %s::float8[], %s::text[]) "
                    f"AS v(id, at, who) WHERE {table}.id = v.id "
                    f"AND {table}.state IN ({guard(RunState.STARTED)})",
                    [RunState.STARTED.value, *map(list, zip(*starts, strict=True))],
                )
            elif starts:
                cursor.executemany(
                    f"UPDATE {table} SET state = %s, started_at = %s, worker = %s "
                    f"WHERE id = %s AND state IN ({guard(RunState.STARTED)})",
                    [
                        (RunState.STARTED.value, db_datetime(using, from_epoch(at)), who, run)
                        for run, at, who in starts
                    ],
                )
            rows = [
                (run, _terminal(state), at, error[:ERROR_MAX_CHARS])
                for run, state, at, error in ends
            ]
            if rows and postgres:
                cursor.execute(
                    f"UPDATE {table} SET state = v.state, finished_at = to_timestamp(v.at), "
                    "error = v.error FROM unnest(%s::bigint[], %s::text[], %s::float8[], "
                    f"%s::text[]) AS v(id, state, at, error) WHERE {table}.id = v.id "
                    f"AND {table}.state IN ({guard(RunState.SUCCESS)})",
                    list(map(list, zip(*rows, strict=True))),
                )
            elif rows:
                cursor.executemany(
                    f"UPDATE {table} SET state = %s, finished_at = %s, error = %s "
                    f"WHERE id = %s AND state IN ({guard(RunState.SUCCESS)})",
                    [
                        (state, db_datetime(using, from_epoch(at)), error, run)
                        for run, state, at, error in rows
                    ],
                )

    retry_deadlocks(write, using)


def _first_per_run(rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    seen: dict[int, tuple[Any, ...]] = {}
    for row in rows:
        seen.setdefault(row[0], row)
    return list(seen.values())


def _terminal(state: RunState) -> str:
    if state not in (RunState.SUCCESS, RunState.FAILURE, RunState.REVOKED, RunState.LOST):
        raise ValueError(f"{state} is not a terminal state")
    return RunState(state).value
