"""One bad row stays that row's problem at every door that reads it.

The defect: a crontab field holding a non-ASCII digit (``*/²``) made beat's load fail
(every task waited), gave a 500 in the admin and tracebacks in the commands. Each row
below is written behind the ORM's back (raw SQL, as a bad migration or a manual fix
would), next to a healthy task, and read through each door: beat's engine, the
commands (``djag_check``, ``djag_plan``, ``djag_status``, ``djag_graph``), the admin
pages, the DAG page and the cron preview. None may raise, answer 500 or hold up the
healthy task; beat records the problem, and ``djag_check`` names the tasks it stops.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from djag.core.cron import FIELD_NAMES
from djag.models import Crontab, PeriodicTask, TaskDependency
from djag.store import schedule
from djag.store.db import default_database

from .test_admin import admin_url, task_form
from .test_engine import E0, T0, Recorder, make_engine, run

pytestmark = pytest.mark.django_db

#: (column, value, words of the problem): crontab values no validation lets through.
BAD_CRONTABS = [
    pytest.param("minute", "*/²", "crontab", id="non-ascii-digit"),
    pytest.param("day_of_week", "mon#³", "crontab", id="non-ascii-digit-in-nth-weekday"),
    pytest.param("minute", "\x00", "crontab", id="nul"),
    pytest.param("day_of_month", "31", "never fires", id="31-february"),
    pytest.param("timezone", "America", "unknown time zone 'America'", id="folder-as-zone"),
    pytest.param("timezone", "../../etc/passwd", "unknown time zone", id="path-as-zone"),
    pytest.param("hour", "1-" + "9" * 40, "crontab", id="huge-range"),
    pytest.param("second", "0," * 59 + "0", "", id="long-list"),  # valid: fires at :00
]


def corrupt(model: Any, pk: int, column: str, value: Any) -> None:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(model._meta.db_table)} SET {quote(column)} = %s WHERE id = %s",
            [value, pk],
        )


@pytest.fixture
def rows(request: pytest.FixtureRequest) -> tuple[PeriodicTask, PeriodicTask, str]:
    """A healthy minutely task, a task (waiting for it) whose crontab row is then
    corrupted, and words of the problem beat must record ("" for none)."""
    column, value, words = request.param
    if "\x00" in value and connection.vendor == "postgresql":
        pytest.skip("PostgreSQL cannot store a NUL character: no such row can exist")
    good_crontab = Crontab.objects.create(second="0", minute="*")
    bad_crontab = Crontab.objects.create(second="30", minute="*", month_of_year="2")
    good = PeriodicTask.objects.create(
        name="good", task="tests.append_line", crontab=good_crontab, start_at=T0, max_running=0
    )
    bad = PeriodicTask.objects.create(
        name="bad", task="tests.append_line", crontab=bad_crontab, start_at=T0, max_running=0
    )
    TaskDependency.objects.create(depender=bad, dependee=good)
    corrupt(Crontab, bad_crontab.pk, column, value)
    return good, bad, words


def door_params() -> Any:
    return pytest.mark.parametrize(
        "rows", [p.values for p in BAD_CRONTABS], indirect=True, ids=[p.id for p in BAD_CRONTABS]
    )


@door_params()
def test_beat_records_the_problem_and_runs_the_other_tasks(rows: Any) -> None:
    good, bad, words = rows
    publisher = Recorder()
    engine = make_engine(publisher, lambda: "0")
    engine.load(E0)
    for second in (1, 60.5, 120.5):
        run(engine, second)
    sent = [dispatch.task_id for dispatch in publisher.sent]
    assert sent.count(good.pk) == 2
    bad.refresh_from_db()
    if words:
        assert words in bad.problem
        assert bad.problem_at is not None
    else:
        assert bad.problem == ""


def command(*args: str) -> str:
    """What a command printed, or its error: anything else (a traceback) fails the test."""
    out = io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=io.StringIO())
    except CommandError as exc:
        return out.getvalue() + f"\nCommandError: {exc}"
    return out.getvalue()


@door_params()
def test_the_commands_report_the_row_and_go_on(rows: Any) -> None:
    _, bad, _ = rows
    now = (T0 + dt.timedelta(minutes=5)).isoformat()
    checked = command("djag_check", "--now", now)
    plan = command("djag_plan", "--now", now, "--hours", "1")
    assert "good" in plan
    command("djag_plan", "--task", "bad", "--now", now)
    command("djag_status", "--now", now)
    assert '"bad"' in command("djag_graph")
    views = schedule.load_tasks(default_database())
    assert {view.name for view in views} == {"good", "bad"}
    if "CommandError" in checked:  # a crontab that cannot fire: named with its task
        assert f"crontab {bad.crontab_id} [" in checked
        assert "(used by 'bad')" in checked


@door_params()
def test_the_admin_pages_render(rows: Any, admin_client: Client) -> None:
    good, bad, _ = rows
    for url in (
        admin_url(PeriodicTask, "changelist"),
        admin_url(PeriodicTask, "change", bad.pk),
        admin_url(PeriodicTask, "change", good.pk),
        admin_url(Crontab, "changelist"),
        admin_url(Crontab, "change", bad.crontab_id),
        reverse("admin:djag_periodictask_dag"),
        reverse("admin:djag_periodictask_dag") + "?q=bad",
    ):
        assert admin_client.get(url).status_code == 200, url


@pytest.mark.parametrize(
    "line",
    [
        "*/² * * * *",
        "0 0 0 * * mon#³",
        "0 0 0 31 2 *",
        "\x00 * * * *",
        "1-" + "9" * 40 + " * * * *",
    ],
)
def test_the_cron_preview_answers_with_an_error(admin_client: Client, line: str) -> None:
    response = admin_client.get(reverse("admin:djag_periodictask_cron_preview"), {"line": line})
    assert response.status_code == 200
    assert response.json()["error"]


def test_djag_check_names_the_tasks_of_a_crontab_that_never_fires() -> None:
    feb = Crontab.objects.create(second="0", minute="0", hour="0", month_of_year="2")
    for name in ("feb-a", "feb-b"):
        PeriodicTask.objects.create(name=name, task="tests.append_line", crontab=feb, start_at=T0)
    corrupt(Crontab, feb.pk, "day_of_month", "30")
    checked = command("djag_check", "--now", (T0 + dt.timedelta(hours=1)).isoformat())
    assert "Crontabs that cannot fire (edit them in the admin):" in checked
    assert (
        f"  crontab {feb.pk} [0 0 0 30 2 * (UTC)]: never fires (no such day in the chosen "
        "months) (used by 'feb-a', 'feb-b')"
    ) in checked
    assert "CommandError: 1 problem found" in checked


@pytest.mark.skipif(connection.vendor != "sqlite", reason="only SQLite can skip CHECK constraints")
@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("max_catchup", 2_000_000_000, "max_catchup is 2000000000, outside 1-1000"),
        ("expires_seconds", 10**18, "expires_seconds is 1000000000000000000, outside"),
        ("run_timeout_seconds", 10**18, "run_timeout_seconds is 1000000000000000000, outside"),
        ("priority", 10**6, "priority is 1000000, outside 0-255"),
    ],
)
def test_a_huge_number_in_a_task_row_is_its_problem(column: str, value: int, problem: str) -> None:
    """``run_all`` with ``max_catchup=2e9`` and a six-hour backlog of a per-second task
    claimed 21,600 runs in one tick; a message with a huge expiry could not be composed."""
    every_second, _ = Crontab.objects.get_or_create(second="*", minute="*", hour="*")
    good = PeriodicTask.objects.create(
        name="good", task="tests.append_line", crontab=every_second, start_at=T0, max_running=0
    )
    bad = PeriodicTask.objects.create(
        name="bad",
        task="tests.append_line",
        crontab=every_second,
        start_at=T0 - dt.timedelta(hours=6),
        misfire_policy="run_all",
        max_running=0,
    )
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA ignore_check_constraints = ON")
        try:
            corrupt(PeriodicTask, bad.pk, column, value)
        finally:
            cursor.execute("PRAGMA ignore_check_constraints = OFF")
    publisher = Recorder()
    engine = make_engine(publisher, lambda: "0")
    engine.load(E0)
    run(engine, 1.5)
    bad.refresh_from_db()
    assert bad.problem.startswith(problem)
    assert [dispatch.task_id for dispatch in publisher.sent] == [good.pk]
    assert good.runs.count() == 1


@door_params()
def test_the_admin_forms_answer_a_bad_row_without_a_500(rows: Any, admin_client: Client) -> None:
    """Saving the bad row's pages as they are: a form error, or a save; never a 500."""
    _, bad, _ = rows
    crontab = Crontab.objects.get(pk=bad.crontab_id)
    crontab_form = {name: getattr(crontab, name) for name in FIELD_NAMES}
    crontab_form["timezone"] = crontab.zone_name
    response = admin_client.post(admin_url(Crontab, "change", crontab.pk), crontab_form)
    assert response.status_code in (200, 302)
    task_form_data = {**task_form(crontab), "name": "bad", "crontab": crontab.pk, "cron": ""}
    response = admin_client.post(admin_url(PeriodicTask, "change", bad.pk), task_form_data)
    assert response.status_code in (200, 302)
