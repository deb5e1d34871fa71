"""djag.core.jitter and the planner's use of it: a stable delay per slot, never past the next."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime

import pytest

from djag.core.interval import IntervalSchedule
from djag.core.jitter import MAX_JITTER, Jitter, JitterError
from djag.core.misfire import Policy, Trigger
from djag.core.plan import Progress, TaskSpec, decide, delay_of, next_due

from .schedules import Every
from .simulation import drive

T0 = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp())
HOUR = 3600


def test_the_same_slot_gets_the_same_delay() -> None:
    first, second = Jitter(300, "reports.nightly"), Jitter(300, "reports.nightly")
    slots = [T0 + k * HOUR for k in range(200)]
    assert [first.delay(s, s + HOUR) for s in slots] == [second.delay(s, s + HOUR) for s in slots]
    assert len({first.delay(s, s + HOUR) for s in slots}) > 100  # spread over the window
    assert all(0 <= first.delay(s, s + HOUR) <= 300 for s in slots)
    other = Jitter(300, "reports.weekly")
    assert [other.delay(s, s + HOUR) for s in slots] != [first.delay(s, s + HOUR) for s in slots]


def test_the_delay_is_the_same_in_every_python_process() -> None:
    """No use of hash(): another interpreter, with another hash seed, draws the same delays."""
    code = (
        "from djag.core.jitter import Jitter; "
        f"print([Jitter(300, 'task-\\u00e9').delay({T0} + k * 3600, None) for k in range(20)])"
    )
    here = [Jitter(300, "task-\u00e9").delay(T0 + k * HOUR, None) for k in range(20)]
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == str(here)


def test_events_closer_than_the_jitter_are_released_before_the_next() -> None:
    jitter = Jitter(300, "every-minute")
    delays = [jitter.delay(T0 + k * 60, T0 + (k + 1) * 60) for k in range(500)]
    assert max(delays) <= 59
    assert len(set(delays)) > 40
    assert {jitter.delay(T0 + k, T0 + k + 1) for k in range(100)} == {0}
    assert Jitter(0, "none").delay(T0, None) == 0


def test_a_key_with_any_text_works() -> None:
    assert 0 <= Jitter(60, "\ud800 lone surrogate \x00").delay(T0, None) <= 60


@pytest.mark.parametrize("seconds", [-1, MAX_JITTER + 1, 1.5, True, "60"])
def test_bounds(seconds: object) -> None:
    with pytest.raises(JitterError) as raised:
        Jitter(seconds, "key")  # type: ignore[arg-type]
    assert raised.value.field == "jitter_seconds"


# --- through the planner ---------------------------------------------------------------------


def hourly(jitter: int = 600, **overrides: object) -> TaskSpec:
    schedule = IntervalSchedule(every=HOUR, anchor=T0)
    return TaskSpec(id=1, schedule=schedule, jitter=Jitter(jitter, "hourly"), **overrides)  # type: ignore[arg-type]


def test_an_event_waits_for_its_release() -> None:
    task = hourly()
    delay = delay_of(task, T0 + HOUR)
    assert 0 < delay <= 600
    assert next_due(task, T0) == T0 + HOUR + delay
    early = decide(task, Progress(last_event=T0), (), now=T0 + HOUR)
    assert early.resolution is None
    assert early.next_due == T0 + HOUR + delay
    released = decide(task, Progress(last_event=T0), (), now=T0 + HOUR + delay)
    assert released.resolution is not None
    (run,) = released.resolution.runs
    assert (run.scheduled_for, run.delay, run.trigger) == (T0 + HOUR, delay, Trigger.SCHEDULE)
    assert released.next_due == T0 + 2 * HOUR + delay_of(task, T0 + 2 * HOUR)


def test_late_by_jitter_is_still_on_time_for_the_skip_policy() -> None:
    task = hourly(jitter=3000, policy=Policy.SKIP, grace_seconds=60)
    slot = next(T0 + k * HOUR for k in range(1, 100) if delay_of(task, T0 + k * HOUR) > 120)
    decision = decide(task, Progress(last_event=slot - HOUR), (), now=slot + delay_of(task, slot))
    assert decision.resolution is not None
    assert [run.scheduled_for for run in decision.resolution.runs] == [slot]
    assert decision.resolution.skipped is None


def test_older_events_go_while_the_newest_is_held() -> None:
    """Beat was down for three hours; the newest event is not released yet."""
    task = hourly(policy=Policy.RUN_ALL, max_running=0)
    newest = T0 + 3 * HOUR
    now = newest + delay_of(task, newest) - 1
    decision = decide(task, Progress(last_event=T0), (), now=now)
    assert decision.resolution is not None
    assert [run.scheduled_for for run in decision.resolution.runs] == [T0 + HOUR, T0 + 2 * HOUR]
    assert decision.resolution.handled_through == T0 + 2 * HOUR
    assert decision.next_due == newest + delay_of(task, newest)


def test_a_burst_of_tasks_is_spread_and_each_slot_runs_once() -> None:
    released: Counter[int] = Counter()
    releases_of_first_slot = set()
    for task_id in range(50):
        jitter = Jitter(900, f"task-{task_id}")
        task = TaskSpec(id=task_id, schedule=Every(3600), start_at=T0, jitter=jitter)
        for at, decision in drive(task, T0, T0 + 24 * HOUR + 900):
            assert decision.resolution is not None
            (run,) = decision.resolution.runs
            assert at == run.scheduled_for + run.delay
            released[run.scheduled_for] += 1
            if run.scheduled_for == T0 + HOUR:
                releases_of_first_slot.add(at)
    assert set(released.values()) == {50}
    assert len(released) == 24
    assert len(releases_of_first_slot) > 40  # the burst of 50 is spread over 15 minutes
