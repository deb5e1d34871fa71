"""djag_run and djag_backfill: runs queued from the command line, with clear refusals."""

from __future__ import annotations

import datetime as dt
import io
import re
import time

import pytest
from django.core.management import CommandError, call_command

from djag.models import ScheduleChange, TaskRun

from .conftest import run, task

pytestmark = pytest.mark.django_db

HOURLY = "0 0 * * * *"


def queued_id(output: str) -> int:
    found = re.match(r"Queued run (\d+): ", output)
    assert found, output
    return int(found.group(1))


def test_a_periodic_task_name_queues_a_manual_run_attributed_to_the_command() -> None:
    report = task("report")
    output = run("djag_run", "report")
    row = TaskRun.objects.get(pk=queued_id(output))
    assert (row.periodic_task, row.trigger, row.state) == (report, "manual", "waiting")
    assert output.startswith(f"Queued run {row.pk}: a manual run of report, now (Celery task id ")
    assert row.requested_by.startswith("djag_run")
    audit = ScheduleChange.objects.get(model="taskrun", object_id=row.pk)
    assert audit.actor == row.requested_by


def test_a_celery_task_name_queues_a_one_off_with_its_arguments_at_a_time() -> None:
    output = run(
        "djag_run",
        "tests.append_line",
        "--at",
        "2031-07-01T14:05:00+02:00",
        "--args",
        '["/tmp/x"]',
        "--kwargs",
        '{"label": "once"}',
        "--options",
        '{"queue": "reports", "priority": 5}',
    )
    row = TaskRun.objects.get(pk=queued_id(output))
    at = dt.datetime(2031, 7, 1, 12, 5, tzinfo=dt.UTC)
    assert (row.trigger, row.state, row.task, row.scheduled_for, row.not_before) == (
        "oneoff",
        "waiting",
        "tests.append_line",
        at,
        at,
    )
    assert (row.args, row.kwargs) == (["/tmp/x"], {"label": "once"})
    assert row.options == {"queue": "reports", "priority": 5, "headers": {}}
    assert "a one-off of the Celery task tests.append_line, at 2031-07-01 12:05:00 UTC" in output


def test_in_seconds_sets_the_time_from_now() -> None:
    before = time.time()
    row = TaskRun.objects.get(pk=queued_id(run("djag_run", "tests.append_line", "--in", "90")))
    assert row.not_before is not None
    assert before + 90 <= row.not_before.timestamp() <= time.time() + 90


def test_an_unknown_name_is_queued_as_a_one_off_with_a_warning() -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("djag_run", "reports.nope", stdout=out, stderr=err)
    assert "no periodic task is named 'reports.nope', and no Celery task of that name" in (
        err.getvalue()
    )
    assert TaskRun.objects.get(pk=queued_id(out.getvalue())).task == "reports.nope"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ["report", "--in", "5"],
            "'report' is a periodic task: it runs now, with its own arguments and routing. "
            "--in are for a one-off",
        ),
        (["report", "--args", "[1]", "--kwargs", "{}"], "--args, --kwargs are for a one-off"),
        (
            ["tests.append_line", "--options", '{"headers": {"task": "x"}}'],
            "Refused: headers may not use 'task'",
        ),
        (["tests.append_line", "--at", "2031-01-01T00:00", "--options", '{"q": 1}'], "'q'"),
    ],
)
def test_what_cannot_be_run_is_refused_with_exit_status_1(args: list[str], error: str) -> None:
    task("report")
    with pytest.raises(CommandError, match=re.escape(error)) as refused:
        run("djag_run", *args)
    assert refused.value.returncode == 1
    assert not TaskRun.objects.exists()


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["x", "--at", "tomorrow"], "is not a date and time"),
        (["x", "--in", "-1"], "must be a finite number of at least 0"),
        (["x", "--args", "{}"], "is not a JSON list"),
        (["x", "--kwargs", "[1"], "is not JSON"),
        (["x", "--at", "2031-01-01T00:00Z", "--in", "5"], "not allowed with argument"),
    ],
)
def test_bad_arguments_are_usage_errors_with_exit_status_2(
    manage, args: list[str], error: str
) -> None:
    done = manage("djag_run", *args)
    assert done.returncode == 2, done.stderr
    assert error in done.stderr


def test_a_refusal_exits_1_from_the_shell(manage) -> None:
    done = manage("djag_run", "x", "--options", '{"priority": 900}')
    assert done.returncode == 1
    assert "Refused: priority must be a whole number from 0 to 255, not 900." in done.stderr


# -- djag_backfill -------------------------------------------------------------------------------


def test_backfill_queues_each_event_and_says_which_were_left() -> None:
    hourly = task("hourly", HOURLY)
    TaskRun.objects.create(
        periodic_task=hourly,
        task_name="hourly",
        trigger="schedule",
        state="success",
        scheduled_for=dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.UTC),
    )
    span = ("--start", "2026-03-01T00:30Z", "--end", "2026-03-01T04:00Z")
    dry = run("djag_backfill", "hourly", *span, "--dry-run")
    assert dry.splitlines() == [
        "Would queue 3 runs of hourly from 2026-03-01 00:30:00 UTC to 2026-03-01 04:00:00 UTC. "
        "1 of its 4 events have a ledger row already and are left as they are.",
        "  2026-03-01 01:00:00 UTC",
        "  2026-03-01 02:00:00 UTC  (in the ledger: left)",
        "  2026-03-01 03:00:00 UTC",
        "  2026-03-01 04:00:00 UTC",
        "Dry run: nothing was queued.",
    ]
    assert TaskRun.objects.count() == 1
    output = run("djag_backfill", "hourly", *span)
    queued = list(TaskRun.objects.filter(trigger="backfill").order_by("scheduled_for"))
    assert [r.scheduled_for.hour for r in queued] == [1, 3, 4]  # type: ignore[union-attr]
    assert output.startswith(
        f"Queued 3 runs of hourly from 2026-03-01 00:30:00 UTC to 2026-03-01 04:00:00 UTC "
        f"(runs {queued[0].pk} to {queued[-1].pk}), oldest event first"
    )
    assert {r.requested_by.split()[0] for r in queued} == {"djag_backfill"}


def test_backfill_of_a_range_without_events_queues_nothing() -> None:
    task("hourly", HOURLY)
    span = ("--start", "2026-03-01T00:30Z", "--end", "2026-03-01T00:45Z")
    assert run("djag_backfill", "hourly", *span) == (
        "hourly has no event from 2026-03-01 00:30:00 UTC to 2026-03-01 00:45:00 UTC: "
        "nothing to backfill.\n"
    )


@pytest.mark.parametrize(
    ("name", "span", "error"),
    [
        ("nope", ("2026-03-01T00:00Z", "2026-03-01T01:00Z"), "there is no periodic task named"),
        ("hourly", ("2026-03-01T00:00Z", "2099-01-01T00:00Z"), "the end of the range is in the"),
        ("hourly", ("2020-01-01T00:00Z", "2026-03-01T00:00Z"), "more than 1000 events"),
        ("hourly", ("2026-03-01T02:00Z", "2026-03-01T01:00Z"), "before its start"),
    ],
)
def test_backfill_refusals_exit_1(name: str, span: tuple[str, str], error: str) -> None:
    task("hourly", HOURLY)
    with pytest.raises(CommandError, match=error) as refused:
        run("djag_backfill", name, "--start", span[0], "--end", span[1])
    assert refused.value.returncode == 1
    assert not TaskRun.objects.exists()
