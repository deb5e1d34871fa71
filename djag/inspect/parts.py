"""Parts of the dependency graph, for a view that cannot draw 10,000 tasks at once: the
groups of tasks linked by dependencies (connected components), the group of one task,
and a task's neighbourhood.

Edges of every kind link a group (a future edge too: its tasks wait on each other).
Reads two columns of the edge table, and the task ids only when every group is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

from djag.core.dag import connected_groups, neighbourhood
from djag.models import PeriodicTask, TaskDependency


@dataclass(frozen=True)
class Group:
    first: int  # the task of the group whose name sorts first: the group's handle
    first_name: str
    size: int


@dataclass(frozen=True)
class Overview:
    tasks: int
    groups: int  # groups of two tasks or more
    alone: int  # tasks with no dependency either way
    largest: list[Group]  # the largest groups (two tasks or more), largest first


def edge_pairs() -> list[tuple[int, int]]:
    """Every dependency as (depender, dependee)."""
    return list(TaskDependency.objects.values_list("depender_id", "dependee_id"))


def overview(shown: int) -> Overview:
    """How the tasks split into groups, with the ``shown`` largest named."""
    ids = list(PeriodicTask.objects.order_by("name", "pk").values_list("pk", flat=True))
    groups = connected_groups(ids, edge_pairs())
    linked = [group for group in groups if len(group) > 1]
    firsts = [group[0] for group in linked[:shown]]
    names = dict(PeriodicTask.objects.filter(pk__in=firsts).values_list("pk", "name"))
    return Overview(
        tasks=len(ids),
        groups=len(linked),
        alone=len(groups) - len(linked),
        largest=[Group(group[0], names.get(group[0], "?"), len(group)) for group in linked[:shown]],
    )


def group_of(task_id: int) -> set[int]:
    """The tasks linked to ``task_id`` by dependencies, directly or not (itself included)."""
    pairs = edge_pairs()
    return set(neighbourhood(pairs, task_id, len(pairs) + 1))


def around(task_id: int, depth: int) -> dict[int, int]:
    """The tasks at most ``depth`` dependencies from ``task_id``, with their distance."""
    return neighbourhood(edge_pairs(), task_id, depth)
