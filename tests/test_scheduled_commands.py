"""Scheduled management commands are opt-in (DJAG_ALLOWED_COMMANDS), at every door.

The defect: a staff user with only the change permission on periodic tasks saved
``task=djag.call_command, args=["shell", "-c", "<code>"]`` and a worker ran the code.
Each door refuses it now: the admin form, ``full_clean``, ``djag_sync``, the importer,
and the task itself at run time (for a row written past validation).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError
from django.test import Client

from djag import tasks as builtin
from djag.core.commands import command_refusal
from djag.models import Crontab, PeriodicTask

from .commands.conftest import run
from .test_admin import admin_url, form_errors, task_form
from .test_admin_actions import staff

pytestmark = pytest.mark.django_db

SHELL = ["shell", "-c", "open('pwned', 'w').write('x')"]
OFF = (
    "The command 'shell' is not in DJAG_ALLOWED_COMMANDS, which is empty: scheduled "
    "management commands are off until you list the ones to allow."
)


def command_task(crontab: Crontab, **fields: Any) -> PeriodicTask:
    fields.setdefault("args", SHELL)
    return PeriodicTask(name="pwn", task="djag.call_command", crontab=crontab, **fields)


def validation_errors(task: PeriodicTask) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        task.full_clean()
    return caught.value.message_dict


def test_full_clean_refuses_any_command_by_default(crontab: Crontab) -> None:
    assert validation_errors(command_task(crontab)) == {"args": [OFF]}


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (["shell"], {}, "The command 'shell' is not in DJAG_ALLOWED_COMMANDS (allowed: check, "),
        ([], {"command": "shell"}, "The command 'shell' is not in DJAG_ALLOWED_COMMANDS"),
        ([], {}, "The task djag.call_command needs the name of a management command"),
        ([7], {}, "The task djag.call_command needs the name of a management command"),
        (["Check"], {}, "The command 'Check' is not in DJAG_ALLOWED_COMMANDS"),
    ],
)
def test_full_clean_refuses_what_the_allow_list_does_not_name(
    crontab: Crontab, settings: Any, args: list, kwargs: dict, message: str
) -> None:
    settings.DJAG_ALLOWED_COMMANDS = ["check", "clearsessions"]
    [error] = validation_errors(command_task(crontab, args=args, kwargs=kwargs))["args"]
    assert error.startswith(message)


@pytest.mark.parametrize(("args", "kwargs"), [(["check"], {}), ([], {"command": "check"})])
def test_full_clean_accepts_an_allowed_command(
    crontab: Crontab, settings: Any, args: list, kwargs: dict
) -> None:
    settings.DJAG_ALLOWED_COMMANDS = ["check"]
    command_task(crontab, args=args, kwargs=kwargs).full_clean()


def test_other_tasks_may_take_any_arguments(crontab: Crontab) -> None:
    PeriodicTask(name="t", task="tests.append_line", crontab=crontab, args=SHELL).full_clean()


def test_a_staff_user_with_the_change_permission_cannot_schedule_a_shell(
    crontab: Crontab, make_task: Any
) -> None:
    report = make_task(name="report")
    client: Client = staff("view_periodictask", "change_periodictask", "view_crontab")
    response = client.post(
        admin_url(PeriodicTask, "change", report.pk),
        task_form(crontab, name="report", task="djag.call_command", args=json.dumps(SHELL)),
    )
    assert form_errors(response) == {"args": [OFF]}
    report.refresh_from_db()
    assert (report.task, report.args) == ("tests.append_line", [])


def test_djag_sync_refuses_the_task(tmp_path: Path) -> None:
    schedule = tmp_path / "schedule.json"
    declared = {"name": "pwn", "task": "djag.call_command", "cron": "* * * * *", "args": SHELL}
    schedule.write_text(json.dumps({"tasks": [declared]}))
    with pytest.raises(CommandError) as caught:
        run("djag_sync", str(schedule))
    assert f"task 'pwn': args: {OFF}" in str(caught.value)
    assert not PeriodicTask.objects.exists()


def test_the_importer_refuses_the_task_and_imports_the_rest() -> None:
    beat = pytest.importorskip("django_celery_beat.models")
    minutely = beat.CrontabSchedule.objects.create(minute="*")
    beat.PeriodicTask.objects.create(
        name="pwn", task="djag.call_command", crontab=minutely, args=json.dumps(SHELL)
    )
    beat.PeriodicTask.objects.create(name="fine", task="tests.append_line", crontab=minutely)
    out = run("djag_import_celery_beat")
    assert f"refused 'pwn': args: {OFF}" in out
    assert list(PeriodicTask.objects.values_list("name", flat=True)) == ["fine"]


def test_the_task_itself_refuses_a_command_not_allowed(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    result = builtin.call_command.apply(args=SHELL)
    assert result.failed()
    assert isinstance(result.result, builtin.CommandNotAllowed)
    assert str(result.result) == OFF[:1].lower() + OFF[1:-1]
    assert not (tmp_path / "pwned").exists()


def test_the_task_runs_an_allowed_command(settings: Any) -> None:
    settings.DJAG_ALLOWED_COMMANDS = ["check"]
    assert "System check identified no issues" in builtin.call_command.apply(args=["check"]).get()


def test_the_prune_task_needs_no_allow_list() -> None:
    assert builtin.prune.apply(kwargs={"older_than_days": 30}).get().startswith("Deleted 0 runs")


def test_the_rule_is_exact_about_names() -> None:
    assert command_refusal("clearsessions", ["clearsessions"]) is None
    assert command_refusal("clearsessions ", ["clearsessions"]) is not None
    assert command_refusal("", ["clearsessions"]) is not None
