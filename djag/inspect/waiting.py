"""Why a task is waiting on its dependencies, told from the database for the admin.

Beat keeps its own view in memory; this module answers the same question from
the rows, with the same rule (``djag.core.dag.blocking_edges``), so the admin
can say "waiting for import sales since 10:05, its last run failed".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from djag.core.dag import NO_RUNS, Edge, RunMarks, blocking_edges
from djag.core.plan import next_event
from djag.inspect.snapshot import TaskView, read_tasks
from djag.store import history, schedule
from djag.store.compile import Problem
from djag.store.db import default_database, from_epoch
from djag.text import utc_text


def why_never_runs(view: TaskView, runs_so_far: int, now: int) -> str | None:
    """Why beat will never schedule a task again, or None if it will.

    Used by the admin (what a waiting depender waits for) and by ``manage.py djag_check``.
    """
    row, spec = view.row, view.spec
    if not row.enabled:
        return "is disabled"
    if isinstance(view.schedule, Problem):
        if view.kind == "interval":
            return "has an interval that cannot be read"
        return "has a crontab that does not parse"
    if view.problem or isinstance(spec, Problem):
        return f"cannot be scheduled ({view.problem})"
    if row.max_runs is not None and runs_so_far >= row.max_runs:
        return f"has reached max_runs ({row.max_runs} runs)"
    if spec.end_at is not None and spec.end_at <= now:
        return f"ended at {utc_text(from_epoch(spec.end_at))} (its end_at)"
    if next_event(spec, now) is None:
        if spec.end_at is not None:
            return f"has no event left before its end_at ({utc_text(from_epoch(spec.end_at))})"
        return f"has {'an' if view.kind == 'interval' else 'a'} {view.kind} that never fires again"
    return None


@dataclass(frozen=True)
class Blocker:
    dependee: str
    why: str


@dataclass(frozen=True)
class Waiting:
    since: dt.datetime  # the task's first event that has not run yet
    blockers: tuple[Blocker, ...]

    def __str__(self) -> str:
        names = ", ".join(blocker.dependee for blocker in self.blockers)
        reasons = "; ".join(f"{blocker.dependee} {blocker.why}" for blocker in self.blockers)
        return f"waiting for {names} since {utc_text(self.since)}: {reasons}"


def waiting(task_ids: Sequence[int], now: dt.datetime) -> dict[int, Waiting]:
    """The tasks among ``task_ids`` that have a due event held back by a dependency."""
    using = default_database()
    edges = schedule.load_edges(using, task_ids)
    if not edges:
        return {}
    dependee_ids = {edge.dependee for task_edges in edges.values() for edge in task_edges}
    views = read_tasks(set(edges) | dependee_ids, using)
    last_events = history.last_events(using, None, list(edges))
    marks = history.run_marks(using, sorted(views))
    runs_so_far = history.scheduled_run_counts(
        using, [view.row.id for view in views.values() if view.row.max_runs is not None]
    )
    moment = int(now.timestamp())
    found: dict[int, Waiting] = {}
    for task_id, task_edges in edges.items():
        view = views.get(task_id)
        if view is None or not view.row.enabled or isinstance(view.spec, Problem):
            continue
        spec = view.spec
        handled = max(view.row.last_event_at or 0, last_events.get(task_id, 0))
        due = next_event(spec, handled)
        if due is None or due > moment:
            continue
        blocking = blocking_edges(
            task_edges,
            marks.get(task_id, NO_RUNS),
            spec.start_at,
            lambda pk: marks.get(pk, NO_RUNS),
        )
        if blocking:
            found[task_id] = Waiting(
                since=from_epoch(due),
                blockers=tuple(
                    _blocker(edge, views.get(edge.dependee), marks, runs_so_far, moment)
                    for edge in blocking
                ),
            )
    return found


def _blocker(
    edge: Edge,
    dependee: TaskView | None,
    marks: dict[int, RunMarks],
    runs_so_far: dict[int, int],
    now: int,
) -> Blocker:
    if dependee is None:
        return Blocker(f"task {edge.dependee}", "no longer exists")
    row = dependee.row
    never = why_never_runs(dependee, runs_so_far.get(row.id, 0), now)
    if never is not None:
        return Blocker(row.name, never)
    mark = marks.get(edge.dependee, NO_RUNS)
    failed_last = mark.last_finish is not None and mark.last_finish != mark.last_success
    if edge.require_success and failed_last:
        return Blocker(row.name, "has not succeeded since its last run ended without success")
    return Blocker(row.name, "has not finished a run since this task last ran")
