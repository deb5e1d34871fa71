"""djag_sync with alert thresholds: declared, refused below one, cleared when no longer
declared; beat's tripped state is never a declaration."""

from __future__ import annotations

from pathlib import Path

import pytest

from djag.models import PeriodicTask, ScheduleChange

from .test_djag_sync import run, sync_error, write

pytestmark = pytest.mark.django_db

YAML = """
tasks:
  - name: import
    task: tests.append_line
    cron: "0 5 * * *"
    alert_succeed_within_seconds: 900
    alert_failures_in_a_row: 3
    pause_after_failures: 5
"""


def thresholds(name: str) -> tuple[int | None, int | None, int | None]:
    task = PeriodicTask.objects.get(name=name)
    return (
        task.alert_succeed_within_seconds,
        task.alert_failures_in_a_row,
        task.pause_after_failures,
    )


def test_thresholds_are_declared_and_cleared_with_the_declaration(tmp_path: Path) -> None:
    run("djag_sync", write(tmp_path, YAML))
    assert thresholds("import") == (900, 3, 5)
    logged = ScheduleChange.objects.count()
    run("djag_sync", write(tmp_path, YAML))  # again: nothing to change
    assert ScheduleChange.objects.count() == logged
    bare = "\n".join(
        line for line in YAML.splitlines() if "alert" not in line and "pause" not in line
    )
    run("djag_sync", write(tmp_path, bare))
    assert thresholds("import") == (None, None, None)


def test_a_threshold_below_one_is_refused(tmp_path: Path) -> None:
    error = sync_error(
        write(tmp_path, YAML.replace("pause_after_failures: 5", "pause_after_failures: 0"))
    )
    assert "pause_after_failures" in error
    assert not PeriodicTask.objects.exists()


def test_beat_state_cannot_be_declared(tmp_path: Path) -> None:
    error = sync_error(write(tmp_path, YAML + "    alerts_tripped: failing\n"))
    assert "alerts_tripped" in error
