"""djag_prune --changes-older-than: the schedule change log is pruned by age, never a change
beat may not have read yet."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.checks import run_checks
from django.utils import timezone

from djag.models import ScheduleChange, SchedulerLease

from .conftest import T0, run

pytestmark = pytest.mark.django_db

NOW = "2026-03-02T12:00:00Z"  # T0


def change(at: dt.datetime, label: str) -> ScheduleChange:
    return ScheduleChange.objects.create(
        at=at, model=ScheduleChange.Kind.TASK, object_id=1, object_repr=label, action="update"
    )


def left() -> list[str]:
    return sorted(ScheduleChange.objects.values_list("object_repr", flat=True))


@pytest.fixture
def log() -> None:
    change(T0 - dt.timedelta(days=100), "100 days")
    change(T0 - dt.timedelta(days=40), "40 days")
    change(T0 - dt.timedelta(days=20), "20 days")
    # Written last, so it holds the newest id, yet dated long ago (a clock moved back).
    change(T0 - dt.timedelta(days=200), "newest id")


def test_deletes_changes_older_than_days_but_never_the_newest(log: None) -> None:
    out = run("djag_prune", "--now", NOW, "--changes-older-than", "30")

    assert left() == ["20 days", "newest id"]
    assert "Deleted 2 schedule changes made before 2026-01-31 12:00:00 UTC." in out


def test_a_new_change_gets_an_id_above_every_id_beat_has_read(log: None) -> None:
    newest = ScheduleChange.objects.latest().id
    run("djag_prune", "--now", NOW, "--changes-older-than", "0")
    assert left() == ["newest id"]
    assert change(T0, "after").id > newest


def test_changes_since_beats_last_tick_are_kept(log: None) -> None:
    # A beat that last ticked 50 days ago (stalled) reads the changes made since when it
    # comes back: they stay, from five minutes before that tick.
    SchedulerLease.objects.create(ticked_at=T0 - dt.timedelta(days=50))

    out = run("djag_prune", "--now", NOW, "--changes-older-than", "1")

    assert left() == ["20 days", "40 days", "newest id"]
    assert "made before 2026-01-11 11:55:00 UTC" in out


def test_changes_of_the_last_five_minutes_are_kept_whatever_now_is_pretended() -> None:
    real_now = timezone.now()
    change(real_now - dt.timedelta(hours=1), "an hour ago")
    change(real_now - dt.timedelta(minutes=1), "a minute ago")
    change(real_now - dt.timedelta(days=1), "newest id")
    later = (real_now + dt.timedelta(days=365)).isoformat()

    run("djag_prune", "--now", later, "--changes-older-than", "0")

    assert left() == ["a minute ago", "newest id"]


def test_dry_run_counts_and_deletes_nothing(log: None) -> None:
    out = run("djag_prune", "--now", NOW, "--changes-older-than", "30", "--dry-run")
    assert "Would delete 2 schedule changes" in out
    assert len(left()) == 4


def test_without_option_or_setting_every_change_is_kept(log: None) -> None:
    out = run("djag_prune", "--now", NOW, "--older-than", "0")
    assert len(left()) == 4
    assert "schedule changes" not in out


def test_the_age_defaults_to_djag_change_retention_days(log: None, settings) -> None:
    settings.DJAG_CHANGE_RETENTION_DAYS = 30
    out = run("djag_prune", "--now", NOW)
    assert left() == ["20 days", "newest id"]
    assert "Deleted 2 schedule changes" in out


@pytest.mark.parametrize("value", [0, -1, "30", float("nan"), True])
def test_a_bad_setting_is_reported_and_prunes_nothing(log: None, settings, value: object) -> None:
    settings.DJAG_CHANGE_RETENTION_DAYS = value
    errors = [e for e in run_checks() if e.id == "djag.E006"]
    assert any("DJAG_CHANGE_RETENTION_DAYS" in e.msg for e in errors)
    run("djag_prune", "--now", NOW)
    assert len(left()) == 4
