"""The task graph: cycle detection and the readiness rule of dependencies.

An edge points from a depender to its dependee ("depender runs after dependee").
Only ordinary edges may not form a cycle; a cycle through a future edge is how a
producer/consumer pair or a no-overlap rule is written.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

Node = TypeVar("Node", bound=Hashable)


def find_cycle(edges: Iterable[tuple[Node, Node]]) -> list[Node] | None:
    """Return one cycle as a closed path ``[a, b, ..., a]``, or None if the graph is acyclic.

    Iterative depth-first search, so a long chain cannot hit the recursion limit.
    """
    successors: dict[Node, list[Node]] = {}
    for depender, dependee in edges:
        successors.setdefault(depender, []).append(dependee)
        successors.setdefault(dependee, [])

    done: set[Node] = set()
    for root in successors:
        if root in done:
            continue
        path: list[Node] = [root]
        on_path = {root}
        branches = [iter(successors[root])]
        while branches:
            nxt = next(branches[-1], None)
            if nxt is None:
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                branches.pop()
            elif nxt in on_path:
                return [*path[path.index(nxt) :], nxt]
            elif nxt not in done:
                path.append(nxt)
                on_path.add(nxt)
                branches.append(iter(successors[nxt]))
    return None


@dataclass(frozen=True, slots=True)
class Edge:
    """An edge as the depender sees it."""

    dependee: int
    future: bool = False
    require_success: bool = True
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class RunMarks:
    """What the readiness rule needs to know of a task's runs (UTC epoch seconds)."""

    last_start: float | None = None  # when its newest run was claimed
    last_success: float | None = None  # when its newest successful run finished
    last_finish: float | None = None  # when its newest run reached any terminal state


NO_RUNS = RunMarks()


def edge_holds(
    edge: Edge, depender: RunMarks, depender_start_at: float, dependee: RunMarks
) -> bool:
    """The readiness rule for one edge.

    The dependee must have a run that finished (successfully, or in any terminal
    state when success is not required) after the later of the depender's last
    run start and its ``start_at``. A future edge holds until the depender has
    run once after the edge was created.
    """
    if edge.future and (depender.last_start is None or depender.last_start <= edge.created_at):
        return True
    finished = dependee.last_success if edge.require_success else dependee.last_finish
    if finished is None:
        return False
    threshold = max(depender_start_at, depender.last_start or depender_start_at)
    return finished > threshold


def blocking_edges(
    edges: Iterable[Edge],
    depender: RunMarks,
    depender_start_at: float,
    marks_of: Callable[[int], RunMarks],
) -> list[Edge]:
    """The edges that keep the depender from running now (empty: it may run)."""
    return [
        edge
        for edge in edges
        if not edge_holds(edge, depender, depender_start_at, marks_of(edge.dependee))
    ]


# --- graph analysis (djag_plan, djag_check) ---------------------------------------------------


def dependency_order(
    nodes: Iterable[Node], edges: Iterable[tuple[Node, Node]], key: Callable[[Node], Any]
) -> list[Node]:
    """The nodes with every dependee before its dependers, ties broken by ``key``.

    ``edges`` are (depender, dependee) pairs; give only ordinary edges, which form no cycle.
    Should they form one anyway, its nodes follow the others in ``key`` order rather than
    being left out. Edges to nodes not listed are ignored.
    """
    position = {node: index for index, node in enumerate(nodes)}
    waits_on: dict[Node, int] = dict.fromkeys(position, 0)
    dependers: dict[Node, list[Node]] = {}
    for depender, dependee in set(edges):
        if depender in position and dependee in position and depender != dependee:
            waits_on[depender] += 1
            dependers.setdefault(dependee, []).append(depender)
    # The position breaks ties between equal keys, so nodes themselves are never compared.
    ready = [(key(node), position[node], node) for node in position if not waits_on[node]]
    heapq.heapify(ready)
    order: list[Node] = []
    while ready:
        _, _, node = heapq.heappop(ready)
        order.append(node)
        for depender in dependers.get(node, ()):
            waits_on[depender] -= 1
            if not waits_on[depender]:
                heapq.heappush(ready, (key(depender), position[depender], depender))
    placed = set(order)
    order.extend(sorted((node for node in position if node not in placed), key=key))
    return order


@dataclass(frozen=True, slots=True)
class Unrunnable:
    """A depender that waits, directly or through other such dependers, for a dead task."""

    task: int
    waits_for: int  # the dependee it waits for
    future: bool  # through a future edge, which may still let it run once
    cause: int  # the dead task at the end of the chain
    reason: str  # why the cause never runs again, as given in ``dead``


