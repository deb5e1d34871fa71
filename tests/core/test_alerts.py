"""Alerts: the overdue check (a dead man's switch), failures in a row, pause-on-failure.

Every test drives the pure core with a simulated clock (``now`` in seconds) over
a per-minute schedule; the history of runs is written out by hand.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from djag.core.alerts import (
    AlertKind,
    AlertRule,
    Evaluation,
    Outcome,
    TaskFacts,
    Transition,
    due_slot,
    evaluate,
    failures_in_a_row,
)
from djag.core.vocab import RunState

from .schedules import Every

MINUTE = Every(60)
NONE: frozenset[AlertKind] = frozenset()
OVERDUE = frozenset({AlertKind.OVERDUE})
FAILING = frozenset({AlertKind.FAILING})

S, F, L, R = RunState.SUCCESS, RunState.FAILURE, RunState.LOST, RunState.REVOKED


def facts(
    *finished: tuple[int, RunState],
    last_success: int | None = None,
    active_since: int | None = 0,
    end_at: int | None = None,
) -> TaskFacts:
    """``finished`` as (slot, state) pairs, newest first."""
    return TaskFacts(
        finished=[Outcome(slot, state) for slot, state in finished],
        last_success_slot=last_success,
        active_since=active_since,
        end_at=end_at,
    )


def run(rule: AlertRule, task: TaskFacts, now: int, tripped: frozenset = NONE) -> Evaluation:
    return evaluate(rule, task, MINUTE, tripped, now)


# --- overdue: a success within succeed_within seconds of each slot ------------------------

WITHIN_30 = AlertRule(succeed_within=30)


def test_overdue_trips_when_the_deadline_of_a_slot_passes_without_a_success():
    before = run(WITHIN_30, facts(), now=89)  # the slot at 60 is due at 90
    assert before == Evaluation(NONE, (), None)
    at_deadline = run(WITHIN_30, facts(), now=90)
    assert at_deadline.tripped == OVERDUE
    (transition,) = at_deadline.transitions
    assert transition.kind is AlertKind.OVERDUE
    assert transition.tripped
    assert transition.reason == (
        "no run for the slot at 1970-01-01 00:01:00 UTC or later succeeded within 30 s "
        "(by 1970-01-01 00:01:30 UTC); last success: never"
    )


def test_a_success_within_the_deadline_keeps_the_alert_quiet():
    task = facts((60, S), last_success=60)
    for now in range(60, 150):  # the slot at 120 is not due before 150
        assert run(WITHIN_30, task, now) == Evaluation(NONE, (), None)


def test_overdue_recovers_when_a_run_for_the_slot_or_later_succeeds():
    late = run(WITHIN_30, facts((60, S), last_success=60), now=95, tripped=OVERDUE)
    assert late == Evaluation(
        NONE,
        (Transition(AlertKind.OVERDUE, False, "a run for 1970-01-01 00:01:00 UTC succeeded"),),
        None,
    )
    # A coalesced run for a later slot stands for the earlier one too.
    coalesced = run(WITHIN_30, facts((180, S), last_success=180), now=200, tripped=OVERDUE)
    assert coalesced.tripped == NONE


def test_an_older_success_does_not_cover_a_newer_slot():
    evaluation = run(WITHIN_30, facts((60, S), (0, S), last_success=60), now=150)
    assert evaluation.tripped == OVERDUE
    assert "last success: the run for 1970-01-01 00:01:00 UTC" in evaluation.transitions[0].reason


def test_the_same_facts_again_change_nothing():
    first = run(WITHIN_30, facts(), now=100)
    again = run(WITHIN_30, facts(), now=100, tripped=first.tripped)
    assert again == Evaluation(OVERDUE, (), None)


def test_slots_before_the_task_was_enabled_or_resumed_are_not_due():
    # Enabled at 100: the slot at 60 was never the task's; the one at 120 is due at 150.
    assert run(WITHIN_30, facts(active_since=100), now=149).tripped == NONE
    assert run(WITHIN_30, facts(active_since=100), now=150).tripped == OVERDUE
    # Enabled exactly at a slot: that slot is not the task's (events are after it).
    assert run(WITHIN_30, facts(active_since=120), now=179).tripped == NONE


def test_a_disabled_or_paused_task_owes_nothing_and_its_alert_recovers():
    evaluation = run(WITHIN_30, facts(active_since=None), now=1000, tripped=OVERDUE)
    assert evaluation.tripped == NONE
    assert evaluation.transitions[0].reason == "the task is disabled or paused: no slot is due"


def test_no_slot_after_end_at_is_due():
    ended = facts((60, S), last_success=60, end_at=100)
    assert run(WITHIN_30, ended, now=10_000).tripped == NONE
    assert due_slot(WITHIN_30, ended, MINUTE, 10_000) == 60


def test_switching_the_check_off_recovers_the_alert():
    evaluation = run(AlertRule(), facts(), now=1000, tripped=OVERDUE | FAILING)
    assert evaluation.tripped == NONE
    assert [t.reason for t in evaluation.transitions] == [
        "the overdue check was switched off",
        "the failure check was switched off",
    ]


# --- failures in a row ---------------------------------------------------------------------

THREE_FAILURES = AlertRule(failures_in_a_row=3)


def test_failing_trips_at_the_threshold_of_failures_in_a_row():
    two = facts((120, F), (60, F), (0, S), last_success=0)
    assert run(THREE_FAILURES, two, now=130).tripped == NONE
    three = facts((180, F), (120, F), (60, F), (0, S), last_success=0)
    evaluation = run(THREE_FAILURES, three, now=190)
    assert evaluation.transitions == (
        Transition(AlertKind.FAILING, True, "3 runs failed in a row (the alert is at 3)"),
    )


def test_lost_runs_count_as_failures_and_revoked_runs_count_neither_way():
    task = facts((240, L), (180, R), (120, F), (60, L), (0, S), last_success=0)
    assert failures_in_a_row(task.finished) == 3
    assert run(THREE_FAILURES, task, now=250).tripped == FAILING


def test_failing_recovers_on_a_success():
    task = facts((240, S), (180, F), (120, F), (60, F), last_success=240)
    evaluation = run(THREE_FAILURES, task, now=250, tripped=FAILING)
    assert evaluation.transitions == (Transition(AlertKind.FAILING, False, "a run succeeded"),)


def test_raising_the_threshold_recovers_with_the_count():
    task = facts((120, F), (60, F), (0, F))
    evaluation = run(AlertRule(failures_in_a_row=5), task, now=130, tripped=FAILING)
    assert evaluation.transitions[0].reason == "3 runs failed in a row, fewer than 5"


def test_both_alerts_trip_together_in_kind_order():
    evaluation = run(AlertRule(succeed_within=30, failures_in_a_row=1), facts((60, F)), now=100)
    assert [(t.kind, t.tripped) for t in evaluation.transitions] == [
        (AlertKind.OVERDUE, True),
        (AlertKind.FAILING, True),
    ]


# --- pause after failures --------------------------------------------------------------------

PAUSE_AT_2 = AlertRule(pause_after_failures=2)


def test_pause_after_failures_in_a_row():
    assert run(PAUSE_AT_2, facts((60, F)), now=70).pause is None
    pause = run(PAUSE_AT_2, facts((120, F), (60, F)), now=130).pause
    assert pause == "paused after 2 runs failed in a row (pause_after_failures = 2)"


def test_a_re_enabled_task_gets_new_tries_before_it_is_paused_again():
    history = [(180, F), (120, F), (60, F)]
    # Paused (disabled): nothing more to do.
    assert run(PAUSE_AT_2, facts(*history, active_since=None), now=200).pause is None
    # Re-enabled at 200: the failures before do not count, the new ones do.
    assert run(PAUSE_AT_2, facts(*history, active_since=200), now=210).pause is None
    assert run(PAUSE_AT_2, facts((240, F), *history, active_since=200), now=250).pause is None
    again = facts((300, F), (240, F), *history, active_since=200)
    assert run(PAUSE_AT_2, again, now=310).pause is not None


def test_pause_does_not_trip_an_alert_by_itself():
    evaluation = run(PAUSE_AT_2, facts((120, F), (60, F)), now=130)
    assert (evaluation.tripped, evaluation.transitions) == (NONE, ())


@pytest.mark.parametrize("name", ["succeed_within", "failures_in_a_row", "pause_after_failures"])
def test_thresholds_below_one_are_refused(name: str):
    with pytest.raises(ValueError, match=name):
        AlertRule(**{name: 0})


def test_failures_needed_is_the_largest_failure_threshold():
    assert AlertRule(failures_in_a_row=3, pause_after_failures=10).failures_needed == 10
    assert AlertRule(succeed_within=60).failures_needed == 0


# --- a day of a per-minute task, minute by minute -------------------------------------------


def test_a_simulated_outage_trips_once_and_recovers_once():
    """Runs succeed at +10 s until 10 min, fail from 10 to 20 min, succeed after."""
    rule = AlertRule(succeed_within=45, failures_in_a_row=3)
    tripped = NONE
    log = []
    for now in range(0, 40 * 60):
        finished = [
            (slot, F if 600 <= slot < 1200 else S)
            for slot in range(60, now - 9, 60)  # each slot's run ends 10 s after it
        ][::-1]
        successes = [slot for slot, state in finished if state == S]
        task = facts(*finished, last_success=successes[0] if successes else None)
        evaluation = run(rule, task, now, tripped)
        log.extend((now, t.kind.value, t.tripped) for t in evaluation.transitions)
        tripped = evaluation.tripped
    assert log == [
        (600 + 45, "overdue", True),  # the slot at 10:00 has no success by 10:45
        (720 + 10, "failing", True),  # the third failure in a row ends at 12:10
        (1200 + 10, "overdue", False),  # the run for 20:00 succeeds at 20:10
        (1200 + 10, "failing", False),
    ]


# --- against a brute-force reading of the rule ---------------------------------------------


def brute_force_due_slot(
    within: int, active_since: int, end_at: int | None, now: int
) -> int | None:
    """Walk every slot of the per-minute schedule: the newest one the task has, due by now."""
    due = [
        slot
        for slot in range(0, now + 1, 60)
        if slot > active_since and (end_at is None or slot <= end_at) and slot + within <= now
    ]
    return max(due, default=None)


@given(
    within=st.integers(1, 500),
    active_since=st.integers(-100, 2000),
    end_at=st.none() | st.integers(0, 3000),
    now=st.integers(0, 3000),
)
def test_due_slot_matches_a_walk_over_every_slot(
    within: int, active_since: int, end_at: int | None, now: int
):
    task = facts(active_since=active_since, end_at=end_at)
    expected = brute_force_due_slot(within, active_since, end_at, now)
    assert due_slot(AlertRule(succeed_within=within), task, MINUTE, now) == expected


@given(st.lists(st.sampled_from([S, F, L, R]), max_size=12))
def test_failures_in_a_row_counts_back_to_the_last_success(states: list[RunState]):
    finished = [Outcome(60 * (len(states) - i), state) for i, state in enumerate(states)]
    before_success = states[: states.index(S)] if S in states else states
    expected = sum(1 for state in before_success if state in (F, L))
    assert failures_in_a_row(finished) == expected
