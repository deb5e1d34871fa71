from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from djag.core.cron import CronSchedule, parse_cron, parse_line
from djag.core.dag import Edge
from djag.core.exclusions import ExcludingSchedule, Exclusions, HolidayCalendar
from djag.core.jitter import Jitter
from djag.core.misfire import Policy, Resolution, Run, Skip, Trigger
from djag.core.plan import Progress, TaskSpec, Waiting, decide, next_due, next_event

from .schedules import Every
from .simulation import drive

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


# --- exclusions: excluded events are not run, and every one is recorded ------------------------

NEW_YORK = ZoneInfo("America/New_York")
WEEKEND = Exclusions(weekdays=frozenset({0, 6}))
FRIDAY = int(datetime(2026, 6, 5, 9, tzinfo=NEW_YORK).timestamp())  # Friday 5 June 2026, 09:00
DAY = 86400


def daily_at_nine(exclusions: Exclusions = WEEKEND, **overrides) -> TaskSpec:
    base = CronSchedule(parse_cron(*parse_line("0 9 * * *")), NEW_YORK)
    return spec(schedule=ExcludingSchedule(base, exclusions, NEW_YORK), **overrides)


def test_an_excluded_date_is_recorded_when_its_events_are_over():
    task = daily_at_nine()
    friday = Progress(last_event=FRIDAY)
    assert next_due(task, FRIDAY) == FRIDAY + DAY  # Saturday 09:00, its last event
    saturday = decide(task, friday, (), now=FRIDAY + DAY)
    assert saturday.resolution == Resolution(
        (), None, FRIDAY + DAY, (Skip(FRIDAY + DAY, 1, "excluded: 2026-06-06 (Saturday)"),)
    )
    assert saturday.next_due == FRIDAY + 2 * DAY
    sunday = decide(task, Progress(last_event=FRIDAY + DAY), (), now=FRIDAY + 2 * DAY)
    assert sunday.resolution is not None
    assert sunday.resolution.excluded == (
        Skip(FRIDAY + 2 * DAY, 1, "excluded: 2026-06-07 (Sunday)"),
    )
    assert sunday.next_due == FRIDAY + 3 * DAY
    monday = decide(task, Progress(last_event=FRIDAY + 2 * DAY), (), now=FRIDAY + 3 * DAY)
    assert monday.resolution is not None
    assert monday.resolution.runs == (Run(FRIDAY + 3 * DAY, Trigger.SCHEDULE),)
    assert monday.resolution.excluded == ()


def test_a_backlog_over_a_weekend_runs_once_and_records_both_days():
    task = daily_at_nine()
    decision = decide(task, Progress(last_event=FRIDAY), (), now=FRIDAY + 3 * DAY + 1800)
    assert decision.resolution is not None
    assert decision.resolution.runs == (Run(FRIDAY + 3 * DAY, Trigger.CATCHUP),)
    assert [skip.reason for skip in decision.resolution.excluded] == [
        "excluded: 2026-06-06 (Saturday)",
        "excluded: 2026-06-07 (Sunday)",
    ]
    assert decision.resolution.handled_through == FRIDAY + 3 * DAY


def test_skip_policy_records_missed_and_excluded_events_apart():
    task = daily_at_nine(policy=Policy.SKIP)
    decision = decide(task, Progress(last_event=FRIDAY - 2 * DAY), (), now=FRIDAY + 3 * DAY + 30)
    assert decision.resolution is not None
    assert decision.resolution.runs == (Run(FRIDAY + 3 * DAY, Trigger.SCHEDULE),)
    assert decision.resolution.skipped == Skip(FRIDAY, 2)  # Thursday and Friday, missed
    assert len(decision.resolution.excluded) == 2


def test_excluded_events_before_end_at_are_recorded():
    sunday_noon = FRIDAY + 2 * DAY + 3 * 3600
    task = daily_at_nine(start_at=FRIDAY, end_at=sunday_noon)
    decided = drive(task, FRIDAY + 1, FRIDAY + 10 * DAY)
    assert [at - FRIDAY for at, _ in decided] == [DAY, 2 * DAY]
    assert [d.resolution.excluded[0].reason for _, d in decided if d.resolution] == [
        "excluded: 2026-06-06 (Saturday)",
        "excluded: 2026-06-07 (Sunday)",
    ]


def test_nothing_is_lost_over_a_month_of_a_busy_schedule():
    """Every event of the base schedule is run or recorded, exactly once, over June 2026."""
    holidays = HolidayCalendar("test", lambda year: {date(year, 6, 19): "Juneteenth"})
    base = CronSchedule(parse_cron(*parse_line("*/10 * * * *")), NEW_YORK)
    exclusions = Exclusions(weekdays=frozenset({0, 6}), holidays=holidays)
    task = spec(
        schedule=ExcludingSchedule(base, exclusions, NEW_YORK),
        start_at=int(datetime(2026, 6, 1, tzinfo=NEW_YORK).timestamp()),
        jitter=Jitter(900, "busy"),
    )
    end = int(datetime(2026, 7, 1, tzinfo=NEW_YORK).timestamp())
    decided = drive(task, task.start_at, end)
    runs = [run for _, d in decided if d.resolution for run in d.resolution.runs]
    excluded = [skip for _, d in decided if d.resolution for skip in d.resolution.excluded]
    handled = max(d.resolution.handled_through for _, d in decided if d.resolution)
    assert sum(run.coalesced_count for run in runs) + sum(s.count for s in excluded) == (
        base.count(task.start_at, handled)
    )
    assert len(excluded) == 9  # four weekends and Juneteenth, a Friday
    assert "excluded: 2026-06-19 (Juneteenth)" in {skip.reason for skip in excluded}
    assert all(run.delay < 600 for run in runs)  # below the gap to the next event
    assert max(run.delay for run in runs) > 500


def test_excluded_events_after_the_newest_run_are_handled_too():
    """Beat down from Thursday to Saturday noon: Friday runs late, Saturday is recorded."""
    task = daily_at_nine()
    decision = decide(task, Progress(last_event=FRIDAY - DAY), (), now=FRIDAY + DAY + 3 * 3600)
    assert decision.resolution is not None
    assert decision.resolution.runs == (Run(FRIDAY, Trigger.CATCHUP),)
    assert decision.resolution.excluded == (
        Skip(FRIDAY + DAY, 1, "excluded: 2026-06-06 (Saturday)"),
    )
    assert decision.resolution.handled_through == FRIDAY + DAY
    assert decision.next_due == FRIDAY + 2 * DAY
