"""Why a task is waiting on its dependencies, told from the database for the admin.

Beat keeps its own view in memory; this module answers the same question from
the rows, with the same rule (``djag.core.dag.blocking_edges``), so the admin
can say "waiting for import sales since 10:05, its last run failed".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from djag.core.cron import CronSchedule
from djag.core.dag import NO_RUNS, Edge, RunMarks, blocking_edges
from djag.core.plan import TaskSpec, next_event
from djag.management.common import utc_text
from djag.store import Store, TaskRow, from_epoch


def why_never_runs(
    *,
    enabled: bool,
    problem: str,
    max_runs: int | None,
    runs_so_far: int,
    spec: TaskSpec | None,
    now: int,
) -> str | None:
    """Why beat will never schedule a task again, or None if it will.

    ``spec`` is None when the task's crontab cannot be read. Used by the admin
    (what a waiting depender waits for) and by ``manage.py djag_check``.
    """
    if not enabled:
        return "is disabled"
    if spec is None:
        return "has a crontab that does not parse"
    if problem:
        return f"cannot be scheduled ({problem})"
    if max_runs is not None and runs_so_far >= max_runs:
        return f"has reached max_runs ({max_runs} runs)"
    if spec.end_at is not None and spec.end_at <= now:
        return f"ended at {utc_text(from_epoch(spec.end_at))} (its end_at)"
    if next_event(spec, now) is None:
        if spec.end_at is not None:
            return f"has no event left before its end_at ({utc_text(from_epoch(spec.end_at))})"
        return "has a crontab that never fires again"
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
        return f"waiting for {names} since {self.since:%Y-%m-%d %H:%M:%S} UTC: {reasons}"


def waiting(task_ids: Sequence[int], now: dt.datetime) -> dict[int, Waiting]:
    """The tasks among ``task_ids`` that have a due event held back by a dependency."""
    store = Store()
    edges = store.load_edges(task_ids)
    if not edges:
        return {}
    dependee_ids = {edge.dependee for task_edges in edges.values() for edge in task_edges}
    rows = {row.id: row for row in store.load_tasks(set(edges) | dependee_ids)}
    schedules = _schedules(store, {row.crontab_id for row in rows.values()})
    last_events = store.last_events(None, list(edges))
    marks = store.run_marks(sorted(rows))
    runs_so_far = store.scheduled_run_counts(
        [row.id for row in rows.values() if row.max_runs is not None]
    )
    moment = int(now.timestamp())
    found: dict[int, Waiting] = {}
    for task_id, task_edges in edges.items():
        row = rows.get(task_id)
        schedule = schedules.get(row.crontab_id) if row is not None else None
        if row is None or schedule is None or not row.enabled or row.problem:
            continue
        spec = row.spec(schedule)
        handled = max(row.last_event_at or 0, last_events.get(task_id, 0))
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
                    _blocker(edge, rows.get(edge.dependee), schedules, marks, runs_so_far, moment)
                    for edge in blocking
                ),
            )
    return found


def _schedules(store: Store, crontab_ids: set[int]) -> dict[int, CronSchedule]:
    schedules = {}
    for crontab in store.load_crontabs(crontab_ids).values():
        try:
            schedules[crontab.id] = crontab.schedule()
        except Exception:  # a broken crontab is reported on its task; it just never fires
            continue
    return schedules


def _blocker(
    edge: Edge,
    dependee: TaskRow | None,
    schedules: dict[int, CronSchedule],
    marks: dict[int, RunMarks],
    runs_so_far: dict[int, int],
    now: int,
) -> Blocker:
    if dependee is None:
        return Blocker(f"task {edge.dependee}", "no longer exists")
    schedule = schedules.get(dependee.crontab_id)
    never = why_never_runs(
        enabled=dependee.enabled,
        problem=dependee.problem or dependee.stored_problem,
        max_runs=dependee.max_runs,
        runs_so_far=runs_so_far.get(dependee.id, 0),
        spec=None if schedule is None else dependee.spec(schedule),
        now=now,
    )
    if never is not None:
        return Blocker(dependee.name, never)
    mark = marks.get(edge.dependee, NO_RUNS)
    failed_last = mark.last_finish is not None and mark.last_finish != mark.last_success
    if edge.require_success and failed_last:
        return Blocker(dependee.name, "has not succeeded since its last run ended without success")
    return Blocker(dependee.name, "has not finished a run since this task last ran")
