"""The periodic task list (issue 16): the dependency edges, the waiting status in a column
of its own, "code" for tasks declared in code only, and the filter by source."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from djag.models import Crontab, PeriodicTask, RunState, TaskDependency, TaskRun

pytestmark = pytest.mark.django_db

MakeTask = Callable[..., PeriodicTask]
LIST = reverse("admin:djag_periodictask_changelist")
T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


def cells(html: str, column: str) -> dict[str, str]:
    """The cells of ``column`` by task name (the row's first column), tags stripped."""
    found = {}
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        name = re.search(r'<th class="field-name"><a [^>]*>(.*?)</a>', row)
        cell = re.search(rf'<td class="field-{column}[^"]*">(.*?)</td>', row, re.S)
        if name and cell:
            found[name.group(1)] = " ".join(re.sub(r"<[^>]+>", "", cell.group(1)).split())
    return found


def test_the_dependencies_column_lists_the_edges_and_marks_future_ones(
    admin_client: Client, make_task: MakeTask
) -> None:
    load, extract, audit, report = (
        make_task(name=n) for n in ("load", "extract", "audit", "report")
    )
    TaskDependency.objects.create(depender=load, dependee=extract)
    TaskDependency.objects.create(depender=load, dependee=report, future_depends=True)
    TaskDependency.objects.create(depender=load, dependee=audit, require_success=False)

    html = admin_client.get(LIST).content.decode()

    column = cells(html, "dependencies_column")
    assert column["load"] == "after audit (any result), extract, report (future)"
    assert column["extract"] == "-"
    assert "Dependencies</a>" in html or "Dependencies</span>" in html


def test_many_dependees_are_cut_with_a_count(admin_client: Client, make_task: MakeTask) -> None:
    depender = make_task(name="zz-depender")
    for number in range(7):
        TaskDependency.objects.create(depender=depender, dependee=make_task(name=f"dep-{number}"))

    column = cells(admin_client.get(LIST).content.decode(), "dependencies_column")

    assert column["zz-depender"] == "after dep-0, dep-1, dep-2, dep-3, dep-4 and 2 more"


def test_the_waiting_status_has_its_own_column(admin_client: Client) -> None:
    minutely = Crontab.objects.create(minute="*")
    sales = PeriodicTask.objects.create(
        name="sales", task="tests.append_line", crontab=minutely, start_at=T0
    )
    report = PeriodicTask.objects.create(
        name="report", task="tests.append_line", crontab=minutely, start_at=T0
    )
    TaskDependency.objects.create(depender=report, dependee=sales)
    TaskRun.objects.create(
        periodic_task=sales,
        task_name="sales",
        scheduled_for=T0 + dt.timedelta(minutes=1),
        trigger="schedule",
        state=RunState.FAILURE,
        claimed_at=T0 + dt.timedelta(minutes=1),
        finished_at=T0 + dt.timedelta(minutes=1, seconds=5),
    )

    html = admin_client.get(LIST).content.decode()

    assert cells(html, "dependencies_column") == {"report": "after sales", "sales": "-"}
    waiting = cells(html, "waiting_column")
    assert waiting["sales"] == "-"
    # The first event not run yet, on the site's clock (UTC in the tests), with seconds.
    assert waiting["report"] == "for sales since 2026-03-02 12:01:00"
    assert "has not succeeded since its last run ended without success" in html  # the tooltip


def test_code_is_shown_only_for_tasks_declared_in_code(
    admin_client: Client, make_task: MakeTask
) -> None:
    make_task(name="from-file", source="schedules.yaml")
    make_task(name="by-hand")
    make_task(name="off", enabled=False)

    html = admin_client.get(LIST).content.decode()

    assert cells(html, "source_column") == {"from-file": "code", "by-hand": "-", "off": "-"}
    assert 'title="declared in schedules.yaml' in html
    # The only crosses left are the disabled task's "enabled" cell.
    assert html.count('alt="False"') == 1


def test_the_source_filter_offers_the_sources_in_use_and_edited_here(
    admin_client: Client, make_task: MakeTask
) -> None:
    make_task(name="from-yaml", source="schedules.yaml")
    make_task(name="from-module", source="myproject.schedules")
    make_task(name="by-hand")

    response = admin_client.get(LIST)

    changelist = response.context["cl"]
    spec = next(spec for spec in changelist.filter_specs if spec.title == "source")
    assert [choice["display"] for choice in spec.choices(changelist)] == [
        "All",
        "edited here",
        "myproject.schedules",
        "schedules.yaml",
    ]
    shown = {
        value: [
            task.name
            for task in admin_client.get(LIST, {"source": value}).context["cl"].result_list
        ]
        for value in ("-", "schedules.yaml", "myproject.schedules", "gone.yaml")
    }
    assert shown == {
        "-": ["by-hand"],
        "schedules.yaml": ["from-yaml"],
        "myproject.schedules": ["from-module"],
        "gone.yaml": [],
    }


def test_the_list_costs_the_same_queries_for_more_dependencies(
    admin_client: Client, make_task: MakeTask
) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(LIST).status_code == 200
        return len(captured)

    first = make_task(name="first")
    TaskDependency.objects.create(depender=make_task(name="second"), dependee=first)
    few = queries()
    for number in range(10):
        TaskDependency.objects.create(depender=make_task(name=f"more-{number}"), dependee=first)
    assert queries() == few


def test_the_task_page_and_the_logs_show_instants_with_seconds(
    admin_client: Client, make_task: MakeTask
) -> None:
    task = make_task(name="a")
    PeriodicTask.objects.filter(pk=task.pk).update(
        resume_at=T0 + dt.timedelta(seconds=7), problem="x", problem_at=T0
    )
    page = admin_client.get(reverse("admin:djag_periodictask_change", args=[task.pk]))
    html = re.sub(r"<[^>]+>", "", page.content.decode())
    assert "2026-03-02 12:00:07" in html
    assert "2026-03-02 12:00:00" in html

    changes = admin_client.get(reverse("admin:djag_schedulechange_changelist")).content.decode()
    assert re.search(
        r'class="field-at_text">(<a [^>]*>)?<span class="djag-day">\d{4}-\d\d-\d\d</span> '
        r'<span class="djag-time">\d\d:\d\d:\d\d</span>',
        changes,
    )
