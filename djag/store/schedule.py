"""Reads and beat-owned writes of the schedule tables: crontabs, tasks, edges."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connections
from django.db.models import BigIntegerField, F, Func, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from djag.core.cron import FIELD_NAMES
from djag.core.dag import Edge
from djag.models import Crontab, PeriodicTask, TaskDependency, acting_as
from djag.models.run import ERROR_MAX_CHARS
from djag.store.compile import TASK_COLUMNS, Shared, task_row
from djag.store.rows import CrontabRow, TaskRow

#: Task rows fetched from the database at a time while loading.
LOAD_CHUNK = 5000

#: The datetime columns a task row holds as epoch seconds.
INSTANT_COLUMNS = ("start_at", "resume_at", "end_at", "interval_anchor")


class EpochSeconds(Func):
    """A datetime column as whole UTC epoch seconds, truncated as ``int(dt.timestamp())``
    is (PostgreSQL). Read so, a row of a million costs a third of what it costs with
    the column read as a datetime (Django's time zone loader, in Python, per value)."""

    template = "TRUNC(EXTRACT(EPOCH FROM %(expressions)s))::bigint"
    output_field = BigIntegerField()

    def get_db_converters(self, connection: Any) -> list[Any]:
        # Not Django's int() of every value, for a database that gives an int already.
        field: Any = self.output_field
        return list(field.get_db_converters(connection))


def load_crontabs(using: str, ids: Iterable[int] | None = None) -> dict[int, CrontabRow]:
    rows = Crontab._base_manager.using(using).annotate(zone_text=Cast("timezone", TextField()))
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    return {
        row["id"]: CrontabRow(
            row["id"],
            tuple(row[name] for name in FIELD_NAMES),
            row["zone_text"],
            row["day_match"],
        )
        for row in rows.values("id", *FIELD_NAMES, "zone_text", "day_match")
    }


def load_tasks(
    using: str, ids: Iterable[int] | None = None, crontab_ids: Iterable[int] | None = None
) -> list[TaskRow]:
    """Enabled and disabled tasks alike; each row is decoded alone, so a bad row stands alone."""
    instant = EpochSeconds if connections[using].vendor == "postgresql" else F
    rows = PeriodicTask._base_manager.using(using).annotate(
        args_text=Cast("args", TextField()),
        kwargs_text=Cast("kwargs", TextField()),
        headers_text=Cast("headers", TextField()),
        # As text: a zone name tzdata no longer knows is the task's problem, not the query's.
        interval_zone_text=Cast("interval_timezone", TextField()),
        **{f"{name}_instant": instant(name) for name in INSTANT_COLUMNS},
    )
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    if crontab_ids is not None:
        rows = rows.filter(crontab_id__in=list(crontab_ids))
    # The saved checkpoint (``djag.store.checkpoints``), by a left join to its narrow row.
    rows = rows.annotate(saved_checkpoint=F("checkpoint__handled_through"))
    shared = Shared()
    # Streamed, as tuples: a million rows are never all in memory at once as query
    # results (a server-side cursor where the backend has them).
    values = rows.values_list(*TASK_COLUMNS, named=True).iterator(chunk_size=LOAD_CHUNK)
    return [task_row(row, shared) for row in values]


def load_edges(using: str, dependers: Sequence[int] | None = None) -> dict[int, list[Edge]]:
    """The dependency edges (all, or those of ``dependers``), grouped by depender."""
    edges: dict[int, list[Edge]] = {}
    rows = TaskDependency._base_manager.using(using).values_list(
        "depender_id", "dependee_id", "future_depends", "require_success", "created_at"
    )
    if dependers is not None:
        rows = rows.filter(depender_id__in=list(dependers))
    for depender, dependee, future, require_success, created_at in rows:
        edges.setdefault(depender, []).append(
            Edge(dependee, future, require_success, created_at.timestamp())
        )
    return edges


def set_problem(using: str, task_id: int, problem: str) -> None:
    PeriodicTask._base_manager.using(using).filter(pk=task_id).update(
        problem=problem[:ERROR_MAX_CHARS], problem_at=timezone.now() if problem else None
    )


def disable_exhausted(using: str, task_id: int) -> None:
    """A task that reached max_runs disables itself (logged as a schedule change)."""
    with acting_as("djag beat (max_runs reached)"):
        PeriodicTask.objects.using(using).filter(pk=task_id, enabled=True).update(enabled=False)
