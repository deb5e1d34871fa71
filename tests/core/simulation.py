"""Pure simulations of beat's decisions.

``Simulation`` steps second by second, for DAG tests: runs due to finish finish
(success or failure as the task's ``outcome`` says), then every task is asked
``decide()`` with its blocking edges, and the chosen runs start at once. This is
what djag.scheduler does with a database and Celery, minus the I/O.

``drive`` follows one task as beat's heap does: it decides only at each
``next_due``, and every run finishes at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from djag.core.dag import Edge, RunMarks, blocking_edges
from djag.core.plan import Decision, Progress, TaskSpec, decide


@dataclass
class SimTask:
    spec: TaskSpec
    name: str
    duration: int = 5
    outcome: Callable[[int], bool] = lambda start: True  # start time -> success?


@dataclass(frozen=True)
class Entry:
    at: int
    kind: str  # "start" | "finish"
    task: str
    scheduled_for: int | None = None
    ok: bool | None = None
    coalesced: int = 1


@dataclass
class Simulation:
    tasks: list[SimTask]
    edges: dict[int, list[Edge]] = field(default_factory=dict)  # depender id -> edges
    log: list[Entry] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.by_id = {task.spec.id: task for task in self.tasks}
        self.marks = {task.spec.id: RunMarks() for task in self.tasks}
        self.progress = {task.spec.id: Progress() for task in self.tasks}
        self.running: list[tuple[int, int, bool]] = []  # (finish time, task id, ok)
        self.now = 0

    def add_edge(self, depender: str, edge: Edge) -> None:
        self.edges.setdefault(self.id_of(depender), []).append(edge)

    def id_of(self, name: str) -> int:
        return next(t.spec.id for t in self.tasks if t.name == name)

    def run(self, until: int) -> list[Entry]:
        while self.now <= until:
            self.step(self.now)
            self.now += 1
        return self.log

    def step(self, t: int) -> None:
        for finish, task_id, ok in [r for r in self.running if r[0] == t]:
            self.running.remove((finish, task_id, ok))
            marks = self.marks[task_id]
            self.marks[task_id] = replace(
                marks, last_finish=t, last_success=t if ok else marks.last_success
            )
            progress = self.progress[task_id]
            self.progress[task_id] = replace(progress, active_runs=progress.active_runs - 1)
            self.log.append(Entry(t, "finish", self.by_id[task_id].name, ok=ok))
        for task in self.tasks:
            tid = task.spec.id
            blockers = blocking_edges(
                self.edges.get(tid, ()), self.marks[tid], task.spec.start_at, self.marks.__getitem__
            )
            decision = decide(task.spec, self.progress[tid], blockers, t)
            if decision.resolution is None:
                continue
            runs = decision.resolution.runs
            progress = self.progress[tid]
            self.progress[tid] = Progress(
                last_event=decision.resolution.handled_through,
                active_runs=progress.active_runs + len(runs),
                scheduled_runs=progress.scheduled_runs + len(runs),
            )
            if runs:
                self.marks[tid] = replace(self.marks[tid], last_start=t)
            for run in runs:
                ok = task.outcome(t)
                self.running.append((t + task.duration, tid, ok))
                self.log.append(
                    Entry(t, "start", task.name, run.scheduled_for, coalesced=run.coalesced_count)
                )

    def starts(self, name: str | None = None) -> list[Entry]:
        return [e for e in self.log if e.kind == "start" and (name is None or e.task == name)]

    def start_order(self) -> list[str]:
        return [e.task for e in self.starts()]


def drive(task: TaskSpec, start: int, end: int) -> list[tuple[int, Decision]]:
    """The decisions with a resolution, and when they were made, from ``start`` to ``end``."""
    progress, now, decided = Progress(), start, []
    while now <= end:
        decision = decide(task, progress, (), now)
        if decision.resolution is not None:
            decided.append((now, decision))
            progress = Progress(last_event=decision.resolution.handled_through)
        if decision.next_due is None:
            break
        assert decision.next_due > now
        now = decision.next_due
    return decided
