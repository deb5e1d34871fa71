"""djag_check: schedule data that keeps tasks from running, reported with a fix."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from djag.core import cron
from djag.core.dag import (
    NO_RUNS,
    Edge,
    RunMarks,
    Unrunnable,
    deadlocked_cycles,
    unrunnable_dependers,
)
from djag.core.plan import TaskSpec
from djag.inspect.waiting import why_never_runs
from djag.management.common import add_now_argument, utc_text
from djag.models import PeriodicTask
from djag.store import Store, from_epoch, to_epoch


@dataclass
class Report:
    crontabs: list[str] = field(default_factory=list)
    beat_problems: list[str] = field(default_factory=list)
    unrunnable: list[str] = field(default_factory=list)
    deadlocks: list[str] = field(default_factory=list)
    checked: str = ""

    @property
    def count(self) -> int:
        return (
            len(self.crontabs)
            + len(self.beat_problems)
            + len(self.unrunnable)
            + len(self.deadlocks)
        )


def read_crontabs(store: Store) -> tuple[dict[int, cron.CronSchedule], dict[int, str]]:
    """Crontab id -> schedule for the rows that parse, and id -> why for those that do not."""
    schedules, broken = {}, {}
    for row in store.load_crontabs().values():
        line = f"{' '.join(row.fields)} ({row.zone})"
        try:
            schedules[row.id] = row.schedule()
        except cron.CronError as exc:
            broken[row.id] = f"crontab {row.id} [{line}]: {exc}"
        except ZoneInfoNotFoundError:
            broken[row.id] = f"crontab {row.id} [{line}]: unknown time zone {row.zone!r}"
    return schedules, broken


def why_dead(
    task: Mapping[str, Any],
    schedules: dict[int, cron.CronSchedule],
    broken: dict[int, str],
    runs_so_far: int,
    now: dt.datetime,
) -> str | None:
    """Why beat will never schedule this task again (a values() row), or None if it will."""
    schedule = None if task["crontab_id"] in broken else schedules[task["crontab_id"]]
    spec = None
    if schedule is not None:
        spec = TaskSpec(
            id=task["id"],
            schedule=schedule,
            start_at=to_epoch(task["start_at"]) or 0,
            resume_at=to_epoch(task["resume_at"]),
            end_at=to_epoch(task["end_at"]),
        )
    return why_never_runs(
        enabled=task["enabled"],
        problem=task["problem"],
        max_runs=task["max_runs"],
        runs_so_far=runs_so_far,
        spec=spec,
        now=int(now.timestamp()),
    )


def edge_wait_text(
    edge: Edge, depender: str, dependee: str, marks: RunMarks, start_at: float, theirs: RunMarks
) -> str:
    """Why one edge of a deadlocked cycle does not hold, with the instants involved."""
    kind = "a successful run" if edge.require_success else "a finished run"
    since = max(start_at, marks.last_start or start_at)
    last = theirs.last_success if edge.require_success else theirs.last_finish
    last_text = "none" if last is None else utc_text(from_epoch(last))
    future = " (future dependency)" if edge.future else ""
    return (
        f"{depender!r} waits{future} for {kind} of {dependee!r} finished after "
        f"{utc_text(from_epoch(since))}; the last one: {last_text}"
    )


def deadlock_text(
    cycle: list[int],
    edges: dict[int, list[Edge]],
    names: dict[int, str],
    marks: dict[int, RunMarks],
    start_at: dict[int, float],
) -> str:
    reasons = []
    for depender, dependee in itertools.pairwise(cycle):
        edge = next(e for e in edges[depender] if e.dependee == dependee)
        reasons.append(
            edge_wait_text(
                edge,
                names[depender],
                names[dependee],
                marks.get(depender, NO_RUNS),
                start_at[depender],
                marks.get(dependee, NO_RUNS),
            )
        )
    path = " -> ".join(repr(names[pk]) for pk in cycle)
    return (
        f"{path}: each waits for the next and none has a run in flight, so none will run "
        "again.\n    "
        + "\n    ".join(reasons)
        + "\n    Fix: run one of them by hand (a manual run), or let the dependency accept "
        "any result (require_success = false)."
    )


def unrunnable_text(blocked: Unrunnable, names: dict[int, str]) -> str:
    task, waits_for, cause = names[blocked.task], names[blocked.waits_for], names[blocked.cause]
    kind = "waits (future dependency)" if blocked.future else "waits"
    if blocked.waits_for == blocked.cause:
        return (
            f"{task!r} {kind} for {waits_for!r}, which {blocked.reason}: {task!r} can never "
            f"run again (at most once more). Fix {waits_for!r} or remove the dependency."
        )
    return (
        f"{task!r} {kind} for {waits_for!r}, which can never run because "
        f"{cause!r} {blocked.reason}."
    )


def check(now: dt.datetime) -> Report:
    store = Store()
    schedules, broken = read_crontabs(store)
    tasks = {
        row["id"]: row
        for row in PeriodicTask._base_manager.order_by("name").values(
            "id",
            "name",
            "enabled",
            "crontab_id",
            "start_at",
            "resume_at",
            "end_at",
            "max_runs",
            "problem",
            "problem_at",
        )
    }
    names = {pk: task["name"] for pk, task in tasks.items()}
    runs_so_far = store.scheduled_run_counts(
        [pk for pk, task in tasks.items() if task["max_runs"] is not None]
    )
    dead: dict[int, str] = {}
    for pk, task in tasks.items():
        reason = why_dead(task, schedules, broken, runs_so_far.get(pk, 0), now)
        if reason is not None:
            dead[pk] = reason
    edges = store.load_edges()
    marks = store.run_marks(sorted(tasks))
    start_at = {pk: task["start_at"].timestamp() for pk, task in tasks.items() if pk not in dead}
    in_flight = {run.task_id for run in store.active_runs() if run.task_id is not None}
    report = Report(
        crontabs=list(broken.values()),
        beat_problems=[
            f"{task['name']!r} (since {utc_text(task['problem_at'])}): {task['problem']}"
            for task in tasks.values()
            if task["problem"]
        ],
    )
    for cycle in deadlocked_cycles(edges, marks, start_at, in_flight):
        report.deadlocks.append(deadlock_text(cycle, edges, names, marks, start_at))
        dead.update(dict.fromkeys(cycle, "is deadlocked (see Deadlocks)"))
    report.unrunnable = [unrunnable_text(b, names) for b in unrunnable_dependers(edges, dead)]
    edge_count = sum(len(e) for e in edges.values())
    report.checked = (
        f"{_count(len(tasks), 'task')}, {_count(edge_count, 'dependency', 'dependencies')} and "
        f"{_count(len(schedules) + len(broken), 'crontab')} checked"
    )
    return report


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else (many or one + 's')}"


SECTIONS = (
    ("crontabs", "Crontabs that do not parse (edit them in the admin)"),
    ("beat_problems", "Tasks beat cannot schedule (edit the task; beat re-checks it)"),
    ("unrunnable", "Dependers that can never run"),
    ("deadlocks", "Deadlocks"),
)


class Command(BaseCommand):
    help = (
        "Check the schedule for what keeps tasks from running, and exit with code 1 if "
        "anything is found: crontabs that no longer parse, tasks beat reported a problem "
        "with, dependers that can never run (their dependee is disabled, has ended, reached "
        "max_runs or never fires again, or can itself never run) and deadlocked cycles "
        "(tasks that each wait for the next, none with a run in flight). Run it after "
        "deploys or from monitoring."
    )

    def add_arguments(self, parser: Any) -> None:
        add_now_argument(parser, "and check as of then")

    def handle(self, *args: Any, **options: Any) -> None:
        report = check(options["now"] or timezone.now())
        for attribute, title in SECTIONS:
            items = getattr(report, attribute)
            if items:
                self.stdout.write(f"{title}:")
                self.stdout.write("\n".join(f"  {item}" for item in items))
                self.stdout.write("")
        if report.count:
            raise CommandError(
                f"{report.count} problem{'s' if report.count != 1 else ''} found "
                f"({report.checked})."
            )
        self.stdout.write(self.style.SUCCESS(f"No problems: {report.checked}."))
