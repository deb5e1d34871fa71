"""Which waiting runs beat claims (``select``) and which events a backfill covers."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from djag.core.cron import CronSchedule, parse_cron
from djag.core.requested import (
    BackfillTooLong,
    Gate,
    Requested,
    backfill_events,
    select,
)
from djag.core.vocab import Trigger
from tests.core.schedules import Every

OPEN = Gate(readable=True, free_slots=1)


def one_off(run_id: int) -> Requested:
    return Requested(run_id, None, Trigger.ONEOFF, 0.0)


def manual(run_id: int, task_id: int) -> Requested:
    return Requested(run_id, task_id, Trigger.MANUAL, 0.0)


def backfilled(run_id: int, task_id: int, slot: int = 0) -> Requested:
    return Requested(run_id, task_id, Trigger.BACKFILL, 0.0, slot)


def test_one_offs_go_as_they_come_whatever_the_tasks() -> None:
    selection = select([one_off(1), one_off(2)], lambda task_id: None)
    assert (selection.claim, selection.cancel, selection.held) == ([1, 2], [], set())


def test_a_manual_run_goes_without_a_free_slot_or_with_a_blocked_dependency() -> None:
    gate = Gate(readable=True, free_slots=0, blocked=True)
    assert select([manual(1, 7)], lambda task_id: gate).claim == [1]


def test_backfilled_runs_take_the_free_slots_in_order_and_the_rest_wait() -> None:
    gates = {7: Gate(readable=True, free_slots=2), 8: OPEN}
    due = [backfilled(1, 7), backfilled(2, 8), backfilled(3, 7), backfilled(4, 7), one_off(5)]
    selection = select(due, gates.get)
    assert selection.claim == [1, 2, 3, 5]
    assert selection.held == {7}


def test_a_blocked_task_holds_its_backfill_but_not_its_manual_runs() -> None:
    gate = Gate(readable=True, free_slots=5, blocked=True)
    selection = select([backfilled(1, 7), manual(2, 7), backfilled(3, 7)], lambda t: gate)
    assert (selection.claim, selection.held) == ([2], {7})


def test_no_backfilled_run_overtakes_an_older_one_of_its_task() -> None:
    """The first was held (no slot); a slot counted later must not let the next one go."""
    calls: list[int] = []

    def gate(task_id: int) -> Gate:
        calls.append(task_id)
        return Gate(readable=True, free_slots=len(calls) - 1)  # 0 at the first ask

    assert select([backfilled(1, 7), backfilled(2, 7)], gate).claim == []
    assert calls == [7]  # asked once per task and call


def test_runs_of_a_task_beat_cannot_read_or_does_not_know_wait() -> None:
    gates = {7: Gate(readable=False, free_slots=1)}
    selection = select([manual(1, 7), backfilled(2, 8), one_off(3)], gates.get)
    assert (selection.claim, selection.held) == ([3], {7, 8})


def test_a_run_whose_periodic_task_was_deleted_is_cancelled() -> None:
    gone = [Requested(1, None, Trigger.MANUAL, 0.0), Requested(2, None, Trigger.BACKFILL, 0.0, 60)]
    selection = select(gone, lambda task_id: OPEN)
    assert (selection.claim, selection.cancel) == ([], [1, 2])


@given(
    st.lists(
        st.tuples(st.sampled_from([None, 7, 8]), st.sampled_from(list(Trigger)[3:])),
        max_size=30,
    ),
    st.integers(0, 4),
    st.integers(0, 4),
)
def test_select_never_claims_more_backfilled_runs_than_free_slots_nor_out_of_order(
    runs: list[tuple[int | None, Trigger]], slots_7: int, slots_8: int
) -> None:
    due = [Requested(i, task, trigger, 0.0, i) for i, (task, trigger) in enumerate(runs)]
    gates = {7: Gate(True, slots_7), 8: Gate(True, slots_8)}
    selection = select(due, gates.get)
    chosen = set(selection.claim)
    assert chosen.isdisjoint(selection.cancel)
    for task_id, slots in ((7, slots_7), (8, slots_8)):
        backfills = [r.run_id for r in due if r.task_id == task_id and r.trigger == "backfill"]
        taken = [run_id for run_id in backfills if run_id in chosen]
        assert taken == backfills[: len(taken)]  # a prefix: oldest first, no overtaking
        assert len(taken) == min(slots, len(backfills))
    for run in due:
        if run.trigger != Trigger.BACKFILL and run.task_id is not None:
            assert run.run_id in chosen  # manual runs always go
        if run.task_id is None:
            assert (run.run_id in chosen) == (run.trigger == Trigger.ONEOFF)


# -- backfill events ---------------------------------------------------------------------------


def test_backfill_events_are_the_schedule_events_in_the_closed_range() -> None:
    assert backfill_events(Every(60), 120, 300) == [120, 180, 240, 300]
    assert backfill_events(Every(60), 121, 299) == [180, 240]
    assert backfill_events(Every(60), 121, 179) == []


def test_backfill_refuses_a_range_over_the_limit_rather_than_cutting_it() -> None:
    assert len(backfill_events(Every(60), 60, 600, limit=10)) == 10
    with pytest.raises(BackfillTooLong, match="more than 10 events"):
        backfill_events(Every(60), 60, 660, limit=10)


def test_backfill_refuses_an_end_before_the_start() -> None:
    with pytest.raises(ValueError, match="before its start"):
        backfill_events(Every(60), 600, 60)


def test_backfill_events_follow_the_cron_daemon_rules_across_a_dst_change() -> None:
    """A daily 02:30 in Paris on the spring-forward day fires once, right after the jump."""
    paris = ZoneInfo("Europe/Paris")
    schedule = CronSchedule(parse_cron("0", "30", "2", "*", "*", "*"), paris)
    start = dt.datetime(2026, 3, 28, 0, 0, tzinfo=paris).timestamp()
    end = dt.datetime(2026, 3, 30, 23, 0, tzinfo=paris).timestamp()
    events = [
        dt.datetime.fromtimestamp(e, paris).strftime("%d %H:%M")
        for e in backfill_events(schedule, int(start), int(end))
    ]
    assert events == ["28 02:30", "29 03:00", "30 02:30"]
