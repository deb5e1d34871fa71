"""djag_prune: old run history and audit rows go; what beat still reads stays."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import CommandError

from djag.models import PeriodicTask, RunState, TaskRun, Trigger, UserActionAudit
from djag.store import retention

from .conftest import T0, run, task

pytestmark = pytest.mark.django_db

NOW = "2026-03-02T12:00:00Z"  # T0; 30 days before: 2026-01-31 12:00:00 UTC


def days_ago(days: float) -> dt.datetime:
    return T0 - dt.timedelta(days=days)


def run_row(
    periodic_task: PeriodicTask | None,
    state: str,
    days: float,
    trigger: str = Trigger.SCHEDULE,
    finished: bool = True,
) -> TaskRun:
    """A run claimed ``days`` before T0 (for its scheduled event) and finished a minute later."""
    claimed = days_ago(days)
    return TaskRun.objects.create(
        periodic_task=periodic_task,
        task_name=periodic_task.name if periodic_task else "gone",
        scheduled_for=None if trigger == Trigger.MANUAL else claimed,
        trigger=trigger,
        state=state,
        claimed_at=claimed,
        finished_at=claimed + dt.timedelta(minutes=1) if finished else None,
    )


def audit(days: float) -> UserActionAudit:
    return UserActionAudit.objects.create(
        original_id=1, action="pause", created_at=days_ago(days + 1), deleted_at=days_ago(days)
    )


@pytest.fixture
def ledger() -> dict[str, TaskRun]:
    a, b, m = task("a"), task("b"), task("m", max_runs=5)
    rows = {
        "a skipped": run_row(a, RunState.SKIPPED, 41, finished=False),
        "a old success": run_row(a, RunState.SUCCESS, 40),
        "a newest success": run_row(a, RunState.SUCCESS, 39),  # read by beat
        "a newest failure": run_row(a, RunState.FAILURE, 38),  # read by beat
        "b old": run_row(b, RunState.SUCCESS, 40),
        "b recent": run_row(b, RunState.SUCCESS, 1),
        "b stuck claim": run_row(b, RunState.CLAIMED, 50, finished=False),  # active
        "b old retry": run_row(b, RunState.RETRY, 45, finished=False),  # active
        "orphan": run_row(None, RunState.SUCCESS, 40),
        "m counted": run_row(m, RunState.SUCCESS, 40),  # counts towards max_runs
        "m manual": run_row(m, RunState.SUCCESS, 45, trigger=Trigger.MANUAL),
    }
    audit(40)
    audit(1)
    return rows


def remaining(rows: dict[str, TaskRun]) -> set[str]:
    left = set(TaskRun.objects.values_list("pk", flat=True))
    return {name for name, row in rows.items() if row.pk in left}


def test_deletes_old_history_but_keeps_what_beat_reads_and_active_runs(ledger):
    text = run("djag_prune", "--now", NOW, "--older-than", "30")
    assert text.splitlines() == [
        "Deleted 5 runs finished before 2026-01-31 12:00:00 UTC (kept 2 that beat still reads).",
        "Deleted 1 user action audit rows deleted before 2026-01-31 12:00:00 UTC.",
    ]
    assert remaining(ledger) == {
        "a newest success",
        "a newest failure",
        "b recent",
        "b stuck claim",
        "b old retry",
        "m counted",
    }
    assert list(UserActionAudit.objects.values_list("deleted_at", flat=True)) == [days_ago(1)]


def test_dry_run_counts_and_deletes_nothing(ledger):
    text = run("djag_prune", "--now", NOW, "--older-than", "30", "--dry-run")
    assert text.splitlines() == [
        "Would delete 5 runs finished before 2026-01-31 12:00:00 UTC "
        "(kept 2 that beat still reads).",
        "Would delete 1 user action audit rows deleted before 2026-01-31 12:00:00 UTC.",
        "Dry run: nothing was deleted.",
    ]
    assert remaining(ledger) == set(ledger)
    assert UserActionAudit.objects.count() == 2


def test_the_age_defaults_to_djag_run_retention_days(ledger, settings):
    settings.DJAG_RUN_RETENTION_DAYS = 44
    text = run("djag_prune", "--now", NOW)
    assert text.splitlines()[0] == "Deleted 1 runs finished before 2026-01-17 12:00:00 UTC."
    assert "m manual" not in remaining(ledger)


def test_older_than_takes_decimals(ledger):
    text = run("djag_prune", "--now", NOW, "--older-than", "0.5", "--dry-run")
    # "b recent" is old enough now, but it is b's newest run: kept too.
    assert text.splitlines()[:2] == [
        "Would delete 5 runs finished before 2026-03-02 00:00:00 UTC "
        "(kept 3 that beat still reads).",
        "Would delete 2 user action audit rows deleted before 2026-03-02 00:00:00 UTC.",
    ]


def test_the_newest_handled_event_is_kept_even_when_it_was_skipped():
    # Beat recovers its last handled event from the ledger: deleting the skip row
    # would free the slot and let the skipped event run.
    s = task("s")
    ran = run_row(s, RunState.SUCCESS, 40)
    skipped = run_row(s, RunState.SKIPPED, 39, finished=False)
    text = run("djag_prune", "--now", NOW, "--older-than", "30")
    assert text.startswith("Deleted 0 runs finished before 2026-01-31 12:00:00 UTC (kept 2 ")
    assert set(TaskRun.objects.values_list("pk", flat=True)) == {ran.pk, skipped.pk}


def test_deletes_in_batches(ledger, monkeypatch):
    monkeypatch.setattr(retention, "BATCH", 2)
    for day in range(60, 67):
        run_row(None, RunState.FAILURE, day)
    text = run("djag_prune", "--now", NOW, "--older-than", "30")
    assert text.startswith("Deleted 12 runs")
    assert not TaskRun.objects.filter(task_name="gone").exists()


def test_nothing_to_prune():
    assert run("djag_prune", "--now", NOW).splitlines() == [
        "Deleted 0 runs finished before 2026-01-31 12:00:00 UTC.",
        "Deleted 0 user action audit rows deleted before 2026-01-31 12:00:00 UTC.",
    ]


@pytest.mark.parametrize("days", ["-1", "inf", "nan", "a week"])
def test_a_bad_age_is_refused(days):
    with pytest.raises(CommandError, match="--older-than"):
        run("djag_prune", "--older-than", days)
