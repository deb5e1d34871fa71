"""ScheduleChange: every ORM write to a schedule model is logged, attributed and wakes beat."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

import djag
from djag import wakeup
from djag.models import Crontab, PeriodicTask, ScheduleChange, TaskDependency, acting_as
from djag.store.door import Store

pytestmark = pytest.mark.django_db

MakeTask = Callable[..., PeriodicTask]
SCHEDULER_OWNED = {"problem", "problem_at"}


def logged(**filters: Any) -> list[ScheduleChange]:
    return list(ScheduleChange.objects.filter(**filters).order_by("id"))


def only_change(**filters: Any) -> ScheduleChange:
    changes = logged(**filters)
    assert len(changes) == 1, changes
    return changes[0]


@pytest.fixture
def since() -> Callable[[], list[ScheduleChange]]:
    """``since()``: the changes written after the test's setup, oldest first."""
    newest = ScheduleChange.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return lambda: logged(id__gt=newest)


# --- save() and delete() of each model ----------------------------------------------------


def test_creating_a_crontab_logs_its_fields() -> None:
    before = timezone.now()
    crontab = Crontab.objects.create(minute="5", hour="5", timezone="Europe/Paris")
    after = timezone.now()
    change = only_change(model="crontab")
    assert (change.action, change.object_id) == ("create", crontab.pk)
    assert change.object_repr == "0 5 5 * * * (Europe/Paris)"
    assert change.changes["minute"] == [None, "5"]
    assert change.changes["timezone"] == [None, "Europe/Paris"]
    assert change.actor == ""
    assert before <= change.at <= after  # when the write happened, not a stale default


def test_creating_a_task_logs_its_fields_but_not_scheduler_state(crontab: Crontab) -> None:
    task = PeriodicTask.objects.create(
        name="report", task="tests.append_line", crontab=crontab, args=[1], kwargs={"k": "v"}
    )
    change = only_change(model="periodictask")
    assert (change.action, change.object_id, change.object_repr) == ("create", task.pk, "report")
    assert change.changes["args"] == [None, [1]]
    assert change.changes["kwargs"] == [None, {"k": "v"}]
    assert change.changes["crontab_id"] == [None, crontab.pk]
    assert change.changes["start_at"] == [None, task.start_at.isoformat()]
    assert not SCHEDULER_OWNED.intersection(change.changes)


def test_saving_a_task_logs_only_the_fields_that_changed(make_task: MakeTask, since: Any) -> None:
    task = make_task(name="report")
    task.description = "weekly numbers"
    task.priority = 5
    task.save()
    [change] = since()[1:]
    assert (change.action, change.object_id, change.object_repr) == ("update", task.pk, "report")
    assert change.changes == {"description": ["", "weekly numbers"], "priority": [None, 5]}


def test_saving_an_unchanged_row_logs_nothing(
    crontab: Crontab, make_task: MakeTask, since: Any
) -> None:
    task = make_task()
    edge = TaskDependency.objects.create(depender=task, dependee=make_task())
    before = len(since())
    crontab.save()
    PeriodicTask.objects.get(pk=task.pk).save()
    edge.save()
    PeriodicTask.objects.filter(pk=task.pk).update(name=task.name)
    assert len(since()) == before


def test_same_instant_in_another_zone_is_not_a_change(make_task: MakeTask, since: Any) -> None:
    task = make_task()
    task.start_at = task.start_at.astimezone(ZoneInfo("America/New_York"))
    task.save()
    assert len(since()) == 1


def test_scheduler_owned_fields_are_not_logged(make_task: MakeTask, since: Any) -> None:
    task = make_task()
    before = len(since())
    task.problem = "args is not valid JSON"
    task.problem_at = timezone.now()
    task.save()
    PeriodicTask.objects.filter(pk=task.pk).update(
        problem="still broken", problem_at=timezone.now()
    )
    Store().save_checkpoints({task.pk: int(time.time())}, time.time())
    assert len(since()) == before


