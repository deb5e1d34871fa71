"""The run ledger's pages: a read-only list with durations and, per task, a chart; runs
that still wait to be sent can be cancelled.

The list keeps to the columns read at a glance (task, state, trigger and who asked,
scheduled instant, duration, worker, error) so that they fit a 1280 px screen with the
admin's navigation open; the claim, send, start and finish times and the Celery task id
are on the run's page. Every instant is shown with its seconds.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from djag import runs
from djag.admin.base import ReadOnlyAdmin
from djag.admin.cells import cut_text, moment_field, state_badge
from djag.admin.chart import duration_chart_svg, duration_points
from djag.models import (
    PeriodicTask,
    RunState,
    TaskRun,
)
from djag.store.volume import ledger_size
from djag.text import duration_text

#: A task id as the run list's filter carries it: a malformed value is no filter.
_ID = re.compile(r"[0-9]{1,18}")


@admin.register(TaskRun)
class TaskRunAdmin(ReadOnlyAdmin):
    """The ledger: never edited or deleted by hand. Beat reads it (a run's slot, the
    dependency marks, ``max_runs``); ``djag_prune`` deletes only what beat no longer reads."""

    list_display = (
        "task_column",
        "state_column",
        "trigger_column",
        "scheduled_for_text",
        "duration_column",
        "worker_column",
        "short_error",
    )
    list_filter = (
        "state",
        "trigger",
        ("periodic_task", admin.RelatedOnlyFieldListFilter),
        "claimed_at",
    )
    search_fields = ("task_name", "celery_task_id", "error", "requested_by", "note")
    date_hierarchy = "claimed_at"
    fields = (
        ("periodic_task", "task_name", "task"),
        ("trigger", "state_column", "coalesced_count"),
        ("requested_by", "not_before_text"),
        ("scheduled_for_text", "delay_seconds"),
        "note",
        ("claimed_at_text", "sent_at_text"),
        ("started_at_text", "finished_at_text", "duration_column"),
        ("celery_task_id", "worker"),
        "error_block",
        ("args", "kwargs", "options"),
    )
    actions = ("cancel_waiting",)

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("djag.change_taskrun")

    @admin.action(description="Cancel (runs still waiting to be sent)", permissions=["cancel"])
    def cancel_waiting(self, request: HttpRequest, queryset: models.QuerySet[TaskRun]) -> None:
        chosen = list(queryset.values_list("pk", flat=True))
        waiting = [
            pk for pk, state in queryset.values_list("pk", "state") if state == RunState.WAITING
        ]
        cancelled = runs.cancel_waiting(waiting, by=request.user)
        left = len(chosen) - len(cancelled)
        if cancelled:
            self.message_user(
                request,
                f"Cancelled {_runs(len(cancelled))} ({', '.join(map(str, cancelled))}): "
                "recorded, never sent.",
                messages.SUCCESS,
            )
        if left:
            self.message_user(
                request,
                f"{_runs(left).capitalize()} not cancelled: only a run still waiting to be "
                "sent can be; the others were sent already or are finished.",
                messages.WARNING,
            )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    class Media:
        css = {"all": ("djag/admin.css",)}

    scheduled_for_text = moment_field("scheduled_for", "scheduled for")
    not_before_text = moment_field("not_before", "not before")
    claimed_at_text = moment_field("claimed_at", "claimed")
    sent_at_text = moment_field("sent_at", "sent")
    started_at_text = moment_field("started_at", "started")
    finished_at_text = moment_field("finished_at", "finished")

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[TaskRun]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                run_duration=models.ExpressionWrapper(
                    models.F("finished_at") - models.F("started_at"),
                    output_field=models.DurationField(),
                )
            )
        )

    @admin.display(description="task", ordering="task_name")
    def task_column(self, obj: TaskRun) -> str:
        return cut_text(obj.task_name, 40)

    @admin.display(description="state", ordering="state")
    def state_column(self, obj: TaskRun) -> str:
        return state_badge(obj.state)

    @admin.display(description="trigger", ordering="trigger")
    def trigger_column(self, obj: TaskRun) -> str:
        """The trigger, with how many events the row stands for when more than one, and who
        asked for a run outside the schedule."""
        trigger = obj.get_trigger_display()
        if obj.coalesced_count > 1:
            trigger = f"{trigger} \u00d7{obj.coalesced_count}"
        if not obj.requested_by:
            return trigger
        # On a line of its own: the column stays as narrow as the trigger.
        return format_html("{}<br><small>by {}</small>", trigger, cut_text(obj.requested_by, 12))

    @admin.display(description="worker", ordering="worker")
    def worker_column(self, obj: TaskRun) -> str:
        return cut_text(obj.worker, 24) or "-"

    @admin.display(description="duration", ordering="run_duration")
    def duration_column(self, obj: TaskRun) -> str:
        return "-" if obj.duration is None else duration_text(obj.duration.total_seconds())

    @admin.display(description="error")
    def short_error(self, obj: TaskRun) -> str:
        """The error of a failed run, or the note of a row without one (why it was skipped)."""
        return cut_text(obj.error or obj.note, 50)

    @admin.display(description="error")
    def error_block(self, obj: TaskRun) -> str:
        if not obj.error:
            return "-"
        return format_html(
            '<pre class="djag-error" style="white-space: pre-wrap; margin: 0">{}</pre>', obj.error
        )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The size of the whole ledger and, on the runs of one task
        (``?periodic_task__id__exact=N``), a chart of durations."""
        extra_context = dict(extra_context or {})
        extra_context["ledger_size"] = ledger_size().text()
        task_id = request.GET.get("periodic_task__id__exact", "")
        # ASCII digits only ("²".isdigit() is true, int("²") fails), and few enough for a key.
        if _ID.fullmatch(task_id):
            task = PeriodicTask.objects.filter(pk=int(task_id)).first()
            if task is not None:
                extra_context["duration_chart_task"] = task
                extra_context["duration_chart"] = duration_chart_svg(duration_points(task.pk))
        return super().changelist_view(request, extra_context)


def _runs(count: int) -> str:
    return f"{count} run{'s' if count != 1 else ''}"
