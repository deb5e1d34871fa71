"""What beat will do: each task's fire times in a window, dependees first.

``manage.py djag_plan`` prints this. The specs are beat's own (``djag.store.compile``);
dependencies and the misfire policy, which may delay or merge runs, are not simulated.
"""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass, field, replace
from typing import Any

from djag.core.dag import dependency_order
from djag.core.interval import IntervalSchedule
from djag.core.plan import TaskSpec, delay_of, next_event
from djag.inspect.snapshot import TaskView, read_tasks
from djag.models import TaskDependency
from djag.store import history
from djag.store.compile import Problem, crontab_line
from djag.store.db import default_database, from_epoch
from djag.text import utc_text, zoned_text


class UnknownTasks(LookupError):
    """Names that no task has, each with a suggestion."""


@dataclass
class TaskPlan:
    name: str
    task: str
    crontab: str  # the cron line ("&" before the day of week: both day fields), or ""
    zone: str
    enabled: bool
    interval: str = ""  # "every 6 hours from 2026-03-01 05:00 (Europe/Paris)", or ""
    excludes: str = ""  # the exclusions as stored, or ""
    jitter_seconds: int = 0
    after: list[str] = field(default_factory=list)
    after_future: list[str] = field(default_factory=list)
    fires: list[dt.datetime] = field(default_factory=list)  # in the schedule's zone
    delays: list[int] = field(default_factory=list)  # each fire's jitter, in seconds
    more: int = 0  # fire times in the window beyond those listed
    problem: str = ""

    @property
    def schedule(self) -> str:
        return self.interval or self.crontab or "?"


def fire_times(spec: TaskSpec, after: int, until: int, limit: int) -> tuple[list[int], int]:
    """The first ``limit`` events in (after, until], and how many more there are.

    Bounded by the task's start, resume and end times and by the runs max_runs has left
    (``spec.max_runs`` here holds the remaining runs).
    """
    events: list[int] = []
    event = next_event(spec, after)
    while event is not None and event <= until and len(events) < limit:
        events.append(event)
        event = next_event(spec, event)
    last = until if spec.end_at is None else min(until, spec.end_at)
    total = len(events)
    if event is not None and event <= last:
        # Counting costs a few month steps, however dense the crontab.
        total = spec.schedule.count(max(after, spec.not_before), last)
    if spec.max_runs is not None:
        total = min(total, spec.max_runs)
        events = events[: spec.max_runs]
    return events, total - len(events)


def task_plans(
    names: list[str], start: dt.datetime, until: dt.datetime, limit: int
) -> list[TaskPlan]:
    """The plans of the tasks named (all enabled tasks if none), dependees first."""
    using = default_database()
    views = read_tasks(using=using)
    by_name = {view.row.name: view for view in views.values()}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise UnknownTasks("\n".join(_unknown_task(name, list(by_name)) for name in unknown))
    wanted = {by_name[name].row.id for name in names} or {
        pk for pk, view in views.items() if view.row.enabled
    }
    edges = list(
        TaskDependency.objects.using(using).values_list(
            "depender_id", "dependee_id", "future_depends"
        )
    )
    ordinary = [(depender, dependee) for depender, dependee, future in edges if not future]
    order = dependency_order(views, ordinary, key=lambda pk: (views[pk].row.name, pk))
    runs_so_far = history.scheduled_run_counts(
        using, [pk for pk in wanted if views[pk].row.max_runs is not None]
    )
    plans = []
    for pk in order:
        if pk not in wanted:
            continue
        view = views[pk]
        plan = TaskPlan(
            name=view.row.name,
            task=view.row.task,
            crontab=_cron_line(view),
            zone=_zone_name(view),
            enabled=view.row.enabled,
            interval=_interval_text(view),
            excludes=_excludes_text(view),
            jitter_seconds=view.row.jitter_seconds,
            after=sorted(views[e].row.name for d, e, f in edges if d == pk and not f),
            after_future=sorted(views[e].row.name for d, e, f in edges if d == pk and f),
        )
        if view.row.enabled:
            _fill(plan, view, runs_so_far.get(pk, 0), start, until, limit)
        plans.append(plan)
    return plans


