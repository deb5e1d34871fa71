"""Misfire policies: what to run, skip or coalesce among a task's pending events.

Pending events are those after the task's last handled event and not after
now. One decision handles all of them at once: every pending event ends up in
exactly one run (alone, or coalesced into the newest) or in the skip record, so
nothing vanishes unrecorded. The same rule applies whatever delayed the events:
beat downtime, waiting for dependencies or the concurrency limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Protocol

from djag.core.vocab import Policy, Trigger


class Schedule(Protocol):
    """What the policies need of a schedule: ``djag.core.cron.CronSchedule``,
    ``djag.core.interval.IntervalSchedule`` and ``djag.core.exclusions.ExcludingSchedule``
    have it."""

    def events(self, after: int, until: int) -> Iterator[int]: ...
    def count(self, after: int, until: int) -> int: ...
    def prev_at_or_before(self, t: int) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Pending:
    """The pending events of a task: the oldest few, the newest, and how many in all."""

    oldest: tuple[int, ...]
    newest: int
    previous: int | None  # the event just before the newest, if there are two or more
    count: int


@dataclass(frozen=True, slots=True)
class Run:
    scheduled_for: int
    trigger: Trigger
    coalesced_count: int = 1
    # Seconds after scheduled_for at which the run is released (djag.core.jitter); 0 without.
    delay: int = 0


@dataclass(frozen=True, slots=True)
class Skip:
    """One ledger row standing for ``count`` skipped events, the newest at ``scheduled_for``."""

    scheduled_for: int
    count: int
    reason: str = ""  # why, when it is not the misfire policy: "excluded: 2026-12-25 (...)"


@dataclass(frozen=True, slots=True)
class Resolution:
    runs: tuple[Run, ...]
    skipped: Skip | None
    handled_through: int  # the newest handled event: the task's new last handled event
    # Events on excluded dates (djag.core.exclusions), one record per date, oldest first.
    excluded: tuple[Skip, ...] = ()


def pending_events(schedule: Schedule, after: int, until: int, first: int) -> Pending | None:
    """The events in ``(after, until]``, with the ``first`` oldest listed; None if there are none.

    Costs O(first) plus one count, however long the backlog: a task blocked for
    a year on a per-second crontab is resolved without walking every event.
    """
    if until <= after:
        return None
    newest = schedule.prev_at_or_before(until)
    if newest is None or newest <= after:
        return None
    oldest = tuple(islice(schedule.events(after, until), max(first, 1)))
    if oldest[-1] == newest:
        count = len(oldest)
        previous = oldest[-2] if count > 1 else None
    else:
        count = schedule.count(after, until)
        previous = schedule.prev_at_or_before(newest - 1)
    return Pending(oldest=oldest[:first], newest=newest, previous=previous, count=count)


def events_needed(policy: Policy, max_catchup: int, slots: int) -> int:
    """How many of the oldest pending events ``resolve`` looks at."""
    return min(max_catchup, slots) if policy is Policy.RUN_ALL else 0


def resolve(
    pending: Pending,
    policy: Policy,
    *,
    grace_seconds: int,
    max_catchup: int,
    slots: int,
    now: int,
) -> Resolution:
    """Decide the runs for ``pending``; ``slots`` (>= 1) is how many runs may go out now.

    - coalesce: one run for the newest event, standing for all of them;
    - run_all: one run per event, oldest first, at most ``min(max_catchup, slots)``
      runs; when there are more events, the last run is the newest event and
      stands for all those beyond the first ``k - 1``;
    - skip: the newest event runs if it is on time; the others (or all, if it is
      late) go into one skip record.
    """
    if slots < 1:
        raise ValueError("resolve() needs at least one free slot")

    def single(event: int) -> Run:
        on_time = now - event <= grace_seconds
        return Run(event, Trigger.SCHEDULE if on_time else Trigger.CATCHUP)

    def standing_for(count: int) -> Run:
        if count == 1:
            return single(pending.newest)
        return Run(pending.newest, Trigger.COALESCED, count)

    newest, count = pending.newest, pending.count
    if policy is Policy.COALESCE:
        return Resolution((standing_for(count),), None, newest)

    if policy is Policy.RUN_ALL:
        limit = min(max_catchup, slots)
        if count <= limit:
            if len(pending.oldest) < count:
                raise ValueError("run_all needs every pending event listed")
            return Resolution(
                tuple(single(event) for event in pending.oldest[:count]), None, newest
            )
        alone = tuple(single(event) for event in pending.oldest[: limit - 1])
        return Resolution((*alone, standing_for(count - len(alone))), None, newest)

    if now - newest > grace_seconds:
        return Resolution((), Skip(newest, count), newest)
    skipped = None
    if pending.previous is not None:
        skipped = Skip(pending.previous, count - 1)
    return Resolution((single(newest),), skipped, newest)
