"""Faults end to end: several beats at once, a worker killed mid-task, the broker restarted.

Like the other end-to-end tests, these run real beat and worker processes on
the test database (``DJAG_TEST_DB``), let real time pass and read what
happened from the ledger (TaskRun) and from the lines ``tests.append_line``
writes. Each injects one fault: a crowd of beats contending for the lease, a
SIGKILL of the worker's whole process group while it executes a run, and a
SIGKILL of the broker (a private redis-server) for a few seconds.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest

from djag.models import RunState, TaskRun, Trigger
from djag.store.db import from_epoch
from tests.e2e.conftest import LEASE_SECONDS, Broker, RedisServer, leader, wait_for_leader
from tests.e2e.support import (
    CLOCK_SLACK,
    append_task,
    epoch,
    every,
    file_lines,
    finished_count,
    runs_of,
    sleep_until,
    slot,
    wait_for,
)
from tests.e2e.test_scheduling import SETTLE_SECONDS, check_ran_once_each, wait_settled

pytestmark = [pytest.mark.e2e, pytest.mark.faults]


@pytest.fixture
def broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    """The filesystem transport, or ``"private-redis"``: a redis-server of the test's own.

    Overrides conftest's ``broker`` in this module: a test that kills its broker
    must not touch the machine's shared servers.
    """
    name = getattr(request, "param", "filesystem")
    queue = f"djag-e2e-{uuid.uuid4().hex[:12]}"
    if name == "private-redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        yield Broker("redis", server.url, queue)
    else:
        assert name == "filesystem", f"unknown broker {name!r}"
        yield Broker(name, "filesystem://", queue)


#: The window of the crowd test, in seconds: every second of it must run exactly once.
WINDOW_SECONDS = 8


@pytest.mark.timeout(75)
def test_three_beats_run_each_slot_exactly_once_and_a_standby_takes_over(
    worker, start_beats, tmp_path, measure
):
    beats = start_beats(3)
    start = int(time.time()) + 2
    paths = [tmp_path / f"crowd-{n}.txt" for n in range(3)]
    tasks = [
        append_task(f"crowd {n}", every("*"), path, start_at=from_epoch(start))
        for n, path in enumerate(paths)
    ]
    last_slot = start + WINDOW_SECONDS
    for task, path in zip(tasks, paths, strict=True):
        runs = wait_settled(task, last_slot)
        check_ran_once_each(runs, start + 1, last_slot, worker, path)
    first_leader = leader(beats)  # also checks that all three are alive
    assert first_leader is not None

    # The leader dies; one of the two standbys takes over, and no slot runs twice.
    first_leader.kill()
    killed_at = time.time()
    survivors = [beat for beat in beats if beat is not first_leader]
    wait_for_leader(survivors)
    took_over = time.time() - killed_at
    check_through = int(time.time()) + 2
    missed = []
    for task, path in zip(tasks, paths, strict=True):
        runs = wait_settled(task, check_through)
        slots = [slot(run) for run in runs]
        assert len(slots) == len(set(slots)), "a slot has two rows"
        assert all(run.state == RunState.SUCCESS for run in runs), runs
        # Every second since the window's first slot is accounted for once.
        assert sum(run.coalesced_count for run in runs) == check_through - start
        finished = epoch(runs[-1].finished_at) + CLOCK_SLACK  # type: ignore[arg-type]
        written = [moment for _, moment in file_lines(path) if moment <= finished]
        assert len(written) == len(runs), "an event ran twice, or a run did not execute"
        missed += [run.coalesced_count for run in runs if run.coalesced_count > 1]
    for beat in survivors:
        beat.check_alive()
    measure(
        "3 beats, then the leader killed",
        f"{3 * WINDOW_SECONDS} slots exactly once with 3 beats; lease taken by a standby "
        f"{took_over:.2f} s after the kill (lease {LEASE_SECONDS} s); coalesced: {missed}",
    )


#: The worker-kill test: the task's body sleeps SLEEP_SECONDS, within its run timeout.
SLEEP_SECONDS = 3
RUN_TIMEOUT_SECONDS = 5
#: Beat's fallback poll in that test: it finds the lost run within about this long.
POLL_SECONDS = 1


@pytest.mark.timeout(75)
def test_a_run_whose_worker_is_killed_is_lost_after_its_timeout_and_later_runs_succeed(
    celery_env, worker, start_beat, start_worker, tmp_path, measure
):
    celery_env["DJAG_POLL_SECONDS"] = str(POLL_SECONDS)  # for the beat started below
    wait_for_leader([start_beat()])
    path = tmp_path / "slow.txt"
    slow = append_task(
        "slow",
        every("*/2"),
        path,
        kwargs={"sleep": SLEEP_SECONDS},
        run_timeout_seconds=RUN_TIMEOUT_SECONDS,
        max_running=1,
    )
    victim = wait_for(
        lambda: runs_of(slow, state=RunState.STARTED), SETTLE_SECONDS, "a run to start"
    )[0]
    assert victim.worker == worker.node
    time.sleep(0.5)  # well inside the task's sleep
    worker.process.kill()  # SIGKILL of the worker's process group: main process and children
    killed_at = time.time()
    victim.refresh_from_db()
    assert victim.state == RunState.STARTED, "the run finished before the kill"

    replacement = start_worker()
    deadline = epoch(victim.claimed_at) + RUN_TIMEOUT_SECONDS
    wait_for(
        lambda: TaskRun.objects.get(id=victim.id).state == RunState.LOST,
        deadline - time.time() + SETTLE_SECONDS,
        "the killed run to be marked lost",
    )
    victim.refresh_from_db()
    lost_at = epoch(victim.finished_at)  # type: ignore[arg-type]
    assert deadline <= lost_at <= deadline + POLL_SECONDS + 2.0
    assert "run timeout" in victim.error

    def later_successes() -> list[TaskRun]:
        runs = runs_of(slow, state=RunState.SUCCESS)
        return [run for run in runs if epoch(run.claimed_at) >= lost_at]

    after = wait_for(later_successes, SLEEP_SECONDS + SETTLE_SECONDS, "a later run to succeed")[0]
    assert after.worker == replacement.node
    runs = runs_of(slow)
    # max_running=1: nothing else went out while the killed run was still active.
    assert not [run for run in runs if epoch(victim.claimed_at) < epoch(run.claimed_at) < lost_at]
    # The killed run wrote nothing: the file has one line per successful run.
    assert len(file_lines(path)) == finished_count(slow)
    measure(
        "worker SIGKILLed mid-run",
        f"run lost {lost_at - killed_at:.2f} s after the kill, {lost_at - deadline:.2f} s after "
        f"its timeout ({RUN_TIMEOUT_SECONDS} s, poll {POLL_SECONDS} s); next run claimed "
        f"{epoch(after.claimed_at) - lost_at:.2f} s after that, succeeded on the new worker",
    )


#: How long the broker stays down.
OUTAGE_SECONDS = 3


@pytest.mark.timeout(75)
@pytest.mark.parametrize("broker", ["private-redis"], indirect=True)
def test_beat_and_worker_ride_out_a_broker_restart(
    broker, redis_server, worker, beat, tmp_path, measure
):
    path = tmp_path / "tick.txt"
    # A message the broker loses with it would leave its run "sent" until this timeout.
    tick = append_task("tick", every("*"), path, run_timeout_seconds=30)
    wait_for(lambda: finished_count(tick) >= 3, SETTLE_SECONDS, "the first runs")

    # Mid-second: the last slot's message has reached the worker (a message still in the
    # broker would go down with it, and its run would wait for its timeout).
    sleep_until(int(time.time()) + 1.5)
    redis_server.kill()
    down_at = time.time()
    sleep_until(down_at + OUTAGE_SECONDS)
    redis_server.start()
    up_at = time.time()

    def resumed() -> bool:
        worker.process.check_alive()
        beat.check_alive()
        return finished_count(tick, claimed_at__gt=from_epoch(up_at)) >= 3

    wait_for(resumed, 30, "runs claimed after the restart to succeed")
    resumed_at = time.time()
    check_through = int(time.time())
    runs = wait_settled(tick, check_through)
    worker.process.check_alive()
    beat.check_alive()

    slots = [slot(run) for run in runs]
    assert len(slots) == len(set(slots)), "a slot has two rows"
    assert all(run.state == RunState.SUCCESS for run in runs), [
        (slot(run), run.state) for run in runs
    ]
    # Every second since the first run is accounted for once, the outage's included.
    assert sum(run.coalesced_count for run in runs) == check_through - slots[0] + 1
    finished = epoch(runs[-1].finished_at) + CLOCK_SLACK  # type: ignore[arg-type]
    written = [moment for _, moment in file_lines(path) if moment <= finished]
    assert len(written) == len(runs), "an event ran twice, or a run did not execute"

    # Runs claimed while the broker was down stayed "claimed"; beat published them again,
    # with the same id, once it was back.
    claimed_in_outage = [run for run in runs if down_at <= epoch(run.claimed_at) <= up_at]
    assert claimed_in_outage, "beat claimed nothing while the broker was down"
    assert all(epoch(run.sent_at) >= up_at for run in claimed_in_outage)  # type: ignore[arg-type]
    failed_publishes = beat.log_text().count("could not publish run")
    assert failed_publishes >= 1

    around = [run for run in runs if down_at - 1 <= slot(run) <= resumed_at]
    shape = [
        (
            round(slot(run) - down_at, 1),
            str(run.trigger),
            run.coalesced_count,
            round(epoch(run.sent_at) - slot(run), 1) if run.sent_at else None,
        )
        for run in around
    ]
    triggers = Counter(str(run.trigger) for run in runs)
    assert set(triggers) <= {Trigger.SCHEDULE, Trigger.COALESCED}
    measure(
        f"broker down {OUTAGE_SECONDS} s",
        f"runs resumed {resumed_at - up_at:.2f} s after the restart (3 runs claimed after it "
        f"succeeded); {failed_publishes} failed publish(es) logged; runs around the outage "
        f"(slot - kill, trigger, events, sent after slot): {shape}",
    )
