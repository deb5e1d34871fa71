"""The run ledger's pages: a read-only list with durations and, per task, a chart.

The list keeps to the columns read at a glance (task, state, trigger, scheduled instant,
duration, worker, error) so that they fit a 1280 px screen with the admin's navigation
open; the claim, send, start and finish times and the Celery task id are on the run's
page. Every instant is shown with its seconds.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from djag.admin.base import ReadOnlyAdmin
from djag.admin.cells import cut_text, moment_field, state_badge
from djag.admin.chart import duration_chart_svg, duration_points
from djag.models import (
    PeriodicTask,
    TaskRun,
)
from djag.text import duration_text


@admin.register(TaskRun)
class TaskRunAdmin(ReadOnlyAdmin):
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
    search_fields = ("task_name", "celery_task_id", "error")
    date_hierarchy = "claimed_at"
    fields = (
        ("periodic_task", "task_name", "task"),
        ("trigger", "state_column", "coalesced_count"),
        "scheduled_for_text",
        ("claimed_at_text", "sent_at_text"),
        ("started_at_text", "finished_at_text", "duration_column"),
        ("celery_task_id", "worker"),
        "error_block",
    )

    class Media:
        css = {"all": ("djag/admin.css",)}

    scheduled_for_text = moment_field("scheduled_for", "scheduled for")
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
        """The trigger, with how many events the row stands for when more than one."""
        trigger = obj.get_trigger_display()
        return f"{trigger} \u00d7{obj.coalesced_count}" if obj.coalesced_count > 1 else trigger

    @admin.display(description="worker", ordering="worker")
    def worker_column(self, obj: TaskRun) -> str:
        return cut_text(obj.worker, 24) or "-"

    @admin.display(description="duration", ordering="run_duration")
    def duration_column(self, obj: TaskRun) -> str:
        return "-" if obj.duration is None else duration_text(obj.duration.total_seconds())

    @admin.display(description="error")
    def short_error(self, obj: TaskRun) -> str:
        return cut_text(obj.error, 60)

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
        """On the runs of one task (``?periodic_task__id__exact=N``), a chart of durations."""
        extra_context = dict(extra_context or {})
        task_id = request.GET.get("periodic_task__id__exact", "")
        if task_id.isdigit():
            task = PeriodicTask.objects.filter(pk=int(task_id)).first()
            if task is not None:
                extra_context["duration_chart_task"] = task
                extra_context["duration_chart"] = duration_chart_svg(duration_points(task.pk))
        return super().changelist_view(request, extra_context)
