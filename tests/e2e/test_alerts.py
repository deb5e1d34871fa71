"""Alerts and metrics end to end: a real worker runs a task that keeps failing, a real beat
trips its failing alert (posted to a webhook served by the test), pauses it after N
failures in a row, serves its metrics, and posts the recovery once the task succeeds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from djag.models import PeriodicTask, RunState, TaskRun
from tests.e2e.conftest import CeleryProcess, Worker, free_port
from tests.e2e.support import wait_for
from tests.test_alerts_notify import Hook, hook
from tests.test_metrics import scrape

pytestmark = pytest.mark.e2e

__all__ = ["hook"]  # the fixture, shared with the notifier's tests

#: Time for beat to notice runs, trip an alert and deliver it (runs every 2 s).
SETTLE_SECONDS = 20


def posted(hook: Hook) -> list[tuple[str, str]]:
    return [(body["alert"], body["state"]) for _, body in hook.posts if body["task"] == "flaky"]


@pytest.mark.timeout(120)
def test_a_failing_task_trips_is_paused_after_n_and_recovers(
    worker: Worker,
    start_beat: Callable[[], CeleryProcess],
    celery_env: dict[str, str],
    hook: Hook,
    tmp_path: Path,
) -> None:
    port = free_port()
    celery_env.update(
        DJAG_ALERT_WEBHOOK=hook.url, DJAG_METRICS_PORT=str(port), DJAG_POLL_SECONDS="1"
    )
    failing = tmp_path / "fail"
    failing.touch()
    task = PeriodicTask.objects.create(
        name="flaky",
        task="tests.append_line",
        interval_seconds=2,
        kwargs={"path": str(tmp_path / "out"), "label": "flaky", "fail_if_exists": str(failing)},
        alert_failures_in_a_row=2,
        pause_after_failures=3,
    )
    start_beat()

    def paused() -> bool:
        task.refresh_from_db()
        return not task.enabled

    wait_for(paused, SETTLE_SECONDS, "beat to pause the task after 3 failures")
    wait_for(lambda: posted(hook), SETTLE_SECONDS, "the failing alert at the webhook")
    assert posted(hook) == [("failing", "tripped")]
    runs = TaskRun.objects.filter(periodic_task=task)
    assert list(runs.values_list("state", flat=True)) == [RunState.FAILURE] * 3
    assert task.tripped_alerts() == ["failing"]
    assert "paused after 3 runs failed in a row" in task.alert_note
    page = scrape(f"http://127.0.0.1:{port}/metrics")
    assert page["djag_beat_leader"] == {("djag_beat_leader", ()): 1.0}
    assert page["djag_runs"]["djag_runs_total", (("state", "failure"),)] == 3.0
    assert ("djag_run_duration_seconds_count", (("task", "flaky"),)) in page[
        "djag_run_duration_seconds"
    ]

    # A person fixes the cause and enables the task again: its next success recovers it.
    failing.unlink()
    task.enabled = True
    task.save()
    wait_for(lambda: len(posted(hook)) == 2, SETTLE_SECONDS, "the recovery at the webhook")
    assert posted(hook) == [("failing", "tripped"), ("failing", "recovered")]
    task.refresh_from_db()
    assert task.tripped_alerts() == []
    assert task.enabled
