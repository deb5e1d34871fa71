"""The live DAG page (issue 16): the state JSON the page polls, what a waiting task says,
and the scopes that keep 10,000 tasks readable: a name, a group, a neighbourhood, and
the choice offered when more than MAX_NODES tasks are asked for."""

from __future__ import annotations

import datetime as dt
import itertools
import types
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from djag.admin import dag as dag_view
from djag.models import Crontab, PeriodicTask, TaskDependency, TaskRun

from .test_admin_dag import DAG_URL, NOW, STATE_URL, djag_permission, graph_json, run

pytestmark = pytest.mark.django_db

MakeTask = Callable[..., PeriodicTask]


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dag_view, "timezone", types.SimpleNamespace(now=lambda: NOW))


@pytest.fixture
def superuser_client(client: Client) -> Client:
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def names(data: dict[str, Any]) -> list[str]:
    return [item["name"] for item in data["nodes"]]


def chain(make_task: MakeTask, *task_names: str) -> list[PeriodicTask]:
    """Tasks that each run after the one before."""
    tasks = [make_task(name=name) for name in task_names]
    for dependee, depender in itertools.pairwise(tasks):
        TaskDependency.objects.create(depender=depender, dependee=dependee)
    return tasks


# --- what a node says -----------------------------------------------------------------------


def test_a_waiting_task_says_for_what_and_since_when(superuser_client: Client) -> None:
    start = NOW - dt.timedelta(minutes=5, seconds=30)
    minutely = Crontab.objects.create(minute="*")
    sales = PeriodicTask.objects.create(
        name="sales", task="tests.append_line", crontab=minutely, start_at=start
    )
    report = PeriodicTask.objects.create(
        name="report", task="tests.append_line", crontab=minutely, start_at=start
    )
    TaskDependency.objects.create(depender=report, dependee=sales)
    failed = run(sales, "failure", 4)
    TaskRun.objects.filter(pk=failed.pk).update(finished_at=NOW - dt.timedelta(minutes=3))

    nodes = {item["name"]: item for item in graph_json(superuser_client.get(DAG_URL))["nodes"]}

    assert nodes["report"]["waiting"] is True
    assert nodes["report"]["lines"] == [
        "no run yet",
        "waiting for sales",
        "blocked since 2030-01-07 09:55:00 UTC",
        "next: 2030-01-07 10:01:00 UTC",
    ]
    assert nodes["report"]["why"] == (
        "waiting for sales since 2030-01-07 09:55:00 UTC: "
        "sales has not succeeded since its last run ended without success"
    )
    assert nodes["sales"]["waiting"] is False
    assert nodes["sales"]["lines"][0] == "last: failure"


def test_several_runs_in_flight_are_counted(superuser_client: Client, make_task: MakeTask) -> None:
    task = make_task(name="busy", max_running=3)
    run(task, "started", 7)
    TaskRun.objects.create(
        periodic_task=task, task_name="busy", trigger="manual", state="sent", claimed_at=NOW
    )

    nodes = graph_json(superuser_client.get(DAG_URL))["nodes"]

    assert nodes[0]["running"] == 2
    assert nodes[0]["lines"][0] == "2 runs running since 2030-01-07 09:53:00 UTC"


# --- the JSON the page polls ----------------------------------------------------------------


def test_the_state_json_follows_the_database(superuser_client: Client, make_task: MakeTask) -> None:
    extract, load = chain(make_task, "extract", "load")
    first = superuser_client.get(STATE_URL).json()
    assert first["drawn"] is True
    assert names(first) == ["extract", "load"]
    assert first["nodes"][0]["state"] == "none"
    assert first["updated"] == "2030-01-07 10:00:00"

    started = run(extract, "started", 1)
    second = superuser_client.get(STATE_URL).json()
    assert (second["nodes"][0]["state"], second["nodes"][0]["running"]) == ("running", 1)
    assert second["structure"] == first["structure"]  # recoloured, not laid out again

    TaskRun.objects.filter(pk=started.pk).update(state="success", finished_at=NOW)
    assert superuser_client.get(STATE_URL).json()["nodes"][0]["lines"][0] == "last: success"

    TaskDependency.objects.create(depender=extract, dependee=load, future_depends=True)
    assert superuser_client.get(STATE_URL).json()["structure"] != first["structure"]
    make_task(name="new")
    assert names(superuser_client.get(STATE_URL).json()) == ["extract", "load", "new"]


def test_the_state_json_keeps_the_pages_scope(
    superuser_client: Client, make_task: MakeTask
) -> None:
    chain(make_task, "a1", "a2")
    chain(make_task, "b1", "b2")
    assert names(superuser_client.get(STATE_URL, {"q": "b"}).json()) == ["b1", "b2"]
    html = superuser_client.get(DAG_URL, {"q": "b"}).content.decode()
    assert 'data-state-url="/admin/djag/periodictask/dag/state/?q=b"' in html


def test_the_state_json_needs_the_view_permission(client: Client, make_task: MakeTask) -> None:
    make_task(name="a")
    assert client.get(STATE_URL).status_code == 302  # not logged in: the login page
    user = User.objects.create_user("nobody", password="pw", is_staff=True)
    user.user_permissions.add(djag_permission("view_taskrun"))
    client.force_login(user)
    response = client.get(STATE_URL)
    assert response.status_code == 403
    assert response.json() == {"error": "Permission denied."}