def unrunnable_dependers(
    edges: Mapping[int, Iterable[Edge]], dead: Mapping[int, str]
) -> list[Unrunnable]:
    """The tasks that can never run again because they wait for a task that never will.

    ``edges`` maps each depender to its edges; ``dead`` maps each task that will never be
    scheduled again (disabled, ended, max_runs reached, broken schedule...) to the reason.
    A depender of a dead task is blocked for good once its edge stops holding, and is in
    turn dead for its own dependers. Ordered by distance from the dead tasks, then by id;
    dead tasks themselves are not listed.
    """
    dependers: dict[int, list[tuple[int, bool]]] = {}
    for depender, its_edges in edges.items():
        for edge in its_edges:
            if edge.dependee != depender:
                dependers.setdefault(edge.dependee, []).append((depender, edge.future))
    cause = {task: task for task in dead}
    found: list[Unrunnable] = []
    frontier = sorted(dead)
    while frontier:
        reached: dict[int, Unrunnable] = {}
        for dependee in frontier:
            for depender, future in sorted(dependers.get(dependee, ())):
                if depender in cause or depender in reached:
                    continue
                root = cause[dependee]
                reached[depender] = Unrunnable(depender, dependee, future, root, dead[root])
        for depender, blocked in reached.items():
            cause[depender] = blocked.cause
        found.extend(reached[task] for task in sorted(reached))
        frontier = sorted(reached)
    return found


def deadlocked_cycles(
    edges: Mapping[int, Iterable[Edge]],
    marks: Mapping[int, RunMarks],
    start_at: Mapping[int, float],
    in_flight: Collection[int],
) -> list[list[int]]:
    """Cycles of tasks that each wait for the next, none with a run in flight.

    Such a cycle never moves again by itself: an edge starts to hold only when its
    dependee finishes a run, every task of the cycle is kept from starting one by its
    edge on the cycle, and none has a run that could still finish. ``start_at`` has an
    entry for each task beat schedules (enabled, with a working schedule); the others
    are left to :func:`unrunnable_dependers`. Each cycle is a closed path ``[a, b, ..., a]``
    in waiting order; a task is reported in one cycle at most.
    """
    failing = sorted(
        (depender, edge.dependee)
        for depender, its_edges in edges.items()
        if depender in start_at and depender not in in_flight
        for edge in its_edges
        if edge.dependee in start_at
        and edge.dependee not in in_flight
        and not edge_holds(
            edge,
            marks.get(depender, NO_RUNS),
            start_at[depender],
            marks.get(edge.dependee, NO_RUNS),
        )
    )
    cycles: list[list[int]] = []
    while (cycle := find_cycle(failing)) is not None:
        cycles.append(cycle)
        on_cycle = set(cycle)
        failing = [(d, e) for d, e in failing if d not in on_cycle and e not in on_cycle]
    return cycles


# --- parts of a large graph (the admin's DAG page) --------------------------------------------


def connected_groups(nodes: Iterable[Node], edges: Iterable[tuple[Node, Node]]) -> list[list[Node]]:
    """The weakly connected components: tasks linked by edges of any kind, in either direction.

    Each group keeps the order of ``nodes``; groups come largest first, ties in the order of
    their first node. Edges to nodes not listed are ignored.
    """
    position = {node: index for index, node in enumerate(nodes)}
    parent = list(range(len(position)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]  # path halving keeps the trees flat
            index = parent[index]
        return index

    for depender, dependee in edges:
        if depender in position and dependee in position:
            a, b = root(position[depender]), root(position[dependee])
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[int, list[Node]] = {}
    for node, index in position.items():
        groups.setdefault(root(index), []).append(node)
    return sorted(groups.values(), key=lambda group: (-len(group), position[group[0]]))


def neighbourhood(edges: Iterable[tuple[Node, Node]], start: Node, depth: int) -> dict[Node, int]:
    """The nodes at most ``depth`` edges from ``start`` (either direction), with their distance."""
    linked: dict[Node, list[Node]] = {}
    for depender, dependee in edges:
        linked.setdefault(depender, []).append(dependee)
        linked.setdefault(dependee, []).append(depender)
    distance = {start: 0}
    frontier = [start]
    for step in range(1, depth + 1):
        if not frontier:
            break
        reached = []
        for node in frontier:
            for other in linked.get(node, ()):
                if other not in distance:
                    distance[other] = step
                    reached.append(other)
        frontier = reached
    return distance
