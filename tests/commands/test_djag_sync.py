"""djag_sync: schedules declared in code are upserted idempotently, validated, pruned."""

from __future__ import annotations

import datetime as dt
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError
from django.test import override_settings

from djag.models import Crontab, PeriodicTask, ScheduleChange, TaskDependency
from djag.sync import declared as schedules

from .conftest import run, task

pytestmark = pytest.mark.django_db

YAML = """
timezone: Europe/Paris
tasks:
  - name: extract
    task: tests.append_line
    cron: "*/5 * * * *"
    args: [1, "a"]
    kwargs: {size: 3}
    queue: etl
    grace_seconds: 120
  - name: load
    task: tests.append_line
    cron: "30 0 3 * * *"
    timezone: UTC
    misfire_policy: run_all
    max_catchup: 5
    max_running: 2
    max_runs: 10
    run_timeout_seconds: 600
    priority: 5
    headers: {x-team: data}
    expires_seconds: 300
    enabled: false
    start_at: "2026-03-01T00:00:00Z"
    end_at: 2027-03-01T01:00:00+01:00
    description: Loads the extract.
    after:
      - extract
      - {task: load, future: true, require_success: false}
"""


def write(tmp_path: Path, text: str, name: str = "schedules.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def sync_error(*args: str, **options: Any) -> str:
    with pytest.raises(CommandError) as exc_info:
        run("djag_sync", *args, **options)
    return str(exc_info.value)


def edges() -> set[tuple[str, str, bool, bool]]:
    return {
        (e.depender.name, e.dependee.name, e.future_depends, e.require_success)
        for e in TaskDependency.objects.select_related("depender", "dependee")
    }


def test_creates_tasks_crontabs_and_dependencies(tmp_path: Path) -> None:
    path = write(tmp_path, YAML)
    out = run("djag_sync", path)

    extract = PeriodicTask.objects.get(name="extract")
    assert extract.crontab.line() == "0 */5 * * * *"
    assert extract.crontab.zone_name == "Europe/Paris"
    assert (extract.args, extract.kwargs, extract.queue) == ([1, "a"], {"size": 3}, "etl")
    assert extract.grace_seconds == 120
    assert extract.source == path
    assert extract.enabled

    load = PeriodicTask.objects.get(name="load")
    assert load.crontab.line() == "30 0 3 * * *"
    assert load.crontab.zone_name == "UTC"
    assert (load.misfire_policy, load.max_catchup, load.max_running) == ("run_all", 5, 2)
    assert (load.max_runs, load.run_timeout_seconds, load.priority) == (10, 600, 5)
    assert (load.headers, load.expires_seconds, load.enabled) == ({"x-team": "data"}, 300, False)
    assert load.start_at == dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    assert load.end_at == dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
    assert load.description == "Loads the extract."
    assert edges() == {("load", "extract", False, True), ("load", "load", True, False)}

    assert "create task 'extract'" in out
    assert "create crontab 0 */5 * * * * (Europe/Paris)" in out
    assert "create dependency 'load' after 'extract'" in out
    assert "create dependency 'load' after future 'load'" in out
    assert "Synced 2 task(s)" in out
    assert "2 created, 0 updated, 0 unchanged, 0 deleted" in out
    actors = set(ScheduleChange.objects.values_list("actor", flat=True))
    assert actors == {"djag_sync"}


def test_second_run_changes_nothing_and_logs_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, YAML)
    run("djag_sync", path)
    changes = ScheduleChange.objects.count()
    rows = list(PeriodicTask.objects.values())

    out = run("djag_sync", path)

    assert ScheduleChange.objects.count() == changes
    assert list(PeriodicTask.objects.values()) == rows
    assert "0 created, 0 updated, 2 unchanged, 0 deleted" in out
    assert "Everything was already up to date." in out
    assert "create task" not in out
    assert "update task" not in out


