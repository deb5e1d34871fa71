"""A real PostgreSQL restart under a running worker and beat: completions survive it.

The defect: PostgreSQL stopped for 8 s under a task every 2 s whose run finished during
the outage; the completion could not be written and was only logged, so the run stayed
in flight until ``run_timeout_seconds`` and the ``max_running=1`` task claimed nothing
after the database came back.

Each test starts a PostgreSQL server of its own (never the shared one), migrates it,
declares the task with ``djag_sync``, starts a worker and a beat on it, stops the server
while a run is in progress, starts it again 8 s later, and reads the ledger: the run
that ended during the outage is recorded with the moment it ended, beat (never
restarted) claims again, every slot is in the ledger once (run or coalesced), and each
run executed once. Two paths are checked: the worker writes its parked completion when
the database answers (the cache is the database's); and, the worker being killed during
the outage, beat folds the completion from a Redis cache of the test's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    LEASE_SECONDS,
    REPO,
    START_SECONDS,
    CeleryProcess,
    worker_arguments,
)
from tests.e2e.private_postgres import DATABASE, PrivatePostgres, server_binaries
from tests.e2e.support import file_lines, sleep_until, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

BINARIES = server_binaries()

#: The outage: PostgreSQL is down this long.
OUTAGE_SECONDS = 8
#: The task sleeps this long, so that the run in progress when the server stops ends
#: during the outage.
RUN_SECONDS = 3
#: Slots of the task: one every TICK seconds.
TICK = 2
#: How long after the restart the test lets things settle before reading the ledger.
AFTER_SECONDS = 25


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    if BINARIES is None:
        pytest.skip("the PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are missing")
    server = PrivatePostgres(BINARIES)
    try:
        server.init()
        yield server
    finally:
        server.remove()


class Site:
    """The sample site's processes on the private server."""

    def __init__(self, postgres: PrivatePostgres, tmp_path: Path, cache_url: str) -> None:
        self.tmp_path = tmp_path
        self.processes: list[CeleryProcess] = []
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DJAG_TEST_DB": "postgres",
            "DJAG_TEST_POSTGRES_URL": postgres.url,
            "DJAG_TEST_DB_NAME": DATABASE,
            "DJAG_VAR_DIR": str(tmp_path / "var"),
            "DJAG_CACHE_URL": cache_url,
            "CELERY_BROKER_URL": "filesystem://",
            "CELERY_TASK_DEFAULT_QUEUE": f"djag-e2e-{uuid.uuid4().hex[:12]}",
            "DJAG_LEASE_SECONDS": str(LEASE_SECONDS),
            "PYTHONUNBUFFERED": "1",
        }

    def manage(self, *args: str) -> None:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def start(self, label: str, *args: str, graceful: bool = True) -> CeleryProcess:
        process = CeleryProcess(
            label, list(args), self.env, self.tmp_path / f"{label}.log", graceful=graceful
        )
        self.processes.append(process)
        return process

    def start_worker(self) -> CeleryProcess:
        node = f"e2e-{uuid.uuid4().hex[:8]}@djag"
        worker = self.start(
            "worker",
            *worker_arguments(node),
            graceful=False,
        )
        wait_for(
            lambda: worker.check_alive() or f"{node} ready." in worker.log_text(),
            START_SECONDS,
            "the worker to be ready",
        )
        return worker

    def stop_all(self) -> None:
        for process in self.processes:
            process.end()
        for process in self.processes:
            process.wait()


@pytest.fixture
def site(
    postgres: PrivatePostgres, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Site]:
    cache_url = getattr(request, "param", "db://djag_cache")
    if cache_url == "private-redis":
        cache_url = request.getfixturevalue("redis_server").url
    site = Site(postgres, tmp_path, cache_url)
    request.node.djag_processes = site.processes  # a failed test shows their logs
    site.manage("migrate", "--verbosity", "0")
    site.manage("createcachetable")
    try:
        yield site
    finally:
        site.stop_all()


def declare_task(site: Site, path: Path) -> None:
    """Every TICK seconds, a run that lasts RUN_SECONDS; one at a time; missed slots coalesced."""
    schedule = site.tmp_path / "schedule.json"
    task = {
        "name": "outage",
        "task": "tests.append_line",
        "cron": f"*/{TICK} * * * * *",
        "kwargs": {"path": str(path), "label": "outage", "sleep": RUN_SECONDS},
        "max_running": 1,
        "misfire_policy": "coalesce",
        "run_timeout_seconds": 3600,
    }
    schedule.write_text(json.dumps({"tasks": [task]}))
    site.manage("djag_sync", str(schedule))


