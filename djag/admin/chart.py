"""The duration chart of a task's runs: a small inline SVG, escaped and safe to render."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.utils import timezone
from django.utils.html import format_html, format_html_join

from djag.core.vocab import RunState
from djag.models import TaskRun
from djag.text import duration_text, local_text, zoned_text

CHART_RUNS = 200
CHART_WIDTH, CHART_HEIGHT = 640, 160
CHART_MARGIN_LEFT, CHART_MARGIN_BOTTOM, CHART_MARGIN_TOP, CHART_MARGIN_RIGHT = 56, 22, 10, 10


def duration_points(task_id: int, limit: int = CHART_RUNS) -> list[tuple[dt.datetime, float, str]]:
    """(started at, seconds, state) of the task's newest timed runs, oldest first."""
    rows = (
        TaskRun.objects.filter(
            periodic_task_id=task_id, started_at__isnull=False, finished_at__isnull=False
        )
        .order_by("-started_at")
        .values_list("started_at", "finished_at", "state")[:limit]
    )
    points = []
    for started, finished, state in reversed(list(rows)):
        if started is not None and finished is not None:
            points.append((started, (finished - started).total_seconds(), state))
    return points


def duration_chart_svg(points: Sequence[tuple[dt.datetime, float, str]]) -> str:
    """A small SVG line chart of run durations over time (escaped, safe to render)."""
    if not points:
        return format_html(
            '<p class="djag-chart-empty">{}</p>', "No finished run with a start time yet."
        )
    left, top = CHART_MARGIN_LEFT, CHART_MARGIN_TOP
    width = CHART_WIDTH - left - CHART_MARGIN_RIGHT
    height = CHART_HEIGHT - top - CHART_MARGIN_BOTTOM
    first, last = points[0][0], points[-1][0]
    span = (last - first).total_seconds() or 1.0
    highest = max(seconds for _, seconds, _ in points) or 1.0

    def x(moment: dt.datetime) -> float:
        if len(points) == 1:
            return left + width / 2
        return left + width * (moment - first).total_seconds() / span

    def y(seconds: float) -> float:
        return top + height * (1 - seconds / highest)

    line = " ".join(f"{x(moment):.1f},{y(seconds):.1f}" for moment, seconds, _ in points)
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="2.5" class="djag-dot-{}"><title>{}: {} ({})</title></circle>',
        (
            (
                f"{x(moment):.1f}",
                f"{y(seconds):.1f}",
                "ok" if state == RunState.SUCCESS else "bad",
                zoned_text(timezone.localtime(moment)),
                duration_text(seconds),
                state,
            )
            for moment, seconds, state in points
        ),
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="djag-duration-chart" role="img" '
        'width="{w}" height="{h}" viewBox="0 0 {w} {h}" aria-label="{label}">'
        "<title>{label}</title>"
        '<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#888"/>'
        '<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#888"/>'
        '<text x="{tx}" y="{ttop}" font-size="10" text-anchor="end">{highest}</text>'
        '<text x="{tx}" y="{bottom}" font-size="10" text-anchor="end">0</text>'
        '<text x="{left}" y="{ty}" font-size="10">{first}</text>'
        '<text x="{right}" y="{ty}" font-size="10" text-anchor="end">{last}</text>'
        '<polyline fill="none" stroke="#417690" stroke-width="1.5" points="{line}"/>'
        "{dots}"
        "<style>.djag-dot-ok{{fill:#417690}}.djag-dot-bad{{fill:#ba2121}}</style>"
        "</svg>",
        w=CHART_WIDTH,
        h=CHART_HEIGHT,
        ty=CHART_HEIGHT - 6,
        label=f"Duration of the last {len(points)} runs",
        left=left,
        right=left + width,
        top=top,
        bottom=top + height,
        tx=left - 4,
        ttop=top + 8,
        highest=duration_text(highest),
        first=local_text(first),
        last=local_text(last),
        line=line,
        dots=dots,
    )