def test_update_prints_old_and_new_and_resets_undeclared_fields(tmp_path: Path) -> None:
    path = write(tmp_path, YAML)
    run("djag_sync", path)
    start = PeriodicTask.objects.get(name="extract").start_at
    changed = (
        YAML.replace("grace_seconds: 120", "grace_seconds: 30")
        .replace("    queue: etl\n", "")
        .replace('cron: "*/5 * * * *"', 'cron: "0 */10 * * * *"')
        .replace("{task: load, future: true, require_success: false}", "{task: load, future: true}")
    )
    write(tmp_path, changed)

    out = run("djag_sync", path)

    extract = PeriodicTask.objects.get(name="extract")
    assert extract.grace_seconds == 30
    assert extract.queue == ""  # no longer declared: back to the default
    assert extract.crontab.line() == "0 */10 * * * *"
    assert extract.start_at == start  # not declared: kept
    assert "update task 'extract'" in out
    assert "    grace_seconds: 120 -> 30" in out
    assert "    queue: 'etl' -> ''" in out
    assert "    crontab: '0 */5 * * * * (Europe/Paris)' -> '0 */10 * * * * (Europe/Paris)'" in out
    assert "update dependency 'load' after future 'load'" in out
    assert "    require_success: false -> true" in out
    assert "0 created, 1 updated, 1 unchanged" in out
    assert ("load", "load", True, True) in edges()
    # The old crontab is left alone: other tasks may use it.
    assert Crontab.objects.filter(minute="*/5").exists()


def test_removed_dependency_is_deleted(tmp_path: Path) -> None:
    path = write(tmp_path, YAML)
    run("djag_sync", path)
    write(tmp_path, YAML.replace("      - extract\n", ""))

    out = run("djag_sync", path)

    assert "delete dependency 'load' after 'extract'" in out
    assert edges() == {("load", "load", True, False)}


def test_reversing_an_edge_is_not_a_cycle(tmp_path: Path) -> None:
    first = """
    tasks:
      - {name: a, task: tests.append_line, cron: "0 * * * *"}
      - {name: b, task: tests.append_line, cron: "0 * * * *", after: [a]}
    """
    second = """
    tasks:
      - {name: a, task: tests.append_line, cron: "0 * * * *", after: [b]}
      - {name: b, task: tests.append_line, cron: "0 * * * *"}
    """
    path = write(tmp_path, first)
    run("djag_sync", path)
    write(tmp_path, second)
    run("djag_sync", path)
    assert edges() == {("a", "b", False, True)}


def test_dry_run_prints_the_diff_and_writes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, YAML)
    out = run("djag_sync", path, dry_run=True)

    assert "create task 'extract'" in out
    assert "create dependency 'load' after 'extract'" in out
    assert "Would sync 2 task(s)" in out
    assert "Dry run: nothing was written." in out
    assert not PeriodicTask.objects.exists()
    assert not Crontab.objects.exists()
    assert not ScheduleChange.objects.exists()

    run("djag_sync", path)
    write(tmp_path, YAML.replace("grace_seconds: 120", "grace_seconds: 5"))
    changes = ScheduleChange.objects.count()
    out = run("djag_sync", path, dry_run=True)
    assert "    grace_seconds: 120 -> 5" in out
    assert PeriodicTask.objects.get(name="extract").grace_seconds == 120
    assert ScheduleChange.objects.count() == changes


def test_prune_deletes_only_code_managed_tasks(tmp_path: Path) -> None:
    path = write(tmp_path, YAML)
    run("djag_sync", path)
    admin_made = task("admin-made")
    write(
        tmp_path,
        """
        tasks:
          - {name: extract, task: tests.append_line, cron: "*/5 * * * *"}
        """,
    )

    out = run("djag_sync", path)
    assert "no longer declared (kept; --prune deletes them): load" in out
    assert PeriodicTask.objects.filter(name="load").exists()

    out = run("djag_sync", path, dry_run=True, prune=True)
    assert "delete task 'load'" in out
    assert PeriodicTask.objects.filter(name="load").exists()

    out = run("djag_sync", path, prune=True)
    assert "delete task 'load'" in out
    assert "1 deleted" in out
    assert set(PeriodicTask.objects.values_list("name", flat=True)) == {"extract", "admin-made"}
    assert PeriodicTask.objects.get(pk=admin_made.pk).source == ""
    assert ScheduleChange.objects.filter(action="delete", object_repr="load").exists()


