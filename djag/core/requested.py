"""Runs asked for outside the schedule: which waiting runs beat claims now, and which
events a backfill covers.

A one-off (``djag.enqueue``), a manual run (``djag.run_now``) and a backfilled
event (``djag.backfill``) each wait in the ledger, in the ``waiting`` state,
until their ``not_before`` time. Beat reads the due ones and asks
:func:`select` which to claim:

- a one-off goes as soon as it is due: it belongs to no periodic task, so no
  ``max_running`` and no dependency applies to it;
- a manual run goes as soon as it is due, whatever the task's limits (it was
  asked for explicitly, as the admin's "Run now" always did);
- a backfilled event waits for its task like a scheduled event: it goes when
  the task has a free ``max_running`` slot and its dependencies hold, oldest
  event first, and never before an older waiting event of the same task.

A run whose periodic task was deleted before it went out is cancelled (it
cannot be sent: its message was the task's); a run of a task beat cannot read
or has not loaded yet waits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from djag.core.plan import Schedule
from djag.core.vocab import Trigger

#: At most this many events per backfill: a bigger range is refused, not cut.
BACKFILL_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Requested:
    """A waiting run as beat reads it from the ledger (instants in UTC epoch seconds)."""

    run_id: int
    task_id: int | None  # None: a one-off, or a run whose periodic task was deleted
    trigger: str
    not_before: float
    scheduled_for: int | None = None


@dataclass(frozen=True, slots=True)
class Gate:
    """What a task allows now: free ``max_running`` slots, and whether a dependency blocks it."""

    readable: bool  # False: beat cannot build its message (a problem, or not loaded yet)
    free_slots: int
    blocked: bool = False


@dataclass(frozen=True, slots=True)
class Selection:
    claim: list[int] = field(default_factory=list)  # run ids, in the order given
    cancel: list[int] = field(default_factory=list)  # runs of a deleted periodic task
    held: set[int] = field(default_factory=set)  # tasks whose backfilled runs must wait


#: Why a run of a deleted periodic task is cancelled instead of sent.
TASK_GONE = "Cancelled: its periodic task was deleted before the run was sent."


def select(due: Sequence[Requested], gate: Callable[[int], Gate | None]) -> Selection:
    """Which of the ``due`` runs (oldest first) go now. ``gate(task_id)`` is None for a
    task beat does not know (deleted, or created after beat last read the schedule).

    A task's gate is asked once per call, so its backfilled runs go as a prefix
    of their order: once one waits, every later one of the task waits too.
    """
    selection = Selection()
    gates: dict[int, Gate | None] = {}
    taken: dict[int, int] = {}  # task id -> backfilled runs selected in this call
    for run in due:
        if run.task_id is None:
            if run.trigger == Trigger.ONEOFF:
                selection.claim.append(run.run_id)
            else:
                selection.cancel.append(run.run_id)
            continue
        if run.task_id not in gates:
            gates[run.task_id] = gate(run.task_id)
        task_gate = gates[run.task_id]
        if task_gate is None or not task_gate.readable:
            selection.held.add(run.task_id)
            continue
        if run.trigger != Trigger.BACKFILL:
            selection.claim.append(run.run_id)
            continue
        used = taken.get(run.task_id, 0)
        if task_gate.blocked or used >= task_gate.free_slots:
            selection.held.add(run.task_id)
            continue
        taken[run.task_id] = used + 1
        selection.claim.append(run.run_id)
    return selection


class BackfillTooLong(ValueError):
    """The range holds more events than one backfill may create."""


def backfill_events(
    schedule: Schedule, start: int, end: int, limit: int = BACKFILL_LIMIT
) -> list[int]:
    """The schedule's events in [start, end], oldest first; refuses more than ``limit``.

    The range is the caller's: the task's ``start_at``, ``end_at`` and pauses do
    not apply (backfilling the time before a task existed is the point).
    """
    if end < start:
        raise ValueError("the end of the range is before its start")
    events: list[int] = []
    event = schedule.next_after(start - 1)
    while event is not None and event <= end:
        if len(events) == limit:
            raise BackfillTooLong(
                f"the range holds more than {limit} events; backfill a shorter range "
                f"(or several ranges, one after the other)"
            )
        events.append(event)
        event = schedule.next_after(event)
    return events
