"""Runs asked for outside the schedule, as beat follows them: when it next looks at
the waiting runs in the ledger, and what each task allows when it does.

Beat holds no list of waiting runs: there may be many, written by any process.
It looks at the due ones in the ledger when a poll says some wait (the store's
activity counts them), and again at the earliest future ``not_before`` the
look found; which of them go is ``djag.core.requested.select``'s decision.
"""

from __future__ import annotations

from djag.beat.catalog import Catalog
from djag.beat.runbook import RunBook
from djag.core.dag import blocking_edges
from djag.core.requested import Gate
from djag.store.rows import Activity

#: Free slots of a task with ``max_running = 0`` (no limit).
UNLIMITED = 1 << 30


class RequestWatch:
    #: Due waiting runs read per look; more wait for the next tick.
    PER_LOOK = 500
    #: Backfilled runs read per task and look (oldest first).
    PER_TASK = 100

    def __init__(self) -> None:
        self.look_at: float | None = None  # None: only when a poll sees waiting runs

    def polled(self, activity: Activity, now: float) -> None:
        """After a poll that read the ledger: look at once if any run waits."""
        self.look_at = now if activity.waiting_runs else None

    def due(self, now: float) -> bool:
        return self.look_at is not None and now >= self.look_at

    def looked(self, read: int, next_at: float | None, now: float) -> None:
        """After a look that read ``read`` due runs: the next look, at the next run's
        time, or at once if the look was full (bounded work per tick)."""
        self.look_at = now if read >= self.PER_LOOK else next_at


def gate(catalog: Catalog, runs: RunBook, task_id: int) -> Gate | None:
    """What the task allows its waiting runs now; None if beat does not know the task."""
    task = catalog.tasks.get(task_id)
    if task is None:
        return None
    row = task.row
    if row.problem:  # its message cannot be built: the problem shows in the admin
        return Gate(readable=False, free_slots=0)
    free = UNLIMITED if row.max_running == 0 else row.max_running - runs.active_count(task_id)
    edges = catalog.edges.get(task_id)
    blocked = bool(
        edges and blocking_edges(edges, runs.marks_of(task_id), row.start_at, runs.marks_of)
    )
    return Gate(readable=True, free_slots=free, blocked=blocked)