def test_saving_without_a_change_keeps_the_problem_beat_reported(make_task: MakeTask) -> None:
    task = make_task()
    PeriodicTask.objects.filter(pk=task.pk).update(problem="args is not valid JSON")
    PeriodicTask.objects.get(pk=task.pk).save()
    assert PeriodicTask.objects.get(pk=task.pk).problem == "args is not valid JSON"


def test_an_edit_clears_the_problem_for_beat_to_recheck(make_task: MakeTask) -> None:
    task = make_task()
    PeriodicTask.objects.filter(pk=task.pk).update(problem="args is not valid JSON")
    task = PeriodicTask.objects.get(pk=task.pk)
    task.args = ["fixed"]
    task.save()
    assert PeriodicTask.objects.get(pk=task.pk).problem == ""


def test_updating_and_deleting_a_crontab_is_logged(crontab: Crontab, since: Any) -> None:
    crontab.hour = "6"
    crontab.save()
    pk = crontab.pk
    crontab.delete()
    update, delete = since()
    assert (update.action, update.object_id, update.changes) == ("update", pk, {"hour": ["5", "6"]})
    assert (delete.action, delete.object_id) == ("delete", pk)
    assert delete.changes["hour"] == ["6", None]
    assert delete.changes["timezone"] == ["Europe/Paris", None]


def test_dependency_create_update_delete_is_logged(make_task: MakeTask, since: Any) -> None:
    a, b = make_task(name="a"), make_task(name="b")
    edge = TaskDependency.objects.create(depender=a, dependee=b)
    edge.require_success = False
    edge.save()
    pk = edge.pk
    edge.delete()
    create, update, delete = since()[2:]
    assert all(c.model == "taskdependency" and c.object_id == pk for c in (create, update, delete))
    assert create.object_repr == "a after b"
    assert create.changes["depender_id"] == [None, a.pk]
    assert update.changes == {"require_success": [True, False]}
    assert delete.changes["dependee_id"] == [b.pk, None]


def test_deleting_a_task_logs_the_deletion_of_its_edges(make_task: MakeTask, since: Any) -> None:
    a, b, c = (make_task(name=name) for name in "abc")
    upstream = TaskDependency.objects.create(depender=b, dependee=a)
    downstream = TaskDependency.objects.create(depender=c, dependee=b)
    kept = TaskDependency.objects.create(depender=c, dependee=a)
    b_pk = b.pk
    b.delete()
    deleted = {(c.model, c.object_id) for c in since() if c.action == "delete"}
    assert deleted == {
        ("periodictask", b_pk),
        ("taskdependency", upstream.pk),
        ("taskdependency", downstream.pk),
    }
    assert TaskDependency.objects.get().pk == kept.pk


# --- QuerySet and bulk writes -------------------------------------------------------------


def test_queryset_update_logs_old_and_new_values_per_row(make_task: MakeTask, since: Any) -> None:
    slow, fast = make_task(name="slow", grace_seconds=60), make_task(name="fast", grace_seconds=5)
    count = PeriodicTask.objects.update(grace_seconds=F("grace_seconds") + 10)
    assert count == 2
    changes = {c.object_id: c for c in since()[2:]}
    assert changes[slow.pk].changes == {"grace_seconds": [60, 70]}
    assert changes[fast.pk].changes == {"grace_seconds": [5, 15]}
    assert {c.action for c in changes.values()} == {"update"}
    assert (changes[slow.pk].object_repr, changes[fast.pk].object_repr) == ("slow", "fast")


def test_queryset_update_logs_only_rows_that_changed(make_task: MakeTask, since: Any) -> None:
    on, off = make_task(enabled=True), make_task(enabled=False)
    PeriodicTask.objects.update(enabled=False)
    [change] = since()[2:]
    assert change.object_id == on.pk
    assert change.changes == {"enabled": [True, False]}
    assert off.pk not in {c.object_id for c in since()[2:]}


def test_queryset_update_that_enables_logs_resume_at(make_task: MakeTask, since: Any) -> None:
    task = make_task(enabled=False)
    PeriodicTask.objects.filter(pk=task.pk).update(enabled=True)
    [change] = since()[1:]
    assert change.changes["enabled"] == [False, True]
    old, new = change.changes["resume_at"]
    assert old is None
    assert dt.datetime.fromisoformat(new) == PeriodicTask.objects.get(pk=task.pk).resume_at


