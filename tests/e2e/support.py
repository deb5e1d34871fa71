"""Helpers of the end-to-end tests: waiting on the database, reading the ledger and task files."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from djag.models import TERMINAL_STATES, Crontab, PeriodicTask, RunState, TaskRun

T = TypeVar("T")

#: How often a waiting test looks at the database again.
POLL_SECONDS = 0.1

#: Slack when comparing times written by different processes (rounding of the task's file lines).
CLOCK_SLACK = 0.01


def wait_for(condition: Callable[[], T], timeout: float, what: str) -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(POLL_SECONDS)


def sleep_until(moment: float) -> None:
    """Let wall-clock time pass until ``moment``: a stimulus (downtime, a window), never a check."""
    time.sleep(max(0.0, moment - time.time()))


def epoch(moment: dt.datetime) -> float:
    return moment.timestamp()


def every(second: str, hour: str = "*") -> Crontab:
    """A UTC crontab firing on ``second`` of every minute.

    ``hour`` only tells rows apart: crontabs are unique, and a test that edits one
    gives that task a row of its own ("0-23" means the same as "*").
    """
    crontab, _ = Crontab.objects.get_or_create(second=second, minute="*", hour=hour)
    return crontab


def append_task(name: str, crontab: Crontab, path: Path, **fields: Any) -> PeriodicTask:
    """A periodic ``tests.append_line`` that writes "name time" lines to ``path``."""
    kwargs = {"path": str(path), "label": name, **fields.pop("kwargs", {})}
    return PeriodicTask.objects.create(
        name=name, task="tests.append_line", crontab=crontab, kwargs=kwargs, **fields
    )


def runs_of(task: PeriodicTask, **filters: Any) -> list[TaskRun]:
    """The task's ledger rows, oldest slot first."""
    return list(
        TaskRun.objects.filter(periodic_task=task, **filters).order_by("scheduled_for", "id")
    )


def slot(run: TaskRun) -> int:
    """The run's cron instant in epoch seconds."""
    assert run.scheduled_for is not None, f"{run} has no slot"
    return int(epoch(run.scheduled_for))


def settled_through(task: PeriodicTask, last_slot: int) -> list[TaskRun] | None:
    """The task's runs up to ``last_slot`` once that slot has run and all of them finished."""
    runs = [run for run in runs_of(task) if slot(run) <= last_slot]
    if not runs or slot(runs[-1]) != last_slot:
        return None
    done = (*TERMINAL_STATES, RunState.SKIPPED)
    return runs if all(run.state in done for run in runs) else None


def finished_count(task: PeriodicTask, state: str = RunState.SUCCESS, **filters: Any) -> int:
    return TaskRun.objects.filter(periodic_task=task, state=state, **filters).count()


def file_lines(path: Path) -> list[tuple[str, float]]:
    """(label, time) of each line ``tests.append_line`` wrote, in file order."""
    if not path.exists():
        return []
    lines = []
    for line in path.read_text().splitlines():
        label, _, moment = line.rpartition(" ")
        lines.append((label, float(moment)))
    return lines