def _fill(
    plan: TaskPlan,
    view: TaskView,
    runs_so_far: int,
    start: dt.datetime,
    until: dt.datetime,
    limit: int,
) -> None:
    if view.row.stored_problem:
        # Beat leaves a task it reported a problem with alone until it is edited.
        plan.problem = f"beat reports: {view.row.stored_problem}"
        return
    if isinstance(view.spec, Problem) or isinstance(view.schedule, Problem):
        plan.problem = str(view.spec)
        return
    remaining = None if view.row.max_runs is None else max(0, view.row.max_runs - runs_so_far)
    spec = replace(view.spec, max_runs=remaining)
    events, plan.more = fire_times(spec, int(start.timestamp()), int(until.timestamp()), limit)
    zone = view.schedule.zone
    plan.fires = [from_epoch(event).astimezone(zone) for event in events]
    plan.delays = [delay_of(spec, event) for event in events]


def _cron_line(view: TaskView) -> str:
    if view.crontab is None:
        return "" if view.row.interval is not None else "?"
    return crontab_line(view.crontab)


def _zone_name(view: TaskView) -> str:
    if view.crontab is not None:
        return view.crontab.zone
    return view.row.interval.zone if view.row.interval is not None else "?"


def _interval_text(view: TaskView) -> str:
    if view.row.interval is None:
        return ""
    timing = view.schedule
    if isinstance(timing, Problem) or not isinstance(timing.schedule, IntervalSchedule):
        return f"every {view.row.interval.every} s"
    return timing.schedule.describe(timing.zone).replace("Every", "every", 1)


def _excludes_text(view: TaskView) -> str:
    stored = view.row.exclusions
    parts = [
        f"{label} {text.strip()}"
        for label, text in (
            ("dates", stored.dates),
            ("weekdays", stored.weekdays),
            ("holidays", stored.holidays),
        )
        if text.strip()
    ]
    return "; ".join(parts)


def _unknown_task(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else " `manage.py djag_graph` lists the tasks."
    return f"No task is named {name!r}.{hint}"


def as_text(
    plans: list[TaskPlan], start: dt.datetime, until: dt.datetime, hours: float, limit: int
) -> str:
    lines = [
        f"Fire times from {utc_text(start)} to {utc_text(until)} (the next {hours:g} h), "
        "dependees first."
    ]
    if not plans:
        lines += ["", "No enabled task."]
    for plan in plans:
        lines += ["", f"{plan.name}  ({plan.task}; {plan.schedule}, {plan.zone})"]
        if plan.excludes:
            lines.append(f"  excludes: {plan.excludes}")
        if plan.jitter_seconds:
            lines.append(f"  jitter: up to {plan.jitter_seconds} s after each fire time")
        if plan.after:
            lines.append(f"  after: {', '.join(plan.after)}")
        if plan.after_future:
            lines.append(f"  after (future): {', '.join(plan.after_future)}")
        if not plan.enabled:
            lines.append("  disabled: it does not fire")
        elif plan.problem:
            lines.append(f"  cannot be scheduled: {plan.problem}")
        elif not plan.fires:
            lines.append("  no fire time in this window")
        for fire, delay in zip(plan.fires, plan.delays, strict=True):
            released = f"  (released +{delay} s)" if delay else ""
            lines.append(f"  {zoned_text(fire)}  =  {utc_text(fire)}{released}")
        if plan.more:
            lines.append(f"  ... and {plan.more} more (--limit {limit} shows the first {limit})")
    return "\n".join(lines)


def as_json(plans: list[TaskPlan], start: dt.datetime, until: dt.datetime) -> dict[str, Any]:
    return {
        "from": start.isoformat(),
        "until": until.isoformat(),
        "tasks": [
            {
                "name": plan.name,
                "task": plan.task,
                "crontab": plan.crontab or None,
                "interval": plan.interval or None,
                "timezone": plan.zone,
                "excludes": plan.excludes or None,
                "jitter_seconds": plan.jitter_seconds,
                "enabled": plan.enabled,
                "after": plan.after,
                "after_future": plan.after_future,
                "fires": [
                    {
                        "local": fire.isoformat(),
                        "utc": fire.astimezone(dt.UTC).isoformat(),
                        "delay_seconds": delay,
                    }
                    for fire, delay in zip(plan.fires, plan.delays, strict=True)
                ],
                "more": plan.more,
                "problem": plan.problem or None,
            }
            for plan in plans
        ],
    }
