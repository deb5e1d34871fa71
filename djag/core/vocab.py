"""djag's vocabulary: run states, triggers and misfire policies, defined once.

The core decides with these values, the store writes them, and the models build
their field choices from them (``djag.models`` re-exports them under the names
users import: ``RunState``, ``Trigger``, ``MisfirePolicy``). Each member is a
``str``, so it is stored, compared and filtered on as its value.
"""

from __future__ import annotations

import enum
from typing import Any


class Labelled(enum.StrEnum):
    """A text enum whose members also carry a human label (the admin shows it)."""

    label: str

    def __new__(cls, value: str, label: str | None = None) -> Any:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = value if label is None else label
        return member


class RunState(Labelled):
    WAITING = "waiting"  # asked for (one-off, run now, backfill): beat claims it when due
    CANCELLED = "cancelled"  # a waiting run called off before beat claimed it: never sent
    CLAIMED = "claimed"
    SENT = "sent"
    STARTED = "started"
    SUCCESS = "success"
    FAILURE = "failure"
    RETRY = "retry"
    REVOKED = "revoked"
    SKIPPED = "skipped"
    LOST = "lost"


#: A run in one of these states holds a ``max_running`` slot.
ACTIVE_STATES = (RunState.CLAIMED, RunState.SENT, RunState.STARTED, RunState.RETRY)
#: A run in one of these states has finished (for dependencies: "any terminal state").
TERMINAL_STATES = (RunState.SUCCESS, RunState.FAILURE, RunState.REVOKED, RunState.LOST)
#: A row in one of these states never started a run: the dependency rule, the run
#: marks and the "last run" shown anywhere ignore it.
NOT_STARTED_STATES = (RunState.SKIPPED, RunState.WAITING, RunState.CANCELLED)


class Trigger(Labelled):
    SCHEDULE = "schedule"  # one event, on time
    CATCHUP = "catchup", "catch-up"  # one event, late
    COALESCED = "coalesced"  # the newest event, standing for several
    MANUAL = "manual"  # run now, outside the schedule
    ONEOFF = "oneoff", "one-off"  # djag.enqueue: a Celery task by name, once, now or at a time
    BACKFILL = "backfill"  # djag.backfill: a past event of the schedule, asked for explicitly


#: The triggers of runs the schedule itself made: they count towards ``max_runs``.
SCHEDULED_TRIGGERS = (Trigger.SCHEDULE, Trigger.CATCHUP, Trigger.COALESCED)


class Policy(Labelled):
    """What a task does with events it could not run on time (``djag.core.misfire``)."""

    COALESCE = "coalesce", "coalesce: one run for all missed events"
    RUN_ALL = "run_all", "run all: one run per missed event (up to max catch-up)"
    SKIP = "skip", "skip: run only an on-time event, record the others as skipped"


class KeepHistory(Labelled):
    """Which finished runs of a task the ledger keeps (``djag.store.retention.trim``)."""

    ALL = "all", "all: keep every run"
    FAILURES = "failures", "failures: delete successful runs but the last"
    LAST = "last", "last: delete finished runs but the last ones"


#: The most runs ``run_all`` makes for one backlog (``max_catchup`` is validated against it):
#: one task's decision stays within what beat claims in one tick.
MAX_CATCHUP = 1000


def choices(vocabulary: type[Labelled]) -> list[tuple[str, str]]:
    """``(value, label)`` pairs for a model field's ``choices``."""
    return [(member.value, member.label) for member in vocabulary]


def values(vocabulary: type[Labelled]) -> list[str]:
    return [member.value for member in vocabulary]
