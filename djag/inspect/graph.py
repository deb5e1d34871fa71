"""The dependency graph as nodes and arrows, as DOT or Mermaid text (``manage.py djag_graph``)."""

from __future__ import annotations

from dataclasses import dataclass

from djag.core.dag import dependency_order
from djag.models import PeriodicTask, TaskDependency


@dataclass(frozen=True)
class Node:
    id: str
    name: str
    enabled: bool


@dataclass(frozen=True)
class Arrow:
    """An edge drawn from the dependee to its depender: the direction work flows."""

    dependee: str
    depender: str
    future: bool
    require_success: bool

    @property
    def label(self) -> str:
        return ", ".join(
            text
            for text, shown in (("future", self.future), ("any result", not self.require_success))
            if shown
        )


def graph() -> tuple[list[Node], list[Arrow]]:
    """Every task (dependees first) and every dependency."""
    tasks = {
        pk: (name, enabled)
        for pk, name, enabled in PeriodicTask.objects.values_list("pk", "name", "enabled")
    }
    rows = list(
        TaskDependency.objects.values_list(
            "depender_id", "dependee_id", "future_depends", "require_success"
        )
    )
    ordinary = [(depender, dependee) for depender, dependee, future, _ in rows if not future]
    order = dependency_order(tasks, ordinary, key=lambda pk: (tasks[pk][0], pk))
    nodes = [Node(f"t{pk}", tasks[pk][0], tasks[pk][1]) for pk in order]
    place = {pk: index for index, pk in enumerate(order)}
    rows.sort(key=lambda row: (place[row[1]], place[row[0]]))
    arrows = [
        Arrow(f"t{dependee}", f"t{depender}", future, require_success)
        for depender, dependee, future, require_success in rows
    ]
    return nodes, arrows


def dot(nodes: list[Node], arrows: list[Arrow]) -> str:
    def quoted(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    lines = [
        "// djag tasks: an arrow goes from a task to the tasks that wait for it.",
        "digraph djag {",
        "  rankdir=LR;",
        '  node [shape=box, style=rounded, fontname="sans-serif"];',
        '  edge [fontname="sans-serif", fontsize=10];',
    ]
    for node in nodes:
        if node.enabled:
            lines.append(f"  {node.id} [label={quoted(node.name)}];")
        else:
            label = quoted(f"{node.name}\n(disabled)")
            lines.append(f'  {node.id} [label={label}, style="rounded,dashed", fontcolor=gray40];')
    for arrow in arrows:
        attributes = []
        if arrow.future:
            attributes.append("style=dashed")
        if arrow.label:
            attributes.append(f"label={quoted(arrow.label)}")
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        lines.append(f"  {arrow.dependee} -> {arrow.depender}{suffix};")
    lines.append("}")
    return "\n".join(lines)


def mermaid(nodes: list[Node], arrows: list[Arrow]) -> str:
    def quoted(text: str) -> str:
        # Mermaid has no backslash escapes: quotes become an HTML entity.
        return '"' + text.replace('"', "#quot;").replace("\n", " ") + '"'

    lines = [
        "%% djag tasks: an arrow goes from a task to the tasks that wait for it.",
        "flowchart LR",
    ]
    for node in nodes:
        if node.enabled:
            lines.append(f"  {node.id}[{quoted(node.name)}]")
        else:
            lines.append(f"  {node.id}[{quoted(node.name + ' (disabled)')}]:::disabled")
    for arrow in arrows:
        link = "-.->" if arrow.future else "-->"
        label = f"|{quoted(arrow.label)}|" if arrow.label else ""
        lines.append(f"  {arrow.dependee} {link}{label} {arrow.depender}")
    if any(not node.enabled for node in nodes):
        lines.append("  classDef disabled stroke-dasharray: 4 4,color:#888")
    return "\n".join(lines)


FORMATS = {"dot": dot, "mermaid": mermaid}
