"""The admin's live DAG page (issues 7 and 16): nodes with their live state (last run,
running, waiting for, blocked since, next fire), ordinary and future edges, run-state
colours, permissions, the state JSON the page polls, the scopes (name, group,
neighbourhood) and the choice offered above MAX_NODES, bounded queries, vendored files."""

from __future__ import annotations

import datetime as dt
import json
import re
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.staticfiles import finders
from django.db import connection
from django.test import Client
from django.urls import reverse

import djag
from djag.admin import dag as dag_view
from djag.admin.cells import CATEGORY_COLOURS
from djag.models import Crontab, PeriodicTask, TaskDependency, TaskRun

pytestmark = pytest.mark.django_db

MakeTask = Callable[..., PeriodicTask]
DAG_URL = "/admin/djag/periodictask/dag/"
STATE_URL = "/admin/djag/periodictask/dag/state/"
# Monday 2030-01-07 10:00 UTC: the crontab fixture (05:05 weekdays, Paris) next fires
# on Tuesday 2030-01-08 at 05:05 Paris time.
NOW = dt.datetime(2030, 1, 7, 10, 0, tzinfo=dt.UTC)
NEXT_PARIS = "next: 2030-01-08 05:05:00 CET"
COLOURS = {key: CATEGORY_COLOURS[key] for key in dag_view.NODE_CATEGORIES}
VENDOR = Path(djag.__file__).parent / "static" / "djag" / "vendor"
VENDOR_FILES = ("cytoscape.min.js", "dagre.min.js", "cytoscape-dagre.js")


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's clock only (sessions and the rest keep the real one)."""
    monkeypatch.setattr(dag_view, "timezone", types.SimpleNamespace(now=lambda: NOW))


@pytest.fixture
def superuser_client(client: Client) -> Client:
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def djag_permission(codename: str) -> Permission:
    return Permission.objects.get(content_type__app_label="djag", codename=codename)


def run(task: PeriodicTask, state: str, minutes_ago: int) -> TaskRun:
    return TaskRun.objects.create(
        periodic_task=task,
        task_name=task.name,
        task=task.task,
        scheduled_for=NOW - dt.timedelta(minutes=minutes_ago),
        claimed_at=NOW - dt.timedelta(minutes=minutes_ago),
        trigger="schedule",
        state=state,
    )


def graph_json(response: Any) -> dict[str, Any]:
    """The graph as the page embeds it: the json_script element, parsed."""
    html = response.content.decode()
    found = re.search(
        r'<script id="djag-dag-data" type="application/json">(.*?)</script>', html, re.S
    )
    assert found, "no json_script element in the page"
    return json.loads(found.group(1))


def node(task: PeriodicTask, state: str, *lines: str, **extra: Any) -> dict[str, Any]:
    """A node as the page gets it; ``lines`` default to no run yet and the Paris next fire."""
    return {
        "id": f"t{task.pk}",
        "task_id": task.pk,
        "name": task.name,
        "url": f"/admin/djag/periodictask/{task.pk}/change/",
        "state": state,
        "run_state": extra.pop("run_state", state if state != "none" else None),
        "enabled": extra.pop("enabled", True),
        "running": extra.pop("running", 0),
        "waiting": extra.pop("waiting", False),
        "alerts": extra.pop("alerts", []),
        "lines": list(lines) or ["no run yet", NEXT_PARIS],
        "why": extra.pop("why", ""),
        **extra,
    }


def edge(dep: TaskDependency) -> dict[str, Any]:
    return {
        "id": f"e{dep.pk}",
        "source": f"t{dep.dependee_id}",
        "target": f"t{dep.depender_id}",
        "future": dep.future_depends,
        "require_success": dep.require_success,
    }


