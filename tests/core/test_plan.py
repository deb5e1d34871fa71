from __future__ import annotations

from djag.core.dag import Edge
from djag.core.misfire import Policy, Run, Skip, Trigger
from djag.core.plan import Progress, TaskSpec, Waiting, decide, next_event

from .schedules import Every

MINUTE = Every(60)


def spec(**overrides) -> TaskSpec:
    return TaskSpec(id=1, schedule=overrides.pop("schedule", MINUTE), **overrides)


def test_nothing_due_gives_next_due():
    d = decide(spec(), Progress(last_event=60), (), now=100)
    assert d.resolution is None
    assert d.waiting is None
    assert d.next_due == 120


def test_no_event_at_or_before_start_at():
    d = decide(spec(start_at=120), Progress(), (), now=130)
    assert d.resolution is None
    assert d.next_due == 180


def test_resume_at_drops_events_before_it():
    # Disabled at 0, re-enabled at 250: events 60..240 are not pending.
    d = decide(spec(resume_at=250), Progress(last_event=0), (), now=310)
    assert d.resolution is not None
    assert d.resolution.runs == (Run(300, Trigger.SCHEDULE),)


def test_end_at_bounds_events_and_ends_the_task():
    d = decide(spec(end_at=150), Progress(), (), now=1000)
    assert d.resolution is not None
    assert d.resolution.runs == (Run(120, Trigger.COALESCED, 2),)
    assert d.next_due is None
    later = decide(spec(end_at=150), Progress(last_event=120), (), now=2000)
    assert later.resolution is None
    assert later.next_due is None


def test_concurrency_limit_waits_with_pending_events():
    d = decide(spec(max_running=1), Progress(active_runs=1), (), now=130)
    assert d.waiting is Waiting.CONCURRENCY
    assert d.pending is not None
    assert d.pending.count == 2
    assert d.resolution is None


def test_no_concurrency_limit():
    d = decide(spec(max_running=0, policy=Policy.RUN_ALL), Progress(active_runs=50), (), now=130)
    assert d.resolution is not None
    assert len(d.resolution.runs) == 2


def test_blocked_by_dependencies_waits():
    blocker = Edge(dependee=2)
    d = decide(spec(), Progress(), (blocker,), now=130)
    assert d.waiting is Waiting.DEPENDENCIES
    assert d.blockers == (blocker,)
    assert d.resolution is None
    assert d.next_due is None


def test_same_policy_after_waiting_as_after_downtime():
    # Blocked from 60 to 310 then ready: the skip policy handles the backlog as after downtime.
    d = decide(spec(policy=Policy.SKIP, grace_seconds=60), Progress(), (), now=310)
    assert d.resolution is not None
    assert d.resolution.runs == (Run(300, Trigger.SCHEDULE),)
    assert d.resolution.skipped == Skip(240, 4)


def test_max_runs_caps_a_decision_and_exhausts_the_task():
    task = spec(policy=Policy.RUN_ALL, max_running=0, max_runs=3)
    d = decide(task, Progress(scheduled_runs=1), (), now=300)
    assert d.resolution is not None
    assert [r.coalesced_count for r in d.resolution.runs] == [1, 4]
    assert d.exhausted
    assert d.next_due is None
    assert decide(task, Progress(scheduled_runs=3), (), now=900).exhausted


def test_next_event_respects_not_before_and_end():
    assert next_event(spec(start_at=125), 0) == 180
    assert next_event(spec(end_at=179), 120) is None
