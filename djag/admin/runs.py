"""The run ledger's pages: a read-only list with durations and, per task, a chart; runs
that still wait to be sent can be cancelled."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from djag import runs
from djag.admin.base import ReadOnlyAdmin
from djag.admin.chart import duration_chart_svg, duration_points
from djag.models import (
    PeriodicTask,
    RunState,
    TaskRun,
)
from djag.text import duration_text

#: A task id as the run list's filter carries it: a malformed value is no filter.
_ID = re.compile(r"[0-9]{1,18}")


@admin.register(TaskRun)
class TaskRunAdmin(ReadOnlyAdmin):
    """The ledger: never edited or deleted by hand. Beat reads it (a run's slot, the
    dependency marks, ``max_runs``); ``djag_prune`` deletes only what beat no longer reads."""

    list_display = (
        "task_name",
        "scheduled_for",
        "trigger",
        "requested_by",
        "state",
        "not_before",
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
    search_fields = ("task_name", "celery_task_id", "error", "requested_by", "note")
    date_hierarchy = "claimed_at"
    fields = (
        ("periodic_task", "task_name", "task"),
        ("trigger", "state", "coalesced_count"),
        ("requested_by", "not_before"),
        ("scheduled_for", "delay_seconds"),
        "note",
        ("claimed_at", "sent_at"),
        ("started_at", "finished_at", "duration_column"),
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
        # ASCII digits only ("²".isdigit() is true, int("²") fails), and few enough for a key.
        if _ID.fullmatch(task_id):
            task = PeriodicTask.objects.filter(pk=int(task_id)).first()
            if task is not None:
                extra_context["duration_chart_task"] = task
                extra_context["duration_chart"] = duration_chart_svg(duration_points(task.pk))
        return super().changelist_view(request, extra_context)


def _runs(count: int) -> str:
    return f"{count} run{'s' if count != 1 else ''}"
