"""Command edges: a value no validator foresaw is one task's error (djag_sync) or one row's
refusal (djag_import_celery_beat), and an absurd option is a clear error (djag_prune)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError
from django.db import connection

from djag.models import PeriodicTask

from .conftest import run

pytestmark = pytest.mark.django_db

GOOD = {"name": "good", "task": "tests.append_line", "cron": "0 * * * *"}


def sync_errors(tmp_path: Path, *tasks: dict[str, Any], suffix: str = ".json") -> list[str]:
    """The error lines of ``djag_sync`` on a file declaring ``tasks`` (after GOOD)."""
    path = tmp_path / f"schedule{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps({"tasks": [GOOD, *tasks]}))
    else:
        import yaml

        path.write_text(yaml.safe_dump({"tasks": [GOOD, *tasks]}))
    with pytest.raises(CommandError) as caught:
        run("djag_sync", str(path))
    lines = str(caught.value).splitlines()
    assert lines[0] == "Nothing was written; fix these and run again:"
    assert not PeriodicTask.objects.exists()  # the valid task is not half-written either
    return [line.strip() for line in lines[1:]]


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"name": "a\x00b"}, "name: text cannot contain the NUL character (\\x00)."),
        ({"task": "tests.\x00"}, "task: text cannot contain the NUL character (\\x00)."),
        ({"args": ["\x00"]}, "args: text cannot contain the NUL character (\\x00)."),
        ({"headers": {"x\x00": 1}}, "headers: text cannot contain the NUL character (\\x00)."),
        ({"cron": "0 \x00 * * * *"}, "cron: text cannot contain the NUL character (\\x00)."),
        ({"timezone": "UTC\x00"}, "timezone: text cannot contain the NUL character (\\x00)."),
    ],
)
def test_a_nul_character_is_a_field_error(
    tmp_path: Path, fields: dict[str, Any], error: str
) -> None:
    declared = {"name": "bad", "task": "tests.append_line", "cron": "0 * * * *", **fields}
    [line] = sync_errors(tmp_path, declared)
    assert line.endswith(f": {error}")


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"name": "n" * 201}, "name: Ensure this value has at most 200 characters (it has 201)."),
        ({"task": "t" * 201}, "task: Ensure this value has at most 200 characters (it has 201)."),
        ({"queue": "q" * 201}, "queue: Ensure this value has at most 200 characters"),
        ({"cron": "0 " + "1," * 70 + "1 * * * *"}, "cron minute: Ensure this value has at most"),
        ({"timezone": "Europe/" + "x" * 300}, "timezone: "),
        ({"max_catchup": 10**30}, "max_catchup: Ensure this value is less than or equal to 1000."),
        ({"grace_seconds": 2**31}, "grace_seconds: Ensure this value is less than or equal to"),
        ({"priority": -1}, "priority: Ensure this value is greater than or equal to 0."),
    ],
    ids=lambda value: str(value)[:40],
)
def test_an_over_long_or_huge_value_is_a_field_error(
    tmp_path: Path, fields: dict[str, Any], error: str
) -> None:
    declared = {"name": "bad", "task": "tests.append_line", "cron": "0 * * * *", **fields}
    lines = sync_errors(tmp_path, declared)
    assert any(error in line for line in lines), lines


def test_a_value_no_validator_foresaw_is_that_tasks_error(tmp_path: Path) -> None:
    declared = {"name": "inf", "task": "tests.append_line", "cron": "0 * * * *"}
    [line] = sync_errors(tmp_path, {**declared, "grace_seconds": float("inf")}, suffix=".yaml")
    assert line.startswith("task 'inf': ")


# -- djag_import_celery_beat: one bad row is refused, the rest imported ------------------


def raw_update(model: Any, pk: int, column: str, value: str) -> None:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(model._meta.db_table)} SET {quote(column)} = %s WHERE id = %s",
            [value, pk],
        )


@pytest.mark.parametrize(
    ("column", "value", "why"),
    [
        ("minute", "*/²", "refused 'bad': "),
        ("timezone", "America", "refused 'bad': its row cannot be read ("),
        ("day_of_month", "31", "refused 'bad': its crontab 0 0 31 2 * (UTC) is invalid"),
    ],
)
def test_the_importer_refuses_one_bad_row_and_imports_the_rest(
    column: str, value: str, why: str
) -> None:
    beat = pytest.importorskip("django_celery_beat.models")
    fine = beat.CrontabSchedule.objects.create(minute="*")
    broken = beat.CrontabSchedule.objects.create(minute="0", hour="0", month_of_year="2")
    beat.PeriodicTask.objects.create(name="a-fine", task="tests.append_line", crontab=fine)
    beat.PeriodicTask.objects.create(name="bad", task="tests.append_line", crontab=broken)
    beat.PeriodicTask.objects.create(name="z-fine", task="tests.append_line", crontab=fine)
    raw_update(beat.CrontabSchedule, broken.pk, column, value)
    out = run("djag_import_celery_beat")
    assert why in out
    assert sorted(PeriodicTask.objects.values_list("name", flat=True)) == ["a-fine", "z-fine"]
    assert "2 imported, 0 skipped (already in djag), 1 refused, of 3" in out


# -- djag_prune ---------------------------------------------------------------------------


@pytest.mark.parametrize("days", ["1e9", "739951", "1e300"])
def test_prune_with_an_age_before_the_year_1_is_a_clear_error(days: str) -> None:
    with pytest.raises(CommandError, match=r"days reaches before the year 1; give a number"):
        run("djag_prune", "--older-than", days, "--now", "2026-03-02T12:00:00Z")


def test_prune_as_far_back_as_the_calendar_goes_works() -> None:
    out = run("djag_prune", "--older-than", "739000", "--now", "2026-03-02T12:00:00Z")
    assert out.startswith("Deleted 0 runs finished before ")


def test_manage_py_prune_exits_with_a_message_not_a_traceback(manage: Any) -> None:
    result = manage("djag_prune", "--older-than", "1e9")
    assert result.returncode == 1
    assert result.stderr.startswith("CommandError: --older-than 1e+09 days reaches before")
    assert "Traceback" not in result.stderr
