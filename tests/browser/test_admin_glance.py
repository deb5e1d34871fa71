"""The admin at a glance in Chromium at 1280 px (issue 16): the run list's columns within
the screen, the crontab editor's one-line input and preview, the live DAG recolouring
without a reload, and the DAG page of 10,000 tasks drawing one group quickly."""

from __future__ import annotations

import datetime as dt
import os
import statistics
import time
from typing import Any

import pytest

from .support import CHROMIUM, WIDTH, make_task, shot

if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

from django.utils import timezone  # noqa: E402

from djag.admin import dag as dag_view  # noqa: E402
from djag.admin.cells import CATEGORY_COLOURS  # noqa: E402
from djag.models import Crontab, PeriodicTask, TaskDependency, TaskRun  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(60),
]
expect = sync_api.expect
#: How many times the 10,000-task test loads each page, for its median and worst case.
TIMED_RUNS = 5


def right_edges(page: Any, selector: str) -> dict[str, float]:
    """The right edge of each column header's cell matching ``selector``, by its text."""
    return page.eval_on_selector_all(
        selector,
        "cells => Object.fromEntries(cells.map(c => [c.innerText.trim().toLowerCase(),"
        " c.getBoundingClientRect().right]))",
    )


@pytest.mark.parametrize("sidebar", ["closed", "open"])
def test_the_run_list_fits_1280_px(page: Any, sidebar: str) -> None:
    crontab = Crontab.objects.create(second="*/5", minute="*")
    task = make_task("a-task-with-a-fairly-long-descriptive-name-for-reports", crontab)
    start = timezone.now() - dt.timedelta(minutes=5)
    for number in range(8):
        at = start + dt.timedelta(seconds=5 * number)
        TaskRun.objects.create(
            periodic_task=task,
            task_name=task.name,
            task=task.task,
            trigger=("schedule" if number % 3 else "coalesced") if number % 4 != 1 else "manual",
            requested_by="ops-oncall@example.com" if number % 4 == 1 else "",
            coalesced_count=1 if number % 3 else 3,
            state=("success", "failure", "started", "lost")[number % 4],
            scheduled_for=at,
            claimed_at=at,
            started_at=at + dt.timedelta(seconds=1),
            finished_at=at + dt.timedelta(seconds=3) if number % 4 != 2 else None,
            worker="celery@worker-host-number-17.eu-west-1.compute.internal",
            error=""
            if number % 4 == 0
            else "ConnectionRefusedError: [Errno 111] Connection refused while talking to the "
            "warehouse API at https://warehouse.example.com/api/v2/stock?page=17\nTraceback ...",
        )
    page.goto("/admin/djag/taskrun/")
    if sidebar == "open":  # as a new user sees it: Django opens the sidebar by default
        page.click("#toggle-nav-sidebar")
        expect(page.locator("#nav-sidebar")).to_be_visible()

    expect(page.locator("#result_list tbody tr")).to_have_count(8)
    shot(page, f"admin-run-list{'-sidebar' if sidebar == 'open' else ''}")
    edges = right_edges(page, "#result_list thead th")
    for column in ("duration", "worker", "error"):
        assert 0 < edges[column] <= WIDTH, (column, edges)
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    overflow = page.eval_on_selector(".results", "r => r.scrollWidth - r.clientWidth")
    assert overflow <= 0
    # Seconds everywhere, runs five seconds apart read apart.
    times = page.locator("#result_list td.field-scheduled_for_text").all_inner_texts()
    assert len(set(times)) == 8
    assert all(len(text) == len("2026-03-02 12:00:05") for text in times)
    badge = page.locator("#result_list .djag-badge").first
    expect(badge).to_be_visible()
    page.locator("#result_list tbody tr a").first.click()
    expect(page.locator(".field-error_block pre")).to_contain_text("Connection refused")
    if sidebar == "closed":
        shot(page, "admin-run-page")


