"""The admin in a real browser: Playwright driving Debian's Chromium against live_server.

Skipped when /usr/bin/chromium or the playwright package is missing (``apt-get install
chromium``; ``pip install playwright``; never ``playwright install``: the system
Chromium is used). Each test saves a screenshot (``support.shot``). The fixtures are in
conftest.py.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from .support import CHROMIUM, choose, make_task, shot

if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

from djag.models import Crontab, PeriodicTask, TaskDependency, TaskRun  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(60),
]


def test_add_a_task_with_a_cron_line_and_its_live_preview(page: Any) -> None:
    page.goto("/admin/djag/periodictask/add/")
    page.fill("#id_name", "browser-report")
    page.fill("#id_task", "tests.append_line")
    assert "tests.append_line" in page.eval_on_selector_all(
        "#id_task_names option", "options => options.map(o => o.value)"
    )
    page.select_option("#id_cron_timezone", "Europe/Paris")
    page.locator("#id_cron").press_sequentially("0 30 5 * * 1-5", delay=20)
    preview = page.locator("#id_cron_preview")
    sync_api.expect(preview.locator(".djag-cron-text")).to_contain_text("05:30")
    sync_api.expect(preview.locator(".djag-cron-text")).to_contain_text("Europe/Paris")
    sync_api.expect(preview.locator(".djag-cron-next li")).to_have_count(5)
    assert " 05:30:00 " in preview.locator(".djag-cron-next li").first.inner_text()

    # A typo shows the error instead, and fixing it brings the preview back.
    page.locator("#id_cron").press_sequentially("9")  # "... 1-59": no such weekday
    sync_api.expect(preview.locator(".djag-cron-error")).to_contain_text("day_of_week")
    sync_api.expect(preview.locator(".djag-cron-next li")).to_have_count(0)
    page.locator("#id_cron").press("Backspace")
    sync_api.expect(preview.locator(".djag-cron-next li")).to_have_count(5)
    page.locator("fieldset:has(#id_cron)").scroll_into_view_if_needed()
    shot(page.locator("fieldset:has(#id_cron)"), "admin-cron-line")

    page.click("input[name=_save]")
    sync_api.expect(page.locator(".messagelist .success")).to_contain_text("browser-report")
    sync_api.expect(page.locator("#result_list")).to_contain_text("browser-report")
    sync_api.expect(page.locator("#result_list")).to_contain_text("05:30")
    crontab = PeriodicTask.objects.get(name="browser-report").crontab
    assert (crontab.line(), crontab.zone_name) == ("0 30 5 * * 1-5", "Europe/Paris")


def test_a_dependency_cycle_is_refused_with_the_cycle_named(page: Any) -> None:
    crontab = Crontab.objects.create(minute="0", hour="3")
    extract, load = make_task("extract", crontab), make_task("load", crontab)
    TaskDependency.objects.create(depender=load, dependee=extract)

    page.goto("/admin/djag/taskdependency/add/")
    choose(page, "id_depender", "extract")
    choose(page, "id_dependee", "load")
    page.click("input[name=_save]")
    error = page.locator(".errorlist")
    sync_api.expect(error).to_contain_text("cycle of dependencies: extract -> load -> extract")
    shot(page.locator("#content-main"), "admin-dependency-cycle")
    assert TaskDependency.objects.count() == 1


def test_the_dag_page_draws_every_task(page: Any) -> None:
    crontab = Crontab.objects.create(minute="0", hour="3")
    extract = make_task("extract", crontab)
    transform = make_task("transform", crontab)
    load = make_task("load", crontab)
    audit = make_task("audit", crontab)
    TaskDependency.objects.create(depender=transform, dependee=extract)
    TaskDependency.objects.create(depender=load, dependee=transform)
    TaskDependency.objects.create(depender=audit, dependee=extract, require_success=False)
    for task, state in ((extract, "success"), (transform, "failure")):
        TaskRun.objects.create(
            periodic_task=task, task_name=task.name, task=task.task, trigger="manual", state=state
        )
    names = ["audit", "extract", "load", "transform"]

    page.goto("/admin/djag/periodictask/dag/")
    sync_api.expect(page.locator("#djag-dag canvas").first).to_be_attached()
    data = json.loads(page.locator("#djag-dag-data").text_content())
    assert sorted(node["name"] for node in data["nodes"]) == names
    assert len(data["edges"]) == 3
    # Cytoscape keeps its instance on the container: what it drew, not only the JSON.
    drawn = page.evaluate(
        "() => { const cy = document.getElementById('djag-dag')._cyreg.cy;"
        " return [cy.nodes().length, cy.edges().length,"
        " cy.nodes().map(n => n.data('label').split('\\n')[0]).sort()]; }"
    )
    assert drawn == [4, 3, names]
    sync_api.expect(page.locator(".djag-dag-summary")).to_contain_text("4 tasks, 3 dependencies")
    page.wait_for_timeout(300)  # the layout's fit animation, for the screenshot
    shot(page, "admin-dag")


def test_run_now_from_the_task_list_shows_the_run(page: Any) -> None:
    crontab = Crontab.objects.create(minute="0", hour="3")
    task = make_task("nightly-export", crontab)
    make_task("other", crontab)

    page.goto("/admin/djag/periodictask/")
    page.check(f"input[name=_selected_action][value='{task.pk}']")
    page.select_option("select[name=action]", "run_now")
    page.click("button[name=index]")
    sync_api.expect(page.locator(".messagelist .success")).to_contain_text(
        "Queued a manual run of nightly-export"
    )
    run = TaskRun.objects.get()
    assert (run.periodic_task_id, run.trigger, run.state) == (task.pk, "manual", "waiting")

    page.goto("/admin/djag/taskrun/")
    rows = page.locator("#result_list tbody tr")
    sync_api.expect(rows).to_have_count(1)
    sync_api.expect(rows.first).to_contain_text("nightly-export")
    sync_api.expect(rows.first).to_contain_text("manual")
    sync_api.expect(rows.first).to_contain_text(run.requested_by)  # who asked
    shot(page, "admin-run-list")

    # No beat runs here: the run still waits, and can be cancelled.
    page.check(f"input[name=_selected_action][value='{run.pk}']")
    page.select_option("select[name=action]", "cancel_waiting")
    page.click("button[name=index]")
    sync_api.expect(page.locator(".messagelist .success")).to_contain_text(
        f"Cancelled 1 run ({run.pk})"
    )
    sync_api.expect(rows.first).to_contain_text("cancelled")

    page.goto(f"/admin/djag/periodictask/{task.pk}/change/")
    sync_api.expect(page.locator("fieldset", has_text="Recent runs")).to_contain_text("manual")
