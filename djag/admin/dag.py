"""The admin's DAG page: every periodic task a node, every dependency an edge.

The graph is built here as plain data (``dag_graph``) and handed to the page
as JSON through ``json_script``; the browser lays it out with the vendored
Cytoscape.js + dagre (``static/djag/vendor``) and draws it (``static/djag/dag.js``).

Queries are bounded whatever the number of tasks: one count, one query for the
tasks with their crontab and the state of their newest run (a correlated
subquery), one for the edges. Next fire times come from the
specs beat schedules with (``djag.inspect.snapshot``); a crontab that cannot be
read labels its tasks with the error instead of failing the page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from djag.core.plan import next_event
from djag.core.vocab import ACTIVE_STATES, NOT_STARTED_STATES, RunState
from djag.inspect.snapshot import TaskView, read_tasks
from djag.models import PeriodicTask, TaskDependency, TaskRun
from djag.store.compile import Problem
from djag.store.db import from_epoch
from djag.text import zoned_text

#: Above this many tasks (after the ``?q=`` filter) the graph is not drawn.
MAX_NODES = 2000
#: Problem and error texts are cut to this length in node labels.
LABEL_TEXT_MAX = 80

#: The colour of a node by the state of its task's newest run (not counting skips).
STATE_COLOURS = {
    "success": "#2e7d32",
    "failure": "#c62828",
    "lost": "#ef6c00",
    "running": "#1565c0",
    "none": "#9e9e9e",
}
STATE_LABELS = {
    "success": "last run succeeded",
    "failure": "last run failed or was revoked",
    "lost": "last run lost",
    "running": "running (claimed, sent, started or retrying)",
    "none": "no run yet",
}


def run_category(state: str | None) -> str:
    """The node colour key of a run state; ``None`` (no run) is ``"none"``."""
    if state is None:
        return "none"
    if state in ACTIVE_STATES:
        return "running"
    if state == RunState.SUCCESS:
        return "success"
    if state == RunState.LOST:
        return "lost"
    return "failure"  # failure, revoked


@dataclass(frozen=True)
class Graph:
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    total: int  # tasks matching the filter
    drawn: bool  # False when ``total`` exceeds MAX_NODES: nothing is listed


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= LABEL_TEXT_MAX else text[: LABEL_TEXT_MAX - 1] + "…"


def next_fire_label(view: TaskView | None, now: int) -> str:
    """The task's next event in its schedule's zone, or why it has none."""
    if view is None:
        return "-"
    if not view.row.enabled:
        return "disabled"
    if isinstance(view.schedule, Problem):
        return f"{view.kind} error: {_cut(view.schedule.detail)}"
    if view.problem or isinstance(view.spec, Problem):
        return f"problem: {_cut(view.problem)}"
    event = next_event(view.spec, now)
    if event is None:
        return "never"
    return zoned_text(from_epoch(event).astimezone(view.schedule.zone))


def dag_graph(
    query: str = "", *, admin_site: str = "admin", now: dt.datetime | None = None
) -> Graph:
    """The nodes and edges of the page for the tasks whose name contains ``query``."""
    tasks = PeriodicTask.objects.all()
    if query:
        tasks = tasks.filter(name__icontains=query)
    total = tasks.count()
    if total > MAX_NODES:
        return Graph([], [], total, drawn=False)

    last_state = (
        TaskRun.objects.filter(periodic_task=models.OuterRef("pk"))
        .exclude(state__in=NOT_STARTED_STATES)
        .order_by("-claimed_at", "-id")
        .values("state")[:1]
    )
    rows = (
        tasks.select_related("crontab")
        .annotate(last_run_state=models.Subquery(last_state))
        .order_by("name", "pk")
    )
    # One reverse() for all nodes: the change URL with a placeholder id.
    change_url = reverse(f"{admin_site}:djag_periodictask_change", args=["999999999"])
    moment = int((now or timezone.now()).timestamp())
    views = read_tasks(tasks.values_list("pk", flat=True) if query else None)
    nodes = []
    for task in rows:
        state = getattr(task, "last_run_state", None)
        nodes.append(
            {
                "id": f"t{task.pk}",
                "name": task.name,
                "url": change_url.replace("999999999", str(task.pk)),
                "state": run_category(state),
                "run_state": state,
                "enabled": task.enabled,
                "next_fire": next_fire_label(views.get(task.pk), moment),
            }
        )
    edges_qs = TaskDependency.objects.all()
    if query:
        # Subqueries, not id lists: no bound on bound parameters.
        edges_qs = edges_qs.filter(depender__in=tasks, dependee__in=tasks)
    edges = [
        {
            # Drawn from the dependee to its depender: the direction work flows.
            "id": f"e{pk}",
            "source": f"t{dependee}",
            "target": f"t{depender}",
            "future": future,
            "require_success": require_success,
        }
        for pk, depender, dependee, future, require_success in edges_qs.order_by("pk").values_list(
            "pk", "depender_id", "dependee_id", "future_depends", "require_success"
        )
    ]
    return Graph(nodes, edges, total, drawn=True)


def dag_page(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """The page itself; wrapped by ``admin_site.admin_view`` (staff login) in get_urls."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    query = request.GET.get("q", "").strip()
    graph = dag_graph(query, admin_site=model_admin.admin_site.name, now=timezone.now())
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Task graph",
        "opts": opts,
        "app_label": opts.app_label,
        "query": query,
        "graph": graph,
        "max_nodes": MAX_NODES,
        "legend": [(key, STATE_COLOURS[key], STATE_LABELS[key]) for key in STATE_COLOURS],
        "graph_data": {
            "nodes": graph.nodes,
            "edges": graph.edges,
            "colours": STATE_COLOURS,
        },
    }
    return TemplateResponse(request, "admin/djag/dag.html", context)


def view_for(model_admin: admin.ModelAdmin) -> Callable[[HttpRequest], HttpResponse]:
    """The page as a view bound to ``model_admin`` (for ``get_urls``)."""

    def dag(request: HttpRequest) -> HttpResponse:
        return dag_page(model_admin, request)

    return dag
