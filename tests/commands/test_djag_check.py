"""djag_check: what keeps tasks from running, reported with a fix; non-zero exit."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from djag.core.alerts import AlertKind
from djag.models import Crontab, PeriodicTask, RunState, TaskRun, Trigger
from djag.store.alerts import record_alerts

from .conftest import T0, edge, run, task

pytestmark = pytest.mark.django_db

NOW = "2026-03-02T12:00:00Z"  # T0
HOUR = dt.timedelta(hours=1)


def check(*args: str) -> tuple[str, CommandError]:
    """Run djag_check expecting problems: (stdout, the error it raised)."""
    out = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("djag_check", "--now", NOW, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue(), caught.value


def section(text: str, title: str) -> list[str]:
    """The items listed under a section title."""
    lines = text.splitlines()
    start = lines.index(f"{title}:")
    items = []
    for line in lines[start + 1 :]:
        if not line:
            break
        items.append(line)
    return items


def finished_run(periodic_task: PeriodicTask, state: str, claimed: dt.datetime) -> TaskRun:
    return TaskRun.objects.create(
        periodic_task=periodic_task,
        task_name=periodic_task.name,
        scheduled_for=claimed,
        trigger=Trigger.SCHEDULE,
        state=state,
        claimed_at=claimed,
        finished_at=claimed + dt.timedelta(minutes=1),
    )


def test_a_healthy_schedule_passes():
    producer, consumer = task("producer"), task("consumer")
    edge(consumer, producer)
    # A producer/consumer pair through a future edge is not a deadlock.
    edge(producer, consumer, future_depends=True)
    assert run("djag_check", "--now", NOW) == (
        "No problems: 2 tasks, 2 dependencies and 1 crontab checked.\n"
    )


def test_dependers_of_a_disabled_dependee_are_reported_down_the_chain():
    producer = task("producer", enabled=False)
    consumer, report = task("consumer"), task("report")
    edge(consumer, producer)
    edge(report, consumer)
    text, error = check()
    assert section(text, "Dependers that can never run") == [
        "  'consumer' waits for 'producer', which is disabled: 'consumer' can never run again "
        "(at most once more). Fix 'producer' or remove the dependency.",
        "  'report' waits for 'consumer', which can never run because 'producer' is disabled.",
    ]
    assert str(error) == "2 problems found (3 tasks, 2 dependencies and 1 crontab checked)."
    assert error.returncode == 1


def test_a_dependee_whose_end_at_has_passed_blocks_its_dependers():
    feed = task("feed", end_at=T0 - HOUR)
    importer = task("import")
    edge(importer, feed, future_depends=True)
    text, error = check()
    assert section(text, "Dependers that can never run") == [
        "  'import' waits (future dependency) for 'feed', which ended at 2026-03-02 11:00:00 UTC "
        "(its end_at): 'import' can never run again (at most once more). "
        "Fix 'feed' or remove the dependency.",
    ]
    assert str(error).startswith("1 problem found (")


def test_an_end_at_still_ahead_is_fine_until_it_passes():
    feed = task("feed", end_at=T0 + HOUR)
    edge(task("import"), feed)
    assert run("djag_check", "--now", NOW).startswith("No problems")
    text, _ = check("--now", "2026-03-02T13:00:01Z")
    assert "which ended at 2026-03-02 13:00:00 UTC (its end_at)" in text


def test_a_dependee_without_events_left_before_its_end_blocks_its_dependers():
    # Fires on 1 January only; its end is before the next one.
    yearly = task("yearly", "0 0 0 1 1 *", end_at=T0 + 30 * 24 * HOUR)
    edge(task("after yearly"), yearly)
    text, _ = check()
    assert "which has no event left before its end_at (2026-04-01 12:00:00 UTC)" in text


def test_a_dependee_that_reached_max_runs_blocks_its_dependers():
    once = task("once", max_runs=1)
    finished_run(once, RunState.SUCCESS, T0 - HOUR)
    edge(task("then"), once)
    text, _ = check()
    assert "'then' waits for 'once', which has reached max_runs (1 runs)" in text


def test_a_deadlock_through_a_future_edge_is_reported_with_its_instants():
    # load waits for extract; extract (future edge) waits for load's next success.
    load, extract = task("load"), task("extract")
    edge(load, extract, created_at=T0 - 3 * HOUR)
    edge(extract, load, future_depends=True, created_at=T0 - 3 * HOUR)
    finished_run(extract, RunState.SUCCESS, T0 - 2 * HOUR)  # consumed by load's run...
    finished_run(load, RunState.FAILURE, T0 - HOUR)  # ...which failed: extract waits forever
    text, error = check()
    assert section(text, "Deadlocks") == [
        "  'load' -> 'extract' -> 'load': each waits for the next and none has a run in "
        "flight, so none will run again.",
        "    'load' waits for a successful run of 'extract' finished after "
        "2026-03-02 11:00:00 UTC; the last one: 2026-03-02 10:01:00 UTC",
        "    'extract' waits (future dependency) for a successful run of 'load' finished after "
        "2026-03-02 10:00:00 UTC; the last one: none",
        "    Fix: run one of them by hand (a manual run), or let the dependency accept any "
        "result (require_success = false).",
    ]
    assert str(error).startswith("1 problem found (2 tasks, 2 dependencies")


def test_a_deadlocked_cycle_blocks_the_tasks_that_wait_for_it():
    load, extract = task("load"), task("extract")
    edge(load, extract, created_at=T0 - 3 * HOUR)
    edge(extract, load, future_depends=True, created_at=T0 - 3 * HOUR)
    finished_run(extract, RunState.SUCCESS, T0 - 2 * HOUR)
    finished_run(load, RunState.FAILURE, T0 - HOUR)
    edge(task("publish"), load)
    text, error = check()
    assert section(text, "Dependers that can never run") == [
        "  'publish' waits for 'load', which is deadlocked (see Deadlocks): 'publish' can never "
        "run again (at most once more). Fix 'load' or remove the dependency.",
    ]
    assert str(error).startswith("2 problems found")


def test_a_cycle_with_a_run_in_flight_is_not_a_deadlock():
    load, extract = task("load"), task("extract")
    edge(load, extract, created_at=T0 - 3 * HOUR)
    edge(extract, load, future_depends=True, created_at=T0 - 3 * HOUR)
    finished_run(extract, RunState.SUCCESS, T0 - 2 * HOUR)
    finished_run(load, RunState.FAILURE, T0 - HOUR)
    TaskRun.objects.create(
        periodic_task=load, task_name="load", trigger=Trigger.MANUAL, state=RunState.STARTED
    )
    assert run("djag_check", "--now", NOW).startswith("No problems")


def test_a_crontab_that_no_longer_parses_is_reported_with_its_tasks():
    broken = task("broken", "0 0 * * * *")
    edge(task("downstream"), broken)
    with connection.cursor() as cursor:  # behind the ORM's back, as a bad migration would
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(Crontab._meta.db_table)} "
            "SET minute = '99' WHERE id = %s",
            [broken.crontab_id],
        )
    text, error = check()
    [crontab_line] = section(text, "Crontabs that cannot fire (edit them in the admin)")
    assert crontab_line.startswith(f"  crontab {broken.crontab_id} [0 99 * * * * (UTC)]: ")
    assert "'downstream' waits for 'broken', which has a crontab that does not parse" in text
    assert str(error).startswith("2 problems found")


def test_tasks_beat_reported_a_problem_with_are_listed():
    bad = task("bad")
    PeriodicTask.objects.filter(pk=bad.pk).update(
        problem="kwargs is not a JSON object", problem_at=T0 - HOUR
    )
    text, _ = check()
    assert section(text, "Tasks beat cannot schedule (edit the task; beat re-checks it)") == [
        "  'bad' (since 2026-03-02 11:00:00 UTC): kwargs is not a JSON object"
    ]


def test_tasks_with_a_tripped_alert_are_listed_until_they_recover():
    flaky = task("flaky")
    task("steady")
    note = "failing: 3 runs failed in a row (the alert is at 3)"
    record_alerts("default", flaky.pk, frozenset({AlertKind.FAILING}), note, T0.timestamp() - 60)
    text, error = check()
    assert section(
        text, "Tasks with a tripped alert (they recover by themselves when runs succeed)"
    ) == [f"  'flaky': failing (since 2026-03-02 11:59:00 UTC): {note}"]
    assert "1 problem found" in str(error)
    assert "steady" not in text
    record_alerts("default", flaky.pk, frozenset(), "", T0.timestamp())  # a run succeeded
    assert run("djag_check", "--now", NOW).startswith("No problems")


def test_manage_py_exits_non_zero_with_problems_and_zero_without(manage):
    producer = task("producer", enabled=False)
    consumer = task("consumer")
    dependency = edge(consumer, producer)
    failed = manage("djag_check", "--now", NOW)
    assert failed.returncode == 1
    assert "'consumer' waits for 'producer', which is disabled" in failed.stdout
    assert failed.stderr.strip() == (
        "CommandError: 1 problem found (2 tasks, 1 dependency and 1 crontab checked)."
    )
    dependency.delete()
    passed = manage("djag_check", "--now", NOW)
    assert passed.returncode == 0, passed.stderr
    assert passed.stdout.strip() == "No problems: 2 tasks, 0 dependencies and 1 crontab checked."
