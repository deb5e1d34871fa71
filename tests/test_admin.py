"""The admin: every page renders (broken rows too), bad input lands on its field with a 200,
the crontab preview, read-only scheduler state, attribution of admin writes."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, models
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from djag.models import (
    Crontab,
    PeriodicTask,
    ScheduleChange,
    SchedulerLease,
    TaskDependency,
    TaskRun,
    UserAction,
    UserActionAudit,
    acting_as,
)

pytestmark = pytest.mark.django_db

MakeTask = Callable[..., PeriodicTask]
EDITABLE = (Crontab, PeriodicTask, TaskDependency, UserAction)
READ_ONLY = (TaskRun, ScheduleChange, SchedulerLease, UserActionAudit)


def admin_url(model: type[models.Model], view: str, *args: Any) -> str:
    return reverse(f"admin:djag_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def rows(crontab: Crontab, make_task: MakeTask) -> dict[type[models.Model], models.Model]:
    """One saved row of every djag model."""
    a, b = make_task(name="a"), make_task(name="b", args=[1], kwargs={"k": "v"})
    edge = TaskDependency.objects.create(depender=b, dependee=a)
    run = TaskRun.objects.create(
        periodic_task=a,
        task_name="a",
        task=a.task,
        scheduled_for=timezone.now(),
        trigger="schedule",
        state="failure",
        error="RuntimeError: boom",
    )
    lease = SchedulerLease.objects.create(holder="host:1:abc", generation=3)
    action = UserAction.objects.create(action="pause", payload={"until": "monday"})
    with acting_as("tester"):
        UserAction.objects.create(action="gone").delete()
    return {
        Crontab: crontab,
        PeriodicTask: a,
        TaskDependency: edge,
        TaskRun: run,
        ScheduleChange: ScheduleChange.objects.first(),
        SchedulerLease: lease,
        UserAction: action,
        UserActionAudit: UserActionAudit.objects.get(),
    }


def form_errors(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 200, response.status_code
    return {
        field: list(errors) for field, errors in response.context["adminform"].form.errors.items()
    }


# --- every page renders ---------------------------------------------------------------------


def test_app_index_renders(admin_client: Client, rows: Any) -> None:
    assert admin_client.get(reverse("admin:app_list", args=["djag"])).status_code == 200


@pytest.mark.parametrize("model", EDITABLE + READ_ONLY, ids=lambda m: m.__name__)
def test_changelist_and_change_page_render(admin_client: Client, rows: Any, model: Any) -> None:
    obj = rows[model]
    assert admin_client.get(admin_url(model, "changelist")).status_code == 200
    assert admin_client.get(admin_url(model, "changelist"), {"q": "a"}).status_code == 200
    assert admin_client.get(admin_url(model, "change", obj.pk)).status_code == 200


@pytest.mark.parametrize("model", EDITABLE, ids=lambda m: m.__name__)
def test_add_and_delete_pages_of_editable_models_render(
    admin_client: Client, rows: Any, model: Any
) -> None:
    assert admin_client.get(admin_url(model, "add")).status_code == 200
    assert admin_client.get(admin_url(model, "delete", rows[model].pk)).status_code == 200


@pytest.mark.parametrize("model", READ_ONLY, ids=lambda m: m.__name__)
def test_ledgers_and_logs_cannot_be_added_or_edited(
    admin_client: Client, rows: Any, model: Any
) -> None:
    obj = rows[model]
    assert admin_client.get(admin_url(model, "add")).status_code == 403
    response = admin_client.post(admin_url(model, "change", obj.pk), {})
    assert response.status_code == 403


@pytest.mark.parametrize("model", [ScheduleChange, UserActionAudit], ids=lambda m: m.__name__)
def test_audit_trails_cannot_be_deleted(admin_client: Client, rows: Any, model: Any) -> None:
    obj = rows[model]
    assert admin_client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=obj.pk).exists()


# --- broken rows ----------------------------------------------------------------------------


def raw_update(model: type[models.Model], pk: Any, column: str, value: Any) -> None:
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", (value, pk))


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "America"])
def test_crontab_with_unknown_time_zone_still_renders(
    admin_client: Client, crontab: Crontab, make_task: MakeTask, zone: str
) -> None:
    task = make_task()
    raw_update(Crontab, crontab.pk, "timezone", zone)
    response = admin_client.get(admin_url(Crontab, "changelist"))
    assert response.status_code == 200
    assert zone in response.content.decode()
    response = admin_client.get(admin_url(Crontab, "change", crontab.pk))
    assert response.status_code == 200
    assert escape(f"unknown time zone {zone!r}") in response.content.decode()
    assert admin_client.get(admin_url(PeriodicTask, "changelist")).status_code == 200
    assert admin_client.get(admin_url(PeriodicTask, "change", task.pk)).status_code == 200


def test_crontab_with_broken_cron_field_still_renders(
    admin_client: Client, crontab: Crontab, make_task: MakeTask
) -> None:
    task = make_task()
    raw_update(Crontab, crontab.pk, "minute", "99")
    response = admin_client.get(admin_url(Crontab, "changelist"))
    assert response.status_code == 200
    assert "99 is out of range 0-59" in response.content.decode()
    response = admin_client.get(admin_url(Crontab, "change", crontab.pk))
    assert "99 is out of range 0-59" in response.content.decode()
    assert admin_client.get(admin_url(PeriodicTask, "change", task.pk)).status_code == 200
    assert admin_client.get(admin_url(PeriodicTask, "changelist")).status_code == 200


@pytest.mark.skipif(connection.vendor != "sqlite", reason="only SQLite can skip CHECK constraints")
@pytest.mark.parametrize("corrupt", ["[1,", '{"a": 1}'])
def test_task_with_corrupted_args_still_renders_and_reports_on_save(
    admin_client: Client, make_task: MakeTask, corrupt: str
) -> None:
    task = make_task()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA ignore_check_constraints = ON")
        try:
            raw_update(PeriodicTask, task.pk, "args", corrupt)
        finally:
            cursor.execute("PRAGMA ignore_check_constraints = OFF")
    assert admin_client.get(admin_url(PeriodicTask, "changelist")).status_code == 200
    assert admin_client.get(admin_url(PeriodicTask, "change", task.pk)).status_code == 200
    response = admin_client.post(
        admin_url(PeriodicTask, "change", task.pk), task_form(task.crontab, args=corrupt)
    )
    assert "args" in form_errors(response)


# --- the crontab preview and readable schedules ---------------------------------------------


def test_crontab_page_shows_readable_text_and_five_fire_times_in_its_zone(
    admin_client: Client, crontab: Crontab
) -> None:
    page = admin_client.get(admin_url(Crontab, "change", crontab.pk)).content.decode()
    assert "At 05:05, Monday through Friday, Europe/Paris" in page
    fires = re.findall(r"<li>(\d{4}-\d\d-\d\d) 05:05:00 (CES?T)</li>", page)
    assert len(fires) == 5
    weekdays = {dt.date.fromisoformat(day).isoweekday() for day, _ in fires}
    assert weekdays <= {1, 2, 3, 4, 5}


def test_crontab_list_shows_readable_text_and_next_fire(
    admin_client: Client, crontab: Crontab
) -> None:
    page = admin_client.get(admin_url(Crontab, "changelist")).content.decode()
    assert "At 05:05, Monday through Friday, Europe/Paris" in page
    assert re.search(r"\d{4}-\d\d-\d\d 05:05:00 CES?T", page)


def test_task_list_shows_readable_schedule(admin_client: Client, make_task: MakeTask) -> None:
    make_task(name="nightly")
    page = admin_client.get(admin_url(PeriodicTask, "changelist")).content.decode()
    assert "nightly" in page
    assert "At 05:05, Monday through Friday, Europe/Paris" in page


def test_crontab_that_never_fires_says_so(admin_client: Client) -> None:
    crontab = Crontab.objects.create(day_of_month="31")
    raw_update(Crontab, crontab.pk, "month_of_year", "2")
    page = admin_client.get(admin_url(Crontab, "change", crontab.pk)).content.decode()
    assert "never" in page


# --- bad input lands on its field -----------------------------------------------------------


def test_deleting_a_used_crontab_shows_the_protected_tasks(
    admin_client: Client, crontab: Crontab, make_task: MakeTask
) -> None:
    make_task(name="nightly")
    for response in (
        admin_client.get(admin_url(Crontab, "delete", crontab.pk)),
        admin_client.post(admin_url(Crontab, "delete", crontab.pk), {"post": "yes"}),
        admin_client.post(
            admin_url(Crontab, "changelist"),
            {"action": "delete_selected", "_selected_action": [crontab.pk], "post": "yes"},
        ),
    ):
        assert response.status_code == 200
        page = response.content.decode()
        assert "protected related objects" in page
        assert "nightly" in page
    assert Crontab.objects.filter(pk=crontab.pk).exists()


def task_form(crontab: Crontab, **fields: Any) -> dict[str, Any]:
    """The POST data of a valid task form with no dependency rows."""
    data = {
        "name": "report",
        "task": "tests.append_line",
        "enabled": "on",
        "description": "",
        "crontab": crontab.pk,
        "start_at_0": "2030-01-01",
        "start_at_1": "00:00:00",
        "end_at_0": "",
        "end_at_1": "",
        "args": "[]",
        "kwargs": "{}",
        "misfire_policy": "coalesce",
        "keep_history": "all",
        "grace_seconds": "60",
        "max_catchup": "100",
        "max_running": "1",
        "max_runs": "",
        "run_timeout_seconds": "3600",
        "queue": "",
        "exchange": "",
        "routing_key": "",
        "priority": "",
        "headers": "{}",
        "expires_seconds": "",
        "dependencies-TOTAL_FORMS": "0",
        "dependencies-INITIAL_FORMS": "0",
        "dependencies-MIN_NUM_FORMS": "0",
        "dependencies-MAX_NUM_FORMS": "1000",
    }
    return {**data, **fields}


def test_task_can_be_added(admin_client: Client, crontab: Crontab) -> None:
    response = admin_client.post(
        admin_url(PeriodicTask, "add"), task_form(crontab, args='[1, "x"]', kwargs='{"k": 2}')
    )
    assert response.status_code == 302
    task = PeriodicTask.objects.get()
    assert (task.args, task.kwargs) == ([1, "x"], {"k": 2})
    assert task.start_at == dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"args": "[1,"}, "args", "Enter a valid JSON."),
        ({"args": '{"a": 1}'}, "args", "Enter a JSON list"),
        ({"args": "null"}, "args", "This field cannot be null."),
        ({"args": "[NaN]"}, "args", "not a JSON number"),
        ({"args": '["\\u0000"]'}, "args", "NUL character"),
        ({"args": '["\\ud800"]'}, "args", "lone surrogate"),
        ({"args": "[" * 100_000 + "]" * 100_000}, "args", "nested too deeply"),
        ({"kwargs": "[1]"}, "kwargs", "Enter a JSON object"),
        ({"headers": '"x"'}, "headers", "Enter a JSON object"),
        ({"priority": "999"}, "priority", "less than or equal to 255"),
        ({"grace_seconds": "-1"}, "grace_seconds", "greater than or equal to 0"),
        ({"run_timeout_seconds": "0"}, "run_timeout_seconds", "greater than or equal to 1"),
        ({"max_catchup": "0"}, "max_catchup", "greater than or equal to 1"),
        ({"max_runs": "0"}, "max_runs", "greater than or equal to 1"),
        ({"misfire_policy": "later"}, "misfire_policy", "Select a valid choice"),
        ({"task": ""}, "task", "This field is required."),
        (
            {"end_at_0": "2029-12-31", "end_at_1": "23:00:00"},
            "end_at",
            "The end must be after the start.",
        ),
    ],
)
def test_bad_task_field_is_reported_on_it(
    admin_client: Client, crontab: Crontab, fields: dict[str, str], field: str, message: str
) -> None:
    response = admin_client.post(admin_url(PeriodicTask, "add"), task_form(crontab, **fields))
    errors = form_errors(response)
    assert list(errors) == [field]
    assert message in errors[field][0]
    assert not PeriodicTask.objects.exists()


def test_duplicate_task_name_is_reported(
    admin_client: Client, crontab: Crontab, make_task: MakeTask
) -> None:
    make_task(name="report")
    errors = form_errors(admin_client.post(admin_url(PeriodicTask, "add"), task_form(crontab)))
    assert "already exists" in errors["name"][0]


def dependency_form(depender: PeriodicTask, dependee: PeriodicTask, **fields: Any) -> dict:
    return {"depender": depender.pk, "dependee": dependee.pk, "require_success": "on", **fields}


def test_self_dependency_is_reported_unless_future(
    admin_client: Client, make_task: MakeTask
) -> None:
    task = make_task(name="a")
    errors = form_errors(
        admin_client.post(admin_url(TaskDependency, "add"), dependency_form(task, task))
    )
    assert "cannot wait for itself" in errors["dependee"][0]
    response = admin_client.post(
        admin_url(TaskDependency, "add"), dependency_form(task, task, future_depends="on")
    )
    assert response.status_code == 302
    assert TaskDependency.objects.get().future_depends


def test_cycle_is_reported_on_the_dependency_page(
    admin_client: Client, make_task: MakeTask
) -> None:
    a, b = make_task(name="a"), make_task(name="b")
    TaskDependency.objects.create(depender=b, dependee=a)
    errors = form_errors(admin_client.post(admin_url(TaskDependency, "add"), dependency_form(a, b)))
    assert "cycle of dependencies: a -> b -> a" in errors["dependee"][0]
    assert TaskDependency.objects.count() == 1


def test_duplicate_dependency_is_reported(admin_client: Client, make_task: MakeTask) -> None:
    a, b = make_task(name="a"), make_task(name="b")
    TaskDependency.objects.create(depender=a, dependee=b)
    errors = form_errors(admin_client.post(admin_url(TaskDependency, "add"), dependency_form(a, b)))
    assert errors["__all__"] == ["This dependency already exists."]


def inline_rows(*rows: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {"dependencies-TOTAL_FORMS": str(len(rows))}
    for index, row in enumerate(rows):
        data.update({f"dependencies-{index}-{name}": value for name, value in row.items()})
    return data


def inline_errors(response: Any) -> list[dict[str, list[str]]]:
    assert response.status_code == 200, response.status_code
    [inline] = response.context["inline_admin_formsets"]
    return [dict(errors) for errors in inline.formset.errors]


def task_change(admin_client: Client, task: PeriodicTask, **fields: Any) -> Any:
    data = task_form(task.crontab, name=task.name, start_at_0="2020-01-01", **fields)
    return admin_client.post(admin_url(PeriodicTask, "change", task.pk), data)


def test_cycle_is_reported_on_the_task_page_inline(
    admin_client: Client, make_task: MakeTask
) -> None:
    a, b = make_task(name="a"), make_task(name="b")
    TaskDependency.objects.create(depender=b, dependee=a)
    response = task_change(
        admin_client, a, **inline_rows({"dependee": b.pk, "require_success": "on"})
    )
    [errors] = inline_errors(response)
    assert "cycle of dependencies: a -> b -> a" in errors["dependee"][0]
    assert TaskDependency.objects.count() == 1


def test_self_dependency_is_reported_on_the_task_page_inline(
    admin_client: Client, make_task: MakeTask
) -> None:
    a = make_task(name="a")
    [errors] = inline_errors(task_change(admin_client, a, **inline_rows({"dependee": a.pk})))
    assert "cannot wait for itself" in errors["dependee"][0]


def test_dependencies_can_be_added_on_the_task_page(
    admin_client: Client, make_task: MakeTask
) -> None:
    a, b, c = (make_task(name=name) for name in "abc")
    response = task_change(
        admin_client,
        a,
        **inline_rows(
            {"dependee": b.pk, "require_success": "on"},
            {"dependee": c.pk, "future_depends": "on"},
        ),
    )
    assert response.status_code == 302
    assert set(a.dependencies.values_list("dependee__name", "future_depends")) == {
        ("b", False),
        ("c", True),
    }


# --- scheduler state is read-only; admin writes are attributed -----------------------------


def test_scheduler_state_is_not_in_the_task_form(admin_client: Client, make_task: MakeTask) -> None:
    task = make_task()
    response = admin_client.get(admin_url(PeriodicTask, "change", task.pk))
    form_fields = set(response.context["adminform"].form.fields)
    assert form_fields.isdisjoint(
        {"resume_at", "last_event_at", "problem", "problem_at", "source", "created_at"}
    )


def test_posted_scheduler_state_is_ignored(admin_client: Client, make_task: MakeTask) -> None:
    task = make_task(enabled=True)
    PeriodicTask.objects.filter(pk=task.pk).update(problem="beat says no")
    response = task_change(
        admin_client,
        task,
        problem="hacked",
        source="hacked",
        last_event_at_0="2030-01-01",
        last_event_at_1="00:00:00",
        resume_at_0="2030-01-01",
        resume_at_1="00:00:00",
    )
    assert response.status_code == 302
    stored = PeriodicTask.objects.get(pk=task.pk)
    assert (stored.source, stored.last_event_at, stored.resume_at) == ("", None, None)
    assert stored.problem == ""  # cleared by the edit of start_at, for beat to check again


def test_problem_is_shown_on_the_task_page(admin_client: Client, make_task: MakeTask) -> None:
    task = make_task()
    PeriodicTask.objects.filter(pk=task.pk).update(problem="args is not valid JSON")
    page = admin_client.get(admin_url(PeriodicTask, "change", task.pk)).content.decode()
    assert "args is not valid JSON" in page


def test_admin_add_and_delete_are_attributed(admin_client: Client, crontab: Crontab) -> None:
    admin_client.post(admin_url(PeriodicTask, "add"), task_form(crontab))
    task = PeriodicTask.objects.get()
    admin_client.post(admin_url(PeriodicTask, "delete", task.pk), {"post": "yes"})
    changes = ScheduleChange.objects.filter(model="periodictask").order_by("id")
    assert [(c.action, c.actor) for c in changes] == [("create", "admin"), ("delete", "admin")]


def test_admin_user_action_records_its_author_and_deleter(admin_client: Client) -> None:
    response = admin_client.post(
        admin_url(UserAction, "add"), {"action": "pause", "payload": '{"until": "monday"}'}
    )
    assert response.status_code == 302
    action = UserAction.objects.get()
    assert (action.created_by, action.payload) == ("admin", {"until": "monday"})
    admin_client.post(admin_url(UserAction, "delete", action.pk), {"post": "yes"})
    audit = UserActionAudit.objects.get()
    assert (audit.created_by, audit.deleted_by, audit.created_at) == (
        "admin",
        "admin",
        action.created_at,
    )
