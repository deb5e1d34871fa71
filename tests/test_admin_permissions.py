"""Admin edges: the ledger cannot be deleted, malformed filters are ignored, every page checks
its permission before it renders, and the cron line creates crontabs only for who may."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from djag import user_actions
from djag.models import Crontab, PeriodicTask, TaskRun, UserAction

from .test_admin import admin_url, form_errors, task_form
from .test_admin_actions import staff

pytestmark = pytest.mark.django_db

RUNS = reverse("admin:djag_taskrun_changelist")


@pytest.fixture
def a_run(make_task: Any) -> TaskRun:
    task = make_task(name="a")
    return TaskRun.objects.create(
        periodic_task=task,
        task_name="a",
        scheduled_for=timezone.now(),
        trigger="schedule",
        state="success",
    )


def test_a_run_cannot_be_deleted_even_by_a_superuser(admin_client: Client, a_run: TaskRun) -> None:
    response = admin_client.post(admin_url(TaskRun, "delete", a_run.pk), {"post": "yes"})
    assert response.status_code == 403
    listing = admin_client.get(RUNS)
    assert "delete_selected" not in listing.content.decode()  # no bulk delete action either
    bulk = admin_client.post(
        RUNS, {"action": "delete_selected", "_selected_action": [a_run.pk], "post": "yes"}
    )
    assert bulk.status_code in (200, 302)
    assert TaskRun.objects.filter(pk=a_run.pk).exists()


def test_a_staff_user_given_the_delete_permission_still_cannot(a_run: TaskRun) -> None:
    client = staff("view_taskrun", "delete_taskrun")
    response = client.post(admin_url(TaskRun, "delete", a_run.pk), {"post": "yes"})
    assert response.status_code == 403
    assert TaskRun.objects.filter(pk=a_run.pk).exists()


@pytest.mark.parametrize(
    "query",
    [
        {"periodic_task__id__exact": "²"},
        {"periodic_task__id__exact": "٣"},
        {"periodic_task__id__exact": "9" * 30},
        {"periodic_task__id__exact": "-1"},
        {"periodic_task__id__exact": "1\x00"},
        {"claimed_at__gte": "yesterday"},
        {"claimed_at__year": "99999999999"},
        {"state": "\x00"},
        {"coalesced_count__gt": "x"},
    ],
    ids=repr,
)
def test_a_malformed_filter_of_the_run_list_is_no_500(
    admin_client: Client, a_run: TaskRun, query: dict[str, str]
) -> None:
    response = admin_client.get(RUNS, query)
    assert response.status_code in (200, 302)  # the list, or Django's "?e=1" redirect
    if response.status_code == 302:
        assert admin_client.get(response["Location"]).status_code == 200


def test_the_pick_an_action_page_needs_the_add_permission() -> None:
    assert user_actions.kinds()  # the sample site registers one: the page would be shown
    add = admin_url(UserAction, "add")
    assert staff("view_useraction").get(add).status_code == 403
    page = staff("view_useraction", "add_useraction").get(add)
    assert page.status_code == 200
    assert "Step 1 of 2" in page.content.decode()


# -- the cron line of the task form ---------------------------------------------------------

TASK_EDITOR = ("view_periodictask", "add_periodictask", "change_periodictask", "view_crontab")


def add_task(client: Client, crontab: Crontab, line: str, zone: str = "UTC") -> Any:
    return client.post(
        admin_url(PeriodicTask, "add"),
        {**task_form(crontab), "crontab": "", "cron": line, "cron_timezone": zone},
    )


def test_a_cron_line_needs_the_add_crontab_permission_to_create_one(crontab: Crontab) -> None:
    response = add_task(staff(*TASK_EDITOR), crontab, "*/7 * * * * *")
    assert form_errors(response) == {
        "cron": [
            "No crontab has these fields and this zone, and you may not add crontabs: "
            "choose an existing crontab below, or ask someone who may add them."
        ]
    }
    assert not Crontab.objects.filter(second="*/7").exists()
    assert not PeriodicTask.objects.exists()


def test_a_cron_line_may_reuse_an_existing_crontab_without_it(crontab: Crontab) -> None:
    response = add_task(staff(*TASK_EDITOR), crontab, crontab.line(), crontab.zone_name)
    assert response.status_code == 302
    assert PeriodicTask.objects.get().crontab == crontab
    assert Crontab.objects.count() == 1


def test_with_the_add_crontab_permission_the_line_creates_it(crontab: Crontab) -> None:
    response = add_task(staff(*TASK_EDITOR, "add_crontab"), crontab, "*/7 * * * * *")
    assert response.status_code == 302
    assert PeriodicTask.objects.get().crontab.line() == "*/7 * * * * *"


def test_a_superuser_creates_crontabs_from_the_line(crontab: Crontab) -> None:
    User.objects.create_superuser("root", password="x")
    client = Client()
    client.login(username="root", password="x")
    assert add_task(client, crontab, "*/9 * * * * *").status_code == 302
