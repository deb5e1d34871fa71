"""The run list: who asked and the trigger, and cancelling runs that wait to be sent."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

import djag
from djag.models import ScheduleChange, TaskRun

pytestmark = pytest.mark.django_db

RUNS = reverse("admin:djag_taskrun_changelist")


def cancel(client: Client, *runs: TaskRun) -> list[str]:
    response = client.post(
        RUNS,
        {"action": "cancel_waiting", "_selected_action": [run.pk for run in runs]},
        follow=True,
    )
    assert response.status_code == 200
    return [str(message) for message in get_messages(response.wsgi_request)]


def client_with(*codenames: str) -> Client:
    user = User.objects.create_user("staff", password="x", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="djag", codename__in=codenames)
    )
    client = Client()
    client.force_login(user)
    return client


def test_the_run_list_shows_who_asked_and_the_trigger(admin_client: Client) -> None:
    djag.enqueue("reports.build", by="nightly etl")
    page = admin_client.get(RUNS)
    columns = list(page.context["cl"].list_display)
    assert columns[columns.index("trigger") + 1] == "requested_by"
    html = page.content.decode()
    assert "nightly etl" in html
    assert "one-off" in html
    assert admin_client.get(RUNS, {"trigger": "oneoff"}).context["cl"].result_count == 1
    assert admin_client.get(RUNS, {"q": "nightly"}).context["cl"].result_count == 1


def test_cancel_calls_off_waiting_runs_only_and_records_who(admin_client: Client) -> None:
    waiting = djag.enqueue("t", delay=600)
    sent = djag.enqueue("t")
    TaskRun.objects.filter(pk=sent.pk).update(state="sent")
    assert cancel(admin_client, waiting, sent) == [
        f"Cancelled 1 run ({waiting.pk}): recorded, never sent.",
        "1 run not cancelled: only a run still waiting to be sent can be; the others were "
        "sent already or are finished.",
    ]
    waiting.refresh_from_db()
    assert (waiting.state, waiting.error) == ("cancelled", "Cancelled by admin before it was sent.")
    assert TaskRun.objects.get(pk=sent.pk).state == "sent"
    audit = ScheduleChange.objects.filter(model="taskrun", object_id=waiting.pk).first()  # newest
    assert audit is not None
    assert (audit.actor, audit.changes) == ("admin", {"state": ["waiting", "cancelled"]})


def choices(client: Client) -> list[Any]:
    form = client.get(RUNS).context["action_form"]
    return [] if form is None else [name for name, _ in form.fields["action"].choices]


def test_cancelling_needs_the_change_permission_on_runs() -> None:
    run = djag.enqueue("t", delay=600)
    viewer = client_with("view_taskrun")
    assert "cancel_waiting" not in choices(viewer)
    cancel(viewer, run)
    assert TaskRun.objects.get(pk=run.pk).state == "waiting"

    User.objects.all().delete()
    editor = client_with("view_taskrun", "change_taskrun")
    assert "cancel_waiting" in choices(editor)
    cancel(editor, run)
    assert TaskRun.objects.get(pk=run.pk).state == "cancelled"
