"""The scheduling engine end to end: real beat and worker processes, a real broker, a real database.

Each test creates its schedule through the ORM, lets real time pass and then
reads what happened from the ledger (TaskRun) and from the files the task
``tests.append_line`` writes: one "label time" line per execution.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from djag.models import PeriodicTask, RunState, TaskRun, Trigger
from djag.store.db import from_epoch
from tests.e2e.conftest import LEASE_SECONDS, Worker, leader, wait_for_leader
from tests.e2e.support import (
    CLOCK_SLACK,
    append_task,
    epoch,
    every,
    file_lines,
    finished_count,
    runs_of,
    settled_through,
    sleep_until,
    slot,
    wait_for,
)

pytestmark = pytest.mark.e2e

ALL_BROKERS = pytest.mark.parametrize("broker", ["filesystem", "redis", "rabbitmq"], indirect=True)
TWO_BROKERS = pytest.mark.parametrize("broker", ["filesystem", "redis"], indirect=True)

#: Time for the runs of a slot to be dispatched, executed and reported.
SETTLE_SECONDS = 10


def wait_settled(task: PeriodicTask, last_slot: int) -> list[TaskRun]:
    """The task's runs once every slot up to ``last_slot`` has run and finished."""
    timeout = max(0.0, last_slot - time.time()) + SETTLE_SECONDS
    check = functools.partial(settled_through, task, last_slot)
    return wait_for(check, timeout, f"{task.name} to have run slot {last_slot}")


def check_ran_once_each(
    runs: list[TaskRun], first_slot: int, last_slot: int, worker: Worker, path: Path
) -> None:
    """Every second from ``first_slot`` to ``last_slot`` ran exactly once, in order, on ``worker``.

    The file proves the executions: its lines must match the runs one to one,
    each written between its run's start and finish as the ledger records them.
    """
    assert [slot(run) for run in runs] == list(range(first_slot, last_slot + 1))
    for run in runs:
        assert (run.state, run.trigger, run.coalesced_count) == (
            RunState.SUCCESS,
            Trigger.SCHEDULE,
            1,
        ), run
        assert run.worker == worker.node
        assert run.started_at is not None, run
        assert run.finished_at is not None, run
        assert slot(run) <= epoch(run.claimed_at) <= epoch(run.started_at)
        assert epoch(run.started_at) <= epoch(run.finished_at)
    starts = [epoch(run.started_at) for run in runs]  # type: ignore[arg-type]
    assert starts == sorted(starts)

    window_end = epoch(runs[-1].finished_at) + CLOCK_SLACK  # type: ignore[arg-type]
    written = [moment for _, moment in file_lines(path) if moment <= window_end]
    assert len(written) == len(runs), "executions and ledger rows differ in number"
    for moment, run in zip(written, runs, strict=True):
        assert epoch(run.started_at) - CLOCK_SLACK <= moment, run  # type: ignore[arg-type]
        assert moment <= epoch(run.finished_at) + CLOCK_SLACK, run  # type: ignore[arg-type]


@pytest.mark.timeout(60)
@ALL_BROKERS
def test_every_second_tasks_run_each_slot_exactly_once_in_order(
    broker, worker, beat, tmp_path, measure
):
    # The tasks start a little later, so that beat has loaded them before their first event.
    start = int(time.time()) + 2
    paths = [tmp_path / f"tick-{n}.txt" for n in range(3)]
    tasks = [
        append_task(f"tick {n}", every("*"), path, start_at=from_epoch(start))
        for n, path in enumerate(paths)
    ]
    last_slot = start + 9

    lateness = []
    for task, path in zip(tasks, paths, strict=True):
        runs = wait_settled(task, last_slot)
        check_ran_once_each(runs, start + 1, last_slot, worker, path)
        lateness += [epoch(run.started_at) - slot(run) for run in runs]  # type: ignore[arg-type]
    measure(
        f"every-second slots [{broker.name}]",
        f"{len(lateness)} slots checked (3 tasks x {last_slot - start} s), 0 duplicates, "
        f"0 gaps; start after slot: median {sorted(lateness)[len(lateness) // 2]:.3f} s, "
        f"max {max(lateness):.3f} s",
    )


