"""The engine against a real database, with an injected clock and a recording publisher."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from djag.beat.engine import Engine
from djag.beat.outbox import Dispatch
from djag.beat.watch import CHECK_SECONDS
from djag.models import Crontab, PeriodicTask, RunState, TaskDependency, TaskRun, Trigger
from djag.store.door import Store
from djag.store.ledger import CLAIM_FIELDS
from djag.store.rows import NewRun
from tests.beat.fakes import Wake

T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)  # a Monday, 12:00:00 UTC
E0 = T0.timestamp()

pytestmark = pytest.mark.django_db


class Recorder:
    """A publisher that records messages and can be told to fail."""

    def __init__(self) -> None:
        self.sent: list[Dispatch] = []
        self.failing = False

    def __call__(self, dispatches: Sequence[Dispatch]) -> list[tuple[Dispatch, Exception]]:
        if self.failing:
            return [(d, ConnectionError("broker down")) for d in dispatches]
        self.sent.extend(dispatches)
        return []

    def names(self) -> list[str]:
        return [d.kwargs.get("label", d.task) for d in self.sent]


@pytest.fixture
def wake() -> Wake:
    return Wake()


@pytest.fixture
def publisher() -> Recorder:
    return Recorder()


@pytest.fixture
def engine(publisher: Recorder, wake: Wake) -> Engine:
    return make_engine(publisher, wake)


def make_engine(publisher: Recorder, wake: Wake) -> Engine:
    return Engine(Store(), publisher, poll_seconds=5.0, read_wake_token=wake)


def every(second: str = "0", minute: str = "*", hour: str = "*") -> Crontab:
    crontab, _ = Crontab.objects.get_or_create(second=second, minute=minute, hour=hour)
    return crontab


def make_task(name: str, crontab: Crontab | None = None, **fields) -> PeriodicTask:
    fields.setdefault("start_at", T0)
    return PeriodicTask.objects.create(
        name=name,
        task="tests.append_line",
        crontab=crontab or every(),
        kwargs={"label": name},
        **fields,
    )


def run(engine: Engine, seconds: float) -> float:
    """Tick the engine at T0 + seconds; return the sleep it asked for."""
    return engine.tick(E0 + seconds)


def slots(name: str) -> list[tuple[int, str, int]]:
    rows = TaskRun.objects.filter(task_name=name).order_by("scheduled_for")
    return [
        (
            int(r.scheduled_for.timestamp() - E0) if r.scheduled_for else -1,
            r.state,
            r.coalesced_count,
        )
        for r in rows
    ]


def finish(name: str, state: str = RunState.SUCCESS, at: float = 0.0) -> None:
    TaskRun.objects.filter(task_name=name, state__in=[RunState.SENT, RunState.STARTED]).update(
        state=state, finished_at=T0 + dt.timedelta(seconds=at)
    )


def test_runs_each_event_once_and_hands_the_publisher_each_run_id(engine, publisher):
    make_task("minutely", max_running=0)
    engine.load(E0)
    for second in (0.5, 30, 59.9, 60.2, 61, 119, 120.0, 121):
        run(engine, second)
    assert slots("minutely") == [(60, RunState.SENT, 1), (120, RunState.SENT, 1)]
    assert [d.kwargs for d in publisher.sent] == [{"label": "minutely"}] * 2  # never the run id
    rows = TaskRun.objects.filter(task_name="minutely").order_by("id")
    assert [d.run_id for d in publisher.sent] == [r.id for r in rows]
    assert [d.celery_task_id for d in publisher.sent] == [r.celery_task_id for r in rows]
    assert all(r.trigger == "schedule" for r in rows)


def test_tick_sleeps_until_next_event_or_check(engine):
    make_task("hourly", every(minute="0"))
    engine.load(E0)
    assert run(engine, 1) == pytest.approx(CHECK_SECONDS, abs=0.01)
    engine.watch.check_seconds = 10_000
    engine.next_check = E0 + 10_000
    assert run(engine, 2) == pytest.approx(3600 - 2)


def test_downtime_is_coalesced_on_load(engine):
    make_task("minutely")
    engine.load(E0 + 310)
    run(engine, 310)
    assert slots("minutely") == [(300, RunState.SENT, 5)]
    assert TaskRun.objects.get().trigger == "coalesced"


def test_run_all_after_downtime_within_max_running(engine):
    make_task("catch up", misfire_policy="run_all", max_running=0, max_catchup=3)
    engine.load(E0 + 310)
    run(engine, 310)
    assert slots("catch up") == [(60, "sent", 1), (120, "sent", 1), (300, "sent", 3)]


def test_skip_records_skipped_events(engine):
    make_task("skipper", misfire_policy="skip", grace_seconds=30)
    engine.load(E0 + 310)
    run(engine, 310)
    assert slots("skipper") == [(240, RunState.SKIPPED, 4), (300, RunState.SENT, 1)]


def test_restart_does_not_repeat_handled_events(publisher, wake):
    make_task("minutely", max_running=0)
    first = make_engine(publisher, wake)
    first.load(E0)
    run(first, 61)
    second = make_engine(publisher, wake)
    second.load(E0 + 62)
    run(second, 62)
    run(second, 121)
    assert [s for s, _, _ in slots("minutely")] == [60, 120]
    assert len(publisher.sent) == 2


def test_checkpoint_survives_pruned_history(publisher, wake):
    make_task("minutely")
    first = make_engine(publisher, wake)
    first.load(E0)
    run(first, 61)
    first.sync(E0 + 62)
    TaskRun.objects.all().delete()
    second = make_engine(publisher, wake)
    second.load(E0 + 70)
    run(second, 70)
    assert TaskRun.objects.count() == 0


def test_change_is_picked_up_on_wake(engine, wake):
    task = make_task("edited", every(minute="0"))
    engine.load(E0)
    run(engine, 1)
    task.crontab = every(second="*/10")
    task.save()
    wake.touch()
    run(engine, 1.6)  # next check: reads the change, resumes from the edit
    resume = PeriodicTask.objects.get(pk=task.pk).resume_at.timestamp()
    run(engine, resume - E0 + 10.5)
    assert len(slots("edited")) == 1


def test_change_is_picked_up_by_fallback_poll_without_wake(engine):
    engine.load(E0)
    make_task("new", start_at=T0)
    run(engine, 1)
    assert engine.tasks == {}
    run(engine, 6)
    assert len(engine.tasks) == 1


def test_disabled_task_does_not_run_and_resumes_from_enable(engine, wake):
    task = make_task("toggle", enabled=False)
    engine.load(E0)
    run(engine, 200)
    assert slots("toggle") == []
    task.enabled = True
    task.save()
    wake.touch()
    enabled_at = PeriodicTask.objects.get(pk=task.pk).resume_at.timestamp() - E0
    run(engine, enabled_at + 61)
    assert all(s > enabled_at for s, _, _ in slots("toggle"))
    assert len(slots("toggle")) == 1


def test_deleted_task_stops(engine, wake):
    task = make_task("doomed")
    engine.load(E0)
    run(engine, 61)
    task.delete()
    wake.touch()
    run(engine, 62)
    run(engine, 200)
    assert TaskRun.objects.filter(task_name="doomed").count() == 1


def test_max_running_waits_then_coalesces(engine, wake):
    make_task("slow")
    engine.load(E0)
    run(engine, 61)
    run(engine, 181)  # the 60 run is still active: 120 and 180 wait
    assert len(slots("slow")) == 1
    finish("slow", at=185)
    wake.touch()
    run(engine, 186)
    assert slots("slow") == [(60, "success", 1), (180, "sent", 2)]


def test_dependency_chain_runs_in_order(engine, wake, publisher):
    a, b = make_task("a"), make_task("b")
    TaskDependency.objects.create(depender=b, dependee=a)
    engine.load(E0)
    run(engine, 61)
    assert publisher.names() == ["a"]
    finish("a", at=63)
    wake.touch()
    run(engine, 64)
    assert publisher.names() == ["a", "b"]
    assert slots("b") == [(60, "sent", 1)]


def test_a_claim_is_never_stamped_before_the_finish_it_was_decided_on(engine, wake, publisher):
    # A worker's clock ahead of beat's (or a tick that started before a slow read):
    # beat learns at 64.0 that "a" finished at 64.7 on the worker's clock.
    a, b = make_task("a"), make_task("b")
    TaskDependency.objects.create(depender=b, dependee=a)
    engine.load(E0)
    run(engine, 61)
    finish("a", at=64.7)
    wake.touch()
    run(engine, 64)
    assert publisher.names() == ["a", "b"]
    finish("b", at=65)
    wake.touch()
    run(engine, 65.5)
    # The next cycle: b must wait for a new run of a, not count a's old one.
    run(engine, 120.1)
    assert publisher.names() == ["a", "b", "a"]


def test_blocked_task_costs_no_query_on_idle_ticks(engine):
    a, b = make_task("a", every(minute="0", hour="0")), make_task("b")
    TaskDependency.objects.create(depender=b, dependee=a)
    engine.load(E0)
    run(engine, 61)
    assert b.pk in engine.waiting
    with CaptureQueriesContext(connection) as queries:
        for offset in (61.1, 61.2, 61.3):
            run(engine, offset)
    assert len(queries) == 0


def test_idle_tick_reads_at_most_one_query(engine):
    for i in range(50):
        make_task(f"t{i}", every(minute="0"))
    engine.load(E0)
    run(engine, 0.1)
    per_tick = []
    for step in range(1, 61):  # 30 s of ticks every 0.5 s: checks and fallback polls
        with CaptureQueriesContext(connection) as queries:
            run(engine, 0.1 + step * 0.5)
        per_tick.append(len(queries))
    assert max(per_tick) == 1
    assert sum(per_tick) == 6  # one query per fallback poll (every 5 s), none per check


def test_quiet_poll_still_sees_runs_and_changes_made_by_others(engine, wake):
    report = make_task("report", max_running=1)
    engine.load(E0)
    run(engine, 0.1)
    # A manual run claimed by the admin, the cache silent: the fallback poll must see it.
    TaskRun.objects.create(
        periodic_task=report, task_name="report", trigger="manual", state=RunState.SENT
    )
    run(engine, 5.2)
    assert engine.progress(report.pk).active_runs == 1
    run(engine, 61)  # its event is due but the manual run holds the only slot
    assert slots("report") == [(-1, RunState.SENT, 1)]
    TaskRun.objects.filter(task_name="report").update(state=RunState.SUCCESS, finished_at=T0)
    run(engine, 66.5)
    # sorted: databases disagree on where NULL (the manual run's slot) sorts
    assert sorted(slots("report")) == [(-1, RunState.SUCCESS, 1), (60, RunState.SENT, 1)]


def test_lost_run_frees_its_slot(engine):
    make_task("stuck", run_timeout_seconds=100)
    engine.load(E0)
    run(engine, 61)
    run(engine, 170)  # fallback poll: 109 s since the claim > 100 s timeout
    run(engine, 171)
    states = slots("stuck")
    assert states[0][1] == RunState.LOST
    assert states[1][:2] == (120, RunState.SENT)


def test_split_brain_claims_each_slot_once(publisher, wake):
    make_task("contested")
    one, two = make_engine(publisher, wake), make_engine(publisher, wake)
    one.load(E0)
    two.load(E0)
    run(one, 61)
    run(two, 61)
    assert slots("contested") == [(60, RunState.SENT, 1)]
    assert len(publisher.sent) == 1


def test_a_claim_writes_every_column_the_database_cannot_leave_empty():
    required = {
        field.name
        for field in TaskRun._meta.concrete_fields
        if not field.null and not field.primary_key
    }
    assert required <= set(CLAIM_FIELDS)


def test_claimed_rows_are_what_the_model_would_save(db, make_task):
    task = make_task(name="claimed")
    store = Store()
    runs = [
        NewRun(task.id, "claimed", "tests.append_line", 1_700_000_040, Trigger.SCHEDULE, 3),
        NewRun(task.id, "claimed", "tests.append_line", 1_700_000_100, "schedule", skipped=True),
        NewRun(task.id, "claimed", "tests.append_line", None, Trigger.MANUAL),
    ]
    won = store.claim(runs, now=1_700_000_100.25)
    assert store.claim(runs[:2], now=1_700_000_101.0) == []  # slots already taken
    rows = list(TaskRun.objects.order_by("id"))
    for row in rows:
        row.full_clean()
    claimed_at = dt.datetime(2023, 11, 14, 22, 15, 0, 250000, tzinfo=dt.UTC)
    assert [
        (r.scheduled_for, r.state, r.coalesced_count, r.claimed_at, r.finished_at) for r in rows
    ] == [
        (dt.datetime(2023, 11, 14, 22, 14, tzinfo=dt.UTC), RunState.CLAIMED, 3, claimed_at, None),
        (
            dt.datetime(2023, 11, 14, 22, 15, tzinfo=dt.UTC),
            RunState.SKIPPED,
            1,
            claimed_at,
            claimed_at,
        ),
        (None, RunState.CLAIMED, 1, claimed_at, None),
    ]
    assert [(w.id, w.celery_task_id) for w in won] == [
        (rows[0].id, rows[0].celery_task_id),
        (rows[2].id, rows[2].celery_task_id),
    ]
    assert rows[1].celery_task_id == ""


def test_failed_publish_is_retried_with_the_same_id(engine, publisher):
    make_task("flaky")
    engine.load(E0)
    publisher.failing = True
    run(engine, 61)
    assert slots("flaky") == [(60, RunState.CLAIMED, 1)]
    publisher.failing = False
    run(engine, 62)  # within the retry pause
    assert publisher.sent == []
    run(engine, 67)
    assert slots("flaky") == [(60, RunState.SENT, 1)]
    assert publisher.sent[0].celery_task_id == TaskRun.objects.get().celery_task_id


def test_claimed_but_unsent_runs_are_republished_on_load(publisher, wake):
    make_task("orphan")
    crashed = make_engine(Recorder(), wake)
    crashed.load(E0)
    crashed.publish.failing = True  # type: ignore[attr-defined]
    run(crashed, 61)
    successor = make_engine(publisher, wake)
    successor.load(E0 + 70)
    assert [d.celery_task_id for d in publisher.sent] == [TaskRun.objects.get().celery_task_id]
    assert slots("orphan") == [(60, RunState.SENT, 1)]


def test_max_runs_disables_the_task(engine, wake):
    task = make_task("twice", max_runs=2, max_running=0)
    engine.load(E0)
    for second in (61, 121, 181):
        run(engine, second)
        wake.touch()
    assert len(slots("twice")) == 2
    assert not PeriodicTask.objects.get(pk=task.pk).enabled


def test_end_at_stops_events(engine):
    make_task("short", end_at=T0 + dt.timedelta(seconds=130), max_running=0)
    engine.load(E0)
    for second in (61, 121, 181, 241):
        run(engine, second)
    assert [s for s, _, _ in slots("short")] == [60, 120]


def corrupt(table_model: type, pk: int, column: str, value: str) -> None:
    """Write a value behind the ORM's back, as a bad migration or a manual fix would."""
    table = table_model._meta.db_table
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(table)} SET {quote(column)} = %s WHERE id = %s",
            [value, pk],
        )


