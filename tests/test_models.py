"""The models' promises: validation on every ORM write path, DB constraints, deletion rules,
resume_at, and the UserAction audit trail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from djag.models import (
    Crontab,
    PeriodicTask,
    RunState,
    TaskDependency,
    TaskRun,
    Trigger,
    UserAction,
    UserActionAudit,
    acting_as,
)

pytestmark = pytest.mark.django_db

MakeTask = Callable[..., PeriodicTask]
WRITE_PATHS = ("full_clean", "save", "bulk_create", "update", "bulk_update")


def write(path: str, target: type[models.Model] | models.Model, **fields: Any) -> None:
    """Write ``fields`` through ``path``: as a new row when ``target`` is a model class,
    over the saved row ``target`` otherwise."""
    if isinstance(target, type):
        new = target(**fields)
        if path == "bulk_create":
            target.objects.bulk_create([new])
        else:
            getattr(new, path)()  # full_clean or save
        return
    if path == "update":
        type(target).objects.filter(pk=target.pk).update(**fields)
        return
    for name, value in fields.items():
        setattr(target, name, value)
    if path == "bulk_update":
        type(target).objects.bulk_update([target], list(fields))
    else:
        getattr(target, path)()


def on_saved_row(path: str) -> bool:
    return path in ("update", "bulk_update")


def error_on(exc_info: pytest.ExceptionInfo[ValidationError], field: str) -> str:
    """The message(s) on ``field``; fails when the error is on another field."""
    errors = exc_info.value.message_dict
    assert field in errors, f"expected an error on {field!r}, got {errors}"
    return " ".join(errors[field])


# --- Crontab ------------------------------------------------------------------------------

VALID_CRON = [
    ("second", "*/5"),
    ("second", "0,30"),
    ("minute", "0-59"),
    ("minute", "*/15"),
    ("hour", "9-17"),
    ("hour", "22-2"),
    ("day_of_month", "L"),
    ("day_of_month", "1,15"),
    ("month_of_year", "jan-mar"),
    ("month_of_year", "*/3"),
    ("day_of_week", "mon#2"),
    ("day_of_week", "L5"),
    ("day_of_week", "sun-sat"),
    ("day_of_week", "7"),
]

INVALID_CRON = [
    ("second", "60", "out of range 0-59"),
    ("second", "*/0", "step"),
    ("second", "", "cannot be blank"),
    ("minute", "60", "out of range 0-59"),
    ("minute", "1-", "not valid"),
    ("hour", "24", "out of range 0-23"),
    ("hour", "1-5/0", "at least 1"),
    ("day_of_month", "32", "out of range 1-31"),
    ("day_of_month", "1-5W", "W follows a single day"),
    ("day_of_month", "?", "not supported"),
    ("month_of_year", "13", "out of range 1-12"),
    ("month_of_year", "foo", "month name"),
    ("day_of_week", "8", "out of range 0-7"),
    ("day_of_week", "mon#6", "1-5"),
    ("day_of_week", "7/2", "not 7"),
    ("day_of_week", "x" * 121, "at most 120 characters"),
]


@pytest.mark.parametrize(("field", "value"), VALID_CRON)
@pytest.mark.parametrize("path", ["full_clean", "save", "bulk_create"])
def test_valid_cron_field_is_accepted_on_create(path: str, field: str, value: str) -> None:
    write(path, Crontab, **{field: value})


@pytest.mark.parametrize(("field", "value"), VALID_CRON)
@pytest.mark.parametrize("path", ["update", "bulk_update"])
def test_valid_cron_field_is_accepted_on_change(path: str, field: str, value: str) -> None:
    crontab = Crontab.objects.create(minute="7")
    write(path, crontab, **{field: value})
    assert getattr(Crontab.objects.get(pk=crontab.pk), field) == value


@pytest.mark.parametrize(("field", "value", "message"), INVALID_CRON)
@pytest.mark.parametrize("path", ["full_clean", "save", "bulk_create"])
def test_invalid_cron_field_is_refused_on_create(
    path: str, field: str, value: str, message: str
) -> None:
    with pytest.raises(ValidationError) as exc_info:
        write(path, Crontab, **{field: value})
    assert message in error_on(exc_info, field)
    assert not Crontab.objects.exists()


@pytest.mark.parametrize(("field", "value", "message"), INVALID_CRON)
@pytest.mark.parametrize("path", ["update", "bulk_update"])
def test_invalid_cron_field_is_refused_on_change(
    path: str, field: str, value: str, message: str
) -> None:
    crontab = Crontab.objects.create()
    with pytest.raises(ValidationError) as exc_info:
        write(path, crontab, **{field: value})
    assert message in error_on(exc_info, field)
    assert getattr(Crontab.objects.get(pk=crontab.pk), field) != value


@pytest.mark.parametrize(("field", "value", "message"), INVALID_CRON)
@pytest.mark.parametrize("path", WRITE_PATHS)
def test_invalid_cron_field_is_reported_once_without_its_name(
    path: str, field: str, value: str, message: str
) -> None:
    target = Crontab.objects.create() if on_saved_row(path) else Crontab
    with pytest.raises(ValidationError) as exc_info:
        write(path, target, **{field: value})
    errors = exc_info.value.message_dict
    assert list(errors) == [field]
    assert len([text for text in errors[field] if message in text]) == 1, errors
    assert len(set(errors[field])) == len(errors[field]), errors
    assert not any(text.startswith(f"{field}:") for text in errors[field]), errors


def test_each_bad_cron_field_gets_its_own_single_message() -> None:
    with pytest.raises(ValidationError) as exc_info:
        Crontab(minute="99", hour="61").full_clean()
    assert exc_info.value.message_dict == {
        "minute": ["99 is out of range 0-59"],
        "hour": ["61 is out of range 0-23"],
    }


@pytest.mark.parametrize("path", WRITE_PATHS)
def test_crontab_that_never_fires_is_refused(path: str) -> None:
    target = Crontab.objects.create() if on_saved_row(path) else Crontab
    with pytest.raises(ValidationError) as exc_info:
        write(path, target, day_of_month="30", month_of_year="2")
    assert "never fires" in error_on(exc_info, "day_of_month")
    assert not Crontab.objects.filter(month_of_year="2").exists()


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "America", "../etc/passwd", "UTC\x00"])
@pytest.mark.parametrize("path", ["full_clean", "save", "update"])
def test_unknown_time_zone_is_refused(path: str, name: str) -> None:
    target = Crontab.objects.create() if on_saved_row(path) else Crontab
    with pytest.raises(ValidationError) as exc_info:
        write(path, target, timezone=name)
    assert f"Invalid timezone '{name}'" in error_on(exc_info, "timezone")


def test_identical_crontab_is_refused() -> None:
    Crontab.objects.create(minute="5", hour="5", timezone="Europe/Paris")
    twin = Crontab(minute="5", hour="5", timezone="Europe/Paris")
    with pytest.raises(ValidationError) as exc_info:
        twin.full_clean()
    assert exc_info.value.message_dict[NON_FIELD_ERRORS] == [
        "An identical crontab already exists; use it."
    ]
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("second", "1"),
        ("minute", "6"),
        ("hour", "6"),
        ("day_of_month", "2"),
        ("month_of_year", "2"),
        ("day_of_week", "2"),
        ("timezone", "Europe/Berlin"),
    ],
)
def test_crontabs_differing_in_one_field_are_distinct(field: str, value: str) -> None:
    base = {"minute": "5", "hour": "5", "timezone": "Europe/Paris"}
    Crontab.objects.create(**base)
    other = Crontab(**{**base, field: value})
    other.full_clean()
    other.save()
    assert Crontab.objects.count() == 2


def test_crontab_default_fires_at_second_zero_of_every_minute() -> None:
    crontab = Crontab.objects.create()
    assert crontab.line() == "0 * * * * *"
    assert crontab.zone_name == "UTC"


# --- PeriodicTask -------------------------------------------------------------------------

INVALID_TASK_FIELDS = [
    ("args", {"a": 1}, "JSON list"),
    ("args", {}, "JSON list"),
    ("args", "", "JSON list"),
    ("args", None, "cannot be null"),
    ("args", "a text", "JSON list"),
    ("args", [float("nan")], "not a JSON number"),
    ("args", [{"k": float("inf")}], "not a JSON number"),
    ("args", ["\x00"], "NUL character"),
    ("args", ["\ud800"], "lone surrogate"),
    ("kwargs", {"\x00": 1}, "NUL character"),
    ("kwargs", [], "JSON object"),
    ("headers", "", "JSON object"),
    ("kwargs", [1, 2], "JSON object"),
    ("headers", ["x"], "JSON object"),
    ("priority", 256, "less than or equal to 255"),
    ("priority", 999, "less than or equal to 255"),
    ("priority", -1, "greater than or equal to 0"),
    ("grace_seconds", -1, "greater than or equal to 0"),
    ("max_running", -1, "greater than or equal to 0"),
    ("max_catchup", 0, "greater than or equal to 1"),
    ("max_runs", 0, "greater than or equal to 1"),
    ("run_timeout_seconds", 0, "greater than or equal to 1"),
    ("run_timeout_seconds", -5, "greater than or equal to"),
    ("expires_seconds", 0, "greater than or equal to 1"),
    ("misfire_policy", "later", "not a valid choice"),
    ("task", "", "cannot be blank"),
]

VALID_TASK_FIELDS = [
    ("args", []),
    ("args", [1, "a", {"b": None}]),
    ("kwargs", {"a": [1]}),
    ("headers", {}),
    ("priority", 0),
    ("priority", 255),
    ("priority", None),
    ("grace_seconds", 0),
    ("max_running", 0),
    ("max_catchup", 1),
    ("max_runs", 1),
    ("max_runs", None),
    ("run_timeout_seconds", 1),
    ("misfire_policy", "run_all"),
    ("misfire_policy", "skip"),
]


def new_task_fields(crontab: Crontab, **fields: Any) -> dict[str, Any]:
    return {"name": "report", "task": "tests.append_line", "crontab": crontab, **fields}


@pytest.mark.parametrize(("field", "value"), VALID_TASK_FIELDS)
@pytest.mark.parametrize("path", WRITE_PATHS)
def test_valid_task_field_is_accepted(
    crontab: Crontab, make_task: MakeTask, path: str, field: str, value: Any
) -> None:
    if on_saved_row(path):
        task = make_task()
        write(path, task, **{field: value})
        assert getattr(PeriodicTask.objects.get(pk=task.pk), field) == value
    else:
        write(path, PeriodicTask, **new_task_fields(crontab, **{field: value}))


@pytest.mark.parametrize(("field", "value", "message"), INVALID_TASK_FIELDS)
@pytest.mark.parametrize("path", WRITE_PATHS)
def test_invalid_task_field_is_refused(
    crontab: Crontab, make_task: MakeTask, path: str, field: str, value: Any, message: str
) -> None:
    if on_saved_row(path):
        target, fields = make_task(name="report"), {field: value}
    else:
        target, fields = PeriodicTask, new_task_fields(crontab, **{field: value})
    stored = list(PeriodicTask.objects.values())
    with pytest.raises(ValidationError) as exc_info:
        write(path, target, **fields)
    assert message in error_on(exc_info, field)
    assert list(PeriodicTask.objects.values()) == stored


@pytest.mark.parametrize("path", WRITE_PATHS)
@pytest.mark.parametrize("end_offset", [dt.timedelta(0), dt.timedelta(hours=-1)])
def test_end_must_be_after_start(
    crontab: Crontab, make_task: MakeTask, path: str, end_offset: dt.timedelta
) -> None:
    start = timezone.now()
    if on_saved_row(path):
        target, fields = make_task(start_at=start), {"end_at": start + end_offset}
    else:
        fields = new_task_fields(crontab, start_at=start, end_at=start + end_offset)
        target = PeriodicTask
    with pytest.raises(ValidationError) as exc_info:
        write(path, target, **fields)
    assert error_on(exc_info, "end_at") == "The end must be after the start."
    assert not PeriodicTask.objects.filter(end_at__isnull=False).exists()


def test_update_moving_start_past_end_is_refused(make_task: MakeTask) -> None:
    start = timezone.now()
    task = make_task(start_at=start, end_at=start + dt.timedelta(days=1))
    with pytest.raises(ValidationError) as exc_info:
        PeriodicTask.objects.filter(pk=task.pk).update(start_at=start + dt.timedelta(days=2))
    assert error_on(exc_info, "end_at") == "The end must be after the start."
    assert PeriodicTask.objects.get(pk=task.pk).start_at == start


def test_end_after_start_is_accepted(make_task: MakeTask) -> None:
    start = timezone.now()
    task = make_task(start_at=start, end_at=start + dt.timedelta(seconds=1))
    PeriodicTask.objects.filter(pk=task.pk).update(end_at=start + dt.timedelta(days=1))
    assert PeriodicTask.objects.get(pk=task.pk).end_at == start + dt.timedelta(days=1)


def test_task_name_is_unique(make_task: MakeTask, crontab: Crontab) -> None:
    make_task(name="report")
    with pytest.raises(ValidationError) as exc_info:
        PeriodicTask(**new_task_fields(crontab)).full_clean()
    assert "already exists" in error_on(exc_info, "name")


def test_same_celery_task_may_be_scheduled_twice(make_task: MakeTask) -> None:
    make_task(name="a", task="tests.append_line", args=["a"])
    make_task(name="b", task="tests.append_line", args=["b"])
    assert PeriodicTask.objects.filter(task="tests.append_line").count() == 2


def test_task_defaults(make_task: MakeTask) -> None:
    before = timezone.now()
    task = make_task()
    assert before <= task.start_at <= timezone.now()
    assert (task.args, task.kwargs, task.headers) == ([], {}, {})
    assert task.misfire_policy == "coalesce"
    assert (task.grace_seconds, task.max_catchup, task.max_running) == (60, 100, 1)
    assert (task.run_timeout_seconds, task.max_runs, task.end_at) == (3600, None, None)
    assert task.enabled


# --- TaskDependency -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["full_clean", "save", "bulk_create"])
def test_task_cannot_wait_for_itself(make_task: MakeTask, path: str) -> None:
    task = make_task()
    with pytest.raises(ValidationError) as exc_info:
        write(path, TaskDependency, depender=task, dependee=task)
    assert "cannot wait for itself" in error_on(exc_info, "dependee")
    assert not TaskDependency.objects.exists()


@pytest.mark.parametrize("path", ["update", "bulk_update"])
def test_edge_cannot_be_turned_into_a_self_edge(make_task: MakeTask, path: str) -> None:
    a, b = make_task(name="a"), make_task(name="b")
    edge = TaskDependency.objects.create(depender=a, dependee=b)
    with pytest.raises(ValidationError) as exc_info:
        write(path, edge, dependee=a)
    assert "cannot wait for itself" in error_on(exc_info, "dependee")
    assert TaskDependency.objects.get().dependee == b


@pytest.mark.parametrize("path", ["update", "bulk_update"])
def test_future_self_edge_cannot_become_ordinary(make_task: MakeTask, path: str) -> None:
    a = make_task(name="a")
    edge = TaskDependency.objects.create(depender=a, dependee=a, future_depends=True)
    with pytest.raises(ValidationError) as exc_info:
        write(path, edge, future_depends=False)
    assert "cannot wait for itself" in error_on(exc_info, "dependee")
    assert TaskDependency.objects.get().future_depends


def test_future_self_dependency_is_allowed(make_task: MakeTask) -> None:
    task = make_task()
    edge = TaskDependency(depender=task, dependee=task, future_depends=True)
    edge.full_clean()
    edge.save()
    assert str(edge) == f"{task.name} after future {task.name}"


@pytest.mark.parametrize("path", ["full_clean", "save", "bulk_create"])
def test_two_task_cycle_is_refused_and_named(make_task: MakeTask, path: str) -> None:
    a, b = make_task(name="a"), make_task(name="b")
    TaskDependency.objects.create(depender=b, dependee=a)
    with pytest.raises(ValidationError) as exc_info:
        write(path, TaskDependency, depender=a, dependee=b)
    assert "cycle of dependencies: a -> b -> a" in " ".join(exc_info.value.messages)
    assert TaskDependency.objects.count() == 1


def test_three_task_cycle_names_every_task(make_task: MakeTask) -> None:
    a, b, c = (make_task(name=name) for name in "abc")
    TaskDependency.objects.create(depender=a, dependee=b)
    TaskDependency.objects.create(depender=b, dependee=c)
    with pytest.raises(ValidationError) as exc_info:
        TaskDependency(depender=c, dependee=a).full_clean()
    assert "cycle of dependencies: c -> a -> b -> c" in error_on(exc_info, "dependee")


def test_cycle_made_inside_one_bulk_create_is_refused(make_task: MakeTask) -> None:
    a, b = make_task(name="a"), make_task(name="b")
    with pytest.raises(ValidationError, match="cycle of dependencies"):
        TaskDependency.objects.bulk_create(
            [TaskDependency(depender=a, dependee=b), TaskDependency(depender=b, dependee=a)]
        )
    assert not TaskDependency.objects.exists()


@pytest.mark.parametrize("path", ["update", "bulk_update"])
def test_cycle_made_by_changing_an_edge_is_refused(make_task: MakeTask, path: str) -> None:
    a, b, c = (make_task(name=name) for name in "abc")
    TaskDependency.objects.create(depender=a, dependee=b)
    edge = TaskDependency.objects.create(depender=b, dependee=c)
    with pytest.raises(ValidationError, match="cycle of dependencies"):
        write(path, edge, dependee=a)
    assert TaskDependency.objects.get(pk=edge.pk).dependee == c


@pytest.mark.parametrize("path", ["update", "bulk_update"])
def test_cycle_made_by_turning_a_future_edge_ordinary_is_refused(
    make_task: MakeTask, path: str
) -> None:
    a, b = make_task(name="a"), make_task(name="b")
    TaskDependency.objects.create(depender=a, dependee=b)
    edge = TaskDependency.objects.create(depender=b, dependee=a, future_depends=True)
    with pytest.raises(ValidationError, match="cycle of dependencies"):
        write(path, edge, future_depends=False)
    assert TaskDependency.objects.get(pk=edge.pk).future_depends


def test_cycle_through_a_future_edge_is_allowed(make_task: MakeTask) -> None:
    a, b = make_task(name="a"), make_task(name="b")
    TaskDependency.objects.create(depender=a, dependee=b)
    closing = TaskDependency(depender=b, dependee=a, future_depends=True)
    closing.full_clean()
    closing.save()
    assert TaskDependency.objects.count() == 2


def test_dependency_pair_is_unique(make_task: MakeTask) -> None:
    a, b = make_task(name="a"), make_task(name="b")
    TaskDependency.objects.create(depender=a, dependee=b)
    twin = TaskDependency(depender=a, dependee=b, require_success=False)
    with pytest.raises(ValidationError) as exc_info:
        twin.full_clean()
    assert exc_info.value.message_dict[NON_FIELD_ERRORS] == ["This dependency already exists."]
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()


# --- deletion -----------------------------------------------------------------------------


def test_deleting_a_used_crontab_is_refused(crontab: Crontab, make_task: MakeTask) -> None:
    task = make_task()
    with pytest.raises(ProtectedError):
        crontab.delete()
    with pytest.raises(ProtectedError):
        Crontab.objects.filter(pk=crontab.pk).delete()
    assert PeriodicTask.objects.filter(pk=task.pk).exists()
    assert Crontab.objects.filter(pk=crontab.pk).exists()


def test_unused_crontab_can_be_deleted() -> None:
    Crontab.objects.create(minute="1").delete()
    assert not Crontab.objects.exists()


def test_deleting_a_task_keeps_its_runs(make_task: MakeTask) -> None:
    task = make_task(name="nightly")
    run = TaskRun.objects.create(
        periodic_task=task,
        task_name=task.name,
        task=task.task,
        scheduled_for=timezone.now(),
        trigger=Trigger.SCHEDULE,
        state=RunState.SUCCESS,
    )
    task.delete()
    run.refresh_from_db()
    assert run.periodic_task is None
    assert run.task_name == "nightly"
    assert run.state == RunState.SUCCESS


def test_deleting_a_task_deletes_its_edges_both_ways(make_task: MakeTask) -> None:
    a, b, c = (make_task(name=name) for name in "abc")
    TaskDependency.objects.create(depender=a, dependee=b)
    TaskDependency.objects.create(depender=b, dependee=c)
    TaskDependency.objects.create(depender=a, dependee=c)
    b.delete()
    assert list(TaskDependency.objects.values_list("depender__name", "dependee__name")) == [
        ("a", "c")
    ]


def test_manual_runs_share_the_empty_slot(make_task: MakeTask) -> None:
    task = make_task()
    for _ in range(2):
        TaskRun.objects.create(periodic_task=task, task_name=task.name, trigger=Trigger.MANUAL)
    assert task.runs.count() == 2


# --- database constraints, with the ORM bypassed ------------------------------------------


def table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def run_sql(sql: str, params: tuple[Any, ...] = ()) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("args", '{"a": 1}'),
        ("args", '"text"'),
        ("kwargs", "[]"),
        ("headers", "1"),
        ("priority", 300),
        ("max_catchup", 0),
        ("run_timeout_seconds", 0),
        ("max_runs", 0),
        ("misfire_policy", "later"),
        ("task", ""),
    ],
)
def test_raw_update_of_task_to_bad_value_is_refused_by_database(
    make_task: MakeTask, column: str, value: Any
) -> None:
    task = make_task()
    with pytest.raises(IntegrityError):
        run_sql(f"UPDATE {table(PeriodicTask)} SET {column} = %s WHERE id = %s", (value, task.pk))


def test_raw_update_of_end_before_start_is_refused_by_database(make_task: MakeTask) -> None:
    task = make_task()
    earlier = task.start_at - dt.timedelta(hours=1)
    db_value = connection.ops.adapt_datetimefield_value(earlier)
    with pytest.raises(IntegrityError):
        run_sql(f"UPDATE {table(PeriodicTask)} SET end_at = %s WHERE id = %s", (db_value, task.pk))


@pytest.mark.parametrize("column", ["second", "minute", "hour", "day_of_week"])
def test_raw_update_of_empty_cron_field_is_refused_by_database(
    crontab: Crontab, column: str
) -> None:
    with pytest.raises(IntegrityError):
        run_sql(f"UPDATE {table(Crontab)} SET {column} = '' WHERE id = %s", (crontab.pk,))


def test_raw_insert_of_ordinary_self_edge_is_refused_by_database(make_task: MakeTask) -> None:
    task = make_task()
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    sql = (
        f"INSERT INTO {table(TaskDependency)} "
        "(depender_id, dependee_id, future_depends, require_success, created_at) "
        "VALUES (%s, %s, %s, %s, %s)"
    )
    with pytest.raises(IntegrityError):
        run_sql(sql, (task.pk, task.pk, False, True, now))
    run_sql(sql, (task.pk, task.pk, True, True, now))
    assert TaskDependency.objects.get().future_depends


def test_raw_insert_of_duplicate_run_slot_is_refused_by_database(make_task: MakeTask) -> None:
    task = make_task()
    run = TaskRun.objects.create(
        periodic_task=task, task_name=task.name, scheduled_for=timezone.now(), trigger="schedule"
    )
    columns = ", ".join(
        connection.ops.quote_name(field.column)
        for field in TaskRun._meta.concrete_fields
        if not field.primary_key
    )
    with pytest.raises(IntegrityError):
        run_sql(
            f"INSERT INTO {table(TaskRun)} ({columns}) "
            f"SELECT {columns} FROM {table(TaskRun)} WHERE id = %s",
            (run.pk,),
        )
    assert TaskRun.objects.count() == 1


@pytest.mark.parametrize(("column", "value"), [("state", "exploded"), ("coalesced_count", 0)])
def test_raw_update_of_run_to_bad_value_is_refused_by_database(
    make_task: MakeTask, column: str, value: Any
) -> None:
    task = make_task()
    run = TaskRun.objects.create(periodic_task=task, task_name=task.name, trigger="manual")
    with pytest.raises(IntegrityError):
        run_sql(f"UPDATE {table(TaskRun)} SET {column} = %s WHERE id = %s", (value, run.pk))


# --- resume_at ----------------------------------------------------------------------------


def assert_resumed_since(task: PeriodicTask, start: dt.datetime) -> None:
    """The task's stored resume_at lies between ``start`` and now."""
    stored = PeriodicTask.objects.values_list("resume_at", flat=True).get(pk=task.pk)
    assert stored is not None
    assert start <= stored <= timezone.now()


