"""A task DAG end to end: a chain A -> B -> C runs in order, and a failing B holds C back.

B depends on A and C on B; all three fire every 3 seconds and append their
label to one file. The dependency rule (DESIGN.md, "Dependencies"): a depender
runs only when its dependee has a successful run that finished after the
depender's previous run started. The test runs on whatever database
DJAG_TEST_DB names.
"""

from __future__ import annotations

import functools
import itertools
import time
from pathlib import Path

import pytest
from django.db import transaction

from djag.models import PeriodicTask, RunState, TaskDependency, TaskRun
from tests.e2e.support import (
    append_task,
    epoch,
    every,
    file_lines,
    finished_count,
    runs_of,
    slot,
    wait_for,
)

pytestmark = pytest.mark.e2e

PERIOD = 3  # seconds between the events of each task

#: Time for a few cycles of the chain (each needs up to PERIOD to start).
CYCLES_SECONDS = 6 * PERIOD


def check_waited_for(depender: list[TaskRun], dependee: list[TaskRun], start_at: float) -> None:
    """Each depender run started only after a new successful run of the dependee finished."""
    successes = [epoch(run.finished_at) for run in dependee if run.state == RunState.SUCCESS]  # type: ignore[arg-type]
    previous_start = start_at
    for run in sorted(depender, key=lambda run: run.claimed_at):
        claimed = epoch(run.claimed_at)
        assert any(previous_start < done <= claimed for done in successes), (
            f"{run} started without a new successful run of its dependee"
        )
        previous_start = claimed


def check_file_order(path: Path, chain: list[str]) -> None:
    """In the file, each task's line follows a new line of its dependee (since its own last)."""
    labels = [label for label, _ in file_lines(path)]
    for dependee, depender in itertools.pairwise(chain):
        seen_dependee = False
        for label in labels:
            if label == dependee:
                seen_dependee = True
            elif label == depender:
                assert seen_dependee, f"{depender} ran before a new {dependee} in {labels}"
                seen_dependee = False


def successes_after(task: PeriodicTask, moment: float) -> int:
    return sum(1 for run in runs_of(task, state=RunState.SUCCESS) if epoch(run.claimed_at) > moment)


@pytest.mark.timeout(90)
def test_chain_runs_in_order_and_a_failing_link_holds_back_its_dependers(
    worker, beat, tmp_path, measure
):
    path = tmp_path / "chain.txt"
    flag = tmp_path / "b-fails"
    period = every(f"*/{PERIOD}")
    with transaction.atomic():  # beat sees the tasks and their edges together
        a = append_task("A", period, path)
        b = append_task("B", period, path, kwargs={"fail_if_exists": str(flag)})
        c = append_task("C", period, path)
        TaskDependency.objects.create(depender=b, dependee=a)
        TaskDependency.objects.create(depender=c, dependee=b)

    wait_for(lambda: finished_count(c) >= 3, CYCLES_SECONDS, "three cycles of A -> B -> C")

    flag.touch()
    wait_for(lambda: finished_count(b, RunState.FAILURE) >= 2, CYCLES_SECONDS, "B to fail twice")
    flag.unlink()
    fixed_at = time.time()
    wait_for(functools.partial(successes_after, c, fixed_at), CYCLES_SECONDS, "C to run again")
    wait_for(
        lambda: successes_after(c, fixed_at) >= 2, CYCLES_SECONDS, "another cycle after the fix"
    )

    a_runs, b_runs, c_runs = runs_of(a), runs_of(b), runs_of(c)
    check_waited_for(b_runs, a_runs, epoch(b.start_at))
    check_waited_for(c_runs, b_runs, epoch(c.start_at))
    check_file_order(path, ["A", "B", "C"])

    # A and B never waited long: one run per event, every event of theirs ran.
    for runs in (a_runs, b_runs):
        slots = [slot(run) for run in runs]
        assert slots == list(range(slots[0], slots[-1] + 1, PERIOD))
        assert all(run.coalesced_count == 1 for run in runs)

    # While B failed, C did not run; its first run after the fix stands for the events it missed.
    failures = [run for run in b_runs if run.state == RunState.FAILURE]
    first_failure_end = min(epoch(run.finished_at) for run in failures)  # type: ignore[arg-type]
    recovery_end = min(
        epoch(run.finished_at)  # type: ignore[arg-type]
        for run in b_runs
        if run.state == RunState.SUCCESS and epoch(run.finished_at) > first_failure_end  # type: ignore[arg-type]
    )
    held_back = [run for run in c_runs if first_failure_end < epoch(run.claimed_at) < recovery_end]
    assert held_back == []
    resumed = next(run for run in c_runs if epoch(run.claimed_at) >= recovery_end)
    assert resumed.coalesced_count == len(failures) + 1
    assert all(run.state == RunState.SUCCESS for run in c_runs)
    c_slots = [slot(run) for run in c_runs]
    assert sum(run.coalesced_count for run in c_runs) == (c_slots[-1] - c_slots[0]) // PERIOD + 1

    measure(
        "DAG A -> B -> C",
        f"{len(a_runs)} A, {len(b_runs)} B ({len(failures)} failed), {len(c_runs)} C runs; "
        f"C held back {recovery_end - first_failure_end:.1f} s, then one run "
        f"standing for {resumed.coalesced_count} events",
    )