def test_the_crontab_editor_takes_one_line_with_its_preview(page: Any) -> None:
    Crontab.objects.create(minute="0", hour="3", timezone="Asia/Tokyo")

    page.goto("/admin/djag/crontab/add/")
    page.select_option("#id_timezone", "Europe/Berlin")
    page.locator("#id_cron").press_sequentially("0 30 5 * * 1-5", delay=20)
    preview = page.locator("#id_cron_preview")
    expect(preview.locator(".djag-cron-text")).to_contain_text("05:30")
    expect(preview.locator(".djag-cron-text")).to_contain_text("Europe/Berlin")
    expect(preview.locator(".djag-cron-next li")).to_have_count(5)
    assert " 05:30:00 CE" in preview.locator(".djag-cron-next li").first.inner_text()
    page.locator("#id_cron").press_sequentially("9")
    expect(preview.locator(".djag-cron-error")).to_contain_text("day_of_week")
    page.locator("#id_cron").press("Backspace")
    expect(preview.locator(".djag-cron-next li")).to_have_count(5)
    shot(page, "admin-crontab-form")

    page.click("input[name=_save]")
    expect(page.locator(".messagelist .success")).to_be_visible()
    crontab = Crontab.objects.get(timezone="Europe/Berlin")
    assert crontab.line() == "0 30 5 * * 1-5"

    # The list: the zone filter offers the two zones in use, the search finds Berlin.
    zone_filter = page.locator("#changelist-filter ul").first  # the first filter: the zone
    filter_links = zone_filter.locator("li a").all_inner_texts()
    assert [text.strip() for text in filter_links] == ["All", "Asia/Tokyo", "Europe/Berlin"]
    page.fill("#searchbar", "Berlin")
    page.press("#searchbar", "Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#result_list tbody tr")).to_contain_text("Europe/Berlin")
    page.goto("/admin/djag/crontab/")
    shot(page, "admin-crontab-list")


def node_state(page: Any, task: PeriodicTask) -> list[Any]:
    return page.evaluate(
        "id => { const n = document.getElementById('djag-dag')._cyreg.cy.getElementById(id);"
        " return [n.data('colour'), n.data('label')]; }",
        f"t{task.pk}",
    )


def test_the_live_dag_shows_a_state_change_without_a_reload(
    page: Any, console: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dag_view, "REFRESH_SECONDS", 1)
    crontab = Crontab.objects.create(minute="0", hour="3")
    extract, load = make_task("extract", crontab), make_task("load", crontab)
    TaskDependency.objects.create(depender=load, dependee=extract)

    page.goto("/admin/djag/periodictask/dag/")
    expect(page.locator("#djag-dag canvas").first).to_be_attached()
    colour, label = node_state(page, extract)
    assert colour == CATEGORY_COLOURS["none"]
    assert label.split("\n") == ["extract", "no run yet", label.split("\n")[2]]
    assert label.split("\n")[2].startswith("next: ")
    page.evaluate("window.djagNotReloaded = true")

    run = TaskRun.objects.create(
        periodic_task=extract,
        task_name="extract",
        task=extract.task,
        trigger="manual",
        state="started",
        started_at=timezone.now(),
    )
    page.wait_for_function(
        "id => document.getElementById('djag-dag')._cyreg.cy.getElementById(id)"
        ".data('label').includes('running since')",
        arg=f"t{extract.pk}",
    )
    assert node_state(page, extract)[0] == CATEGORY_COLOURS["running"]
    TaskRun.objects.filter(pk=run.pk).update(state="success", finished_at=timezone.now())
    page.wait_for_function(
        "([id, colour]) => document.getElementById('djag-dag')._cyreg.cy.getElementById(id)"
        ".data('colour') === colour",
        arg=[f"t{extract.pk}", CATEGORY_COLOURS["success"]],
    )
    assert "last: success" in node_state(page, extract)[1]
    assert page.evaluate("window.djagNotReloaded") is True
    expect(page.locator("#djag-dag-live")).to_contain_text("Live: updated at")

    # A new dependency is drawn without a reload too.
    audit = make_task("audit", crontab)
    TaskDependency.objects.create(depender=audit, dependee=load)
    page.wait_for_function(
        "() => document.getElementById('djag-dag')._cyreg.cy.nodes().length === 3"
    )
    expect(page.locator(".djag-dag-counts")).to_have_text("3 tasks, 2 dependencies")
    assert page.evaluate("window.djagNotReloaded") is True

    page.locator("#djag-dag").click(position={"x": 5, "y": 5})  # nothing there: no detail
    cy_position = page.evaluate(
        "id => { const n = document.getElementById('djag-dag')._cyreg.cy.getElementById(id);"
        " const p = n.renderedPosition(); return [p.x, p.y]; }",
        f"t{extract.pk}",
    )
    page.locator("#djag-dag").click(position={"x": cy_position[0], "y": cy_position[1]})
    expect(page.locator("#djag-dag-detail h2")).to_have_text("extract")
    expect(page.locator("#djag-dag-detail")).to_contain_text("Draw its neighbourhood")
    shot(page, "admin-dag")
    assert console == []


