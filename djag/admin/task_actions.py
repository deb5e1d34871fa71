"""What the admin's periodic-task actions do, apart from the pages that ask for them.

Each function writes through the ORM (so schedule changes land in ScheduleChange,
attributed to whoever ``acting_as`` names) or through ``Store`` (the ledger writes
beat itself uses), and returns what it did so the admin can say so.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from celery import current_app
from django.db import DatabaseError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from djag import wakeup
from djag.core.message import message_options
from djag.models import ACTIVE_STATES, PeriodicTask, RunState, TaskRun, Trigger
from djag.models.run import ERROR_MAX_CHARS
from djag.store import NewRun, Store

# -- run now -----------------------------------------------------------------------------------


@dataclass
class RunNowResult:
    sent: list[tuple[str, int]] = field(default_factory=list)  # (task name, run id)
    failed: list[tuple[str, int, str]] = field(default_factory=list)  # (name, run id, error)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (name, why): nothing claimed


def run_now(task_ids: Sequence[int], store: Store | None = None) -> RunNowResult:
    """Claim a manual run of each task, publish it like beat does, mark it sent.

    A manual run ignores dependencies, ``max_running`` and the task's enabled flag (it
    was asked for explicitly), but it holds a ``max_running`` slot while it is active and
    does not count towards ``max_runs``. A publish that fails marks the run failed with
    the error. The row is committed before its message goes out, so a fast worker finds it.
    """
    store = store or Store()
    result = RunNowResult()
    rows = sorted(store.load_tasks(list(task_ids)), key=lambda row: row.name)
    for row in rows:
        if row.problem:
            result.refused.append((row.name, row.problem))
            continue
        try:
            won = store.claim(
                [NewRun(row.id, row.name, row.task, None, Trigger.MANUAL)], time.time()
            )
        except DatabaseError as exc:  # e.g. the task was deleted meanwhile
            result.refused.append((row.name, f"the run could not be recorded ({exc})"))
            continue
        if not won:
            result.refused.append((row.name, "the run could not be recorded"))
            continue
        [claimed] = won
        try:
            current_app.send_task(
                row.task,
                args=row.args,
                kwargs=row.kwargs,
                task_id=claimed.celery_task_id,
                **message_options(row.options, claimed.id),
            )
        except Exception as exc:  # any broker error: the page must say it, never a 500
            error = f"{type(exc).__name__}: {exc}".strip()[:ERROR_MAX_CHARS]
            store.mark_failed([claimed.id], f"Could not publish: {error}", time.time())
            result.failed.append((row.name, claimed.id, error))
        else:
            store.mark_sent([claimed.id], time.time())
            result.sent.append((row.name, claimed.id))
    if result.sent or result.failed:
        wakeup.touch_on_commit(store.using)  # beat counts the new active run at once
    return result


# -- enable, disable, pause, resume -----------------------------------------------------------


def set_enabled(queryset: QuerySet[PeriodicTask], enabled: bool) -> tuple[int, int]:
    """(changed, already so). Enabling sets ``resume_at`` to now (no backlog)."""
    total = queryset.count()
    changed = queryset.filter(enabled=not enabled).update(enabled=enabled)
    return changed, total - changed


def set_resume_at(queryset: QuerySet[PeriodicTask], when: dt.datetime) -> int:
    """Let no event at or before ``when`` run: a pause until then, or (now) a fresh start."""
    return queryset.update(resume_at=when)


def mark_in_flight_lost(queryset: QuerySet[PeriodicTask]) -> int:
    """Mark the tasks' runs still in flight (claimed, sent, started, retry) lost now.

    What beat does on its own once ``run_timeout_seconds`` have passed: the rows stay
    in the ledger (history and dependencies keep them) and the slots are freed.
    """
    runs = TaskRun.objects.filter(periodic_task__in=queryset, state__in=ACTIVE_STATES)
    count = runs.update(
        state=RunState.LOST,
        finished_at=timezone.now(),
        error="Marked lost by hand in the admin (its worker was known to be gone).",
    )
    if count:
        wakeup.touch_on_commit(runs.db)
    return count


# -- duration chart ----------------------------------------------------------------------------

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


def format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.3g} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


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
                f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S %Z}",
                format_seconds(seconds),
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
        highest=format_seconds(highest),
        first=f"{timezone.localtime(first):%Y-%m-%d %H:%M}",
        last=f"{timezone.localtime(last):%Y-%m-%d %H:%M}",
        line=line,
        dots=dots,
    )
