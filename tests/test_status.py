"""Why a task waits on its dependencies: djag.inspect.waiting and its place in the admin."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from djag.inspect import waiting as status
from djag.models import Crontab, PeriodicTask, RunState, TaskDependency, TaskRun

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
NOW = T0 + dt.timedelta(minutes=5, seconds=30)


@pytest.fixture
def chain() -> tuple[PeriodicTask, PeriodicTask]:
    """report (every minute) runs after sales (every minute), both from T0."""
    minutely, _ = Crontab.objects.get_or_create(second="0", minute="*", hour="*")
    sales = PeriodicTask.objects.create(
        name="sales", task="tests.append_line", crontab=minutely, start_at=T0
    )
    report = PeriodicTask.objects.create(
        name="report", task="tests.append_line", crontab=minutely, start_at=T0
    )
    TaskDependency.objects.create(depender=report, dependee=sales)
    return sales, report


def ran(task: PeriodicTask, minute: int, state: str = RunState.SUCCESS) -> None:
    at = T0 + dt.timedelta(minutes=minute)
    TaskRun.objects.create(
        periodic_task=task,
        task_name=task.name,
        scheduled_for=at,
        trigger="schedule",
        state=state,
        claimed_at=at,
        finished_at=at + dt.timedelta(seconds=5),
    )


def reason(report: PeriodicTask) -> str:
    return str(status.waiting([report.pk], NOW)[report.pk])


def test_depender_waits_for_a_dependee_that_never_ran(chain) -> None:
    sales, report = chain
    found = status.waiting([sales.pk, report.pk], NOW)
    assert list(found) == [report.pk]
    assert found[report.pk].since == T0 + dt.timedelta(minutes=1)
    assert str(found[report.pk]) == (
        "waiting for sales since 2026-03-02 12:01:00 UTC: "
        "sales has not finished a run since this task last ran"
    )


def test_since_is_the_first_event_not_yet_run(chain) -> None:
    sales, report = chain
    ran(sales, 1)
    ran(report, 2)
    assert status.waiting([report.pk], NOW)[report.pk].since == T0 + dt.timedelta(minutes=3)


def test_failed_dependee_is_named_as_the_reason(chain) -> None:
    sales, report = chain
    ran(sales, 1, RunState.FAILURE)
    assert "sales has not succeeded since its last run ended without success" in reason(report)


def test_disabled_dependee_is_named_as_the_reason(chain) -> None:
    sales, report = chain
    PeriodicTask.objects.filter(pk=sales.pk).update(enabled=False)
    assert "sales is disabled" in reason(report)


def test_dependee_past_its_end_is_named_as_the_reason(chain) -> None:
    sales, report = chain
    PeriodicTask.objects.filter(pk=sales.pk).update(end_at=T0 + dt.timedelta(seconds=30))
    assert "sales ended at 2026-03-02 12:00:30 UTC (its end_at)" in reason(report)


def test_satisfied_dependency_is_not_waiting(chain) -> None:
    sales, report = chain
    ran(sales, 1)
    assert status.waiting([report.pk], NOW) == {}


def test_task_with_nothing_due_is_not_waiting(chain) -> None:
    _, report = chain
    assert status.waiting([report.pk], T0 + dt.timedelta(seconds=30)) == {}


def test_disabled_depender_is_not_waiting(chain) -> None:
    _, report = chain
    PeriodicTask.objects.filter(pk=report.pk).update(enabled=False)
    assert status.waiting([report.pk], NOW) == {}


def test_admin_list_and_page_show_the_wait(admin_client: Client, chain) -> None:
    sales, report = chain
    ran(sales, 1, RunState.FAILURE)
    listing = admin_client.get(reverse("admin:djag_periodictask_changelist")).content.decode()
    assert "waiting for sales since" in listing
    page = admin_client.get(
        reverse("admin:djag_periodictask_change", args=[report.pk])
    ).content.decode()
    assert "waiting for sales since 2026-03-02 12:01:00 UTC" in page
    assert "ended without success" in page


def test_dependee_that_used_up_its_max_runs_is_named_as_the_reason(chain) -> None:
    sales, report = chain
    ran(sales, 1)
    ran(report, 2)
    PeriodicTask.objects.filter(pk=sales.pk).update(max_runs=1)
    assert "sales has reached max_runs (1 runs)" in reason(report)
