from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from djag.core.misfire import (
    Pending,
    Policy,
    Resolution,
    Run,
    Skip,
    Trigger,
    events_needed,
    pending_events,
    resolve,
)

from .schedules import Every

MINUTE = Every(60)


def pending(after: int, until: int, first: int = 200) -> Pending:
    result = pending_events(MINUTE, after, until, first)
    assert result is not None
    return result


def test_no_pending_events():
    assert pending_events(MINUTE, 60, 119, 5) is None
    assert pending_events(MINUTE, 120, 120, 5) is None
    assert pending_events(MINUTE, 130, 120, 5) is None


def test_pending_lists_oldest_and_counts_all():
    p = pending_events(MINUTE, 0, 600, 3)
    assert p == Pending(oldest=(60, 120, 180), newest=600, previous=540, count=10)


def test_pending_event_exactly_at_until_counts():
    assert pending_events(MINUTE, 59, 60, 0) == Pending((), 60, None, 1)


# Worked examples of docs/scheduling.md: a per-minute task, beat down from 10:00:30
# to 10:05:10 (events 10:01 ... 10:05 missed), grace 60 s. Seconds from 10:00.
DOWNTIME = {"after": 0, "until": 310}


def test_coalesce_one_run_standing_for_all():
    r = resolve(
        pending(**DOWNTIME), Policy.COALESCE, grace_seconds=60, max_catchup=100, slots=1, now=310
    )
    assert r == Resolution((Run(300, Trigger.COALESCED, 5),), None, 300)


def test_coalesce_single_on_time_event_is_a_schedule_run():
    r = resolve(pending(0, 65), Policy.COALESCE, grace_seconds=60, max_catchup=100, slots=1, now=65)
    assert r.runs == (Run(60, Trigger.SCHEDULE),)


def test_coalesce_single_late_event_is_a_catchup_run():
    r = resolve(
        pending(0, 119), Policy.COALESCE, grace_seconds=30, max_catchup=100, slots=1, now=119
    )
    assert r.runs == (Run(60, Trigger.CATCHUP),)


def test_run_all_one_run_per_event_when_slots_allow():
    r = resolve(
        pending(**DOWNTIME), Policy.RUN_ALL, grace_seconds=60, max_catchup=100, slots=10, now=310
    )
    assert [run.scheduled_for for run in r.runs] == [60, 120, 180, 240, 300]
    assert [run.trigger for run in r.runs] == [Trigger.CATCHUP] * 4 + [Trigger.SCHEDULE]
    assert r.skipped is None
    assert r.handled_through == 300


def test_run_all_bounded_by_max_catchup_coalesces_the_rest_into_newest():
    r = resolve(
        pending(**DOWNTIME), Policy.RUN_ALL, grace_seconds=60, max_catchup=3, slots=10, now=310
    )
    assert r.runs == (
        Run(60, Trigger.CATCHUP),
        Run(120, Trigger.CATCHUP),
        Run(300, Trigger.COALESCED, 3),
    )


def test_run_all_within_max_running_degrades_to_one_coalesced_run():
    r = resolve(
        pending(**DOWNTIME), Policy.RUN_ALL, grace_seconds=60, max_catchup=100, slots=1, now=310
    )
    assert r.runs == (Run(300, Trigger.COALESCED, 5),)


def test_skip_runs_on_time_newest_and_records_the_others():
    r = resolve(
        pending(**DOWNTIME), Policy.SKIP, grace_seconds=60, max_catchup=100, slots=1, now=310
    )
    assert r == Resolution((Run(300, Trigger.SCHEDULE),), Skip(240, 4), 300)


def test_skip_late_newest_skips_everything():
    r = resolve(
        pending(**DOWNTIME), Policy.SKIP, grace_seconds=5, max_catchup=100, slots=1, now=310
    )
    assert r == Resolution((), Skip(300, 5), 300)


def test_skip_single_on_time_event_records_no_skip():
    r = resolve(pending(0, 61), Policy.SKIP, grace_seconds=5, max_catchup=100, slots=1, now=61)
    assert r == Resolution((Run(60, Trigger.SCHEDULE),), None, 60)


def test_resolve_refuses_without_a_slot():
    with pytest.raises(ValueError, match="free slot"):
        resolve(pending(0, 61), Policy.SKIP, grace_seconds=5, max_catchup=100, slots=0, now=61)


def test_long_backlog_is_counted_without_walking_it():
    class CountingEvery(Every):
        walked = 0

        def events(self, after, until):
            for event in super().events(after, until):
                CountingEvery.walked += 1
                yield event

    year = 365 * 86400
    p = pending_events(CountingEvery(1), 0, year, 3)
    assert p is not None
    assert p.count == year
    assert p.previous == year - 1
    assert CountingEvery.walked <= 3


@given(
    policy=st.sampled_from(list(Policy)),
    period=st.integers(1, 120),
    after=st.integers(0, 10_000),
    span=st.integers(0, 20_000),
    grace=st.integers(0, 600),
    max_catchup=st.integers(1, 50),
    slots=st.integers(1, 60),
)
def test_every_pending_event_is_accounted_for_exactly_once(
    policy, period, after, span, grace, max_catchup, slots
):
    schedule = Every(period)
    until = after + span
    first = events_needed(policy, max_catchup, slots)
    p = pending_events(schedule, after, until, first)
    expected = list(schedule.events(after, until))
    if p is None:
        assert expected == []
        return
    assert p.count == len(expected)
    assert p.newest == expected[-1]
    r = resolve(p, policy, grace_seconds=grace, max_catchup=max_catchup, slots=slots, now=until)
    accounted = sum(run.coalesced_count for run in r.runs) + (r.skipped.count if r.skipped else 0)
    assert accounted == len(expected)
    assert r.handled_through == expected[-1]
    assert len(r.runs) <= min(slots, max_catchup) if policy is Policy.RUN_ALL else len(r.runs) <= 1
    slots_used = [run.scheduled_for for run in r.runs] + (
        [r.skipped.scheduled_for] if r.skipped else []
    )
    assert len(set(slots_used)) == len(slots_used), "two ledger rows for one slot"
    assert all(slot in expected for slot in slots_used)
    assert [run.scheduled_for for run in r.runs] == sorted(run.scheduled_for for run in r.runs)