def test_crontab_queryset_update_is_logged(crontab: Crontab, since: Any) -> None:
    Crontab.objects.filter(pk=crontab.pk).update(timezone="Asia/Tokyo")
    [change] = since()
    assert change.changes == {"timezone": ["Europe/Paris", "Asia/Tokyo"]}
    assert change.object_repr == "0 5 5 * * 1-5 (Asia/Tokyo)"


def test_dependency_queryset_update_is_logged(make_task: MakeTask, since: Any) -> None:
    edge = TaskDependency.objects.create(depender=make_task(name="a"), dependee=make_task(name="b"))
    TaskDependency.objects.filter(pk=edge.pk).update(future_depends=True)
    [change] = since()[3:]
    assert (change.object_id, change.object_repr) == (edge.pk, "a after future b")
    assert change.changes == {"future_depends": [False, True]}


def test_bulk_update_that_enables_logs_resume_at(make_task: MakeTask, since: Any) -> None:
    task = make_task(enabled=False)
    task.enabled = True
    PeriodicTask.objects.bulk_update([task], ["enabled"])
    [change] = since()[1:]
    assert change.changes["enabled"] == [False, True]
    assert change.changes["resume_at"][0] is None


def test_bulk_create_logs_each_new_row(crontab: Crontab, since: Any) -> None:
    PeriodicTask.objects.bulk_create(
        [
            PeriodicTask(name=name, task="tests.append_line", crontab=crontab)
            for name in ("a", "b", "c")
        ]
    )
    tasks = dict(PeriodicTask.objects.values_list("name", "pk"))
    changes = since()
    if connection.features.can_return_rows_from_bulk_insert:
        assert {(c.action, c.object_id, c.object_repr) for c in changes} == {
            ("create", pk, name) for name, pk in tasks.items()
        }
        assert changes[0].changes["task"] == [None, "tests.append_line"]
    else:
        # Without the new primary keys, beat is told to reload every task.
        [touch] = changes
        assert (touch.action, touch.model, touch.object_id) == ("touch", "periodictask", None)


def test_bulk_update_logs_each_changed_row(make_task: MakeTask, since: Any) -> None:
    tasks = [make_task(name="a", queue="q1"), make_task(name="b", queue="q1")]
    tasks[0].queue = "q2"
    tasks[1].priority = 3
    PeriodicTask.objects.bulk_update(tasks, ["queue", "priority"])
    changes = [(c.object_id, c.changes) for c in since()[2:]]
    assert sorted(changes) == [
        (tasks[0].pk, {"queue": ["q1", "q2"]}),
        (tasks[1].pk, {"priority": [None, 3]}),
    ]


def test_queryset_delete_logs_each_row(make_task: MakeTask, since: Any) -> None:
    tasks = [make_task(), make_task()]
    PeriodicTask.objects.all().delete()
    deleted = [c for c in since() if c.action == "delete"]
    assert {c.object_id for c in deleted} == {t.pk for t in tasks}
    assert {c.object_repr for c in deleted} == {t.name for t in tasks}


def test_refused_bulk_write_logs_nothing(make_task: MakeTask, since: Any) -> None:
    a, b = make_task(name="a"), make_task(name="b")
    before = len(since())
    with suppress(Exception):
        TaskDependency.objects.bulk_create(
            [TaskDependency(depender=a, dependee=b), TaskDependency(depender=b, dependee=a)]
        )
    assert len(since()) == before


def test_rolled_back_transaction_leaves_no_change(crontab: Crontab, since: Any) -> None:
    with suppress(RuntimeError), transaction.atomic():
        task = PeriodicTask.objects.create(name="x", task="tests.append_line", crontab=crontab)
        PeriodicTask.objects.filter(pk=task.pk).update(enabled=False)
        task.delete()
        raise RuntimeError("roll back")
    assert since() == []


# --- who ----------------------------------------------------------------------------------


