"""djag_plan: when each enabled task fires in the coming hours, in its zone and in UTC."""

from __future__ import annotations

import datetime as dt
import difflib
import json
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from djag.core import cron
from djag.core.dag import dependency_order
from djag.core.plan import TaskSpec, next_event
from djag.management.common import add_now_argument, utc_text
from djag.models import PeriodicTask, TaskDependency
from djag.store import Store, from_epoch, to_epoch


@dataclass
class TaskPlan:
    name: str
    task: str
    crontab: str
    zone: str
    enabled: bool
    after: list[str] = field(default_factory=list)
    after_future: list[str] = field(default_factory=list)
    fires: list[dt.datetime] = field(default_factory=list)  # in the crontab's zone
    more: int = 0  # fire times in the window beyond those listed
    problem: str = ""


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


class Command(BaseCommand):
    help = (
        "List when each enabled task fires in the next HOURS hours, in the crontab's time zone "
        "and in UTC, dependees before their dependers. Start and end times, a pause "
        "(resume time) and the runs max_runs has left are taken into account; dependencies "
        "and the misfire policy, which may delay or merge runs, are not."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--hours",
            type=float,
            default=24.0,
            help="How far ahead to look, in hours (default 24).",
        )
        parser.add_argument(
            "--task",
            action="append",
            default=[],
            metavar="NAME",
            help="Only this task (by name); repeat for several. A disabled task named here "
            "is listed as disabled.",
        )
        parser.add_argument(
            "--limit",
            type=int,
            default=20,
            help="At most this many fire times per task (default 20); the rest are counted.",
        )
        parser.add_argument(
            "--format", choices=("text", "json"), default="text", help="text (default) or json."
        )
        add_now_argument(parser, "and plan from then")

    def handle(self, *args: Any, **options: Any) -> None:
        hours, limit = options["hours"], options["limit"]
        if not 0 < hours <= 24 * 366:
            raise CommandError(
                f"--hours must be more than 0 and at most 8784 (a year), not {hours:g}."
            )
        if limit < 1:
            raise CommandError(f"--limit must be at least 1, not {limit}.")
        start = options["now"] or timezone.now()
        until = start + dt.timedelta(hours=hours)
        plans = self.plans(options["task"], start, until, limit)
        if options["format"] == "json":
            self.stdout.write(json.dumps(as_json(plans, start, until), indent=2))
        else:
            self.stdout.write(as_text(plans, start, until, hours, limit))

    def plans(
        self, names: list[str], start: dt.datetime, until: dt.datetime, limit: int
    ) -> list[TaskPlan]:
        tasks = {task.pk: task for task in PeriodicTask.objects.select_related("crontab")}
        by_name = {task.name: task for task in tasks.values()}
        unknown = [name for name in names if name not in by_name]
        if unknown:
            raise CommandError("\n".join(_unknown_task(name, list(by_name)) for name in unknown))
        wanted = {by_name[name].pk for name in names} or {
            pk for pk, task in tasks.items() if task.enabled
        }
        edges = list(
            TaskDependency.objects.values_list("depender_id", "dependee_id", "future_depends")
        )
        ordinary = [(depender, dependee) for depender, dependee, future in edges if not future]
        order = dependency_order(tasks, ordinary, key=lambda pk: (tasks[pk].name, pk))
        runs_so_far = Store().scheduled_run_counts(
            [pk for pk in wanted if tasks[pk].max_runs is not None]
        )
        plans = []
        for pk in order:
            if pk not in wanted:
                continue
            task = tasks[pk]
            plan = TaskPlan(
                name=task.name,
                task=task.task,
                crontab=task.crontab.line(),
                zone=task.crontab.zone_name,
                enabled=task.enabled,
                after=sorted(tasks[e].name for d, e, f in edges if d == pk and not f),
                after_future=sorted(tasks[e].name for d, e, f in edges if d == pk and f),
            )
            if task.enabled:
                self.fill(plan, task, runs_so_far.get(pk, 0), start, until, limit)
            plans.append(plan)
        return plans

    def fill(
        self,
        plan: TaskPlan,
        task: PeriodicTask,
        runs_so_far: int,
        start: dt.datetime,
        until: dt.datetime,
        limit: int,
    ) -> None:
        if task.problem:
            # Beat leaves a task it reported a problem with alone until it is edited.
            plan.problem = f"beat reports: {task.problem}"
            return
        try:
            schedule = task.crontab.schedule()
        except cron.CronError as exc:
            plan.problem = f"its crontab does not parse: {exc}"
            return
        except ZoneInfoNotFoundError:
            plan.problem = f"its crontab's time zone {plan.zone!r} is unknown"
            return
        spec = TaskSpec(
            id=task.pk,
            schedule=schedule,
            start_at=to_epoch(task.start_at) or 0,
            resume_at=to_epoch(task.resume_at),
            end_at=to_epoch(task.end_at),
            max_runs=None if task.max_runs is None else max(0, task.max_runs - runs_so_far),
        )
        events, plan.more = fire_times(spec, int(start.timestamp()), int(until.timestamp()), limit)
        zone = schedule.zone
        plan.fires = [from_epoch(event).astimezone(zone) for event in events]


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
        lines += ["", f"{plan.name}  ({plan.task}; {plan.crontab}, {plan.zone})"]
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
        for fire in plan.fires:
            lines.append(f"  {fire:%Y-%m-%d %H:%M:%S %Z}  =  {utc_text(fire)}")
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
                "crontab": plan.crontab,
                "timezone": plan.zone,
                "enabled": plan.enabled,
                "after": plan.after,
                "after_future": plan.after_future,
                "fires": [
                    {"local": fire.isoformat(), "utc": fire.astimezone(dt.UTC).isoformat()}
                    for fire in plan.fires
                ],
                "more": plan.more,
                "problem": plan.problem or None,
            }
            for plan in plans
        ],
    }
