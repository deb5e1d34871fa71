"""Each task's state as it stands, for the live DAG page: its newest run, the runs in
flight, what it waits for and since when, its next event, its tripped alerts.

Read from the rows with beat's own rules: the specs are beat's (``snapshot``) and the
wait is judged by ``waiting`` with the dependency rule of ``djag.core.dag``. A constant
number of queries per 2,000 tasks, whatever their history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import models
from django.db.models.functions import Coalesce

from djag.core.batches import chunks
from djag.core.plan import next_event
from djag.core.vocab import ACTIVE_STATES, NOT_STARTED_STATES
from djag.inspect.snapshot import TaskView, read_tasks
from djag.inspect.waiting import Waiting, waiting
from djag.models import PeriodicTask, TaskRun
from djag.store.compile import Problem
from djag.store.db import default_database, from_epoch


@dataclass(frozen=True)
class NextFire:
    """The task's next event on its schedule's clock, or why there is none."""

    at: dt.datetime | None
    why_none: str = ""  # "disabled", "never", "problem: ...", "crontab error: ..."


@dataclass(frozen=True)
class TaskState:
    id: int
    name: str
    enabled: bool
    last_state: str | None  # the newest run's state, skips not counted; None: no run yet
    running: int  # runs in flight (claimed, sent, started, retrying)
    running_since: dt.datetime | None  # when the oldest of them started (or was claimed)
    waiting: Waiting | None  # a due event held back by a dependency
    next_fire: NextFire
    alerts: tuple[str, ...] = ()  # the alerts beat recorded as tripped ("failing", "overdue")


def next_fire(view: TaskView | None, now: int) -> NextFire:
    """When beat fires the task next (start, end and pause included), or why it will not."""
    if view is None:
        return NextFire(None, "gone")
    if not view.row.enabled:
        return NextFire(None, "disabled")
    if isinstance(view.schedule, Problem):
        return NextFire(None, f"{view.kind} error: {view.schedule.detail}")
    if view.problem or isinstance(view.spec, Problem):
        return NextFire(None, f"problem: {view.problem}")
    event = next_event(view.spec, now)
    if event is None:
        return NextFire(None, "never")
    return NextFire(from_epoch(event).astimezone(view.schedule.zone))


def task_states(task_ids: Sequence[int], now: dt.datetime) -> dict[int, TaskState]:
    """The state of each task among ``task_ids`` that exists."""
    using = default_database()
    views = read_tasks(task_ids, using)
    ids = sorted(views)
    newest: dict[int, str | None] = {}
    in_flight: dict[int, tuple[int, dt.datetime | None]] = {}
    newest_state = (
        TaskRun.objects.using(using)
        .filter(periodic_task=models.OuterRef("pk"))
        .exclude(state__in=NOT_STARTED_STATES)
        .order_by("-claimed_at", "-id")
        .values("state")[:1]
    )
    for chunk in chunks(ids):
        newest.update(
            PeriodicTask._base_manager.using(using)
            .filter(pk__in=chunk)
            .annotate(newest_state=models.Subquery(newest_state))
            .values_list("pk", "newest_state")
        )
        for task_id, count, since in (
            TaskRun.objects.using(using)
            .filter(periodic_task_id__in=chunk, state__in=ACTIVE_STATES)
            .values("periodic_task_id")
            .annotate(
                count=models.Count("id"),
                since=models.Min(Coalesce("started_at", "claimed_at")),
            )
            .values_list("periodic_task_id", "count", "since")
        ):
            in_flight[task_id] = (count, since)
    waits = waiting(ids, now)
    moment = int(now.timestamp())
    return {
        task_id: TaskState(
            id=task_id,
            name=views[task_id].row.name,
            enabled=views[task_id].row.enabled,
            last_state=newest.get(task_id),
            running=in_flight.get(task_id, (0, None))[0],
            running_since=in_flight.get(task_id, (0, None))[1],
            waiting=waits.get(task_id),
            next_fire=next_fire(views[task_id], moment),
            alerts=tuple(sorted(views[task_id].row.alerts_tripped)),
        )
        for task_id in ids
    }
