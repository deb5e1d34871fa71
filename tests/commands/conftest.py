"""Helpers of the command tests: run a command in-process, or as ``manage.py`` in a subprocess."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from djag.models import Crontab, PeriodicTask, TaskDependency

REPO = Path(__file__).resolve().parents[2]

#: A Monday, 12:00:00 UTC: the "now" most tests pass with --now.
T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


def run(command: str, *args: str, **options: object) -> str:
    """Run a command in-process; return what it printed on stdout."""
    out = io.StringIO()
    call_command(command, *args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


@pytest.fixture
def manage(transactional_db: None, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """``manage("djag_check")``: run manage.py on the test database (committed data only)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DJAG_TEST_DB": settings.DJAG_TEST_DB,
        "DJAG_TEST_DB_NAME": str(connection.settings_dict["NAME"]),
        "DJAG_VAR_DIR": str(tmp_path / "var"),
    }

    def manage_py(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return manage_py


def crontab(line: str = "0 * * * * *", zone: str = "UTC") -> Crontab:
    second, minute, hour, day_of_month, month_of_year, day_of_week = line.split()
    found, _ = Crontab.objects.get_or_create(
        second=second,
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
        timezone=zone,
    )
    return found


def task(name: str, line: str = "0 * * * * *", zone: str = "UTC", **fields: object) -> PeriodicTask:
    fields.setdefault("start_at", T0 - dt.timedelta(days=1))
    return PeriodicTask.objects.create(
        name=name, task="tests.append_line", crontab=crontab(line, zone), **fields
    )


def edge(depender: PeriodicTask, dependee: PeriodicTask, **fields: object) -> TaskDependency:
    return TaskDependency.objects.create(depender=depender, dependee=dependee, **fields)
