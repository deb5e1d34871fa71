"""Runs from code end to end: one-offs through a leader's death, cancellation, a backfill
under ``max_running = 1``, and ``djag.current_run()`` inside a real worker.

The task ``tests.record_run`` appends one JSON line per execution to a file: its label,
when it started and ended, and the run context it read. The file proves how many times
a run executed; the ledger says what beat and the worker recorded.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import djag
from djag.models import Crontab, PeriodicTask, RunState, TaskRun
from tests.e2e.conftest import LEASE_SECONDS, leader, wait_for_leader
from tests.e2e.support import CLOCK_SLACK, epoch, every, sleep_until, wait_for

pytestmark = pytest.mark.e2e

#: Time for a due run to be sent, executed and reported.
SETTLE_SECONDS = 15


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def record(path: Path, label: str, **kwargs: Any) -> dict[str, Any]:
    return {"path": str(path), "label": label, **kwargs}


def finished(*runs: TaskRun) -> bool:
    states = TaskRun.objects.filter(pk__in=[run.pk for run in runs]).values_list("state", flat=True)
    return len(states) == len(runs) and all(
        state in (RunState.SUCCESS, RunState.FAILURE) for state in states
    )


def context_of(run: TaskRun, previous: dt.datetime | None = None) -> dict[str, Any]:
    """The context ``current_run()`` must give inside ``run``, from its ledger row."""
    return {
        "run_id": run.pk,
        "trigger": run.trigger,
        "scheduled_for": None if run.scheduled_for is None else run.scheduled_for.isoformat(),
        "previous_scheduled_for": None if previous is None else previous.isoformat(),
        "coalesced_count": run.coalesced_count,
    }


@pytest.mark.timeout(90)
def test_one_offs_run_once_not_early_through_the_death_of_the_leader(worker, start_beats, tmp_path):
    beats = start_beats(2)
    path = tmp_path / "runs.jsonl"
    now_run = djag.enqueue("tests.record_run", kwargs=record(path, "now"))
    wait_for(lambda: finished(now_run), SETTLE_SECONDS, "the one-off asked for now")

    at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    late_run = djag.enqueue("tests.record_run", kwargs=record(path, "late"), at=at, by="e2e")
    first = leader(beats)
    assert first is not None
    first.kill()  # before the run is due: the standby must send it, once
    survivor = wait_for_leader([beat for beat in beats if beat is not first])
    assert survivor is not first
    wait_for(lambda: finished(late_run), LEASE_SECONDS + SETTLE_SECONDS, "the late one-off")
    sleep_until(time.time() + 2)  # time for a duplicate to show, were there one

    runs = {run.pk: run for run in TaskRun.objects.filter(pk__in=[now_run.pk, late_run.pk])}
    executed = lines(path)
    assert Counter(line["label"] for line in executed) == {"now": 1, "late": 1}
    for line in executed:
        run = runs[line["context"]["run_id"]]
        assert run.state == RunState.SUCCESS, run
        assert line["context"] == context_of(run)
    late = runs[late_run.pk]
    assert late.scheduled_for == at
    [late_line] = [line for line in executed if line["label"] == "late"]
    assert late_line["start"] >= epoch(at) - CLOCK_SLACK  # never early
    assert late.started_at is not None
    assert epoch(late.started_at) >= epoch(at)
    assert late.requested_by == "e2e"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("broker", ["filesystem", "redis"], indirect=True)
def test_a_hundred_one_offs_with_two_beats_run_once_each_at_their_time(
    broker, worker, start_beats, tmp_path, measure
):
    start_beats(2)
    path = tmp_path / "runs.jsonl"
    first_at = time.time() + 3
    ats = [first_at + n * 0.1 for n in range(100)]  # ten per second, for ten seconds
    runs = [
        djag.enqueue(
            "tests.record_run",
            kwargs=record(path, str(n)),
            at=dt.datetime.fromtimestamp(at, dt.UTC),
        )
        for n, at in enumerate(ats)
    ]
    wait_for(lambda: finished(*runs), ats[-1] - time.time() + SETTLE_SECONDS, "100 one-offs")
    sleep_until(time.time() + 1)

    executed = lines(path)
    assert Counter(line["label"] for line in executed) == {str(n): 1 for n in range(100)}
    delays = []
    for line in executed:
        at = ats[int(line["label"])]
        assert line["start"] >= at - CLOCK_SLACK, line  # never early
        delays.append(line["start"] - at)
    assert {run.state for run in TaskRun.objects.filter(pk__in=[r.pk for r in runs])} == {
        RunState.SUCCESS
    }
    measure(
        f"one-offs, 'at' to task start [{broker.name}, 2 beats]",
        f"100 runs, each once, none early; median {statistics.median(delays) * 1000:.0f} ms, "
        f"worst {max(delays) * 1000:.0f} ms",
    )


@pytest.mark.timeout(60)
def test_a_one_off_cancelled_before_its_time_never_runs(worker, beat, tmp_path):
    path = tmp_path / "runs.jsonl"
    at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
    run = djag.enqueue("tests.record_run", kwargs=record(path, "cancelled"), at=at)
    witness = djag.enqueue("tests.record_run", kwargs=record(path, "witness"), at=at)
    assert djag.cancel(run, by="e2e") is True
    wait_for(lambda: finished(witness), 3 + SETTLE_SECONDS, "the witness one-off")
    sleep_until(time.time() + 2)
    run.refresh_from_db()
    assert (run.state, run.error) == (RunState.CANCELLED, "Cancelled by e2e before it was sent.")
    assert (run.sent_at, run.started_at) == (None, None)
    assert [line["label"] for line in lines(path)] == ["witness"]


@pytest.mark.timeout(90)
def test_a_backfill_with_max_running_1_runs_every_event_once_in_order(worker, beat, tmp_path):
    path = tmp_path / "runs.jsonl"
    hourly, _ = Crontab.objects.get_or_create(minute="0", hour="*")
    task = PeriodicTask.objects.create(
        name="hourly report",
        task="tests.record_run",
        crontab=hourly,
        kwargs=record(path, "hourly report", sleep=0.3),
        enabled=False,  # its schedule stays out of the way; a backfill runs anyway
    )
    hour = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    runs = djag.backfill(task, hour - dt.timedelta(hours=6), hour - dt.timedelta(hours=1))
    assert len(runs) == 6
    wait_for(lambda: finished(*runs), 6 * (0.3 + 3) + SETTLE_SECONDS, "the backfill")

    rows = list(TaskRun.objects.filter(periodic_task=task).order_by("scheduled_for"))
    assert [row.scheduled_for for row in rows] == [
        hour - dt.timedelta(hours=h) for h in range(6, 0, -1)
    ]
    assert {(row.trigger, row.state) for row in rows} == {("backfill", RunState.SUCCESS)}
    executed = lines(path)
    assert len(executed) == 6  # each once
    assert [line["context"]["run_id"] for line in executed] == [row.pk for row in rows]  # in order
    for earlier, later in itertools.pairwise(executed):
        assert earlier["end"] <= later["start"] + CLOCK_SLACK  # one at a time
    previous = [None, *(row.scheduled_for for row in rows[:-1])]
    for line, row, before in zip(executed, rows, previous, strict=True):
        assert line["context"] == context_of(row, before)


@pytest.mark.timeout(90)
def test_current_run_in_a_scheduled_task_is_its_ledger_row_through_failures(worker, beat, tmp_path):
    path = tmp_path / "runs.jsonl"
    start = int(time.time()) + 2
    task = PeriodicTask.objects.create(
        name="tick",
        task="tests.record_run",
        crontab=every("*"),
        kwargs=record(path, "tick", fail_every=3),  # every third second fails
        start_at=dt.datetime.fromtimestamp(start, dt.UTC),
    )
    last = start + 8

    def settled() -> list[TaskRun] | None:
        rows = list(TaskRun.objects.filter(periodic_task=task).order_by("scheduled_for"))
        done = [r for r in rows if r.state in (RunState.SUCCESS, RunState.FAILURE)]
        return rows if done and epoch(done[-1].scheduled_for) >= last else None  # type: ignore[arg-type]

    wait_for(settled, last - time.time() + SETTLE_SECONDS, "eight seconds of runs")
    rows = {row.pk: row for row in TaskRun.objects.filter(periodic_task=task)}
    executed = [line for line in lines(path) if line["context"]["run_id"] in rows]
    assert len(executed) >= 6
    assert any(row.state == RunState.FAILURE for row in rows.values())
    failures_in_between = 0
    for line in executed:
        row = rows[line["context"]["run_id"]]
        assert row.scheduled_for is not None
        succeeded_before = [
            other.scheduled_for
            for other in rows.values()
            if other.state == RunState.SUCCESS
            and other.scheduled_for is not None
            and other.scheduled_for < row.scheduled_for
        ]
        previous = max(succeeded_before, default=None)
        assert line["context"] == context_of(row, previous)
        failures_in_between += any(
            other.state == RunState.FAILURE
            and previous is not None
            and previous < other.scheduled_for < row.scheduled_for  # type: ignore[operator]
            for other in rows.values()
        )
    assert failures_in_between >= 1  # previous_scheduled_for skipped a failed run
