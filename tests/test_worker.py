"""Worker signal handlers against the real test database, with Celery-shaped senders."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.utils import timezone

from djag import recorder, wakeup, worker
from djag.core.message import RUN_ID_HEADER
from djag.models import PeriodicTask, RunState, TaskRun
from djag.models.run import ERROR_MAX_CHARS

# The handlers close stale connections as Django does between requests, which needs
# real commits (a test wrapped in one transaction would lose its connection).
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True, params=["at once", "batched"])
def recording(
    request: pytest.FixtureRequest, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Every test here twice: each transition written by its handler (flush delay 0), and
    noted then written by the process's recorder, which ``state_of`` flushes first."""
    if request.param == "at once":
        settings.DJAG_WORKER_FLUSH_SECONDS = 0
    else:
        settings.DJAG_WORKER_FLUSH_SECONDS = 60
        held = recorder.Recorder(recorder.FlushPolicy(60), background=False)
        monkeypatch.setattr(recorder, "_recorder", held)
    return str(request.param)


@pytest.fixture
def run(make_task: Any) -> TaskRun:
    task = make_task(name="report")
    return TaskRun.objects.create(
        periodic_task=task,
        task_name=task.name,
        task=task.task,
        scheduled_for=timezone.now(),
        trigger="schedule",
        state=RunState.SENT,
    )


def sender(run_id: object, hostname: str = "worker-1@box") -> Any:
    """A task object as Celery passes it: the run id arrives as a message header."""
    return SimpleNamespace(request=SimpleNamespace(hostname=hostname, **{RUN_ID_HEADER: run_id}))


def state_of(run: TaskRun) -> TaskRun:
    recorder.flush()
    run.refresh_from_db()
    return run


def test_a_run_moves_through_started_to_success(run: TaskRun) -> None:
    worker.on_prerun(sender=sender(run.id))
    assert (state_of(run).state, run.worker) == (RunState.STARTED, "worker-1@box")
    assert run.started_at is not None
    worker.on_success(sender=sender(run.id))
    assert state_of(run).state == RunState.SUCCESS
    assert run.finished_at is not None


def test_failure_records_a_bounded_error(run: TaskRun) -> None:
    worker.on_failure(sender=sender(run.id), exception=ValueError("x" * 10_000))
    run = state_of(run)
    assert run.state == RunState.FAILURE
    assert run.error.startswith("ValueError: xxx")
    assert len(run.error) == ERROR_MAX_CHARS


def test_retry_then_success(run: TaskRun) -> None:
    worker.on_retry(request=sender(run.id).request, reason="Retry in 5s")
    assert (state_of(run).state, run.error) == (RunState.RETRY, "Retry in 5s")
    worker.on_prerun(sender=sender(run.id))
    worker.on_success(sender=sender(run.id))
    assert state_of(run).state == RunState.SUCCESS


def test_expired_message_is_recorded_as_revoked(run: TaskRun) -> None:
    worker.on_revoked(request=sender(run.id).request, expired=True)
    assert (state_of(run).state, run.error) == (RunState.REVOKED, "expired")


def test_a_late_signal_never_moves_a_finished_run_back(run: TaskRun) -> None:
    worker.on_failure(sender=sender(run.id), exception=RuntimeError("boom"))
    worker.on_prerun(sender=sender(run.id))
    worker.on_success(sender=sender(run.id))
    assert state_of(run).state == RunState.FAILURE


def test_tasks_djag_did_not_send_are_ignored(run: TaskRun) -> None:
    before = wakeup.read()
    for foreign in (None, "not a number"):
        worker.on_prerun(sender=sender(foreign))
        worker.on_success(sender=sender(foreign))
    assert state_of(run).state == RunState.SENT
    assert wakeup.read() == before


def test_a_run_s_end_wakes_beat_and_its_start_or_retry_does_not(run: TaskRun) -> None:
    before = wakeup.read()
    worker.on_prerun(sender=sender(run.id))
    worker.on_retry(request=sender(run.id).request, reason="later")
    assert wakeup.read() == before
    assert state_of(run).state == RunState.RETRY
    worker.on_success(sender=sender(run.id))
    assert state_of(run).state == RunState.SUCCESS
    assert wakeup.read() != before


def test_unknown_task_fails_the_run_and_flags_the_task(run: TaskRun) -> None:
    message = SimpleNamespace(headers={RUN_ID_HEADER: str(run.id)})
    worker.on_unknown(name="reports.missing", message=message)
    run = state_of(run)
    assert run.state == RunState.FAILURE
    assert run.error.startswith("NotRegistered: no task named 'reports.missing'")
    task = PeriodicTask.objects.get(pk=run.periodic_task_id)
    assert task.problem == run.error
    assert task.problem_at is not None


def test_rejected_message_fails_the_run(run: TaskRun) -> None:
    message = SimpleNamespace(headers={RUN_ID_HEADER: run.id})
    worker.on_rejected(message=message, exc=ValueError("bad content type"))
    run = state_of(run)
    assert (run.state, run.error) == (
        RunState.FAILURE,
        "rejected by the worker: ValueError: bad content type",
    )
