"""The planner: one task's state and ``now`` in, one decision out.

Every scheduling decision of beat is made here, from plain data and an injected
``now`` (UTC epoch seconds), so it can be tested with a simulated clock. The
shell (``djag.scheduler``) asks :func:`decide` when a task is due or when
something it waits for has changed, and carries the decision out.

A task's schedule is any :class:`Schedule`: a ``djag.core.cron.CronSchedule``, a
``djag.core.interval.IntervalSchedule``, or either wrapped in a
``djag.core.exclusions.ExcludingSchedule``. Two optional features change what a
decision holds:

- exclusions: the events on excluded dates are not pending; each decision reports
  those it passed over in ``resolution.excluded`` (one ``Skip`` per date, with its
  reason), to be written as skipped ledger rows, and ``next_due`` includes the end
  of each excluded date so that they are recorded when the date is over;
- jitter (``TaskSpec.jitter``): an event is released at ``slot + delay``
  (``djag.core.jitter``); until then it is not pending and ``next_due`` is its
  release; each ``Run`` carries its ``delay`` for the ledger, while its
  ``scheduled_for`` stays the slot. The misfire policy's "on time" test measures
  from the release: a run released 40 s late by jitter is on time.

For the shell: ``decide(spec, progress, blockers, now)`` is the decision;
``next_due(spec, after)`` is when to decide a task next when nothing is pending
(use it, rather than ``next_event``, to put a freshly loaded task on the heap:
it includes jitter and the ends of excluded dates); ``next_event(spec, after)``
is the next event that runs (what the admin shows as the next run);
``delay_of(spec, slot)`` is the jitter of one slot.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from djag.core.dag import Edge
from djag.core.exclusions import ExcludingSchedule
from djag.core.jitter import Jitter
from djag.core.misfire import (
    Pending,
    Policy,
    Resolution,
    Skip,
    events_needed,
    pending_events,
    resolve,
)
from djag.core.misfire import Schedule as PolicySchedule


class Schedule(PolicySchedule, Protocol):
    def next_after(self, t: int) -> int | None: ...


class Waiting(enum.StrEnum):
    DEPENDENCIES = "dependencies"  # a dependee has not produced a new run yet
    CONCURRENCY = "concurrency"  # max_running runs are still active


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """The schedule-relevant settings of one periodic task."""

    id: int
    schedule: Schedule
    policy: Policy = Policy.COALESCE
    grace_seconds: int = 60
    max_catchup: int = 100
    max_running: int = 1  # 0 = no limit
    max_runs: int | None = None
    start_at: int = 0  # no event at or before this instant
    resume_at: int | None = None  # no event at or before this instant (enable, edit, pause)
    end_at: int | None = None  # no event after this instant
    jitter: Jitter | None = None  # release each event up to jitter.seconds after it

    @property
    def not_before(self) -> int:
        return self.start_at if self.resume_at is None else max(self.start_at, self.resume_at)


@dataclass(frozen=True, slots=True)
class Progress:
    """What beat knows of the task's runs."""

    last_event: int | None = None  # the newest handled event
    active_runs: int = 0  # runs holding a max_running slot
    scheduled_runs: int = 0  # runs that count towards max_runs


@dataclass(frozen=True, slots=True)
class Decision:
    resolution: Resolution | None = None  # runs to claim and skips to record now
    waiting: Waiting | None = None
    blockers: tuple[Edge, ...] = field(default=())
    pending: Pending | None = None  # what the task waits with, when it waits
    next_due: int | None = None  # when to decide again; None: only when something changes
    exhausted: bool = False  # max_runs reached with this decision: disable the task


def handled_from(spec: TaskSpec, progress: Progress) -> int:
    """Events after this instant are the task's pending or future events."""
    if progress.last_event is None:
        return spec.not_before
    return max(spec.not_before, progress.last_event)


def next_event(spec: TaskSpec, after: int) -> int | None:
    """The task's first event after ``after``, or None if it has no more."""
    event = spec.schedule.next_after(max(after, spec.not_before))
    if event is None or (spec.end_at is not None and event > spec.end_at):
        return None
    return event


def free_slots(spec: TaskSpec, progress: Progress) -> int:
    """How many runs may go out now, by max_running and max_runs."""
    slots = (1 << 30) if spec.max_running == 0 else spec.max_running - progress.active_runs
    if spec.max_runs is not None:
        slots = min(slots, spec.max_runs - progress.scheduled_runs)
    return slots


