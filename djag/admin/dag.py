"""The admin's live DAG page: the tasks asked for, each a node with its live state, each
dependency an edge; the page polls ``dag/state/`` and recolours without a reload.

What is drawn (the scope) comes from the query string: ``q`` (name contains), and either
``component=<task id>`` (the group of tasks linked to that task by dependencies) or
``around=<task id>&depth=<n>`` (the tasks within n dependencies of it). More than
MAX_NODES tasks are never drawn: the page says how many there are and offers the largest
groups and the tasks matching the name instead, so it stays readable (and responsive) at
10,000 tasks. The layout is made in the browser by the vendored Cytoscape.js and dagre
(``static/djag/vendor``), drawn by ``static/djag/dag.js``.

Queries are bounded whatever the number of tasks: the scope reads the edge table's two
id columns (and the task ids for the overview), the graph a constant number per 2,000
tasks (``dag_graph``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from djag.admin.cells import CATEGORY_COLOURS, CATEGORY_LABELS
from djag.admin.dag_graph import graph_data
from djag.inspect import parts
from djag.models import PeriodicTask
from djag.text import local_text

#: Above this many tasks the graph is not drawn: a choice is offered instead.
MAX_NODES = 500
#: The neighbourhood's depth when none is asked for, and the deepest one offered.
DEPTH, MAX_DEPTH = 2, 5
#: How many of the largest groups, and of the tasks matching the name, the page lists.
GROUPS_SHOWN = 20
MATCHES_SHOWN = 20
#: How often the page asks for fresh states.
REFRESH_SECONDS = 5
#: The node colours: the run state categories of the run list's badges ("skipped" is
#: never a node's state: skips do not count as a task's newest run).
NODE_CATEGORIES = ("success", "failure", "lost", "running", "none")


def _task_id(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and len(text) < 19 else None


@dataclass(frozen=True)
class Scope:
    """What the page was asked to draw. Malformed values are dropped, never a 500."""

    q: str = ""
    component: int | None = None
    around: int | None = None
    depth: int = DEPTH

    @classmethod
    def from_query(cls, query: QueryDict) -> Scope:
        depth = _task_id(query.get("depth"))
        return cls(
            q=query.get("q", "").strip()[:200],
            component=_task_id(query.get("component")),
            around=_task_id(query.get("around")),
            depth=min(max(depth if depth is not None else DEPTH, 1), MAX_DEPTH),
        )

    def query(self, **changes: Any) -> str:
        """This scope's query string, with ``changes`` (a value of None drops the key)."""
        values: dict[str, Any] = {"q": self.q, "component": self.component, "around": self.around}
        values.update(changes)
        values["depth"] = self.depth if values["around"] else None
        return urlencode({key: value for key, value in values.items() if value not in ("", None)})


@dataclass
class Selection:
    """The tasks to draw, or why none are drawn."""

    ids: list[int] = field(default_factory=list)
    drawn: bool = False
    total: int = 0  # tasks in the scope
    title: str = "all tasks"  # what the scope is, in words
    notes: list[str] = field(default_factory=list)  # depth reduced, unknown task...
    matches: list[tuple[int, str]] = field(default_factory=list)  # when not drawn


def _names(ids: list[int] | None, q: str) -> list[tuple[int, str]]:
    """(id, name) of the tasks among ``ids`` (all if None) whose name contains ``q``."""
    rows = PeriodicTask.objects.order_by("name", "pk")
    if q:
        rows = rows.filter(name__icontains=q)
    if ids is None:
        return list(rows.values_list("pk", "name"))
    found: list[tuple[int, str]] = []
    for start in range(0, len(ids), 2000):  # bound parameters per statement
        found.extend(rows.filter(pk__in=ids[start : start + 2000]).values_list("pk", "name"))
    return sorted(found, key=lambda row: (row[1], row[0]))