RUNS = (
    "SELECT id, extract(epoch FROM scheduled_for), state, coalesced_count, "
    "extract(epoch FROM claimed_at), extract(epoch FROM finished_at) "
    "FROM djag_taskrun ORDER BY scheduled_for"
)


def a_started_run(postgres: PrivatePostgres) -> tuple | None:
    rows = postgres.query(RUNS)
    started = [row for row in rows if row[2] == "started"]
    return started[0] if started else None


def run_through_a_restart(
    postgres: PrivatePostgres, site: Site, beat: CeleryProcess, kill: CeleryProcess | None
) -> tuple[int, float, float]:
    """Stop the server while a run is in progress, start it OUTAGE_SECONDS later.

    Returns the run in progress, and when the server stopped and started again. With
    ``kill``, that worker is SIGKILLed once its run has ended and parked its completion.
    """
    run = wait_for(lambda: a_started_run(postgres), 60, "a run to start")
    stopped_at = time.time()
    postgres.stop()
    if kill is not None:
        wait_for(
            lambda: "parked, it is written when the database answers" in kill.log_text(),
            RUN_SECONDS + 10,
            "the worker to park the run's end",
        )
        kill.kill()
    sleep_until(stopped_at + OUTAGE_SECONDS)
    postgres.start()
    started_at = time.time()
    beat.check_alive()
    return int(run[0]), stopped_at, started_at


def check_ledger(
    postgres: PrivatePostgres, path: Path, run_id: int, stopped_at: float, started_at: float
) -> None:
    def settled() -> list[tuple] | None:
        rows = postgres.query(RUNS)
        after = [row for row in rows if row[4] is not None and float(row[4]) > started_at]
        done = [row for row in after if row[2] == "success"]
        return rows if len(done) >= 2 else None

    rows = wait_for(settled, AFTER_SECONDS + 20, "runs after the restart to succeed")
    by_id = {int(row[0]): row for row in rows}
    ended = by_id[run_id]
    assert ended[2] == "success", ended  # recorded, not left in flight (nor lost)
    assert stopped_at < float(ended[5]) < started_at  # with the moment it ended
    slots = [int(float(row[1])) for row in rows]
    assert slots == sorted(set(slots))  # no slot twice
    # Every slot from the first to the last is in the ledger once: as a run, or coalesced
    # (the first run also stands for the slots between the task's start and beat's start).
    counts = [int(row[3]) for row in rows]
    assert sum(counts[1:]) == (slots[-1] - slots[0]) // TICK
    assert any(count > 1 for count in counts[1:])  # the outage's slots were coalesced
    finished = [row for row in rows if row[2] == "success"]
    # Each run executed once: one line per successful run, none for another.
    lines = [label for label, _ in file_lines(path)]
    assert len(lines) >= len(finished)
    assert len(lines) <= len(finished) + 1  # the last run may have written and not yet ended


@pytest.mark.timeout(180)
def test_the_worker_writes_a_completion_parked_during_a_restart(
    postgres: PrivatePostgres, site: Site
) -> None:
    path = site.tmp_path / "outage.txt"
    declare_task(site, path)
    site.start_worker()
    beat = site.start("beat", "beat", "--scheduler", "djag.scheduler:DjagScheduler")
    run_id, stopped_at, started_at = run_through_a_restart(postgres, site, beat, kill=None)
    check_ledger(postgres, path, run_id, stopped_at, started_at)
    beat.check_alive()  # the same beat process throughout


@pytest.mark.timeout(180)
@pytest.mark.parametrize("site", ["private-redis"], indirect=True)
def test_beat_folds_the_completion_of_a_worker_killed_during_a_restart(
    postgres: PrivatePostgres, site: Site
) -> None:
    path = site.tmp_path / "outage.txt"
    declare_task(site, path)
    first = site.start_worker()
    beat = site.start("beat", "beat", "--scheduler", "djag.scheduler:DjagScheduler")
    run_id, stopped_at, started_at = run_through_a_restart(postgres, site, beat, kill=first)
    site.start_worker()  # a new worker for the runs after the restart
    check_ledger(postgres, path, run_id, stopped_at, started_at)
    assert "run(s) ended while the database was unreachable: recorded now" in beat.log_text()
    beat.check_alive()
