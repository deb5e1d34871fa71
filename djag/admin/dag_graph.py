"""The DAG page's data: each task a node labelled with its live state, each dependency
an edge, and a fingerprint of the drawing's structure.

The same function feeds the page (embedded with ``json_script``) and the JSON the page
polls, so a refresh shows exactly what a reload would. The states are the inspection's
(``djag.inspect.live``), read with beat's rules.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

from django.urls import reverse
from django.utils import timezone

from djag.admin.cells import run_category
from djag.inspect.live import TaskState, task_states
from djag.models import TaskDependency
from djag.text import zoned_text

#: Problem and error texts are cut to this length in node labels.
LABEL_TEXT_MAX = 80


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= LABEL_TEXT_MAX else text[: LABEL_TEXT_MAX - 1] + "\u2026"


def _site_time(when: dt.datetime) -> str:
    """An instant on the site's clock, with seconds and the zone's abbreviation."""
    return zoned_text(timezone.localtime(when))


def status_lines(state: TaskState) -> list[str]:
    """What a node says under the task's name: running or the last run, the wait, the
    tripped alerts, next."""
    lines = []
    if state.running:
        count = f"{state.running} runs " if state.running > 1 else ""
        since = f" since {_site_time(state.running_since)}" if state.running_since else ""
        lines.append(f"{count}running{since}")
    else:
        lines.append(f"last: {state.last_state}" if state.last_state else "no run yet")
    if state.waiting is not None:
        names = ", ".join(blocker.dependee for blocker in state.waiting.blockers)
        lines.append(_cut(f"waiting for {names}"))
        lines.append(f"blocked since {_site_time(state.waiting.since)}")
    if state.alerts:
        lines.append(f"alert: {', '.join(state.alerts)}")
    fire = state.next_fire
    lines.append(f"next: {zoned_text(fire.at)}" if fire.at else _cut(fire.why_none))
    return lines


def node(state: TaskState, change_url: str) -> dict[str, Any]:
    return {
        "id": f"t{state.id}",
        "task_id": state.id,
        "name": state.name,
        "url": change_url.replace("999999999", str(state.id)),
        "state": run_category(state.last_state),
        "run_state": state.last_state,
        "enabled": state.enabled,
        "running": state.running,
        "waiting": state.waiting is not None,
        "alerts": list(state.alerts),
        "lines": status_lines(state),
        "why": str(state.waiting) if state.waiting is not None else "",
    }


def graph_data(task_ids: Sequence[int], *, admin_site: str, now: dt.datetime) -> dict[str, Any]:
    """Nodes (by name), the edges between them and the structure's fingerprint."""
    states = task_states(task_ids, now)
    # One reverse() for all nodes: the change URL with a placeholder id.
    change_url = reverse(f"{admin_site}:djag_periodictask_change", args=["999999999"])
    nodes = [
        node(state, change_url)
        for state in sorted(states.values(), key=lambda state: (state.name, state.id))
    ]
    ids = list(states)
    edges = [
        {
            # Drawn from the dependee to its depender: the direction work flows.
            "id": f"e{pk}",
            "source": f"t{dependee}",
            "target": f"t{depender}",
            "future": future,
            "require_success": require_success,
        }
        for pk, depender, dependee, future, require_success in TaskDependency.objects.filter(
            depender__in=ids, dependee__in=ids
        )
        .order_by("pk")
        .values_list("pk", "depender_id", "dependee_id", "future_depends", "require_success")
    ]
    return {"nodes": nodes, "edges": edges, "structure": fingerprint(nodes, edges)}


def fingerprint(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> str:
    """Changes when a task or an edge comes or goes, or an edge changes kind: the page then
    lays the graph out again; state changes alone only recolour and relabel it."""
    parts = [node["id"] for node in nodes]
    parts += [
        f"{e['id']}:{e['source']}>{e['target']}:{e['future']:d}{e['require_success']:d}"
        for e in edges
    ]
    return hashlib.sha256(" ".join(parts).encode()).hexdigest()[:16]