def select(scope: Scope) -> Selection:
    selection = Selection()
    base: list[int] | None = None
    anchor = scope.around or scope.component
    anchor_name = (
        PeriodicTask.objects.filter(pk=anchor).values_list("name", flat=True).first()
        if anchor
        else None
    )
    if anchor and anchor_name is None:
        selection.notes.append(f"There is no task with id {anchor} (any more): showing all tasks.")
    elif scope.around and anchor_name is not None:
        depth = scope.depth
        reach = parts.around(scope.around, depth)
        while len(reach) > MAX_NODES and depth > 1:
            depth -= 1
            reach = {task: distance for task, distance in reach.items() if distance <= depth}
        if depth < scope.depth:
            selection.notes.append(
                f"Within {scope.depth} dependencies of {anchor_name} there are too many tasks"
                f" to draw: showing {depth}."
            )
        base = list(reach)
        steps = "dependency" if depth == 1 else "dependencies"
        selection.title = f"tasks within {depth} {steps} of {anchor_name}"
    elif scope.component and anchor_name is not None:
        base = sorted(parts.group_of(scope.component))
        selection.title = f"the group of {anchor_name} (tasks linked to it by dependencies)"
    if scope.q:
        selection.title += f" whose name contains \u201c{scope.q}\u201d"
    if base is None and not scope.q:
        selection.total = PeriodicTask.objects.count()
        rows = _names(None, "") if selection.total <= MAX_NODES else []
    elif base is not None and not scope.q:
        selection.total = len(base)
        rows = [(pk, "") for pk in base]
    else:
        rows = _names(base, scope.q)
        selection.total = len(rows)
    selection.drawn = selection.total <= MAX_NODES
    if selection.drawn:
        selection.ids = [pk for pk, _ in rows]
    elif scope.q:
        selection.matches = rows[:MATCHES_SHOWN]
    return selection


def _graph(model_admin: admin.ModelAdmin, selection: Selection) -> dict[str, Any]:
    if not selection.drawn:
        return {"nodes": [], "edges": [], "structure": ""}
    return graph_data(selection.ids, admin_site=model_admin.admin_site.name, now=timezone.now())


def dag_page(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """The page itself; wrapped by ``admin_site.admin_view`` (staff login) in get_urls."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    scope = Scope.from_query(request.GET)
    selection = select(scope)
    graph = _graph(model_admin, selection)
    overview = None if selection.drawn else parts.overview(GROUPS_SHOWN)
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Task graph",
        "opts": opts,
        "app_label": opts.app_label,
        "scope": scope,
        "selection": selection,
        "overview": overview,
        "graph": graph,
        "max_nodes": MAX_NODES,
        "depths": range(1, MAX_DEPTH + 1),
        "refresh_seconds": REFRESH_SECONDS,
        "state_query": scope.query(),
        "all_query": scope.query(component=None, around=None),
        "legend": [(key, CATEGORY_COLOURS[key], CATEGORY_LABELS[key]) for key in NODE_CATEGORIES],
        "graph_data": {**graph, "colours": {key: CATEGORY_COLOURS[key] for key in NODE_CATEGORIES}},
        "updated": local_text(timezone.now()),
        "runs_url": reverse(f"{model_admin.admin_site.name}:djag_taskrun_changelist"),
    }
    return TemplateResponse(request, "admin/djag/dag.html", context)


def dag_state(model_admin: admin.ModelAdmin, request: HttpRequest) -> JsonResponse:
    """``dag/state/?<the page's query>``: the page's graph as it stands now, as JSON."""
    if not model_admin.has_view_permission(request):
        return JsonResponse({"error": "Permission denied."}, status=403)
    selection = select(Scope.from_query(request.GET))
    return JsonResponse(
        {
            **_graph(model_admin, selection),
            "drawn": selection.drawn,
            "total": selection.total,
            "updated": local_text(timezone.now()),
        }
    )


def views_for(
    model_admin: admin.ModelAdmin,
) -> tuple[Callable[[HttpRequest], HttpResponse], Callable[[HttpRequest], HttpResponse]]:
    """The page and its JSON as views bound to ``model_admin`` (for ``get_urls``)."""

    def dag(request: HttpRequest) -> HttpResponse:
        return dag_page(model_admin, request)

    def state(request: HttpRequest) -> HttpResponse:
        return dag_state(model_admin, request)

    return dag, state