def effect_bounds(
    committed: float, runs: list[TaskRun], old_only: Callable[[int], bool]
) -> tuple[float, float]:
    """When an edit took effect, bounded by the ledger, in seconds after its commit.

    Lower bound: the last run the old setting alone would have made that beat
    still dispatched after the commit (0 if none). Upper bound: the first slot
    of the old setting alone that did not run.
    """
    ran = {slot(run) for run in runs}
    late = [
        epoch(run.claimed_at) - committed
        for run in runs
        if epoch(run.claimed_at) > committed and old_only(slot(run))
    ]
    first_suppressed = next(
        second
        for second in range(int(committed) + 1, int(committed) + 60)
        if old_only(second) and second not in ran
    )
    return max(late, default=0.0), first_suppressed - committed


@pytest.mark.timeout(60)
@TWO_BROKERS
def test_edits_in_the_database_take_effect_within_a_second(broker, worker, beat, tmp_path, measure):
    # "0-23" gives the crontab a row of its own: editing "retimed"'s row leaves it alone.
    retimed = append_task("retimed", every("*"), tmp_path / "retimed.txt")
    stopped = append_task("stopped", every("*", hour="0-23"), tmp_path / "stopped.txt")
    wait_for(
        lambda: finished_count(retimed) >= 2 and finished_count(stopped) >= 2,
        SETTLE_SECONDS,
        "the first runs",
    )

    appears = append_task("appears", every("*", hour="0-23"), tmp_path / "appears.txt")
    appeared_at = time.time()
    first = wait_for(lambda: runs_of(appears), SETTLE_SECONDS, "the new task's first run")[0]
    appear_delay = epoch(first.claimed_at) - appeared_at
    assert appear_delay < 2.0

    crontab = retimed.crontab
    crontab.second = "*/2"
    crontab.save()
    retimed_at = time.time()
    stopped.enabled = False
    stopped.save()
    stopped_at = time.time()

    last_even = int(retimed_at + 6) // 2 * 2
    retimed_runs = wait_settled(retimed, last_even)
    since_edit = [slot(run) for run in retimed_runs if slot(run) > retimed_at]
    first_even = int(retimed_at) // 2 * 2 + 2
    assert [s for s in since_edit if s % 2 == 0] == list(range(first_even, last_even + 1, 2))
    retime_low, retime_high = effect_bounds(retimed_at, retimed_runs, lambda s: s % 2 == 1)
    assert retime_low < 2.0, "the old schedule kept running after the change"

    stopped_runs = runs_of(stopped)
    stop_low, stop_high = effect_bounds(stopped_at, stopped_runs, lambda s: True)
    assert stop_low < 2.0, "the disabled task kept running"
    assert all(epoch(run.claimed_at) < stopped_at + 2.0 for run in stopped_runs)
    assert len(runs_of(appears)) >= 5, "the new task does not keep firing"

    measure(
        f"edit pickup [{broker.name}]",
        f"new task: first run claimed {appear_delay:.2f} s after commit "
        f"({epoch(first.claimed_at) - slot(first):.2f} s after its slot); "
        f"crontab */1->*/2: in effect after {retime_low:.2f}..{retime_high:.2f} s; "
        f"disable: in effect after {stop_low:.2f}..{stop_high:.2f} s",
    )


@pytest.mark.timeout(45)
@TWO_BROKERS
def test_call_command_task_runs_management_commands(broker, worker, beat, tmp_path):
    dump = tmp_path / "crontabs.json"

    def command_task(name: str, *args: str, **options: str) -> PeriodicTask:
        return PeriodicTask.objects.create(
            name=name,
            task="djag.call_command",
            crontab=every("*"),
            args=list(args),
            kwargs=options,
            max_runs=1,  # one run, then beat disables the task
        )

    check = command_task("check", "check")
    dumpdata = command_task("dumpdata", "dumpdata", "djag.Crontab", output=str(dump))
    unknown = command_task("unknown", "no_such_command")

    def finished(task: PeriodicTask) -> list[TaskRun]:
        return [run for run in runs_of(task) if run.finished_at is not None]

    for task in (check, dumpdata, unknown):
        wait_for(functools.partial(finished, task), SETTLE_SECONDS, f"{task.name} to run")

    [check_run] = runs_of(check)
    assert (check_run.state, check_run.error) == (RunState.SUCCESS, "")
    [dump_run] = runs_of(dumpdata)
    assert dump_run.state == RunState.SUCCESS
    assert [row["pk"] for row in json.loads(dump.read_text())] == [check.crontab_id]
    [unknown_run] = runs_of(unknown)
    assert unknown_run.state == RunState.FAILURE
    assert "Unknown command: 'no_such_command'" in unknown_run.error
    wait_for(
        lambda: not PeriodicTask.objects.filter(enabled=True).exists(),
        SETTLE_SECONDS,
        "max_runs to disable the tasks",
    )


