"""The catalog: the schedule as beat holds it in memory.

Each task's row and the spec it compiles to (or the problem that keeps it from
running; an interval task compiles from its row alone), each crontab's compiled
schedule, and the dependency edges both ways.
Rows come from the store; compiling is ``djag.store.compile``'s, so what beat
schedules is what the commands and the admin show.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from djag.beat.outbox import Dispatch
from djag.core.cron import CronSchedule
from djag.core.dag import Edge
from djag.core.plan import Decision, TaskSpec
from djag.core.vocab import Trigger
from djag.store.compile import Problem, compile_crontab, task_spec
from djag.store.rows import CrontabRow, NewRun, RunDetail, TaskRow

#: The timeout of a run whose task is gone (the model's default run_timeout_seconds).
DEFAULT_RUN_TIMEOUT = 3600


@dataclass(slots=True)
class LiveTask:
    row: TaskRow
    spec: TaskSpec | None  # None: the task cannot be scheduled, see ``problem``
    problem: str
    last_event: int | None = None  # the newest event handled (run, skipped or coalesced)
    scheduled_runs: int = 0  # runs that count towards max_runs


class Catalog:
    def __init__(self) -> None:
        self.tasks: dict[int, LiveTask] = {}
        self.schedules: dict[int, CronSchedule | Problem] = {}  # by crontab id
        self.edges: dict[int, list[Edge]] = {}  # depender -> its edges
        self.dependers: dict[int, set[int]] = {}  # dependee -> dependers

    def compile_crontabs(self, crontabs: Iterable[CrontabRow]) -> None:
        for crontab in crontabs:
            self.schedules[crontab.id] = compile_crontab(crontab)

    def install(self, row: TaskRow, last_event: int | None, scheduled_runs: int) -> LiveTask:
        """Take a (re)loaded row in, compiled against its crontab (or its own interval)."""
        crontab = None if row.crontab_id is None else self.schedules.get(row.crontab_id)
        compiled = task_spec(row, crontab)
        if isinstance(compiled, Problem):
            task = LiveTask(row, None, str(compiled), last_event, scheduled_runs)
        else:
            task = LiveTask(row, compiled, "", last_event, scheduled_runs)
        self.tasks[row.id] = task
        return task

    def reinstall(self, row: TaskRow) -> LiveTask:
        """An edited row: keep what beat knows of the task's handled events."""
        known = self.tasks.get(row.id)
        if known is None:
            return self.install(row, None, 0)
        return self.install(row, known.last_event, known.scheduled_runs)

    def set_edges(self, edges: dict[int, list[Edge]]) -> None:
        self.edges = edges
        self.dependers = {}
        for depender, task_edges in edges.items():
            for edge in task_edges:
                self.dependers.setdefault(edge.dependee, set()).add(depender)

    def edge_tasks(self) -> list[int]:
        """Every task with an edge, either end: the tasks whose run marks beat keeps."""
        return sorted(set(self.edges) | set(self.dependers))

    def ledger_rows(self, task_id: int, decision: Decision) -> list[NewRun]:
        """The rows that claim a decision's runs, with their jitter delay, and record its
        skips: the misfire policy's, and one per excluded date with its reason."""
        resolution = decision.resolution
        if resolution is None:
            return []
        row = self.tasks[task_id].row
        new = partial(NewRun, task_id, row.name, row.task)
        skips = [*resolution.excluded, *([resolution.skipped] if resolution.skipped else [])]
        return [
            *(
                new(r.scheduled_for, r.trigger, r.coalesced_count, delay=r.delay)
                for r in resolution.runs
            ),
            *(
                new(s.scheduled_for, Trigger.SCHEDULE, s.count, skipped=True, note=s.reason)
                for s in skips
            ),
        ]

    def schedulable(self, task_id: int) -> LiveTask | None:
        """The task if it is enabled and can be scheduled."""
        task = self.tasks.get(task_id)
        if task is None or task.spec is None or not task.row.enabled:
            return None
        return task

    def timeout_of(self, task_id: int | None) -> int:
        task = self.tasks.get(task_id) if task_id is not None else None
        return task.row.run_timeout_seconds if task else DEFAULT_RUN_TIMEOUT

    def dispatch_for(
        self, run_id: int, celery_task_id: str, task_id: int | None, detail: RunDetail
    ) -> Dispatch | None:
        """The message of a run: a one-off's own, or its task's. None if the task is gone or
        its row has a problem (its message would carry what the problem is about: reserved
        headers, arguments that could not be read)."""
        if detail.message is not None:
            args, kwargs, options = detail.message
            return Dispatch(
                run_id, celery_task_id, None, detail.task, args, kwargs, options, detail.context
            )
        task = self.tasks.get(task_id) if task_id is not None else None
        if task is None or task.row.problem:
            return None
        row = task.row
        return Dispatch(
            run_id,
            celery_task_id,
            row.id,
            row.task,
            row.args,
            row.kwargs,
            row.options,
            detail.context,
        )