def resume_at(task: PeriodicTask) -> dt.datetime | None:
    return PeriodicTask.objects.values_list("resume_at", flat=True).get(pk=task.pk)


@pytest.mark.parametrize("path", ["save", "bulk_update"])
def test_enabling_a_task_resumes_it_now(make_task: MakeTask, path: str) -> None:
    task = make_task(enabled=False)
    start = timezone.now()
    write(path, task, enabled=True)
    assert_resumed_since(task, start)


def test_enabling_a_task_by_save_of_some_fields_resumes_it_now(make_task: MakeTask) -> None:
    task = make_task(enabled=False)
    start = timezone.now()
    task.enabled = True
    task.save(update_fields=["enabled"])
    assert_resumed_since(task, start)


def test_enabling_tasks_by_update_resumes_only_the_disabled_ones(make_task: MakeTask) -> None:
    disabled = make_task(enabled=False)
    enabled = make_task(enabled=True)
    start = timezone.now()
    PeriodicTask.objects.update(enabled=True)
    assert_resumed_since(disabled, start)
    assert resume_at(enabled) is None


def test_saving_an_enabled_task_leaves_resume_at_alone(make_task: MakeTask) -> None:
    task = make_task()
    task.description = "edited"
    task.save()
    PeriodicTask.objects.filter(pk=task.pk).update(enabled=True, description="again")
    assert resume_at(task) is None