def test_page_shows_every_task_and_edge_with_state_and_next_fire(
    superuser_client: Client, make_task: MakeTask
) -> None:
    extract = make_task(name="extract")
    load = make_task(name="load")
    report = make_task(name="report")
    lost = make_task(name="lost-one")
    idle = make_task(name="idle", enabled=False)
    stuck = make_task(name="stuck", problem="task 'x.y' is not registered")
    ended = make_task(name="ended", end_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    revoked = make_task(name="revoked")
    run(extract, "failure", 30)
    run(extract, "success", 20)
    run(extract, "skipped", 10)  # a skip is not a run: the newest real one counts
    run(load, "success", 30)
    run(load, "failure", 20)
    run(report, "started", 5)
    run(lost, "lost", 5)
    run(revoked, "revoked", 5)
    after_extract = TaskDependency.objects.create(depender=load, dependee=extract)
    any_result = TaskDependency.objects.create(
        depender=report, dependee=load, require_success=False
    )
    future = TaskDependency.objects.create(depender=extract, dependee=load, future_depends=True)

    response = superuser_client.get(DAG_URL)

    assert response.status_code == 200
    data = graph_json(response)
    structure = data.pop("structure")
    assert data == {
        "nodes": [
            node(ended, "none", "no run yet", "never"),
            node(extract, "success", "last: success", NEXT_PARIS),
            node(idle, "none", "no run yet", "disabled", enabled=False),
            node(load, "failure", "last: failure", NEXT_PARIS),
            node(lost, "lost", "last: lost", NEXT_PARIS),
            node(
                report,
                "running",
                "running since 2030-01-07 09:55:00 UTC",
                NEXT_PARIS,
                run_state="started",
                running=1,
            ),
            node(revoked, "failure", "last: revoked", NEXT_PARIS, run_state="revoked"),
            node(stuck, "none", "no run yet", "problem: task 'x.y' is not registered"),
        ],
        "edges": [
            {
                "id": f"e{after_extract.pk}",
                "source": f"t{extract.pk}",
                "target": f"t{load.pk}",
                "future": False,
                "require_success": True,
            },
            edge(any_result),
            {
                "id": f"e{future.pk}",
                "source": f"t{load.pk}",
                "target": f"t{extract.pk}",
                "future": True,
                "require_success": True,
            },
        ],
        "colours": {
            "success": "#2e7d32",
            "failure": "#c62828",
            "lost": "#b34700",
            "running": "#1565c0",
            "none": "#757575",
        },
    }
    assert re.fullmatch(r"[0-9a-f]{16}", structure)
    html = response.content.decode()
    # Inside the admin, with breadcrumbs back to the changelist, and a legend.
    assert '<div class="breadcrumbs">' in html
    assert 'href="/admin/djag/periodictask/">Periodic tasks</a>' in html
    assert "8 tasks, 3 dependencies</span>." in html
    for key, colour in COLOURS.items():
        assert f'<li class="djag-dag-state-{key}"><span class="djag-dag-swatch" ' in html
        assert f'style="background: {colour}"' in html
    assert 'class="djag-dag-line"' in html
    assert 'class="djag-dag-line future"' in html


def test_next_fire_is_in_the_crontab_zone(superuser_client: Client, make_task: MakeTask) -> None:
    tokyo = Crontab.objects.create(minute="30", hour="9", timezone="Asia/Tokyo")
    task = make_task(name="tokyo", crontab=tokyo)

    nodes = graph_json(superuser_client.get(DAG_URL))["nodes"]

    # 10:00 UTC is 19:00 in Tokyo: next 09:30 is the following morning.
    assert nodes == [node(task, "none", "no run yet", "next: 2030-01-08 09:30:00 JST")]


def test_names_are_embedded_as_json_not_as_markup(
    superuser_client: Client, make_task: MakeTask
) -> None:
    nasty = make_task(name='</script><script>alert("x")</script>')

    response = superuser_client.get(DAG_URL)

    html = response.content.decode()
    assert "<script>alert(" not in html
    assert "\\u003C/script\\u003E\\u003Cscript\\u003Ealert" in html
    assert graph_json(response)["nodes"][0]["name"] == nasty.name


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("minute", "99", "crontab error: minute: 99 is out of range 0-59"),
        ("timezone", "Mars/Olympus", "crontab error: unknown time zone 'Mars/Olympus'"),
    ],
)
def test_broken_crontab_row_labels_its_tasks_and_the_page_renders(
    superuser_client: Client,
    make_task: MakeTask,
    crontab: Crontab,
    column: str,
    value: str,
    expected: str,
) -> None:
    fine = Crontab.objects.create(minute="0", hour="12", timezone="UTC")
    ok = make_task(name="ok", crontab=fine)
    broken = make_task(name="broken")
    also_broken = make_task(name="broken-too")
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(Crontab._meta.db_table)
        quoted = connection.ops.quote_name(column)
        cursor.execute(f"UPDATE {table} SET {quoted} = %s WHERE id = %s", [value, crontab.pk])

    response = superuser_client.get(DAG_URL)

    assert response.status_code == 200
    nodes = {item["name"]: item for item in graph_json(response)["nodes"]}
    assert nodes["ok"] == node(ok, "none", "no run yet", "next: 2030-01-07 12:00:00 UTC")
    assert nodes["broken"] == node(broken, "none", "no run yet", expected)
    assert nodes["broken-too"] == node(also_broken, "none", "no run yet", expected)


