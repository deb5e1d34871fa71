"""Alerts on a task: overdue (a dead man's switch) and failing (failures in a row).

A task's alert rule has up to three thresholds, each off when None:

- ``succeed_within``: each slot (an event of the schedule) must be followed,
  within that many seconds, by a success of a run for that slot or a later
  one (a manual run counts from when it was asked for). The check looks at the
  newest slot whose deadline has passed: the alert trips when no run has
  succeeded for it or since, and recovers when one does. Slots the task does
  not have (before it was enabled or resumed, after its ``end_at``, while it is
  disabled or paused) are never due.
- ``failures_in_a_row``: the newest finished runs are counted back to the last
  success; ``failure`` and ``lost`` count, ``revoked`` (stopped by a person)
  counts neither way. The alert trips at the threshold and recovers on a
  success.
- ``pause_after_failures``: the task is to be paused when that many runs for
  slots since it was last enabled or resumed failed in a row (Temporal's
  pause-on-failure). Counting only since then means a task a person re-enables
  gets that many new tries before it is paused again.

:func:`evaluate` is a transition function: the rule, plain facts about the
task's runs, its slots, the alerts tripped so far and ``now`` (UTC epoch
seconds) in; the alerts tripped now, what changed (tripped or recovered, with a
reason to show a person) and whether to pause the task out. The shell stores
the tripped set and acts on the changes; calling it again with the same facts
changes nothing.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from djag.core.vocab import RunState

#: Finished runs that count as failures in a row; a success ends the row.
FAILED_STATES = frozenset({RunState.FAILURE, RunState.LOST})


class AlertKind(enum.StrEnum):
    OVERDUE = "overdue"  # no success within succeed_within seconds of a slot
    FAILING = "failing"  # failures_in_a_row or more failures in a row


@dataclass(frozen=True, slots=True)
class AlertRule:
    """A task's alert thresholds; None switches that check off."""

    succeed_within: int | None = None  # seconds after each slot
    failures_in_a_row: int | None = None
    pause_after_failures: int | None = None

    def __post_init__(self) -> None:
        for name in ("succeed_within", "failures_in_a_row", "pause_after_failures"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1 or None, not {value}")

    @property
    def failures_needed(self) -> int:
        """How many of the newest finished runs :class:`TaskFacts` must list."""
        return max(self.failures_in_a_row or 0, self.pause_after_failures or 0)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A finished run: the slot it ran for and the state it ended in."""

    slot: int  # its event (scheduled_for); for a manual run, when it was asked for
    state: RunState


@dataclass(frozen=True, slots=True)
class TaskFacts:
    """What the checks need to know of one task."""

    #: The newest finished runs, newest first: at least ``rule.failures_needed`` of them
    #: besides revoked ones (when the task has that many).
    finished: Sequence[Outcome]
    #: The slot of the newest successful run, None if it never succeeded.
    last_success_slot: int | None
    #: Slots after this instant are the task's (its start_at, or when it was last enabled or
    #: resumed, whichever is later); None while it is disabled or paused.
    active_since: int | None
    end_at: int | None = None  # no slot after it


class Slots(Protocol):
    """What the overdue check needs of a schedule (``djag.core.cron.CronSchedule`` has it)."""

    def prev_at_or_before(self, t: int) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Transition:
    kind: AlertKind
    tripped: bool  # True: the alert tripped; False: it recovered
    reason: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    tripped: frozenset[AlertKind]  # the alerts tripped now: the state to keep
    transitions: tuple[Transition, ...]  # what changed since the state given, in kind order
    pause: str | None  # why the task is to be paused now, or None


def evaluate(
    rule: AlertRule,
    facts: TaskFacts,
    slots: Slots,
    tripped: frozenset[AlertKind],
    now: int,
) -> Evaluation:
    """The task's alerts as of ``now``, given the ones ``tripped`` before."""
    checks = {
        AlertKind.OVERDUE: _overdue(rule, facts, slots, now),
        AlertKind.FAILING: _failing(rule, facts),
    }
    transitions = []
    state = set(tripped)
    for kind, (trips, reason) in checks.items():
        if trips and kind not in tripped:
            state.add(kind)
            transitions.append(Transition(kind, True, reason))
        elif not trips and kind in tripped:
            state.discard(kind)
            transitions.append(Transition(kind, False, reason))
    return Evaluation(frozenset(state), tuple(transitions), _pause(rule, facts))


def failures_in_a_row(finished: Sequence[Outcome], since: int | None = None) -> int:
    """How many of the newest runs failed since the last success (and for slots after
    ``since``, when given); revoked runs are passed over."""
    count = 0
    for outcome in finished:
        if since is not None and outcome.slot <= since:
            break
        if outcome.state == RunState.SUCCESS:
            break
        if outcome.state in FAILED_STATES:
            count += 1
    return count


def due_slot(rule: AlertRule, facts: TaskFacts, slots: Slots, now: int) -> int | None:
    """The newest slot whose ``succeed_within`` deadline has passed at ``now``, if any."""
    if rule.succeed_within is None or facts.active_since is None:
        return None
    until = now - rule.succeed_within
    if facts.end_at is not None:
        until = min(until, facts.end_at)
    slot = slots.prev_at_or_before(until)
    if slot is None or slot <= facts.active_since:
        return None
    return slot


def _overdue(rule: AlertRule, facts: TaskFacts, slots: Slots, now: int) -> tuple[bool, str]:
    if rule.succeed_within is None:
        return False, "the overdue check was switched off"
    slot = due_slot(rule, facts, slots, now)
    if slot is None:
        if facts.active_since is None:
            return False, "the task is disabled or paused: no slot is due"
        return False, "no slot is due since the task was enabled or resumed"
    last = facts.last_success_slot
    if last is not None and last >= slot:
        return False, f"a run for {_utc(last)} succeeded"
    return True, (
        f"no run for the slot at {_utc(slot)} or later succeeded within "
        f"{rule.succeed_within} s (by {_utc(slot + rule.succeed_within)}); "
        f"last success: {'never' if last is None else 'the run for ' + _utc(last)}"
    )


def _failing(rule: AlertRule, facts: TaskFacts) -> tuple[bool, str]:
    threshold = rule.failures_in_a_row
    if threshold is None:
        return False, "the failure check was switched off"
    count = failures_in_a_row(facts.finished)
    if count >= threshold:
        return True, f"{count} runs failed in a row (the alert is at {threshold})"
    if count == 0:
        return False, "a run succeeded"
    return False, f"{count} runs failed in a row, fewer than {threshold}"


def _pause(rule: AlertRule, facts: TaskFacts) -> str | None:
    threshold = rule.pause_after_failures
    if threshold is None or facts.active_since is None:
        return None
    count = failures_in_a_row(facts.finished, since=facts.active_since)
    if count < threshold:
        return None
    return f"paused after {count} runs failed in a row (pause_after_failures = {threshold})"


def _utc(moment: int) -> str:
    return f"{dt.datetime.fromtimestamp(moment, dt.UTC):%Y-%m-%d %H:%M:%S} UTC"
