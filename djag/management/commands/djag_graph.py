"""djag_graph: the task graph as Graphviz DOT or Mermaid text."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from djag.inspect.graph import FORMATS, graph


class Command(BaseCommand):
    help = (
        "Print the task graph as text: Graphviz DOT (render it with `dot -Tsvg`) or Mermaid "
        "(paste it into Markdown on GitHub or GitLab). Each task is a node (disabled tasks are "
        "dashed); an arrow goes from a task to the tasks that wait for it. Future dependencies "
        'are dashed and labelled "future"; dependencies that accept a failed run are labelled '
        '"any result".'
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--format",
            choices=sorted(FORMATS),
            default="dot",
            help="dot (Graphviz, the default) or mermaid.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        nodes, arrows = graph()
        self.stdout.write(FORMATS[options["format"]](nodes, arrows))