def test_an_admin_made_task_of_the_same_name_is_adopted(tmp_path: Path) -> None:
    task("extract", grace_seconds=5)
    path = write(tmp_path, YAML)
    out = run("djag_sync", path)
    extract = PeriodicTask.objects.get(name="extract")
    assert extract.source == path
    assert extract.grace_seconds == 120
    assert f"    source: '' -> {path!r}" in out


def test_json_file_and_python_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    declaration = {"tasks": [{"name": "j", "task": "tests.append_line", "cron": "0 0 * * *"}]}
    json_path = tmp_path / "s.json"
    json_path.write_text(json.dumps(declaration), encoding="utf-8")
    module = tmp_path / "djag_sync_test_schedules.py"
    module.write_text(
        "SCHEDULES = {'tasks': [{'name': 'm', 'task': 'tests.append_line', "
        "'cron': '*/10 * * * * *', 'after': ['j']}]}\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        run("djag_sync", str(json_path), "djag_sync_test_schedules")
    finally:
        sys.modules.pop("djag_sync_test_schedules", None)
    assert PeriodicTask.objects.get(name="j").crontab.line() == "0 0 0 * * *"
    m = PeriodicTask.objects.get(name="m")
    assert m.crontab.line() == "*/10 * * * * *"
    assert m.source == "djag_sync_test_schedules"
    assert edges() == {("m", "j", False, True)}


def test_djag_schedules_setting_is_read_without_files(tmp_path: Path) -> None:
    path = write(tmp_path, YAML)
    with override_settings(DJAG_SCHEDULES=[path]):
        run("djag_sync")
    assert PeriodicTask.objects.count() == 2


def test_no_file_and_no_setting_is_an_error() -> None:
    assert "set DJAG_SCHEDULES" in sync_error()


@pytest.mark.parametrize(
    ("declaration", "expected"),
    [
        (
            '{name: a, task: t, cron: "0 * * * *", colour: red}',
            "task 'a': unknown key 'colour'",
        ),
        ('{name: a, task: t, cron: "0 61 * * * *"}', "task 'a': cron minute:"),
        ('{name: a, task: t, cron: "0 * * *"}', "task 'a': cron: '0 * * *' has 4 fields"),
        ('{name: a, task: t, cron: "0 0 30 2 *"}', "never fires"),
        ('{name: a, task: t, cron: "0 * * * *", timezone: Mars/Base}', "task 'a': timezone:"),
        (
            '{name: a, task: t, cron: "0 * * * *", args: {x: 1}}',
            "task 'a': args: Enter a JSON list",
        ),
        ('{name: a, task: t, cron: "0 * * * *", misfire_policy: never}', "misfire_policy:"),
        ('{name: a, task: t, cron: "0 * * * *", priority: 300}', "task 'a': priority:"),
        ('{name: a, task: t, cron: "0 * * * *", start_at: soon}', "start_at: 'soon' is not"),
        (
            '{name: a, task: t, cron: "0 * * * *", start_at: 2026-03-01}',
            "start_at: datetime.date(2026, 3, 1) is not a date and time",
        ),
        (
            '{name: a, task: t, cron: "0 * * * *", start_at: "2026-01-02T00:00Z", '
            'end_at: "2026-01-01T00:00Z"}',
            "task 'a': end_at: The end must be after the start.",
        ),
        ('{task: t, cron: "0 * * * *"}', "task #2: 'name' is required"),
        ('{name: a, task: t, cron: "0 * * * *", after: [nobody]}', "no task named 'nobody'"),
        ('{name: a, task: t, cron: "0 * * * *", after: [a]}', "A task cannot wait for itself"),
        ('{name: a, task: t, cron: "0 * * * *", after: [{task: a, when: 1}]}', "'when'"),
    ],
)
def test_invalid_task_is_reported_by_name_and_nothing_is_written(
    tmp_path: Path, declaration: str, expected: str
) -> None:
    path = write(
        tmp_path,
        f"""
        tasks:
          - {{name: ok, task: tests.append_line, cron: "0 * * * *"}}
          - {declaration}
        """,
    )
    message = sync_error(path)
    assert expected in message, message
    assert message.startswith("Nothing was written")
    assert not PeriodicTask.objects.exists()
    assert not ScheduleChange.objects.exists()


def test_dependency_cycle_is_refused_with_its_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        tasks:
          - {name: a, task: t, cron: "0 * * * *", after: [c]}
          - {name: b, task: t, cron: "0 * * * *", after: [a]}
          - {name: c, task: t, cron: "0 * * * *", after: [b]}
        """,
    )
    message = sync_error(path)
    assert "This would make a cycle of dependencies" in message
    assert not PeriodicTask.objects.exists()
    assert not TaskDependency.objects.exists()


def test_invalid_update_leaves_the_previous_state(tmp_path: Path) -> None:
    path = write(tmp_path, YAML)
    run("djag_sync", path)
    before = list(PeriodicTask.objects.values())
    changes = ScheduleChange.objects.count()
    write(tmp_path, YAML.replace("grace_seconds: 120", "grace_seconds: -1"))
    assert "task 'extract': grace_seconds:" in sync_error(path)
    assert list(PeriodicTask.objects.values()) == before
    assert ScheduleChange.objects.count() == changes


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("bad.yaml", "tasks: [", "not valid YAML"),
        ("bad.json", "{", "not valid JSON"),
        ("list.yaml", "- a", "expected a mapping with a 'tasks' list"),
        ("top.yaml", "tasks: []\nextra: 1", "unknown key 'extra'"),
        ("notasks.json", "{}", "'tasks' must be a list"),
    ],
)
def test_unreadable_declarations(tmp_path: Path, name: str, text: str, expected: str) -> None:
    assert expected in sync_error(write(tmp_path, text, name))


def test_missing_file_or_module(tmp_path: Path) -> None:
    assert "cannot read the file" in sync_error(str(tmp_path / "gone.yaml"))
    assert "no module of that name" in sync_error("no_such_module_for_djag_sync")


def test_same_name_in_two_files(tmp_path: Path) -> None:
    one = write(tmp_path, "tasks: [{name: a, task: t, cron: '0 * * * *'}]", "one.yaml")
    two = write(tmp_path, "tasks: [{name: a, task: t, cron: '0 * * * *'}]", "two.yaml")
    assert "task 'a' is declared twice" in sync_error(one, two)


def test_missing_pyyaml_gives_install_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)  # "import yaml" now raises ImportError
    message = sync_error(write(tmp_path, YAML))
    assert "pip install 'djag[yaml]'" in message


def test_manage_py_exit_codes(manage: Any, tmp_path: Path) -> None:
    good = write(tmp_path, YAML)
    ok = manage("djag_sync", good)
    assert ok.returncode == 0, ok.stderr
    assert "2 created" in ok.stdout
    again = manage("djag_sync", good)
    assert again.returncode == 0
    assert "2 unchanged" in again.stdout
    bad = write(tmp_path, "tasks: [{name: a, task: t, cron: 'nope'}]", "bad.yaml")
    failed = manage("djag_sync", bad)
    assert failed.returncode != 0
    assert "task 'a': cron:" in failed.stderr


def test_cron_fields_and_instant() -> None:
    assert schedules.cron_fields("*/5 * * * *") == ("0", "*/5", "*", "*", "*", "*")
    assert schedules.cron_fields(" 1 2 3 4 5 6 ") == ("1", "2", "3", "4", "5", "6")
    with pytest.raises(ValueError, match="7 fields"):
        schedules.cron_fields("1 2 3 4 5 6 7")
    assert schedules.instant("2026-03-02T12:00:00+01:00") == dt.datetime(
        2026, 3, 2, 11, tzinfo=dt.UTC
    )
