"""An in-memory store with the shape of ``djag.beat.ports.StorePort``, for beat without a database.

It keeps the ledger's rules that beat relies on: a slot (task, scheduled_for) is
claimed once, a run moves to ``sent`` only from ``claimed``, a waiting run is
claimed only when due and only from ``waiting``, a finished run is never active
again. Tests move runs as workers would with :meth:`FakeStore.finish`, and ask
for runs outside the schedule with :meth:`FakeStore.request`.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from djag.beat.outbox import Dispatch
from djag.core.alerts import AlertKind, Outcome
from djag.core.dag import NO_RUNS, Edge, RunMarks
from djag.core.message import RunContext
from djag.core.requested import Requested
from djag.core.vocab import (
    ACTIVE_STATES,
    NOT_STARTED_STATES,
    SCHEDULED_TRIGGERS,
    TERMINAL_STATES,
    RunState,
    Trigger,
)
from djag.store.lease import Deposed
from djag.store.rows import (
    ActiveRun,
    Activity,
    AlertHistory,
    ClaimedRun,
    CrontabRow,
    Fence,
    FinishedRun,
    NewRun,
    RunDetail,
    TaskRow,
    message_fields,
)

EVERY_MINUTE = ("0", "*", "*", "*", "*", "*")


@dataclass
class FakeRun:
    id: int
    task_id: int | None
    scheduled_for: int | None
    trigger: str
    coalesced_count: int
    state: str
    celery_task_id: str
    claimed_at: float
    finished_at: float | None = None
    not_before: float | None = None
    task: str = ""
    message: tuple[list, dict, dict] | None = None
    error: str = ""
    delay: int = 0
    note: str = ""


def task_row(task_id: int, crontab_id: int = 1, **fields: Any) -> TaskRow:
    defaults: dict[str, Any] = {
        "id": task_id,
        "name": f"task-{task_id}",
        "task": "tests.append_line",
        "enabled": True,
        "crontab_id": crontab_id,
        "args": [],
        "kwargs": {},
        "options": {"headers": {}},
        "misfire_policy": "coalesce",
        "grace_seconds": 60,
        "max_catchup": 100,
        "max_running": 1,
        "max_runs": None,
        "run_timeout_seconds": 3600,
        "start_at": 0,
        "resume_at": None,
        "end_at": None,
        "last_event_at": None,
        "stored_problem": "",
    }
    values = {**defaults, **fields}
    message = [values.pop(name) for name in ("args", "kwargs", "options")]
    return TaskRow(**values, **message_fields(*message))


class FakeStore:
    def __init__(self) -> None:
        self.crontabs: dict[int, CrontabRow] = {1: CrontabRow(1, EVERY_MINUTE, "UTC")}
        self.tasks: dict[int, TaskRow] = {}
        self.edges: dict[int, list[Edge]] = {}
        self.runs: dict[int, FakeRun] = {}
        self.changes: list[tuple[int, str, int | None]] = []
        self.problems: dict[int, str] = {}
        self.checkpoints: dict[int, int] = {}
        self.disabled: list[int] = []
        self.alerts: dict[int, tuple[frozenset[AlertKind], str]] = {}  # tripped, note
        self.paused: list[tuple[int, str]] = []  # (task, why)
        self.lease: Fence | None = None  # who holds the lease: fenced claims must name it
        self._ids = itertools.count(1)
        self._celery_ids = itertools.count(1)

    # -- what tests do ------------------------------------------------------------

    def add_task(self, row: TaskRow) -> TaskRow:
        self.tasks[row.id] = row
        self.changes.append((len(self.changes) + 1, "periodictask", row.id))
        return row

    def edit_task(self, task_id: int, **fields: Any) -> None:
        self.add_task(replace(self.tasks[task_id], **fields))

    def add_edge(self, depender: int, edge: Edge) -> None:
        self.edges.setdefault(depender, []).append(edge)
        self.changes.append((len(self.changes) + 1, "taskdependency", depender))

    def finish(self, run_id: int, state: RunState, at: float) -> None:
        run = self.runs[run_id]
        assert run.state in ACTIVE_STATES, f"run {run_id} already {run.state}"
        run.state, run.finished_at = state, at

    def runs_of(self, task_id: int) -> list[FakeRun]:
        return [run for run in self.runs.values() if run.task_id == task_id]

    def request(
        self,
        trigger: Trigger,
        not_before: float,
        task_id: int | None = None,
        scheduled_for: int | None = None,
        task: str = "tests.append_line",
        message: tuple[list, dict, dict] | None = None,
    ) -> FakeRun:
        """A waiting run, as ``djag.store.ledger.request`` writes it."""
        if task_id is not None:
            task = self.tasks[task_id].task
        elif trigger == Trigger.ONEOFF and message is None:
            message = ([], {}, {"headers": {}})
        run = FakeRun(
            next(self._ids),
            task_id,
            scheduled_for,
            trigger,
            1,
            RunState.WAITING,
            f"celery-{next(self._celery_ids)}",
            not_before,
            not_before=not_before,
            task=task,
            message=message,
        )
        if task_id is not None and scheduled_for is not None:
            assert (task_id, scheduled_for) not in self._slots(), "slot taken"
        self.runs[run.id] = run
        return run

    def delete_task(self, task_id: int) -> None:
        """The task row goes; its runs stay, with no task (on_delete=SET_NULL)."""
        del self.tasks[task_id]
        for run in self.runs_of(task_id):
            run.task_id = None
        self.changes.append((len(self.changes) + 1, "periodictask", task_id))

    def _slots(self) -> set[tuple[int | None, int]]:
        return {(r.task_id, r.scheduled_for) for r in self.runs.values() if r.scheduled_for}

    # -- the port ---------------------------------------------------------------------

    def load_crontabs(self, ids: Iterable[int] | None = None) -> dict[int, CrontabRow]:
        wanted = set(self.crontabs) if ids is None else set(ids)
        return {i: row for i, row in self.crontabs.items() if i in wanted}

    def load_tasks(
        self, ids: Iterable[int] | None = None, crontab_ids: Iterable[int] | None = None
    ) -> list[TaskRow]:
        rows = [
            replace(row, stored_problem=self.problems.get(row.id, ""))
            for row in self.tasks.values()
        ]
        if ids is not None:
            rows = [row for row in rows if row.id in set(ids)]
        if crontab_ids is not None:
            rows = [row for row in rows if row.crontab_id in set(crontab_ids)]
        return rows

    def load_edges(self, dependers: Sequence[int] | None = None) -> dict[int, list[Edge]]:
        return {d: list(e) for d, e in self.edges.items() if dependers is None or d in dependers}

    def change_cursor(self) -> int:
        return len(self.changes)

    def change_rows(
        self, after: int, gaps: Iterable[tuple[int, int]]
    ) -> list[tuple[int, str, int | None]]:
        ranges = list(gaps)
        return [c for c in self.changes if c[0] > after or any(a <= c[0] <= b for a, b in ranges)]

    def save_checkpoints(self, last_events: dict[int, int], now: float) -> None:
        self.checkpoints.update(last_events)

    def checkpoint_time(self) -> dt.datetime | None:
        return None

    def set_problem(self, task_id: int, problem: str) -> None:
        self.problems[task_id] = problem

    def disable_exhausted(self, task_id: int) -> None:
        self.disabled.append(task_id)

    def alert_history(self, task_id: int, newest: int) -> AlertHistory:
        counted = (RunState.SUCCESS, RunState.FAILURE, RunState.LOST)
        runs = sorted(
            (
                (run.scheduled_for or int(run.not_before or run.claimed_at), run.id, run.state)
                for run in self.runs_of(task_id)
                if run.state in counted
            ),
            reverse=True,
        )
        successes = [slot for slot, _, state in runs if state == RunState.SUCCESS]
        finished = tuple(Outcome(slot, RunState(state)) for slot, _, state in runs[:newest])
        return AlertHistory(finished, max(successes, default=None))

    def record_alerts(
        self,
        task_id: int,
        tripped: frozenset[AlertKind],
        note: str,
        now: float,
        pause: str | None = None,
    ) -> bool:
        """Record the alerts and, with a reason to pause, disable the task as a logged
        schedule change (the note then says why)."""
        paused = pause is not None and self.tasks[task_id].enabled
        if paused:
            self.paused.append((task_id, pause))
            self.edit_task(task_id, enabled=False)
            note = "\n".join(line for line in (note, pause) if line)
        self.alerts[task_id] = (tripped, note)
        return paused

    def activity(self) -> Activity:
        active = sum(1 for run in self.runs.values() if run.state in ACTIVE_STATES)
        waiting = [run.not_before for run in self.runs.values() if run.state == RunState.WAITING]
        return Activity(
            len(self.changes),
            max(self.runs, default=0),
            active,
            len(waiting),
            min(waiting or [None]),
        )

    def last_events(
        self, since: dt.datetime | None, task_ids: Sequence[int] | None = None
    ) -> dict[int, int]:
        newest: dict[int, int] = {}
        for run in self.runs.values():
            if run.scheduled_for is not None and (task_ids is None or run.task_id in task_ids):
                newest[run.task_id] = max(
                    newest.get(run.task_id, run.scheduled_for), run.scheduled_for
                )
        return newest

    def scheduled_run_counts(self, task_ids: Sequence[int]) -> dict[int, int]:
        counts: dict[int, int] = {}
        for run in self.runs.values():
            counted = run.trigger in SCHEDULED_TRIGGERS and run.state != RunState.SKIPPED
            if run.task_id in task_ids and counted:
                counts[run.task_id] = counts.get(run.task_id, 0) + 1
        return counts

    def run_marks(self, task_ids: Sequence[int]) -> dict[int, RunMarks]:
        marks: dict[int, RunMarks] = {}
        for run in self.runs.values():
            if run.task_id not in task_ids or run.state in NOT_STARTED_STATES:
                continue
            mark = marks.get(run.task_id, NO_RUNS)
            start = max(mark.last_start or run.claimed_at, run.claimed_at)
            finish, success = mark.last_finish, mark.last_success
            if run.finished_at is not None and run.state in TERMINAL_STATES:
                finish = max(finish or run.finished_at, run.finished_at)
                if run.state == RunState.SUCCESS:
                    success = max(success or run.finished_at, run.finished_at)
            marks[run.task_id] = RunMarks(start, success, finish)
        return marks

    def active_runs(self) -> list[ActiveRun]:
        return [
            ActiveRun(run.id, run.task_id, run.state, run.celery_task_id, run.claimed_at, None)
            for run in self.runs.values()
            if run.state in ACTIVE_STATES
        ]

    def finished_runs(self, run_ids: Sequence[int]) -> list[FinishedRun]:
        return [
            FinishedRun(run.id, run.task_id, run.state, run.finished_at)
            for run_id in run_ids
            if (run := self.runs.get(run_id)) is not None and run.state not in ACTIVE_STATES
        ]

    def claim(
        self, new_runs: Sequence[NewRun], now: float, fence: Fence | None = None
    ) -> list[ClaimedRun]:
        if fence is not None and fence != self.lease:
            raise Deposed(f"{fence.holder} no longer holds the lease")
        taken = self._slots()
        won = []
        for new in new_runs:
            if new.scheduled_for is not None and (new.task_id, new.scheduled_for) in taken:
                continue  # another claimer had the slot
            run = FakeRun(
                next(self._ids),
                new.task_id,
                new.scheduled_for,
                new.trigger,
                new.coalesced_count,
                RunState.SKIPPED if new.skipped else RunState.CLAIMED,
                "" if new.skipped else f"celery-{next(self._celery_ids)}",
                now,
                now if new.skipped else None,
                task=new.task,
                delay=new.delay,
                note=new.note,
            )
            self.runs[run.id] = run
            if not new.skipped:
                won.append(ClaimedRun(run.id, run.task_id, run.celery_task_id, now))
        return won

    def mark_sent(self, run_ids: Sequence[int], now: float) -> int:
        moved = 0
        for run_id in run_ids:
            if self.runs[run_id].state == RunState.CLAIMED:
                self.runs[run_id].state = RunState.SENT
                moved += 1
        return moved

    def mark_lost(self, run_ids: Sequence[int], now: float) -> int:
        moved = 0
        for run_id in run_ids:
            run = self.runs[run_id]
            if run.state in ACTIVE_STATES:
                run.state, run.finished_at = RunState.LOST, now
                moved += 1
        return moved

    def requested_runs(
        self, now: float, limit: int, per_task: int
    ) -> tuple[list[Requested], float | None]:
        waiting = sorted(
            (run for run in self.runs.values() if run.state == RunState.WAITING),
            key=lambda run: (run.not_before, run.scheduled_for or 0, run.id),
        )
        due: list[Requested] = []
        backfills: dict[int | None, int] = {}
        for run in waiting:
            if run.not_before is None or run.not_before > now:
                continue
            if run.trigger == Trigger.BACKFILL:
                backfills[run.task_id] = backfills.get(run.task_id, 0) + 1
                if backfills[run.task_id] > per_task:
                    continue
            due.append(
                Requested(run.id, run.task_id, run.trigger, run.not_before, run.scheduled_for)
            )
        later = [r.not_before for r in waiting if r.not_before is not None and r.not_before > now]
        return due[:limit], min(later, default=None)

    def run_details(self, run_ids: Sequence[int]) -> dict[int, RunDetail]:
        details = {}
        for run_id in run_ids:
            run = self.runs.get(run_id)
            if run is None:
                continue
            succeeded = [
                other.scheduled_for
                for other in self.runs.values()
                if other.task_id is not None
                and other.task_id == run.task_id
                and other.state == RunState.SUCCESS
                and other.scheduled_for is not None
                and (run.scheduled_for is None or other.scheduled_for < run.scheduled_for)
            ]
            context = RunContext(
                run.id,
                Trigger(run.trigger),
                _moment(run.scheduled_for),
                _moment(max(succeeded, default=None)),
                run.coalesced_count,
            )
            details[run_id] = RunDetail(context, run.task, run.message)
        return details

    def claim_waiting(
        self, run_ids: Sequence[int], now: float, fence: Fence | None = None
    ) -> list[ClaimedRun]:
        if fence is not None and fence != self.lease:
            raise Deposed(f"{fence.holder} no longer holds the lease")
        won = []
        for run_id in run_ids:
            run = self.runs[run_id]
            due = run.not_before is not None and run.not_before <= now
            if run.state == RunState.WAITING and due:
                run.state, run.claimed_at = RunState.CLAIMED, now
                won.append(ClaimedRun(run.id, run.task_id, run.celery_task_id, now))
        return won

    def cancel(self, run_ids: Sequence[int], now: float, by: str, why: str) -> list[int]:
        cancelled = []
        for run_id in run_ids:
            run = self.runs[run_id]
            if run.state == RunState.WAITING:
                run.state, run.finished_at, run.error = RunState.CANCELLED, now, why
                cancelled.append(run_id)
        return cancelled


def _moment(epoch: float | None) -> dt.datetime | None:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, dt.UTC)


class Wake:
    """The wake-up key as the engine reads it: ``touch()`` as a commit does."""

    def __init__(self) -> None:
        self.token = 0

    def __call__(self) -> str:
        return str(self.token)

    def touch(self) -> None:
        self.token += 1


class Broker:
    """Records what it is given; fails everything while ``down``."""

    def __init__(self) -> None:
        self.sent: list[Dispatch] = []
        self.down = False

    def __call__(self, dispatches: Sequence[Dispatch]) -> list[tuple[Dispatch, Exception]]:
        if self.down:
            return [(d, ConnectionError("broker down")) for d in dispatches]
        self.sent.extend(dispatches)
        return []