# Writing 10,000 tasks and 9,000 edges takes most of a minute on a busy CI machine.
@pytest.mark.timeout(240)
def test_ten_thousand_tasks_draw_the_group_asked_for(page: Any, console: list[str]) -> None:
    crontab = Crontab.objects.create(minute="*/5")
    tasks = PeriodicTask.objects.bulk_create(
        PeriodicTask(name=f"job-{n:05d}", task="tests.append_line", crontab=crontab)
        for n in range(10_000)
    )
    if any(task.pk is None for task in tasks):  # a backend that returns no keys
        tasks = list(PeriodicTask.objects.order_by("name"))
    # 1,000 chains of 10 tasks: job-00000 <- job-00001 <- ... <- job-00009, and so on.
    TaskDependency.objects.bulk_create(
        TaskDependency(depender=tasks[n], dependee=tasks[n - 1]) for n in range(10_000) if n % 10
    )

    overview, group = [], []
    for _ in range(TIMED_RUNS):
        began = time.monotonic()
        page.goto("/admin/djag/periodictask/dag/")
        expect(page.locator(".djag-dag-too-many")).to_contain_text("10000 tasks")
        expect(page.locator(".djag-dag-groups")).to_contain_text("1000 groups of tasks")
        overview.append(time.monotonic() - began)
        began = time.monotonic()
        page.locator(".djag-dag-groups a").first.click()
        page.wait_for_function(
            "() => { const c = document.getElementById('djag-dag');"
            " return c && c._cyreg && c._cyreg.cy.nodes().length === 10; }"
        )
        group.append(time.monotonic() - began)
    page.goto("/admin/djag/periodictask/dag/")
    shot(page, "admin-dag-10000")

    page.fill("#djag-dag-q", "job-04242")
    page.press("#djag-dag-q", "Enter")
    expect(page.locator(".djag-dag-summary")).to_contain_text("1 task, 0 dependencies")
    page.goto(f"/admin/djag/periodictask/dag/?around={tasks[4242].pk}&depth=2")
    page.wait_for_function(
        "() => { const c = document.getElementById('djag-dag');"
        " return c && c._cyreg && c._cyreg.cy.nodes().length === 5; }"
    )
    # Figures for docs/admin.md, printed (run with -s), never asserted.
    for what, seconds in (("choice page", overview), ("a group drawn", group)):
        print(
            f"10,000 tasks, {what}: median {statistics.median(seconds):.2f} s,"
            f" worst {max(seconds):.2f} s over {len(seconds)} loads"
        )
    assert console == []


def test_the_other_pages_at_1280_px(page: Any) -> None:
    """The task page (recent runs, history), the logs and the dependency list, for the docs."""
    crontab = Crontab.objects.create(
        minute="5", hour="5", day_of_week="1-5", timezone="Europe/Paris"
    )
    extract = make_task("extract", crontab, source="schedules.yaml")
    load = make_task("load", crontab)
    TaskDependency.objects.create(depender=load, dependee=extract)
    TaskDependency.objects.create(depender=extract, dependee=load, future_depends=True)
    now = timezone.now()
    for number, state in enumerate(("success", "failure", "success")):
        TaskRun.objects.create(
            periodic_task=load,
            task_name="load",
            task=load.task,
            trigger="schedule",
            state=state,
            scheduled_for=now - dt.timedelta(days=3 - number),
            claimed_at=now - dt.timedelta(days=3 - number),
            started_at=now - dt.timedelta(days=3 - number),
            finished_at=now - dt.timedelta(days=3 - number) + dt.timedelta(seconds=42),
            worker="celery@worker-1",
            error="" if state == "success" else "KeyError: 'sku'",
        )
    PeriodicTask.objects.filter(pk=load.pk).update(description="Loads the night's extract.")

    for path, name in (
        ("/admin/djag/periodictask/", "admin-task-list"),
        (f"/admin/djag/periodictask/{load.pk}/change/", "admin-task-page"),
        ("/admin/djag/taskdependency/", "admin-dependency-list"),
        ("/admin/djag/schedulechange/", "admin-schedule-changes"),
    ):
        page.goto(path)
        expect(page.locator("#content")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH, path
        shot(page, name, full_page=name == "admin-task-page")
    page.goto("/admin/djag/periodictask/")
    expect(page.locator("td.field-dependencies_column").first).to_be_visible()
