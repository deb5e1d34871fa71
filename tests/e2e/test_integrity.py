"""Integrity end to end: rows written past validation, and a frozen leader, with real processes.

- A task row turned by raw SQL into ``djag.call_command shell -c <code>`` runs, and fails
  with ``CommandNotAllowed`` in the ledger: the code is not run. A row whose headers name
  Celery's own (``task``, ``argsrepr``, ``eta``) is a recorded problem and sends nothing.
  A healthy task runs meanwhile.
- The leading beat is frozen (SIGSTOP) for several lease times; a standby takes over;
  the old leader is let go (SIGCONT) and claims nothing: every second is in the ledger
  once, as a run or inside a coalesced one, and each run executed once.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from django.db import connection

from djag import touch
from djag.models import PeriodicTask, RunState, SchedulerLease
from djag.store.db import from_epoch
from tests.e2e.conftest import LEASE_SECONDS, leader, wait_for_leader
from tests.e2e.support import append_task, every, file_lines, runs_of, sleep_until, slot, wait_for
from tests.e2e.test_scheduling import SETTLE_SECONDS, wait_settled

pytestmark = pytest.mark.e2e


def raw_update(row: PeriodicTask, **columns: object) -> None:
    """Behind the ORM's back, as a raw SQL fix or a bad migration would (then djag.touch())."""
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(PeriodicTask._meta.db_table)} SET {assignments} WHERE id = %s",
            [*columns.values(), row.pk],
        )
    touch()


@pytest.mark.timeout(90)
def test_stored_rows_cannot_run_code_or_another_task(worker, beat, tmp_path):
    pwned = tmp_path / "pwned"
    good_path = tmp_path / "good.txt"
    good = append_task("good", every("*"), good_path)
    shell = append_task("shell", every("*/2"), tmp_path / "shell.txt")
    swapped = append_task("swapped", every("*/3"), tmp_path / "swapped.txt")
    code = f"open({str(pwned)!r}, 'w').write('x')"
    raw_update(
        shell,
        task="djag.call_command",
        args=json.dumps(["shell", "-c", code]),
        kwargs="{}",
    )
    raw_update(
        swapped,
        headers=json.dumps({"task": "djag.call_command", "argsrepr": "['harmless']", "eta": None}),
    )

    def refused() -> list:
        return [run for run in runs_of(shell) if run.state == RunState.FAILURE]

    [run, *_] = wait_for(refused, SETTLE_SECONDS + 10, "the shell run to fail")
    assert run.error.startswith(
        "CommandNotAllowed: the command 'shell' is not in DJAG_ALLOWED_COMMANDS, which is empty"
    )
    assert not pwned.exists()

    swapped.refresh_from_db()
    wait_for(lambda: PeriodicTask.objects.get(pk=swapped.pk).problem, 10, "the headers problem")
    problem = PeriodicTask.objects.get(pk=swapped.pk).problem
    assert problem.startswith("headers may not use 'argsrepr', 'eta', 'task':")
    assert runs_of(swapped) == []

    successes = wait_for(
        lambda: len(runs_of(good, state=RunState.SUCCESS)) >= 3 or None, 15, "good runs"
    )
    assert successes
    assert len(file_lines(good_path)) >= 3
    assert not pwned.exists()


#: The freeze: several lease times.
FREEZE_SECONDS = 3 * LEASE_SECONDS


@pytest.mark.faults
@pytest.mark.timeout(120)
def test_a_frozen_leader_claims_nothing_when_it_wakes(worker, start_beats, tmp_path, measure):
    beats = start_beats(2)
    start = int(time.time()) + 2
    path = tmp_path / "frozen.txt"
    task = append_task("frozen", every("*"), path, start_at=from_epoch(start), max_running=0)
    wait_settled(task, start + 3)

    frozen = leader(beats)
    assert frozen is not None
    [standby] = [beat for beat in beats if beat is not frozen]
    os.killpg(frozen.pid, signal.SIGSTOP)
    stopped_at = time.time()
    try:
        wait_for_leader([standby])
        took_over = time.time() - stopped_at
        sleep_until(stopped_at + FREEZE_SECONDS)
    finally:
        os.killpg(frozen.pid, signal.SIGCONT)
    woke_at = time.time()
    generation = SchedulerLease.objects.get().generation

    check_through = int(woke_at) + 5
    runs = wait_settled(task, check_through)
    frozen.check_alive()
    standby.check_alive()
    assert leader(beats) is standby  # the woken beat did not take the lease back
    assert SchedulerLease.objects.get().generation == generation
    slots = [slot(run) for run in runs]
    assert len(slots) == len(set(slots)), "a slot has two rows"
    # Every second since the first slot is in the ledger once: a claim by the woken leader,
    # coalescing seconds the new leader had already handled, would count them twice.
    assert sum(run.coalesced_count for run in runs) == check_through - start
    assert all(run.state == RunState.SUCCESS for run in runs), runs
    finished = max(run.finished_at.timestamp() for run in runs)  # type: ignore[union-attr]
    written = [moment for _, moment in file_lines(path) if moment <= finished + 0.01]
    assert len(written) == len(runs), "an event ran twice, or a run did not execute"
    assert "stops dispatching" in frozen.log_text()
    measure(
        "a leader frozen for 3 lease times",
        f"the standby led {took_over:.2f} s after SIGSTOP (lease {LEASE_SECONDS} s); "
        "the woken leader stood by and claimed nothing",
    )
