"""The run book: beat's memory of the runs in flight and of each task's run history.

It holds the runs that occupy a ``max_running`` slot (one count per task, kept
by the only two places that add or remove a run), the marks the dependency
rule reads (last start, success and finish of each task), and when the next
run may outlive its timeout. It does no I/O: the engine feeds it what the
store read and carries out what it answers. It tells ``on_ended`` of the runs
that ended (finished, as the store said, or lost by their timeout): beat's
alert watch and its metrics listen.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

from djag.core.dag import NO_RUNS, Edge, RunMarks
from djag.core.vocab import RunState
from djag.store.rows import ActiveRun, ClaimedRun, FinishedRun


class RunBook:
    def __init__(self) -> None:
        self.active: dict[int, ActiveRun] = {}
        self.marks: dict[int, RunMarks] = {}
        self._counts: Counter[int] = Counter()
        self.next_expiry = 0.0  # no active run can be lost before this instant
        self.on_ended: list[Callable[[Sequence[FinishedRun], float], None]] = []

    # -- what the planner reads ---------------------------------------------------

    def active_count(self, task_id: int) -> int:
        """Runs of the task holding a ``max_running`` slot."""
        return self._counts[task_id]

    def marks_of(self, task_id: int) -> RunMarks:
        return self.marks.get(task_id, NO_RUNS)

    # -- the runs in flight ---------------------------------------------------------

    def reset(self, active: Iterable[ActiveRun], marks: dict[int, RunMarks]) -> None:
        self.active.clear()
        self._counts.clear()
        for run in active:
            self._add(run)
        self.marks = dict(marks)
        self.next_expiry = 0.0

    def _add(self, run: ActiveRun) -> None:
        self.active[run.id] = run
        if run.task_id is not None:
            self._counts[run.task_id] += 1

    def _remove(self, run_id: int) -> ActiveRun | None:
        run = self.active.pop(run_id, None)
        if run is not None and run.task_id is not None:
            self._counts[run.task_id] -= 1
            if not self._counts[run.task_id]:
                del self._counts[run.task_id]
        return run

    def track_claims(
        self, claimed: Iterable[ClaimedRun], timeout_of: Callable[[int | None], int]
    ) -> None:
        """Runs this beat just claimed: active, and each a new start of its task."""
        for run in claimed:
            self._add(
                ActiveRun(
                    run.id, run.task_id, RunState.CLAIMED, run.celery_task_id, run.claimed_at, None
                )
            )
            self.next_expiry = min(self.next_expiry, run.claimed_at + timeout_of(run.task_id))
            if run.task_id is not None:
                self.note_start(run.task_id, run.claimed_at)

    def mark_sent(self, run_ids: Iterable[int]) -> None:
        active = self.active
        for run_id in run_ids:
            run = active.get(run_id)
            if run is not None and run.state == RunState.CLAIMED:
                # Built directly: ``dataclasses.replace`` costs several times more, per run
                # of a burst.
                active[run_id] = ActiveRun(
                    run.id,
                    run.task_id,
                    RunState.SENT,
                    run.celery_task_id,
                    run.claimed_at,
                    run.started_at,
                )

    def unsent(self, now: float, older_than: float) -> list[ActiveRun]:
        """Runs claimed at least ``older_than`` seconds ago and never marked sent."""
        return [
            run
            for run in self.active.values()
            if run.state == RunState.CLAIMED and now - run.claimed_at >= older_than
        ]

    def missing_from(self, current: Iterable[ActiveRun]) -> list[int]:
        """The runs this book holds as active that ``current`` no longer has."""
        still = {run.id for run in current}
        return [run_id for run_id in self.active if run_id not in still]

    def refresh(
        self, current: Iterable[ActiveRun], finished: Iterable[FinishedRun], now: float
    ) -> set[int]:
        """Take the store's view of the active runs; return the tasks whose runs changed.

        ``finished`` are the runs that left the active set since the last refresh.
        """
        finished = list(finished)
        self._ended(finished, now)
        changed: set[int] = set()
        for done in finished:
            if done.task_id is not None:
                self.note_finish(done.task_id, done.state, done.finished_at or now)
                changed.add(done.task_id)
        current_by_id = {run.id: run for run in current}
        for run_id in [run_id for run_id in self.active if run_id not in current_by_id]:
            gone = self._remove(run_id)
            if gone is not None and gone.task_id is not None:
                changed.add(gone.task_id)
        for run in current_by_id.values():
            if run.id not in self.active:
                if run.task_id is not None:
                    self.note_start(run.task_id, run.claimed_at)
                    changed.add(run.task_id)
            else:
                self._remove(run.id)
            self._add(run)
        self.next_expiry = 0.0  # new runs: scan them all
        return changed

    def expire(self, now: float, timeout_of: Callable[[int | None], int]) -> list[ActiveRun]:
        """Take out the runs past their timeout (the caller marks them lost in the store).

        The scan runs only once the earliest deadline may have passed.
        """
        if now < self.next_expiry:
            return []
        lost = []
        next_expiry = math.inf
        for run in self.active.values():
            deadline = run.claimed_at + timeout_of(run.task_id)
            if now > deadline:
                lost.append(run)
            else:
                next_expiry = min(next_expiry, deadline)
        self.next_expiry = next_expiry
        self._ended(
            [FinishedRun(r.id, r.task_id, RunState.LOST, now, r.started_at) for r in lost], now
        )
        for run in lost:
            self._remove(run.id)
            if run.task_id is not None:
                self.note_finish(run.task_id, RunState.LOST, now)
        return lost

    def _ended(self, runs: Sequence[FinishedRun], now: float) -> None:
        for listener in self.on_ended if runs else ():
            listener(runs, now)

    # -- what the dependency rule reads -------------------------------------------------

    def note_start(self, task_id: int, claimed_at: float) -> None:
        marks = self.marks_of(task_id)
        if marks.last_start is None or claimed_at > marks.last_start:
            self.marks[task_id] = RunMarks(claimed_at, marks.last_success, marks.last_finish)

    def note_finish(self, task_id: int, state: str, finished_at: float) -> None:
        marks = self.marks_of(task_id)
        last_finish = max(finished_at, marks.last_finish or finished_at)
        last_success = marks.last_success
        if state == RunState.SUCCESS:
            last_success = max(finished_at, last_success or finished_at)
        self.marks[task_id] = replace(marks, last_finish=last_finish, last_success=last_success)

    def update_marks(self, fresh: dict[int, RunMarks], task_ids: Iterable[int]) -> set[int]:
        """Replace the marks of ``task_ids`` with ``fresh`` ones; return those that differ."""
        changed = {t for t in task_ids if fresh.get(t, NO_RUNS) != self.marks_of(t)}
        for task_id in changed:
            self.marks[task_id] = fresh.get(task_id, NO_RUNS)
        return changed

    def claim_stamp(
        self, now: float, task_ids: Iterable[int], edges: Mapping[int, Sequence[Edge]]
    ) -> float:
        """The claim time of runs decided now: never before a dependee finish they counted.

        The rule compares a dependee's finish with the depender's last start. A
        finish stamped by a worker whose clock runs ahead, or read by a tick that
        began before it, could otherwise look newer than the run it let start,
        and let the next run go without waiting.
        """
        finishes = [
            self.marks_of(edge.dependee).last_finish or now
            for task_id in task_ids
            for edge in edges.get(task_id, ())
        ]
        return max([now, *finishes])
