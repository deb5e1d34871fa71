"""HTML fragments the admin pages show: fire times, recent runs, change history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.html import format_html, format_html_join

from djag.admin.base import admin_link
from djag.admin.cells import state_badge
from djag.core.plan import delay_of, next_event
from djag.inspect.snapshot import read_tasks
from djag.models import (
    Crontab,
    PeriodicTask,
    ScheduleChange,
    TaskRun,
)
from djag.store.compile import Problem, compile_crontab, crontab_row
from djag.store.db import from_epoch
from djag.text import duration_text, local_text, zoned_text

RECENT_RUNS = 20


RECENT_CHANGES = 50


def next_fires(
    crontab: Crontab, count: int, after: dt.datetime | None = None
) -> list[dt.datetime] | Problem:
    """The crontab's next ``count`` fire times on its zone's clock, or why it has none."""
    schedule = compile_crontab(crontab_row(crontab))
    if isinstance(schedule, Problem):
        return schedule
    moment: int | None = int((after or timezone.now()).timestamp())
    fires = []
    for _ in range(count):
        moment = schedule.next_after(moment) if moment is not None else None
        if moment is None:
            break
        fires.append(from_epoch(moment).astimezone(schedule.zone))
    return fires


def fire_times_html(crontab: Crontab, count: int = 5) -> str:
    """The next fire times in the crontab's zone, or the reason there are none."""
    fires = next_fires(crontab, count)
    if isinstance(fires, Problem):  # a broken row must still render its page
        return format_html('<span class="errornote">{}</span>', fires)
    if not fires:
        return "never"
    return format_html(
        "<ol>{}</ol>", format_html_join("", "<li>{}</li>", ((zoned_text(when),) for when in fires))
    )


def task_fire_times_html(task_id: int, count: int = 5) -> str:
    """The task's next fire times as beat schedules them (its exclusions left out, its jitter
    shown), in its schedule's zone, or why it has none."""
    view = read_tasks([task_id]).get(task_id)
    if view is None:
        return "-"
    if isinstance(view.spec, Problem) or isinstance(view.schedule, Problem):
        return format_html('<span class="errornote">{}</span>', view.spec)
    spec, zone = view.spec, view.schedule.zone
    moment: int | None = int(timezone.now().timestamp())
    items = []
    for _ in range(count):
        moment = next_event(spec, moment) if moment is not None else None
        if moment is None:
            break
        delay = delay_of(spec, moment)
        text = zoned_text(from_epoch(moment).astimezone(zone))
        items.append((f"{text} (released +{delay} s)" if delay else text,))
    if not items:
        return "never"
    return format_html("<ol>{}</ol>", format_html_join("", "<li>{}</li>", items))


def value_text(value: Any, limit: int = 60) -> str:
    text = "-" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def recent_runs_html(task: PeriodicTask, count: int = RECENT_RUNS) -> str:
    """The task's newest runs as a read-only table, with a link to all of them."""
    runs = list(TaskRun.objects.filter(periodic_task=task)[:count])
    all_runs = format_html(
        '<p><a href="{}">All runs of this task, with a chart of their durations</a></p>',
        admin_link(TaskRun, "changelist", query={"periodic_task__id__exact": task.pk}),
    )
    if not runs:
        return format_html("<p>No run yet.</p>{}", all_runs)
    rows = format_html_join(
        "",
        '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
        "<td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                admin_link(TaskRun, "change", run.pk),
                run.pk,
                state_badge(run.state),
                run.get_trigger_display(),
                local_text(run.scheduled_for) if run.scheduled_for else "manual",
                local_text(run.claimed_at),
                "-" if run.duration is None else duration_text(run.duration.total_seconds()),
                run.worker or "-",
                value_text(run.error, 120) if run.error else "",
            )
            for run in runs
        ),
    )
    return format_html(
        '<table class="djag-recent-runs"><thead><tr><th>run</th><th>state</th><th>trigger</th>'
        "<th>scheduled for</th><th>claimed at</th><th>duration</th><th>worker</th>"
        "<th>error</th></tr></thead><tbody>{}</tbody></table>{}",
        rows,
        all_runs,
    )


def change_history_html(task: PeriodicTask, count: int = RECENT_CHANGES) -> str:
    """The task's ScheduleChange rows, newest first: who, when, which fields (old -> new)."""
    changes = list(
        ScheduleChange.objects.filter(model=ScheduleChange.Kind.TASK, object_id=task.pk).order_by(
            "-at", "-id"
        )[:count]
    )
    all_changes = format_html(
        '<p><a href="{}">All changes of this task</a></p>',
        admin_link(
            ScheduleChange,
            "changelist",
            query={"model": ScheduleChange.Kind.TASK, "object_id": task.pk},
        ),
    )
    if not changes:
        return format_html("<p>No change recorded.</p>{}", all_changes)
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                local_text(change.at),
                change.actor or "-",
                change.get_action_display(),
                format_html_join(
                    "",
                    "<div><code>{}</code>: {} &rarr; {}</div>",
                    (
                        (name, value_text(old), value_text(new))
                        for name, (old, new) in sorted(_pairs(change.changes))
                    ),
                )
                if change.action == ScheduleChange.Action.UPDATE
                else ", ".join(sorted(change.changes)),
            )
            for change in changes
        ),
    )
    return format_html(
        '<table class="djag-change-history"><thead><tr><th>when</th><th>who</th>'
        "<th>what</th><th>fields</th></tr></thead><tbody>{}</tbody></table>{}",
        rows,
        all_changes,
    )


def _pairs(changes: Any) -> list[tuple[str, tuple[Any, Any]]]:
    """The ``field: [old, new]`` items of a change, tolerating a malformed row."""
    if not isinstance(changes, dict):
        return []
    pairs = []
    for name, value in changes.items():
        if isinstance(value, list | tuple) and len(value) == 2:
            pairs.append((str(name), (value[0], value[1])))
        else:
            pairs.append((str(name), (None, value)))
    return pairs
