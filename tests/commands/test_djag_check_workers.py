"""djag_check --workers: how the workers' answers become findings (the real broadcast is
tested end to end in tests/e2e/test_check_workers.py)."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from djag.inspect import check as check_module
from djag.inspect.workers import WorkerAnswers
from djag.models import PeriodicTask

from .conftest import run, task

pytestmark = pytest.mark.django_db

TWO_WORKERS = WorkerAnswers(("a@host", "b@host"), frozenset({"tests.append_line", "reports.build"}))


def runs(name: str, celery_task: str, **fields: object) -> PeriodicTask:
    """A periodic task that runs the Celery task ``celery_task``."""
    made = task(name, **fields)
    PeriodicTask.objects.filter(pk=made.pk).update(task=celery_task)
    return made


def answering(monkeypatch: pytest.MonkeyPatch, answers: WorkerAnswers) -> list[float]:
    """Make the workers answer ``answers``; the timeouts asked with are recorded."""
    timeouts: list[float] = []

    def ask(timeout: float) -> WorkerAnswers:
        timeouts.append(timeout)
        return answers

    monkeypatch.setattr(check_module, "ask_workers", ask)
    return timeouts


def test_enabled_tasks_whose_name_no_worker_knows_are_problems(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    timeouts = answering(monkeypatch, TWO_WORKERS)
    task("known")
    runs("typo", "reports.buidl")
    runs("off", "reports.gone", enabled=False)
    out, err = io.StringIO(), io.StringIO()

    with pytest.raises(CommandError, match=r"1 problem found .*asked of 2 workers"):
        call_command("djag_check", "--workers", stdout=out, stderr=err)

    assert timeouts == [2.0]
    assert out.getvalue().splitlines()[:2] == [
        "Task names no worker has registered:",
        "  'typo' runs 'reports.buidl', which none of the 2 workers that answered has "
        "registered: its runs will fail (NotRegistered). Fix the task name, or deploy workers "
        "that import its module.",
    ]
    assert err.getvalue() == ""


def test_every_name_known_is_no_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    timeouts = answering(monkeypatch, TWO_WORKERS)
    task("known")
    out = run("djag_check", "--workers", "7.5")
    assert timeouts == [7.5]
    assert "No problems: 1 task, 0 dependencies and 1 crontab checked; task names asked of " in out


@pytest.mark.parametrize(
    ("answers", "warning"),
    [
        (WorkerAnswers((), frozenset()), "no worker answered within 2 s"),
        (
            WorkerAnswers((), frozenset(), "OperationalError: connection refused"),
            "Could not ask the workers which tasks they know: OperationalError",
        ),
    ],
)
def test_no_answer_is_a_warning_not_a_problem(
    monkeypatch: pytest.MonkeyPatch, answers: WorkerAnswers, warning: str
) -> None:
    answering(monkeypatch, answers)
    runs("typo", "reports.buidl")
    out, err = io.StringIO(), io.StringIO()

    call_command("djag_check", "--workers", "2", stdout=out, stderr=err)

    assert warning in err.getvalue()
    assert "No problems" in out.getvalue()


def test_without_the_option_no_worker_is_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    timeouts = answering(monkeypatch, TWO_WORKERS)
    runs("typo", "reports.buidl")
    assert "No problems" in run("djag_check")
    assert timeouts == []


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf"])
def test_a_timeout_must_be_a_positive_number(value: str) -> None:
    with pytest.raises(CommandError, match="--workers"):
        call_command("djag_check", f"--workers={value}", stderr=io.StringIO())
