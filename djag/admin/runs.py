"""The run ledger's pages: a read-only list with durations and, per task, a chart."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from djag.admin.base import ReadOnlyAdmin
from djag.admin.chart import duration_chart_svg, duration_points
from djag.models import (
    PeriodicTask,
    TaskRun,
)
from djag.text import duration_text


@admin.register(TaskRun)
class TaskRunAdmin(ReadOnlyAdmin):
    list_display = (
        "task_name",
        "scheduled_for",
        "trigger",
        "state",
        "coalesced_count",
        "claimed_at",
        "started_at",
        "finished_at",
        "duration_column",
        "worker",
        "short_error",
    )
    list_filter = (
        "state",
        "trigger",
        ("periodic_task", admin.RelatedOnlyFieldListFilter),
        "claimed_at",
    )
    search_fields = ("task_name", "celery_task_id", "error", "note")
    date_hierarchy = "claimed_at"
    fields = (
        ("periodic_task", "task_name", "task"),
        ("trigger", "state", "coalesced_count"),
        ("scheduled_for", "delay_seconds"),
        "note",
        ("claimed_at", "sent_at"),
        ("started_at", "finished_at", "duration_column"),
        ("celery_task_id", "worker"),
        "error_block",
    )

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

    @admin.display(description="duration", ordering="run_duration")
    def duration_column(self, obj: TaskRun) -> str:
        return "-" if obj.duration is None else duration_text(obj.duration.total_seconds())

    @admin.display(description="error or note")
    def short_error(self, obj: TaskRun) -> str:
        """The error of a failed run, or the note of a row without one (why it was skipped)."""
        return (obj.error or obj.note)[:100]

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
