"""djag_sync --export: the database's schedules written in the format djag_sync reads."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import CommandError

from djag.models import Crontab, PeriodicTask, TaskDependency

from .conftest import run

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 1, 0, 0, 0, 250000, tzinfo=dt.UTC)


def crontab(line: str, zone: str = "UTC") -> Crontab:
    second, minute, hour, day_of_month, month_of_year, day_of_week = line.split()
    made = Crontab(
        second=second,
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
        timezone=zone,
    )
    made.full_clean()  # takes the "&" into day_match, as the admin does
    made.save()
    return made


def make_schedules() -> None:
    """Tasks that use every field a schedule file can declare."""
    first_monday = crontab("0 0 9 1-7 * &mon", "Europe/Paris")
    hourly = crontab("30 15 * * * *")
    report = PeriodicTask.objects.create(
        name="report",
        task="tests.append_line",
        crontab=first_monday,
        start_at=START,
        end_at=START + dt.timedelta(days=400),
        args=[1, "é", {"nested": [True, None]}],
        kwargs={"size": 3, "on": "yes"},
        queue="reports",
        exchange="direct",
        routing_key="reports.monthly",
        priority=7,
        headers={"x-team": "data"},
        expires_seconds=300,
        enabled=False,
        misfire_policy="run_all",
        grace_seconds=900,
        max_catchup=5,
        max_running=0,
        max_runs=12,
        run_timeout_seconds=120,
        keep_history="failures",
        description="First Monday\nof the month.",
        exclude_dates="2026-12-24, 2026-12-31",
        holiday_calendar="FR",
    )
    poll = PeriodicTask.objects.create(
        name="poll",
        task="tests.append_line",
        interval_seconds=6 * 3600,
        interval_anchor=dt.datetime(2026, 3, 1, 4, 0, 0, tzinfo=dt.UTC),
        interval_timezone="America/New_York",
        start_at=START,
        exclude_weekdays="sat,sun",
        jitter_seconds=30,
        misfire_policy="skip",
    )
    plain_interval = PeriodicTask.objects.create(
        name="tick", task="tests.append_line", interval_seconds=90, start_at=START
    )
    extract = PeriodicTask.objects.create(
        name="extract", task="tests.append_line", crontab=hourly, start_at=START
    )
    TaskDependency.objects.create(depender=report, dependee=extract)
    TaskDependency.objects.create(depender=report, dependee=poll, require_success=False)
    TaskDependency.objects.create(depender=extract, dependee=report, future_depends=True)
    TaskDependency.objects.create(depender=poll, dependee=poll, future_depends=True)
    TaskDependency.objects.create(depender=plain_interval, dependee=poll)


#: What djag_sync does not write from a file: the key, where the task is declared, and
#: beat's own state (the fields an admin form never shows).
NOT_DECLARED = {"id", "source"}


def snapshot() -> dict[str, Any]:
    """Every declarable field of every task, its crontab, and every dependency."""
    names = [
        field.attname
        for field in PeriodicTask._meta.concrete_fields
        if field.editable and field.attname not in NOT_DECLARED
    ]
    tasks = {}
    for task in PeriodicTask.objects.select_related("crontab"):
        row = {name: getattr(task, name) for name in names if name != "crontab_id"}
        row["interval_timezone"] = str(task.interval_timezone)
        if task.crontab is not None:
            row["crontab_id"] = (
                task.crontab.raw_fields(),
                task.crontab.zone_name,
                task.crontab.day_match,
            )
        tasks[task.name] = row
    edges = {
        (e.depender.name, e.dependee.name, e.future_depends, e.require_success)
        for e in TaskDependency.objects.select_related("depender", "dependee")
    }
    return {"tasks": tasks, "edges": edges}


@pytest.mark.parametrize("filename", ["schedules.yaml", "schedules.json"])
def test_export_wipe_and_sync_back_gives_every_field_again(tmp_path: Path, filename: str) -> None:
    make_schedules()
    before = snapshot()
    path = tmp_path / filename

    out = run("djag_sync", export=str(path))

    assert f"Exported 4 task(s) to {path}" in out
    PeriodicTask.objects.all().delete()
    Crontab.objects.all().delete()
    run("djag_sync", str(path))
    assert snapshot() == before
    assert set(PeriodicTask.objects.values_list("source", flat=True)) == {str(path)}
    assert "Everything was already up to date." in run("djag_sync", str(path))


def test_the_file_reads_as_a_person_would_write_it(tmp_path: Path) -> None:
    make_schedules()
    path = tmp_path / "schedules.yaml"
    run("djag_sync", export=str(path))

    tasks = {item["name"]: item for item in yaml.safe_load(path.read_text())["tasks"]}

    assert list(tasks) == ["extract", "poll", "report", "tick"]
    assert tasks["report"]["cron"] == "0 0 9 1-7 * &mon"
    assert tasks["report"]["timezone"] == "Europe/Paris"
    assert tasks["report"]["exclude_dates"] == ["2026-12-24", "2026-12-31"]
    assert tasks["report"]["after"] == ["extract", {"task": "poll", "require_success": False}]
    assert tasks["poll"]["every"] == "6 hours"
    assert tasks["poll"]["anchor"] == "2026-02-28T23:00:00-05:00"
    assert tasks["poll"]["after"] == [{"task": "poll", "future": True}]
    # Model defaults are left out; start_at never is.
    assert tasks["tick"] == {
        "name": "tick",
        "task": "tests.append_line",
        "every": "90 seconds",
        "start_at": "2026-03-01T00:00:00.250000Z",
        "after": ["poll"],
    }


def test_an_empty_database_exports_an_empty_list(tmp_path: Path) -> None:
    path = tmp_path / "schedules.json"
    assert "Exported 0 task(s)" in run("djag_sync", export=str(path))
    assert json.loads(path.read_text()) == {"tasks": []}


def export_error(*args: str, **options: Any) -> str:
    with pytest.raises(CommandError) as exc_info:
        run("djag_sync", *args, **options)
    return str(exc_info.value)


def test_unwritable_paths_are_clear_errors(tmp_path: Path) -> None:
    make_schedules()
    assert "unknown file type; name it .yaml, .yml or .json" in export_error(
        export=str(tmp_path / "schedules.txt")
    )
    assert f"{tmp_path / 'nowhere'} is not a directory" in export_error(
        export=str(tmp_path / "nowhere" / "s.yaml")
    )
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    assert "is a directory; give a file name" in export_error(export=str(folder))
    assert "cannot write the file (File name too long)" in export_error(
        export=str(tmp_path / f"{'x' * 300}.yaml")
    )
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert "cannot write the file (Permission denied)" in export_error(
            export=str(locked / "s.yaml")
        )


def test_export_takes_no_files_prune_or_dry_run(tmp_path: Path) -> None:
    target = str(tmp_path / "s.yaml")
    message = export_error("other.yaml", export=target, prune=True)
    assert "takes no FILE, --prune" in message
    assert "takes no --dry-run" in export_error(export=target, dry_run=True)
    assert not Path(target).exists()