def test_view_only_staff_user_sees_the_page(client: Client, make_task: MakeTask) -> None:
    task = make_task(name="a")
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(djag_permission("view_periodictask"))
    client.force_login(user)

    response = client.get(DAG_URL)

    assert response.status_code == 200
    assert graph_json(response)["nodes"] == [node(task, "none")]


def test_staff_user_without_permission_gets_403(client: Client, make_task: MakeTask) -> None:
    make_task(name="a")
    user = User.objects.create_user("nobody", password="pw", is_staff=True)
    user.user_permissions.add(djag_permission("view_taskrun"))
    client.force_login(user)

    response = client.get(DAG_URL)

    assert response.status_code == 403
    assert b"djag-dag-data" not in response.content


def test_anonymous_and_non_staff_users_are_sent_to_login(client: Client) -> None:
    assert client.get(DAG_URL).status_code == 302
    user = User.objects.create_user("plain", password="pw")
    user.user_permissions.add(djag_permission("view_periodictask"))
    client.force_login(user)
    response = client.get(DAG_URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_q_filters_by_name_and_keeps_edges_between_shown_tasks(
    superuser_client: Client, make_task: MakeTask
) -> None:
    a = make_task(name="sales-import")
    b = make_task(name="sales-report")
    c = make_task(name="stock-import")
    inside = TaskDependency.objects.create(depender=b, dependee=a)
    TaskDependency.objects.create(depender=b, dependee=c)

    response = superuser_client.get(DAG_URL, {"q": "SALES"})

    data = graph_json(response)
    assert [item["name"] for item in data["nodes"]] == [a.name, b.name]
    # The wait names every dependee, drawn or not.
    assert data["nodes"][1]["lines"][1] == "waiting for sales-import, stock-import"
    assert data["edges"] == [edge(inside)]
    assert 'value="SALES"' in response.content.decode()


def test_changelist_links_to_the_page(superuser_client: Client, make_task: MakeTask) -> None:
    make_task(name="a")

    response = superuser_client.get(reverse("admin:djag_periodictask_changelist"))

    assert response.status_code == 200
    assert reverse("admin:djag_periodictask_dag") == DAG_URL
    html = response.content.decode()
    assert f'<a href="{DAG_URL}" class="viewlink djag-dag-link">DAG</a>' in html
    assert "Add periodic task" in html  # the usual tools are kept


def test_vendored_static_files_exist_and_are_referenced(
    superuser_client: Client, make_task: MakeTask
) -> None:
    make_task(name="a")
    html = superuser_client.get(DAG_URL).content.decode()

    for name in (*VENDOR_FILES, "../dag.js"):
        path = f"djag/vendor/{name}".replace("vendor/../", "")
        assert finders.find(path), path
        assert f'<script src="/static/{path}"></script>' in html
    for name in ("cytoscape", "dagre", "cytoscape-dagre", "graphlib", "lodash"):
        text = (VENDOR / f"LICENSE.{name}").read_text()
        assert "Permission is hereby granted, free of charge" in text
    readme = (VENDOR / "README.md").read_text()
    for pinned in ("cytoscape 3.34.4", "dagre 0.8.5", "cytoscape-dagre 2.5.0"):
        assert pinned in readme
    assert (VENDOR / "cytoscape.min.js").stat().st_size > 100_000
    assert "cytoscapeDagre" in (VENDOR / "cytoscape-dagre.js").read_text()
    # Scripts load in dependency order: cytoscape, dagre, the extension, the page's own.
    order = [html.index(name) for name in (*VENDOR_FILES, "djag/dag.js")]
    assert order == sorted(order)
    assert html.index('id="djag-dag-data"') < html.index("djag/dag.js")
