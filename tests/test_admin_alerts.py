"""Alerts in the admin (issue 16): the thresholds in the task form's "Alerts" fieldset, the
tripped alerts as badges in the task list, on the change page and on the DAG's nodes;
beat's state is never a form field."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from djag.models import Crontab, PeriodicTask

from .test_admin import admin_url, form_errors, task_form
from .test_admin_dag import DAG_URL, graph_json
from .test_admin_task_list import LIST, cells

pytestmark = pytest.mark.django_db

MakeTask = Callable[..., PeriodicTask]
SINCE = dt.datetime(2026, 3, 2, 12, 0, 30, tzinfo=dt.UTC)


def tripped(task: PeriodicTask, kinds: str, note: str) -> None:
    """As beat records it."""
    PeriodicTask._base_manager.filter(pk=task.pk).update(
        alerts_tripped=kinds, alert_note=note, alert_since=SINCE
    )


def test_the_thresholds_are_set_in_the_form(admin_client: Client, crontab: Crontab) -> None:
    fields = {
        "alert_succeed_within_seconds": "600",
        "alert_failures_in_a_row": "3",
        "pause_after_failures": "5",
        # Beat's state is no form field: posting it changes nothing.
        "alerts_tripped": "failing",
        "alert_note": "forged",
    }
    response = admin_client.post(admin_url(PeriodicTask, "add"), task_form(crontab, **fields))
    assert response.status_code == 302
    task = PeriodicTask.objects.get()
    assert (
        task.alert_succeed_within_seconds,
        task.alert_failures_in_a_row,
        task.pause_after_failures,
    ) == (600, 3, 5)
    assert (task.alerts_tripped, task.alert_note) == ("", "")


def test_empty_thresholds_are_off(admin_client: Client, crontab: Crontab) -> None:
    fields = dict.fromkeys(
        ("alert_succeed_within_seconds", "alert_failures_in_a_row", "pause_after_failures"), ""
    )
    admin_client.post(admin_url(PeriodicTask, "add"), task_form(crontab, **fields))
    task = PeriodicTask.objects.get()
    assert task.alert_failures_in_a_row is None


@pytest.mark.parametrize(
    "field", ["alert_succeed_within_seconds", "alert_failures_in_a_row", "pause_after_failures"]
)
def test_a_threshold_below_one_is_refused_on_its_field(
    admin_client: Client, crontab: Crontab, field: str
) -> None:
    response = admin_client.post(admin_url(PeriodicTask, "add"), task_form(crontab, **{field: "0"}))
    errors = form_errors(response)
    assert list(errors) == [field]
    assert "greater than or equal to 1" in errors[field][0]


def test_the_change_page_has_an_alerts_fieldset_saying_what_tripped(
    admin_client: Client, make_task: MakeTask
) -> None:
    task = make_task(name="import", alert_failures_in_a_row=2)
    tripped(task, "failing", "failing: 2 runs failed in a row (the alert is at 2)")
    html = admin_client.get(admin_url(PeriodicTask, "change", task.pk)).content.decode()
    assert "Alerts</h2>" in html
    assert 'name="alert_failures_in_a_row"' in html
    assert 'name="alerts_tripped"' not in html
    assert "failing: 2 runs failed in a row (the alert is at 2) (since 2026-03-02" in html


def test_the_list_shows_a_badge_per_tripped_alert_with_its_reason(
    admin_client: Client, make_task: MakeTask
) -> None:
    quiet, loud = make_task(name="quiet"), make_task(name="loud")
    tripped(loud, "failing,overdue", "overdue: no run for the slot\nfailing: 3 runs failed")
    html = admin_client.get(LIST).content.decode()
    column = cells(html, "alerts_column")
    assert column == {"quiet": "-", "loud": "failing overdue"}
    assert 'title="overdue: no run for the slot\nfailing: 3 runs failed\n(since 2026-03-02' in html
    assert quiet.tripped_alerts() == []


def test_a_dag_node_shows_its_tripped_alerts(make_task: MakeTask, client: Client) -> None:
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    task = make_task(name="import")
    make_task(name="calm")
    tripped(task, "overdue", "overdue: no run for the slot")
    nodes = {item["name"]: item for item in graph_json(client.get(DAG_URL))["nodes"]}
    assert nodes["import"]["alerts"] == ["overdue"]
    assert "alert: overdue" in nodes["import"]["lines"]
    assert nodes["calm"]["alerts"] == []
    assert not any(line.startswith("alert:") for line in nodes["calm"]["lines"])
