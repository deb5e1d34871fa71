"""Intervals, exclusions and jitter through the engine: a fake store, a simulated clock.

Each test builds task rows as the store reads them (``djag.store.rows``) and lets the engine
compile them (``djag.store.compile``), decide and claim, tick by tick.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from djag.beat.engine import Engine
from djag.core.jitter import Jitter
from djag.core.vocab import RunState, Trigger
from djag.store.rows import CrontabRow, ExclusionRow, IntervalRow, TaskRow
from tests.beat.fakes import Broker, FakeStore, task_row
from tests.beat.test_engine import make_engine, run_until

T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC).timestamp()  # a Monday, 12:00:00 UTC
NOON = ("0", "0", "12", "*", "*", "*")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def store() -> FakeStore:
    store = FakeStore()
    store.crontabs[2] = CrontabRow(2, NOON, "UTC")
    return store


def row(task_id: int, **fields: object) -> TaskRow:
    """A task row whose runs never wait for each other (they stay "sent": no worker here)."""
    return task_row(task_id, **{"max_running": 0, **fields})


def slots(store: FakeStore, task_id: int) -> list[int]:
    return sorted(run.scheduled_for for run in store.runs_of(task_id) if run.scheduled_for)


def ran(store: FakeStore, task_id: int) -> list[int]:
    """The slots that were dispatched (not recorded as skipped)."""
    return sorted(
        run.scheduled_for
        for run in store.runs_of(task_id)
        if run.scheduled_for and run.state != RunState.SKIPPED
    )


def day(text: str, hour: int = 12) -> int:
    return int(dt.datetime.fromisoformat(text).replace(hour=hour, tzinfo=dt.UTC).timestamp())


def test_an_interval_task_runs_every_n_seconds_from_its_anchor(
    store: FakeStore, broker: Broker
) -> None:
    anchor = int(T0) + 30
    store.add_task(row(1, crontab_id=None, interval=IntervalRow(90, anchor, "UTC"), max_running=0))
    engine = make_engine(store, broker)
    run_until(engine, T0 + 400)
    assert slots(store, 1) == [anchor + 90 * k for k in range(5)]
    assert [d.task_id for d in broker.sent] == [1] * 5


def test_an_interval_task_without_anchor_counts_from_its_start(
    store: FakeStore, broker: Broker
) -> None:
    start = int(T0) - 10
    store.add_task(row(1, crontab_id=None, interval=IntervalRow(7, None, "UTC"), start_at=start))
    run_until(make_engine(store, broker), T0 + 30)
    assert slots(store, 1) == [start + 7 * k for k in range(1, 6)]  # none at the start itself


def test_an_interval_keeps_its_spacing_across_a_dst_change(
    store: FakeStore, broker: Broker
) -> None:
    """Every 6 hours from 05:00 in New York, over the spring-forward night of 2026-03-08."""
    anchor = int(dt.datetime(2026, 3, 7, 5, 0, tzinfo=NEW_YORK).timestamp())
    store.add_task(
        row(
            1,
            crontab_id=None,
            interval=IntervalRow(6 * 3600, anchor, "America/New_York"),
            start_at=anchor - 1,
            max_running=0,
        )
    )
    engine = make_engine(store, broker)
    run_until(engine, anchor + 2 * 86400 + 60, start=anchor - 1, step=60)
    fired = slots(store, 1)
    assert fired == [anchor + 6 * 3600 * k for k in range(9)]
    local = [dt.datetime.fromtimestamp(s, NEW_YORK).strftime("%d %H:%M") for s in fired]
    assert local == [
        "07 05:00",
        "07 11:00",
        "07 17:00",
        "07 23:00",
        "08 06:00",  # elapsed time: the clock moved, the runs did not
        "08 12:00",
        "08 18:00",
        "09 00:00",
        "09 06:00",
    ]


def test_an_interval_task_waits_on_its_dependencies_like_a_crontab_task(
    store: FakeStore, broker: Broker
) -> None:
    from djag.core.dag import Edge

    store.add_task(row(1, start_at=int(T0) - 1, max_running=1))  # every minute
    store.add_task(
        row(2, crontab_id=None, interval=IntervalRow(30, int(T0), "UTC"), start_at=int(T0))
    )
    store.add_edge(2, Edge(dependee=1))
    engine = make_engine(store, broker)
    run_until(engine, T0 + 40)
    assert slots(store, 2) == []  # the dependee's run has not finished
    [producer] = store.runs_of(1)
    store.finish(producer.id, RunState.SUCCESS, T0 + 41)
    run_until(engine, T0 + 50, start=T0 + 41)
    [waited] = store.runs_of(2)
    assert (waited.scheduled_for, waited.trigger) == (int(T0) + 30, Trigger.SCHEDULE)


def test_excluded_dates_are_recorded_as_skipped_with_their_reason(
    store: FakeStore, broker: Broker
) -> None:
    store.add_task(
        row(
            1,
            crontab_id=2,
            start_at=int(T0) - 1,
            exclusions=ExclusionRow(dates="2026-03-04", weekdays="sat,sun"),
        )
    )
    engine = make_engine(store, broker)
    run_until(engine, T0 + 7 * 86400 + 60, step=30)
    weekdays = ["2026-03-02", "2026-03-03", "2026-03-05", "2026-03-06", "2026-03-09"]
    assert ran(store, 1) == [day(d) for d in weekdays]
    skipped = {run.scheduled_for: run for run in store.runs_of(1) if run.state == "skipped"}
    assert {s: (r.note, r.coalesced_count) for s, r in skipped.items()} == {
        day("2026-03-04"): ("excluded: 2026-03-04 (listed date)", 1),
        day("2026-03-07"): ("excluded: 2026-03-07 (Saturday)", 1),
        day("2026-03-08"): ("excluded: 2026-03-08 (Sunday)", 1),
    }
    for moment, run in skipped.items():  # recorded when the date's last event passed
        assert moment <= run.claimed_at <= moment + 30
    assert engine.tasks[1].last_event == day("2026-03-09")


def test_a_holiday_calendar_from_the_holidays_package_excludes_its_days(
    store: FakeStore, broker: Broker
) -> None:
    start = day("2026-07-01")
    store.add_task(row(1, crontab_id=2, start_at=start, exclusions=ExclusionRow(holidays="us")))
    engine = make_engine(store, broker)
    run_until(engine, start + 4 * 86400 + 60, start=start, step=60)
    assert ran(store, 1) == [day("2026-07-02"), day("2026-07-05")]
    notes = [run.note for run in store.runs_of(1) if run.state == RunState.SKIPPED]
    assert notes == [  # July 4th is a Saturday: the Friday before is the day off
        "excluded: 2026-07-03 (Independence Day (observed))",
        "excluded: 2026-07-04 (Independence Day)",
    ]


def test_jitter_releases_each_run_at_its_slot_plus_a_stable_delay(
    store: FakeStore, broker: Broker
) -> None:
    for task_id in range(1, 6):
        store.add_task(row(task_id, start_at=int(T0) - 1, jitter_seconds=45, max_running=0))
    engine = make_engine(store, broker)
    run_until(engine, T0 + 4 * 60 + 50)
    delays = set()
    for task_id in range(1, 6):
        runs = sorted(store.runs_of(task_id), key=lambda run: run.scheduled_for or 0)
        assert [run.scheduled_for for run in runs] == [int(T0) + 60 * k for k in range(5)]
        for run in runs:
            assert run.scheduled_for is not None
            expected = Jitter(45, f"task {task_id}").delay(
                run.scheduled_for, run.scheduled_for + 60
            )
            assert run.delay == expected  # recorded beside the slot
            released = run.scheduled_for + expected
            assert released <= run.claimed_at < released + 0.5  # not before, at once after
            assert run.trigger == Trigger.SCHEDULE
            delays.add(expected)
    assert len(delays) > 10  # 25 runs due on 5 minutes are spread, not bunched


def test_every_beat_releases_a_slot_after_the_same_delay(broker: Broker) -> None:
    """Two beats, one after the other, from the same rows: the same delays."""
    released: list[list[tuple[int | None, int]]] = []
    for _ in range(2):
        store = FakeStore()
        for task_id in range(1, 4):
            store.add_task(row(task_id, start_at=int(T0) - 1, jitter_seconds=50))
        run_until(make_engine(store, broker), T0 + 170)
        released.append(sorted((run.scheduled_for, run.delay) for run in store.runs.values()))
    assert released[0] == released[1]
    assert len(released[0]) == 9


def test_a_jittered_run_is_on_time_after_its_release(store: FakeStore, broker: Broker) -> None:
    """The misfire policy counts lateness from the release: a skip task still runs."""
    store.add_task(
        row(1, start_at=int(T0) - 1, jitter_seconds=59, misfire_policy="skip", grace_seconds=0)
    )
    run_until(make_engine(store, broker), T0 + 300)
    assert {run.state for run in store.runs_of(1)} == {RunState.SENT}
    assert len(store.runs_of(1)) == 5


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"exclusions": ExclusionRow(dates="2026-02-30")}, "exclude_dates: '2026-02-30' is not"),
        ({"exclusions": ExclusionRow(weekdays="funday")}, "exclude_weekdays: "),
        ({"exclusions": ExclusionRow(holidays="XX")}, "holiday_calendar: 'XX' is not a country"),
        ({"exclusions": ExclusionRow(holidays="US-ZZ")}, "'ZZ' is not a subdivision of US"),
        ({"jitter_seconds": 10**6}, "jitter_seconds: 1000000 is not a whole number"),
        (
            {"crontab_id": None, "interval": IntervalRow(60, None, "Mars/Base")},
            "interval: unknown time zone 'Mars/Base'",
        ),
        (
            {"crontab_id": None, "interval": IntervalRow(0, None, "UTC")},
            "interval: every: 0 is not a whole number of seconds",
        ),
    ],
)
def test_a_bad_value_is_a_recorded_problem_and_other_tasks_run(
    store: FakeStore, broker: Broker, fields: dict, problem: str
) -> None:
    store.add_task(row(1, start_at=int(T0) - 1, max_running=0))
    store.add_task(row(2, start_at=int(T0) - 1, **fields))
    engine = make_engine(store, broker)
    run_until(engine, T0 + 60)
    assert problem in store.problems[2]
    assert slots(store, 1) == [int(T0), int(T0) + 60]
    assert store.runs_of(2) == []


def test_an_edit_to_an_interval_applies_without_a_reload(store: FakeStore, broker: Broker) -> None:
    store.add_task(row(1, crontab_id=None, interval=IntervalRow(10, int(T0), "UTC")))
    engine: Engine = make_engine(store, broker)
    run_until(engine, T0 + 25)
    store.edit_task(1, interval=IntervalRow(20, int(T0), "UTC"), resume_at=int(T0) + 25)
    run_until(engine, T0 + 80, start=T0 + 25.5)
    assert slots(store, 1) == [int(T0) + s for s in (0, 10, 20, 40, 60, 80)]


def test_a_beat_that_loads_before_an_excluded_date_records_it_when_the_date_ends(
    store: FakeStore, broker: Broker
) -> None:
    """Loaded on a Friday evening: the weekend is recorded on the weekend, not on Monday."""
    friday = day("2026-03-06", hour=18)
    store.add_task(row(1, crontab_id=2, start_at=friday, exclusions=ExclusionRow(weekdays="0,6")))
    engine = make_engine(store, broker)
    engine.load(friday)
    run_until(engine, day("2026-03-09") + 60, start=friday, step=60)
    assert ran(store, 1) == [day("2026-03-09")]
    recorded = {
        run.scheduled_for: run.claimed_at
        for run in store.runs_of(1)
        if run.state == RunState.SKIPPED
    }
    assert sorted(recorded) == [day("2026-03-07"), day("2026-03-08")]
    for moment, claimed_at in recorded.items():
        assert moment <= claimed_at <= moment + 60
