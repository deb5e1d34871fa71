"""What beat reports to its metrics (``djag.beat.metrics``), read off the engine.

After each tick: how late it ran (the earliest due time it found passed), the
backlog it left (tasks still due, tasks waiting for a dependency or a free
slot) and whether this beat leads; every ``PROBLEMS_SECONDS``, how many tasks
cannot be scheduled, and the series of tasks deleted or renamed since are
dropped; for each run that ended, its state, how long it worked and, for a
success, when it finished.

Counting the tasks still due walks the due part of the queue: after each tick
of a burst of 100,000 that is up to 100,000 entries (60 s of a real beat's
burst in a profile, docs/performance.md). While tasks are still due, the
count is made at most every ``BACKLOG_SECONDS`` and the gauge keeps the last
one in between; when none is due, the backlog is the waiting tasks, counted
at once.
"""

from __future__ import annotations

from collections.abc import Sequence

from djag.beat.engine import Engine
from djag.beat.metrics import Metrics
from djag.store.rows import FinishedRun

#: How often the tasks with a problem are counted (a pass over every task).
PROBLEMS_SECONDS = 10.0
#: While tasks are still due after a tick, how often they are counted (a walk over them).
BACKLOG_SECONDS = 5.0


class MetricsReport:
    def __init__(self, engine: Engine, metrics: Metrics) -> None:
        self.engine = engine
        self.metrics = metrics
        self.next_count = 0.0
        self.next_backlog = 0.0
        self.due_left = 0  # the tasks still due at the last count
        self.named: set[str] = set()  # the periodic tasks that have series
        engine.runs.on_ended.append(self.runs_ended)

    def lag(self, now: float) -> float:
        """How late a tick at ``now`` runs: since the earliest due time it will find."""
        due = self.engine.due.next_due()
        return 0.0 if due is None or due > now else now - due

    def ticked(self, lag: float, now: float, leading: bool) -> None:
        """After a tick (``lag`` measured before it): the gauges of this beat."""
        if not leading:
            self.metrics.tick(0.0, 0, False)
            return
        due = self.engine.due
        next_due = due.next_due()
        if next_due is None or next_due > int(now):
            self.due_left, self.next_backlog = 0, 0.0
        elif now >= self.next_backlog:
            self.due_left, self.next_backlog = due.count_due(int(now)), now + BACKLOG_SECONDS
        backlog = self.due_left + len(self.engine.waiting)
        self.metrics.tick(lag, backlog, True)
        if now >= self.next_count:
            self.next_count = now + PROBLEMS_SECONDS
            tasks = self.engine.catalog.tasks.values()
            self.metrics.problems(sum(1 for task in tasks if task.problem))
            names = {task.row.name for task in tasks}
            for gone in self.named - names:
                self.metrics.forget_task(gone)
            self.named &= names

    def runs_ended(self, runs: Sequence[FinishedRun], now: float) -> None:
        tasks = self.engine.catalog.tasks
        for run in runs:
            known = tasks.get(run.task_id) if run.task_id is not None else None
            name = known.row.name if known is not None else run.task_name
            if known is not None:
                self.named.add(name)
            duration = None
            if run.started_at is not None and run.finished_at is not None:
                duration = max(0.0, run.finished_at - run.started_at)
            self.metrics.run_finished(name, run.state, duration, run.finished_at)
