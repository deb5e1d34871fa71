"""What a real worker held in memory (``djag.recorder``) when it ends.

The worker's flush delay is an hour, so nothing is written before its end: the runs
executed are still ``sent`` in the ledger. A warm shutdown (SIGTERM) writes them all:
each pool process flushes on ``worker_process_shutdown``. A SIGKILL loses them: they
stay in flight, as the runs of a worker that died during its tasks do, until beat marks
them ``lost`` at ``run_timeout_seconds`` (the documented trade-off of batching).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from celery import Celery
from django.utils import timezone

from djag.core.message import RUN_ID_HEADER
from djag.models import RunState, TaskRun
from tests.e2e.conftest import Broker, Worker
from tests.e2e.support import append_task, every, file_lines, wait_for

RUNS = 6


@pytest.mark.timeout(120)
@pytest.mark.parametrize("broker", ["redis"], indirect=True)
@pytest.mark.parametrize("end", ["warm shutdown", "SIGKILL"])
def test_what_a_worker_held_when_it_ends(
    end: str,
    broker: Broker,
    celery_env: dict[str, str],
    start_worker: Callable[[], Worker],
    tmp_path: Path,
) -> None:
    celery_env["DJAG_WORKER_FLUSH_SECONDS"] = "3600"
    path = tmp_path / "lines.txt"
    task = append_task("held", every("0"), path)
    runs = [
        TaskRun.objects.create(
            periodic_task=task,
            task_name=task.name,
            task=task.task,
            scheduled_for=timezone.now(),
            trigger="manual",
            state=RunState.SENT,
        )
        for _ in range(RUNS)
    ]
    worker = start_worker()
    sender = Celery("e2e-sender", broker=broker.url)
    for run in runs:
        sender.send_task(
            task.task,
            kwargs={"path": str(path), "label": str(run.id)},
            queue=broker.queue,
            headers={RUN_ID_HEADER: run.id},
        )
    wait_for(lambda: len(file_lines(path)) == RUNS, 60, "the tasks to run")

    def states() -> list[str]:
        return [TaskRun.objects.get(pk=run.pk).state for run in runs]

    assert states() == [RunState.SENT] * RUNS  # executed, held by the pool processes
    if end == "SIGKILL":
        worker.process.kill()
        assert states() == [RunState.SENT] * RUNS  # lost with the process: still in flight
        return
    worker.process.stop()
    assert worker.process.popen.returncode == 0, worker.process.log_text()[-3000:]
    for run in runs:
        run.refresh_from_db()
        assert (run.state, run.worker) == (RunState.SUCCESS, worker.node)
        assert run.started_at is not None
        assert run.finished_at is not None