def test_disabling_a_task_leaves_resume_at_alone(make_task: MakeTask) -> None:
    task = make_task()
    task.enabled = False
    task.save()
    assert resume_at(task) is None


@pytest.mark.parametrize("path", ["save", "update", "bulk_update"])
def test_changing_a_task_crontab_resumes_it_now(make_task: MakeTask, path: str) -> None:
    task = make_task()
    other = Crontab.objects.create(minute="*/10")
    start = timezone.now()
    write(path, task, crontab=other)
    assert_resumed_since(task, start)


@pytest.mark.parametrize(
    ("path", "field", "value"),
    [
        ("save", "minute", "6"),
        ("save", "timezone", "America/New_York"),
        ("update", "hour", "7"),
        ("update", "timezone", "Asia/Tokyo"),
        ("bulk_update", "second", "30"),
    ],
)
def test_editing_a_crontab_resumes_its_tasks_now(
    crontab: Crontab, make_task: MakeTask, path: str, field: str, value: str
) -> None:
    mine = [make_task(), make_task()]
    elsewhere = make_task(crontab=Crontab.objects.create(minute="*/10"))
    start = timezone.now()
    write(path, crontab, **{field: value})
    for task in mine:
        assert_resumed_since(task, start)
    assert resume_at(elsewhere) is None


