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
from djag.core.plan import next_event
from djag.models import Crontab
from djag.store import Store, TaskRow, from_epoch


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
    schedules = _schedules({row.crontab_id for row in rows.values()})
    last_events = store.last_events(None, list(edges))
    marks = store.run_marks(sorted(rows))
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
                    _blocker(edge, rows.get(edge.dependee), schedules, marks, moment)
                    for edge in blocking
                ),
            )
    return found


def _schedules(crontab_ids: set[int]) -> dict[int, CronSchedule]:
    schedules = {}
    for crontab in Crontab.objects.filter(pk__in=crontab_ids):
        try:
            schedules[crontab.pk] = crontab.schedule()
        except Exception:  # a broken crontab is reported on its task; it just never fires
            continue
    return schedules


def _blocker(
    edge: Edge,
    dependee: TaskRow | None,
    schedules: dict[int, CronSchedule],
    marks: dict[int, RunMarks],
    now: int,
) -> Blocker:
    if dependee is None:
        return Blocker(f"task {edge.dependee}", "no longer exists")
    if not dependee.enabled:
        return Blocker(dependee.name, "is disabled")
    if dependee.problem:
        return Blocker(dependee.name, f"cannot be scheduled ({dependee.problem})")
    schedule = schedules.get(dependee.crontab_id)
    if schedule is None:
        return Blocker(dependee.name, "has a crontab that cannot be read")
    mark = marks.get(edge.dependee, NO_RUNS)
    failed_last = mark.last_finish is not None and mark.last_finish != mark.last_success
    if edge.require_success and failed_last:
        return Blocker(dependee.name, "has not succeeded since its last run ended without success")
    if next_event(dependee.spec(schedule), now) is None:
        return Blocker(dependee.name, "has no future event (its end_at has passed)")
    return Blocker(dependee.name, "has not finished a run since this task last ran")
