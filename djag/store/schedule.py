"""Reads and beat-owned writes of the schedule tables: crontabs, tasks, edges."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db.models import F, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from djag.core.cron import FIELD_NAMES
from djag.core.dag import Edge
from djag.models import Crontab, PeriodicTask, TaskDependency, acting_as
from djag.models.run import ERROR_MAX_CHARS
from djag.store.compile import TASK_COLUMNS, task_row
from djag.store.rows import CrontabRow, TaskRow


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
    rows = PeriodicTask._base_manager.using(using).annotate(
        args_text=Cast("args", TextField()),
        kwargs_text=Cast("kwargs", TextField()),
        headers_text=Cast("headers", TextField()),
        # As text: a zone name tzdata no longer knows is the task's problem, not the query's.
        interval_zone_text=Cast("interval_timezone", TextField()),
    )
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    if crontab_ids is not None:
        rows = rows.filter(crontab_id__in=list(crontab_ids))
    # The saved checkpoint (``djag.store.checkpoints``), by a left join to its narrow row.
    rows = rows.annotate(saved_checkpoint=F("checkpoint__handled_through"))
    return [task_row(row) for row in rows.values(*TASK_COLUMNS)]


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