@pytest.mark.parametrize("url", [DAG_URL, STATE_URL])
def test_queries_do_not_grow_with_tasks(
    superuser_client: Client, make_task: MakeTask, url: str
) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert superuser_client.get(url).status_code == 200
        return len(captured)

    previous = make_task(name="first")
    TaskDependency.objects.create(depender=make_task(name="second"), dependee=previous)
    run(previous, "success", 5)
    few = queries()
    for number in range(20):
        task = make_task(name=f"more-{number}", crontab=Crontab.objects.create(minute=str(number)))
        run(task, "failure", 5)
        run(task, "started", 1)
        TaskDependency.objects.create(depender=task, dependee=previous)
        previous = task

    assert queries() == few


# --- scopes: a group, a neighbourhood -------------------------------------------------------


def test_a_group_is_every_task_linked_to_the_one_asked_for(
    superuser_client: Client, make_task: MakeTask
) -> None:
    a1, _, a3 = chain(make_task, "a1", "a2", "a3")
    _, b2 = chain(make_task, "b1", "b2")
    TaskDependency.objects.create(depender=a1, dependee=a3, future_depends=True)
    make_task(name="alone")

    response = superuser_client.get(DAG_URL, {"component": b2.pk})

    assert names(graph_json(response)) == ["b1", "b2"]
    assert "Showing the group of b2" in response.content.decode()
    assert names(graph_json(superuser_client.get(DAG_URL, {"component": a3.pk}))) == [
        "a1",
        "a2",
        "a3",
    ]
    in_group = superuser_client.get(DAG_URL, {"component": a3.pk, "q": "2"})
    assert names(graph_json(in_group)) == ["a2"]


def test_a_neighbourhood_goes_both_ways_to_the_depth_asked(
    superuser_client: Client, make_task: MakeTask
) -> None:
    tasks = chain(make_task, "n0", "n1", "n2", "n3", "n4")
    middle = tasks[2].pk

    near = superuser_client.get(DAG_URL, {"around": middle, "depth": 1})
    assert names(graph_json(near)) == ["n1", "n2", "n3"]
    assert "tasks within 1 dependency of n2" in near.content.decode()
    default = superuser_client.get(DAG_URL, {"around": middle})
    assert names(graph_json(default)) == ["n0", "n1", "n2", "n3", "n4"]
    assert '<option value="2" selected>' in default.content.decode()


def test_a_neighbourhood_too_large_is_narrowed_and_said_so(
    superuser_client: Client, make_task: MakeTask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dag_view, "MAX_NODES", 3)
    tasks = chain(make_task, "n0", "n1", "n2", "n3", "n4")

    response = superuser_client.get(DAG_URL, {"around": tasks[2].pk, "depth": 3})

    assert names(graph_json(response)) == ["n1", "n2", "n3"]
    assert "Within 3 dependencies of n2 there are too many tasks to draw: showing 1." in (
        response.content.decode()
    )


@pytest.mark.parametrize(
    "query",
    [
        {"component": "abc"},
        {"around": "-1"},
        {"around": "99999999999999999999999"},
        {"depth": "x", "around": "1"},
        {"depth": "999", "around": "1"},
        {"component": "424242"},
        {"q": "x" * 5000},
    ],
)
def test_malformed_or_unknown_scopes_never_fail(
    superuser_client: Client, make_task: MakeTask, query: dict[str, str]
) -> None:
    chain(make_task, "a", "b")
    for url in (DAG_URL, STATE_URL):
        assert superuser_client.get(url, query).status_code == 200
    if "component" in query and query["component"].isdigit():
        html = superuser_client.get(DAG_URL, query).content.decode()
        assert "There is no task with id 424242 (any more): showing all tasks." in html


# --- more than MAX_NODES: a choice, never a frozen page --------------------------------------


def test_too_many_tasks_offer_the_largest_groups(
    superuser_client: Client, make_task: MakeTask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dag_view, "MAX_NODES", 3)
    big = chain(make_task, "big-1", "big-2", "big-3", "big-4")
    small = chain(make_task, "small-1", "small-2")
    make_task(name="single")

    response = superuser_client.get(DAG_URL)

    html = response.content.decode()
    assert "7 tasks (all tasks): more than 3, too many to draw at once." in html
    assert "djag-dag-data" not in html
    assert "cytoscape.min.js" not in html
    assert "7 tasks: 2 groups of tasks linked by dependencies, and 1 task with no dependency." in (
        html
    )
    # The group too large to draw whole offers its first task's neighbourhood instead.
    assert f'<a href="?around={big[0].pk}">draw the neighbourhood of big-1</a>' in html
    assert f'<a href="?component={small[0].pk}">draw this group</a>' in html
    assert html.index("big-1") < html.index("small-1")
    assert superuser_client.get(STATE_URL).json() == {
        "nodes": [],
        "edges": [],
        "structure": "",
        "drawn": False,
        "total": 7,
        "updated": "2030-01-07 10:00:00",
    }


def test_too_many_name_matches_are_listed_with_their_scopes(
    superuser_client: Client, make_task: MakeTask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dag_view, "MAX_NODES", 1)
    first, _ = chain(make_task, "report-a", "report-b")

    html = superuser_client.get(DAG_URL, {"q": "report"}).content.decode()

    assert "2 tasks (all tasks whose name contains “report”): more than 1" in html
    assert f'<a href="?around={first.pk}">its neighbourhood</a>' in html
    assert f'<a href="?component={first.pk}">its group</a>' in html


def test_the_limit_is_five_hundred() -> None:
    assert dag_view.MAX_NODES == 500


def test_scope_query_strings_keep_what_they_are_asked_to() -> None:
    scope = dag_view.Scope(q="x", around=3, depth=2)
    assert scope.query() == "q=x&around=3&depth=2"
    assert scope.query(component=None, around=None) == "q=x"
    assert dag_view.Scope(component=7).query() == "component=7"
