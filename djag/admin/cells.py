"""The small cells of the admin's lists and pages: run states and tripped alerts as
coloured badges, instants with seconds, long text cut to fit a column.

One palette serves the run list, the task page and the DAG. A badge keeps its text
(the colour only repeats what the word says), and each colour carries white text at a
contrast of at least 4.5:1 (WCAG AA).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from djag.core.vocab import ACTIVE_STATES, RunState
from djag.text import local_text

#: The colour of each kind of run state (the DAG colours its nodes with these too).
CATEGORY_COLOURS = {
    "success": "#2e7d32",
    "failure": "#c62828",
    "lost": "#b34700",
    "running": "#1565c0",
    "skipped": "#616161",
    "waiting": "#6a1b9a",
    "none": "#757575",
}
CATEGORY_LABELS = {
    "success": "last run succeeded",
    "failure": "last run failed or was revoked",
    "lost": "last run lost",
    "running": "running (claimed, sent, started or retrying)",
    "skipped": "skipped or cancelled",
    "waiting": "waiting to be sent (a one-off, manual or backfilled run)",
    "none": "no run yet",
}


def run_category(state: str | None) -> str:
    """The colour key of a run state; ``None`` (no run) is ``"none"``."""
    if state is None:
        return "none"
    if state in ACTIVE_STATES:
        return "running"
    if state == RunState.SUCCESS:
        return "success"
    if state == RunState.LOST:
        return "lost"
    if state in (RunState.SKIPPED, RunState.CANCELLED):
        return "skipped"
    if state == RunState.WAITING:
        return "waiting"
    return "failure"  # failure, revoked


def state_badge(state: str) -> SafeString:
    """``<span class="djag-badge djag-state-success" ...>success</span>``."""
    return format_html(
        '<span class="djag-badge djag-state-{}" style="display: inline-block; padding: 1px 7px;'
        " border-radius: 9px; color: #fff; background: {}; font-size: .85em; font-weight: 600;"
        ' white-space: nowrap;">{}</span>',
        state,
        CATEGORY_COLOURS[run_category(state)],
        state,
    )


def alert_badges(tripped: list[str], note: str, since: dt.datetime | None) -> SafeString | str:
    """A badge per tripped alert ("overdue", "failing"); the reasons and since when on hover."""
    if not tripped:
        return ""
    title = f"{note}\n(since {local_text(since)})" if since else note
    return format_html_join(
        " ",
        '<span class="djag-badge djag-alert" title="{}" style="display: inline-block;'
        " padding: 1px 7px; border-radius: 9px; color: #fff; background: {};"
        ' font-size: .85em; font-weight: 600; white-space: nowrap;">{}</span>',
        ((title, CATEGORY_COLOURS["failure"], kind) for kind in tripped),
    )


def moment_field(name: str, description: str) -> Callable[[Any, Any], str]:
    """A list column or read-only field: the datetime ``name`` on the site's clock, with
    seconds (``djag.text.local_text``), sortable by the field. Assign it in a ModelAdmin."""

    @admin.display(description=description, ordering=name)
    def moment(model_admin: Any, obj: Any) -> str:
        return moment_html(getattr(obj, name))

    moment.__name__ = f"{name}_text"
    return moment


def moment_html(when: dt.datetime | None) -> str:
    """``local_text`` with the date and the time each kept whole: a narrow column may put
    the time under the date, never break inside either."""
    text = local_text(when)
    if when is None:
        return text
    day, time = text.split(" ", 1)
    return format_html(
        '<span class="djag-day">{}</span> <span class="djag-time">{}</span>', day, time
    )


def cut_text(text: str, limit: int) -> SafeString | str:
    """The first line of ``text`` cut to ``limit`` characters; when cut, the whole text
    (up to 1,000 characters) is the cell's tooltip."""
    text = text.strip()
    if not text:
        return ""
    first = " ".join(text.split("\n", 1)[0].split())
    if len(first) <= limit and "\n" not in text:
        return first
    shown = first if len(first) <= limit else first[: max(limit - 1, 1)].rstrip()
    return format_html('<span title="{}">{}\u2026</span>', text[:1000], shown)