def assert_reported_while_others_run(engine, publisher, bad, problem):
    """Two minutes from a fresh load: "good" runs each minute, ``bad`` never, with its problem."""
    engine.load(E0)
    for second in (1, 60.5, 120.5):
        run(engine, second)
    assert publisher.names() == ["good", "good"]
    bad.refresh_from_db()
    assert problem in bad.problem
    assert bad.problem_at is not None


@pytest.mark.parametrize(
    ("model", "column", "value", "problem"),
    [
        (Crontab, "minute", "99", "crontab"),
        (Crontab, "timezone", "Mars/Olympus_Mons", "Mars/Olympus_Mons"),
        (Crontab, "timezone", "America", "unknown time zone 'America'"),  # a folder of zones
    ],
)
def test_corrupted_row_is_reported_and_other_tasks_keep_running(
    engine, publisher, model, column, value, problem
):
    make_task("good", max_running=0)
    bad = make_task("bad", every(second="30"))
    corrupt(model, bad.crontab_id if model is Crontab else bad.pk, column, value)
    assert_reported_while_others_run(engine, publisher, bad, problem)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="only SQLite can skip CHECK constraints")
@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("args", "[1,", "args is not valid JSON"),
        ("kwargs", "[1]", "kwargs must be a JSON object, not list"),
        ("headers", '"x"', "headers must be a JSON object, not str"),
    ],
)
def test_undecodable_arguments_are_reported_and_other_tasks_keep_running(
    engine, publisher, column, value, problem
):
    make_task("good", max_running=0)
    bad = make_task("bad", every(second="30"))
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA ignore_check_constraints = ON")
        try:
            corrupt(PeriodicTask, bad.pk, column, value)
        finally:
            cursor.execute("PRAGMA ignore_check_constraints = OFF")
    assert_reported_while_others_run(engine, publisher, bad, problem)
