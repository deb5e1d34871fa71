"""What keeps tasks from running (``manage.py djag_check``).

Broken crontabs, problems beat reported, dependers that can never run, deadlocked
cycles and, when asked, task names no worker has registered, each said with the rows
involved and a fix.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field

from djag.core.dag import (
    NO_RUNS,
    Edge,
    RunMarks,
    Unrunnable,
    deadlocked_cycles,
    unrunnable_dependers,
)
from djag.inspect.health import alert_text
from djag.inspect.snapshot import read_tasks
from djag.inspect.waiting import why_never_runs
from djag.inspect.workers import ask_workers, unregistered_texts, warning_text
from djag.models import PeriodicTask
from djag.store import history, schedule
from djag.store.alerts import tripped_alerts
from djag.store.compile import Problem, compile_crontab, crontab_line
from djag.store.db import default_database, from_epoch
from djag.text import utc_text


@dataclass
class Report:
    crontabs: list[str] = field(default_factory=list)
    beat_problems: list[str] = field(default_factory=list)
    unrunnable: list[str] = field(default_factory=list)
    deadlocks: list[str] = field(default_factory=list)
    unregistered: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what could not be checked
    checked: str = ""

    @property
    def count(self) -> int:
        return (
            len(self.crontabs)
            + len(self.beat_problems)
            + len(self.unrunnable)
            + len(self.deadlocks)
            + len(self.unregistered)
            + len(self.alerts)
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


def check(now: dt.datetime, workers_timeout: float | None = None) -> Report:
    """What keeps tasks from running; with ``workers_timeout``, the workers are asked which
    task names they know too (waiting that many seconds for their answers)."""
    using = default_database()
    views = dict(sorted(read_tasks(using=using).items(), key=lambda item: item[1].row.name))
    names = {pk: view.row.name for pk, view in views.items()}
    crontabs = schedule.load_crontabs(using)
    broken = []
    for crontab in crontabs.values():
        compiled = compile_crontab(crontab)
        if isinstance(compiled, Problem):
            users = sorted(v.row.name for v in views.values() if v.row.crontab_id == crontab.id)
            used_by = f" (used by {', '.join(map(repr, users))})" if users else " (unused)"
            line = f"{crontab_line(crontab)} ({crontab.zone})"
            broken.append(f"crontab {crontab.id} [{line}]: {compiled.detail}{used_by}")
    runs_so_far = history.scheduled_run_counts(
        using, [pk for pk, view in views.items() if view.row.max_runs is not None]
    )
    moment = int(now.timestamp())
    dead: dict[int, str] = {}
    for pk, view in views.items():
        reason = why_never_runs(view, runs_so_far.get(pk, 0), moment)
        if reason is not None:
            dead[pk] = reason
    edges = schedule.load_edges(using)
    marks = history.run_marks(using, sorted(views))
    start_at = {pk: float(view.row.start_at) for pk, view in views.items() if pk not in dead}
    in_flight = {run.task_id for run in history.active_runs(using) if run.task_id is not None}
    problem_since = dict(
        PeriodicTask._base_manager.using(using).exclude(problem="").values_list("id", "problem_at")
    )
    report = Report(
        crontabs=broken,
        beat_problems=[
            f"{view.row.name!r} (since {utc_text(problem_since.get(pk))}): "
            f"{view.row.stored_problem}"
            for pk, view in views.items()
            if view.row.stored_problem
        ],
    )
    for cycle in deadlocked_cycles(edges, marks, start_at, in_flight):
        report.deadlocks.append(deadlock_text(cycle, edges, names, marks, start_at))
        dead.update(dict.fromkeys(cycle, "is deadlocked (see Deadlocks)"))
    report.unrunnable = [unrunnable_text(b, names) for b in unrunnable_dependers(edges, dead)]
    report.alerts = [alert_text(alert, repr(alert.task)) for alert in tripped_alerts(using)]
    edge_count = sum(len(e) for e in edges.values())
    report.checked = (
        f"{_count(len(views), 'task')}, {_count(edge_count, 'dependency', 'dependencies')} and "
        f"{_count(len(crontabs), 'crontab')} checked"
    )
    if workers_timeout is not None:
        answers = ask_workers(workers_timeout)
        enabled = [(view.row.name, view.row.task) for view in views.values() if view.row.enabled]
        report.unregistered = unregistered_texts(enabled, answers) if answers.workers else []
        report.warnings = [text for text in [warning_text(answers, workers_timeout)] if text]
        if answers.workers:
            report.checked += f"; task names asked of {_count(len(answers.workers), 'worker')}"
    return report


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else (many or one + 's')}"


SECTIONS = (
    ("crontabs", "Crontabs that cannot fire (edit them in the admin)"),
    ("beat_problems", "Tasks beat cannot schedule (edit the task; beat re-checks it)"),
    ("unrunnable", "Dependers that can never run"),
    ("deadlocks", "Deadlocks"),
    ("unregistered", "Task names no worker has registered"),
    ("alerts", "Tasks with a tripped alert (they recover by themselves when runs succeed)"),
)