#: How long beat stays down in the misfire test.
DOWNTIME_SECONDS = 5


@pytest.mark.timeout(60)
@TWO_BROKERS
def test_events_missed_while_beat_was_down_follow_the_misfire_policy(
    broker, worker, start_beat, tmp_path, measure
):
    first_beat = start_beat()
    wait_for_leader([first_beat])
    coalesced = append_task("coalesced", every("*"), tmp_path / "coalesced.txt")
    skipper = append_task("skipper", every("*"), tmp_path / "skipper.txt", misfire_policy="skip")
    catching_up = append_task(
        "catching up",
        every("*"),
        tmp_path / "catching-up.txt",
        misfire_policy="run_all",
        max_catchup=3,
        max_running=0,
    )
    tasks = (coalesced, skipper, catching_up)
    wait_for(lambda: all(finished_count(task) >= 2 for task in tasks), SETTLE_SECONDS, "first runs")

    first_beat.stop()
    stopped_at = time.time()
    sleep_until(stopped_at + DOWNTIME_SECONDS)  # the downtime: events pass, no beat runs
    wait_for_leader([start_beat()])
    check_through = int(time.time()) + 2

    backlog = {}
    for task in tasks:
        runs = wait_settled(task, check_through)
        before = max(slot(run) for run in runs if epoch(run.claimed_at) < stopped_at)
        after = [run for run in runs if epoch(run.claimed_at) > stopped_at]
        # The rows of the first decision after the restart share its claim time.
        decision = [run for run in after if run.claimed_at == after[0].claimed_at]
        newest = max(slot(run) for run in decision)
        missed = newest - before
        assert missed >= DOWNTIME_SECONDS
        backlog[task.name] = missed
        # Nothing lost, nothing twice: the rows after the last run before the
        # downtime stand for every event since, once.
        assert sum(run.coalesced_count for run in runs if slot(run) > before) == (
            check_through - before
        )
        shape = [
            (slot(run) - before, run.state, run.trigger, run.coalesced_count) for run in decision
        ]
        if task is coalesced:
            assert shape == [(missed, RunState.SUCCESS, Trigger.COALESCED, missed)]
        elif task is skipper:
            assert sorted(shape) == [
                (missed - 1, RunState.SKIPPED, Trigger.SCHEDULE, missed - 1),
                (missed, RunState.SUCCESS, Trigger.SCHEDULE, 1),
            ]
        else:
            assert shape == [
                (1, RunState.SUCCESS, Trigger.SCHEDULE, 1),
                (2, RunState.SUCCESS, Trigger.SCHEDULE, 1),
                (missed, RunState.SUCCESS, Trigger.COALESCED, missed - 2),
            ]
        later = [run for run in after if slot(run) > newest]
        assert [slot(run) for run in later] == list(range(newest + 1, check_through + 1))
        assert all(run.coalesced_count == 1 for run in later)
    measure(
        f"misfire after {DOWNTIME_SECONDS} s downtime [{broker.name}]", f"events missed {backlog}"
    )


@pytest.mark.timeout(60)
def test_standby_beat_takes_over_when_the_leader_dies(worker, start_beats, tmp_path, measure):
    beats = start_beats(2)
    path = tmp_path / "steady.txt"
    steady = append_task("steady", every("*"), path)
    wait_for(lambda: finished_count(steady) >= 3, SETTLE_SECONDS, "the first runs")

    dead = leader(beats)
    assert dead is not None
    dead.kill()
    killed_at = time.time()
    standby = wait_for_leader([beat for beat in beats if beat is not dead])
    took_over = time.time() - killed_at
    check_through = int(time.time()) + 2

    runs = wait_settled(steady, check_through)
    first = slot(runs[0])
    assert sum(run.coalesced_count for run in runs) == check_through - first + 1
    assert all(run.state == RunState.SUCCESS for run in runs)
    written = file_lines(path)
    assert len([m for _, m in written if m <= epoch(runs[-1].finished_at) + CLOCK_SLACK]) == len(
        runs
    ), "an event ran twice"
    gap = [run.coalesced_count for run in runs if run.coalesced_count > 1]
    assert standby is not dead
    measure(
        "leader killed, standby took over",
        f"lease taken {took_over:.2f} s after the kill (lease {LEASE_SECONDS} s); "
        f"events missed meanwhile, coalesced: {gap}",
    )