def test_acting_as_a_user_names_them(crontab: Crontab, django_user_model: Any) -> None:
    alice = django_user_model.objects.create(username="alice")
    with acting_as(alice):
        crontab.minute = "9"
        crontab.save()
        Crontab.objects.filter(pk=crontab.pk).update(hour="9")
    assert [c.actor for c in logged(action="update")] == ["alice", "alice"]


def test_acting_as_a_text_names_it_and_ends_with_the_block(crontab: Crontab) -> None:
    with acting_as("deploy script"):
        with acting_as("nested job"):
            Crontab.objects.filter(pk=crontab.pk).update(hour="1")
        Crontab.objects.filter(pk=crontab.pk).update(hour="2")
    Crontab.objects.filter(pk=crontab.pk).update(hour="3")
    assert [c.actor for c in logged(action="update")] == ["nested job", "deploy script", ""]


def test_admin_writes_are_attributed_to_the_user(
    admin_client: Any, crontab: Crontab, since: Any
) -> None:
    response = admin_client.post(
        f"/admin/djag/crontab/{crontab.pk}/change/",
        {"cron": "0 10 5 * * 1-5", "timezone": "Europe/Paris"},
    )
    assert response.status_code == 302
    [change] = since()
    assert (change.actor, change.action, change.changes) == (
        "admin",
        "update",
        {"minute": ["5", "10"]},
    )


# --- djag.touch() -------------------------------------------------------------------------


def test_touch_without_arguments_announces_every_schedule_model(since: Any) -> None:
    djag.touch()
    touches = since()
    assert {(c.model, c.action, c.object_id) for c in touches} == {
        ("crontab", "touch", None),
        ("periodictask", "touch", None),
        ("taskdependency", "touch", None),
    }


def test_touch_of_some_rows_names_them(make_task: MakeTask, since: Any) -> None:
    a, b = make_task(), make_task()
    with acting_as("raw sql migration"):
        djag.touch(PeriodicTask, [a.pk, b.pk])
    touches = since()[2:]
    assert {(c.model, c.action, c.object_id) for c in touches} == {
        ("periodictask", "touch", a.pk),
        ("periodictask", "touch", b.pk),
    }
    assert {c.actor for c in touches} == {"raw sql migration"}


# --- the wake-up key ----------------------------------------------------------------------
# These tests commit for real (transactional_db): the key changes on commit.


@pytest.mark.django_db(transaction=True)
def test_committed_change_changes_the_wake_up_key() -> None:
    crontab = Crontab.objects.create()
    before = wakeup.read()
    with transaction.atomic():
        Crontab.objects.filter(pk=crontab.pk).update(hour="7")
        crontab.minute = "7"
        crontab.save()
        assert wakeup.read() == before
    after_commit = wakeup.read()
    djag.touch()
    assert after_commit not in (before, None)
    assert wakeup.read() not in (before, after_commit, None)


@pytest.mark.django_db(transaction=True)
def test_rolled_back_change_leaves_the_wake_up_key_alone() -> None:
    crontab = Crontab.objects.create()
    before = wakeup.read()
    with suppress(RuntimeError), transaction.atomic():
        Crontab.objects.filter(pk=crontab.pk).update(hour="9")
        raise RuntimeError("roll back")
    assert wakeup.read() == before


@pytest.mark.django_db(transaction=True)
def test_write_that_changes_nothing_leaves_the_wake_up_key_alone() -> None:
    crontab = Crontab.objects.create()
    task = PeriodicTask.objects.create(name="t", task="tests.append_line", crontab=crontab)
    before = wakeup.read()
    task.save()
    crontab.save()
    PeriodicTask.objects.filter(pk=task.pk).update(problem_at=timezone.now())
    Store().save_checkpoints({task.pk: int(time.time())}, time.time())
    assert wakeup.read() == before


@pytest.mark.django_db(transaction=True)
def test_change_after_a_rolled_back_one_still_wakes_beat() -> None:
    crontab = Crontab.objects.create()
    with suppress(RuntimeError), transaction.atomic():
        Crontab.objects.filter(pk=crontab.pk).update(hour="9")
        raise RuntimeError("roll back")
    before = wakeup.read()
    with transaction.atomic():
        Crontab.objects.filter(pk=crontab.pk).update(hour="10")
    assert wakeup.read() != before