def delay_of(spec: TaskSpec, slot: int) -> int:
    """The jitter of the event at ``slot`` (0 without jitter)."""
    if spec.jitter is None or spec.jitter.seconds == 0:
        return 0
    # The gap to the next event, excluded ones included: a run is released before the next
    # event of any kind, so a date's excluded events are not split across decisions.
    schedule = spec.schedule
    following = schedule.base if isinstance(schedule, ExcludingSchedule) else schedule
    return spec.jitter.delay(slot, following.next_after(slot))


def next_due(spec: TaskSpec, after: int) -> int | None:
    """When to decide next, with nothing pending after ``after``.

    The release of the next event (the event itself without jitter), or the end of the
    next excluded date if that comes first, so that its events are recorded then.
    """
    event = next_event(spec, after)
    due = None if event is None else event + delay_of(spec, event)
    schedule = spec.schedule
    if isinstance(schedule, ExcludingSchedule):
        start = max(after, spec.not_before)
        record = schedule.excluded_day_end_after(start)
        if record is not None and spec.end_at is not None and record > spec.end_at:
            last = schedule.base.prev_at_or_before(spec.end_at)
            record = last if last is not None and last > start else None
        if record is not None and (due is None or record < due):
            due = record
    return due


def decide(spec: TaskSpec, progress: Progress, blockers: Sequence[Edge], now: int) -> Decision:
    """Decide what the task does now.

    ``blockers`` are the dependency edges that do not hold now
    (``djag.core.dag.blocking_edges``); readiness is judged once per decision,
    and the runs one decision selects go out together.
    """
    after = handled_from(spec, progress)
    if spec.max_runs is not None and progress.scheduled_runs >= spec.max_runs:
        return Decision(exhausted=True)
    until = now if spec.end_at is None else min(now, spec.end_at)
    held = None  # the release of the newest event, when jitter holds it back
    if spec.jitter is not None and spec.jitter.seconds:
        # Delays stay below the gap to the next event, so only the newest can be held back.
        newest = spec.schedule.prev_at_or_before(until)
        if newest is not None and newest > after and newest + delay_of(spec, newest) > now:
            held, until = newest + delay_of(spec, newest), newest - 1
    excluded = _excluded(spec.schedule, after, until)
    slots = free_slots(spec, progress)
    first = events_needed(spec.policy, spec.max_catchup, max(slots, 1))
    pending = pending_events(spec.schedule, after, until, first)
    if pending is None:
        due = held if held is not None else next_due(spec, max(after, until))
        if not excluded:
            return Decision(next_due=due)
        return Decision(
            resolution=Resolution((), None, excluded[-1].scheduled_for, excluded), next_due=due
        )
    if blockers:
        return Decision(waiting=Waiting.DEPENDENCIES, blockers=tuple(blockers), pending=pending)
    if slots < 1:
        return Decision(waiting=Waiting.CONCURRENCY, pending=pending)
    resolution = resolve(
        pending,
        spec.policy,
        grace_seconds=spec.grace_seconds,
        max_catchup=spec.max_catchup,
        slots=slots,
        now=now - delay_of(spec, pending.newest),  # on time means on time after its release
    )
    if excluded or (spec.jitter is not None and spec.jitter.seconds):
        # Most tasks have neither: their resolution stands as made (the two copies a task
        # were a fifth of decide()'s time in a profiled burst of 100,000).
        resolution = replace(
            resolution,
            runs=tuple(
                replace(run, delay=delay_of(spec, run.scheduled_for)) for run in resolution.runs
            ),
            excluded=excluded,
            handled_through=max(
                [resolution.handled_through, *(skip.scheduled_for for skip in excluded)]
            ),
        )
    runs_after = progress.scheduled_runs + len(resolution.runs)
    exhausted = spec.max_runs is not None and runs_after >= spec.max_runs
    due = held if held is not None else next_due(spec, until)
    return Decision(resolution=resolution, next_due=None if exhausted else due, exhausted=exhausted)


def _excluded(schedule: Schedule, after: int, until: int) -> tuple[Skip, ...]:
    if not isinstance(schedule, ExcludingSchedule) or until <= after:
        return ()
    return schedule.excluded(after, until)
