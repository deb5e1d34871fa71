"""Tasks as beat sees them, read from the rows for inspection.

The commands and the admin ask "when does this task fire, why does it wait,
can it run at all?" of the same compiled specs beat schedules with
(``djag.store.compile``), so their answers cannot drift from beat's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from djag.core.plan import TaskSpec
from djag.store import schedule
from djag.store.compile import Problem, Timing, compile_crontab, task_schedule, task_spec
from djag.store.db import default_database
from djag.store.rows import CrontabRow, TaskRow


@dataclass(frozen=True, slots=True)
class TaskView:
    row: TaskRow
    crontab: CrontabRow | None  # None: an interval task, or the crontab row is gone
    schedule: Timing | Problem  # the crontab's or the interval's schedule, with its zone
    spec: TaskSpec | Problem

    @property
    def kind(self) -> str:
        """ "crontab" or "interval": what the task's schedule is."""
        return "interval" if self.row.interval is not None else "crontab"

    @property
    def problem(self) -> str:
        """What keeps beat from scheduling the task: beat's record, else the compiler's."""
        if self.row.stored_problem:
            return self.row.stored_problem
        return str(self.spec) if isinstance(self.spec, Problem) else ""


def read_tasks(ids: Iterable[int] | None = None, using: str | None = None) -> dict[int, TaskView]:
    """The tasks (all, or ``ids``) with their compiled schedules and specs."""
    using = using or default_database()
    rows = schedule.load_tasks(using, None if ids is None else list(ids))
    crontab_ids = {row.crontab_id for row in rows if row.crontab_id is not None}
    crontabs = schedule.load_crontabs(using, crontab_ids)
    compiled = {crontab_id: compile_crontab(row) for crontab_id, row in crontabs.items()}
    views = {}
    for row in rows:
        crontab = None if row.crontab_id is None else compiled.get(row.crontab_id)
        views[row.id] = TaskView(
            row,
            crontabs.get(row.crontab_id) if row.crontab_id is not None else None,
            task_schedule(row, crontab),
            task_spec(row, crontab),
        )
    return views