def test_saving_an_unchanged_crontab_leaves_its_tasks_alone(
    crontab: Crontab, make_task: MakeTask
) -> None:
    task = make_task()
    crontab.save()
    Crontab.objects.filter(pk=crontab.pk).update(minute=crontab.minute)
    assert resume_at(task) is None


# --- UserAction ---------------------------------------------------------------------------


def make_action(**fields: Any) -> UserAction:
    fields.setdefault("created_at", timezone.now() - dt.timedelta(days=3))
    fields.setdefault("created_by", "alice")
    return UserAction.objects.create(action="pause-reports", payload={"until": "monday"}, **fields)


def assert_audited(action: UserAction, deleted_by: str) -> None:
    audit = UserActionAudit.objects.get(original_id=action.pk)
    assert (audit.action, audit.payload) == (action.action, action.payload)
    assert (audit.created_at, audit.created_by) == (action.created_at, action.created_by)
    assert audit.deleted_by == deleted_by
    assert audit.deleted_at > audit.created_at


def test_deleting_a_user_action_copies_it_to_the_audit(django_user_model: Any) -> None:
    action = make_action()
    deleted = UserAction.objects.get(pk=action.pk)
    bob = django_user_model.objects.create(username="bob")
    with acting_as(bob):
        deleted.delete()
    assert not UserAction.objects.exists()
    assert_audited(action, deleted_by="bob")


@pytest.mark.parametrize(
    ("payload", "message"),
    [(None, "cannot be null"), ([float("nan")], "not a JSON number"), ("\x00", "NUL")],
)
def test_user_action_payload_must_be_storable_json(payload: Any, message: str) -> None:
    with pytest.raises(ValidationError) as exc_info:
        UserAction(action="pause", payload=payload).full_clean()
    assert message in error_on(exc_info, "payload")


def test_deleting_user_actions_by_queryset_copies_each(django_user_model: Any) -> None:
    actions = [make_action(), make_action(created_at=timezone.now() - dt.timedelta(days=9))]
    with acting_as("cleanup script"):
        UserAction.objects.all().delete()
    assert UserActionAudit.objects.count() == 2
    for action in actions:
        assert_audited(action, deleted_by="cleanup script")
