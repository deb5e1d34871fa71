"""The Django admin for djag's models.

Every write made through these pages is attributed to the logged-in user in
ScheduleChange. Scheduler-owned fields are read-only; validation errors from
the models land on the field they concern.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db import models, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from djag import status
from djag.forms import JSON_EDITING
from djag.models import (
    Crontab,
    PeriodicTask,
    ScheduleChange,
    SchedulerLease,
    TaskDependency,
    TaskRun,
    UserAction,
    UserActionAudit,
    acting_as,
)


class AttributedChangesMixin:
    """Run each writing view inside ``acting_as(request.user)``."""

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with acting_as(request.user):
            return super().changeform_view(request, *args, **kwargs)  # type: ignore[misc]

    def changelist_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with acting_as(request.user):
            return super().changelist_view(request, *args, **kwargs)  # type: ignore[misc]

    def delete_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with acting_as(request.user):
            return super().delete_view(request, *args, **kwargs)  # type: ignore[misc]


def fire_times_html(crontab: Crontab, count: int = 5) -> str:
    """The next fire times in the crontab's zone, or the reason there are none."""
    try:
        fires = crontab.next_fires(count)
    except Exception as exc:  # a broken row must still render its page
        return format_html('<span class="errornote">{}</span>', exc)
    if not fires:
        return "never"
    return format_html(
        "<ol>{}</ol>",
        format_html_join("", "<li>{}</li>", ((f"{when:%Y-%m-%d %H:%M:%S %Z}",) for when in fires)),
    )


@admin.register(Crontab)
class CrontabAdmin(AttributedChangesMixin, admin.ModelAdmin):
    list_display = ("line", "zone_name", "readable", "next_fire", "task_count")
    list_filter = ("timezone",)
    search_fields = ("second", "minute", "hour", "day_of_month", "month_of_year", "day_of_week")
    readonly_fields = ("readable", "next_fires")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    ("second", "minute", "hour"),
                    ("day_of_month", "month_of_year", "day_of_week"),
                    "timezone",
                )
            },
        ),
        ("Preview", {"fields": ("readable", "next_fires")}),
    )

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Crontab]:
        return super().get_queryset(request).annotate(task_total=models.Count("periodic_tasks"))

    @admin.display(description="cron (s m h dom mon dow)")
    def line(self, obj: Crontab) -> str:
        return obj.line()

    @admin.display(description="zone")
    def zone_name(self, obj: Crontab) -> str:
        return obj.zone_name

    @admin.display(description="reads as")
    def readable(self, obj: Crontab) -> str:
        return obj.describe() if obj.pk else "-"

    @admin.display(description="next fire times")
    def next_fires(self, obj: Crontab) -> str:
        return fire_times_html(obj) if obj.pk else "-"

    @admin.display(description="next fire")
    def next_fire(self, obj: Crontab) -> str:
        try:
            fires = obj.next_fires(1)
        except Exception as exc:
            return f"error: {exc}"
        return f"{fires[0]:%Y-%m-%d %H:%M:%S %Z}" if fires else "never"

    @admin.display(description="tasks", ordering="task_total")
    def task_count(self, obj: Crontab) -> int:
        return getattr(obj, "task_total", 0)


class DependencyInline(admin.TabularInline):
    model = TaskDependency
    fk_name = "depender"
    extra = 0
    autocomplete_fields = ("dependee",)
    fields = ("dependee", "future_depends", "require_success")
    verbose_name = "dependency (this task runs after)"
    verbose_name_plural = "dependencies (this task runs after)"


class WaitingChangeList(ChangeList):
    """Works out, for the tasks of the page only, which are waiting on a dependency."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        tasks = list(self.result_list)
        found = status.waiting([task.pk for task in tasks], timezone.now())
        for task in tasks:
            task.waiting_status = found.get(task.pk)


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(AttributedChangesMixin, admin.ModelAdmin):
    formfield_overrides = JSON_EDITING
    list_display = (
        "name",
        "task",
        "schedule_text",
        "enabled",
        "misfire_policy",
        "waiting_for",
        "problem_flag",
    )
    list_filter = ("enabled", "misfire_policy", "task")
    search_fields = ("name", "task", "description")
    autocomplete_fields = ("crontab",)
    list_select_related = ("crontab",)
    inlines = (DependencyInline,)
    readonly_fields = (
        "schedule_text",
        "next_fires",
        "waiting_for",
        "resume_at",
        "last_event_at",
        "problem",
        "problem_at",
        "source",
        "created_at",
    )
    fieldsets = (
        (None, {"fields": ("name", "task", "enabled", "waiting_for", "description")}),
        ("When", {"fields": ("crontab", "schedule_text", "next_fires", "start_at", "end_at")}),
        ("Arguments", {"fields": ("args", "kwargs")}),
        (
            "Misfires and concurrency",
            {
                "fields": (
                    "misfire_policy",
                    "grace_seconds",
                    "max_catchup",
                    "max_running",
                    "max_runs",
                    "run_timeout_seconds",
                )
            },
        ),
        (
            "Routing",
            {
                "classes": ("collapse",),
                "fields": (
                    "queue",
                    "exchange",
                    "routing_key",
                    "priority",
                    "headers",
                    "expires_seconds",
                ),
            },
        ),
        (
            "Scheduler state",
            {
                "classes": ("collapse",),
                "fields": (
                    "resume_at",
                    "last_event_at",
                    "problem",
                    "problem_at",
                    "source",
                    "created_at",
                ),
            },
        ),
    )

    @admin.display(description="schedule")
    def schedule_text(self, obj: PeriodicTask) -> str:
        return obj.crontab.describe() if obj.crontab_id else "-"

    @admin.display(description="next fire times")
    def next_fires(self, obj: PeriodicTask) -> str:
        return fire_times_html(obj.crontab) if obj.crontab_id else "-"

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return WaitingChangeList

    @admin.display(description="dependencies")
    def waiting_for(self, obj: PeriodicTask) -> str:
        if obj.pk is None:
            return "-"
        if hasattr(obj, "waiting_status"):
            found = obj.waiting_status
        else:
            found = status.waiting([obj.pk], timezone.now()).get(obj.pk)
        return str(found) if found is not None else "-"

    @admin.display(description="problem", boolean=False)
    def problem_flag(self, obj: PeriodicTask) -> str:
        return obj.problem[:80]


@admin.register(TaskDependency)
class TaskDependencyAdmin(AttributedChangesMixin, admin.ModelAdmin):
    list_display = ("depender", "dependee", "future_depends", "require_success", "created_at")
    list_filter = ("future_depends", "require_success")
    search_fields = ("depender__name", "dependee__name")
    autocomplete_fields = ("depender", "dependee")
    list_select_related = ("depender", "dependee")

    # Deleting an ordinary edge consumer -> producer also deletes the future edge
    # producer -> consumer that only made sense with it; the confirmation page lists it.
    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        edges = list(objs)
        return super().get_deleted_objects(edges + list(companion_future_edges(edges)), request)

    def delete_model(self, request: HttpRequest, obj: TaskDependency) -> None:
        with transaction.atomic():
            companion_future_edges([obj]).delete()
            super().delete_model(request, obj)

    def delete_queryset(
        self, request: HttpRequest, queryset: models.QuerySet[TaskDependency]
    ) -> None:
        with transaction.atomic():
            companion_future_edges(list(queryset)).delete()
            super().delete_queryset(request, queryset)


def companion_future_edges(edges: list[TaskDependency]) -> models.QuerySet[TaskDependency]:
    """The future edges that reverse the given ordinary edges (a producer/consumer pair)."""
    reverse = models.Q(pk__in=[])
    for edge in edges:
        if not edge.future_depends:
            reverse |= models.Q(depender_id=edge.dependee_id, dependee_id=edge.depender_id)
    return TaskDependency.objects.filter(reverse, future_depends=True).exclude(
        pk__in=[edge.pk for edge in edges]
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    """A ledger or log: shown, never edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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
        "duration",
        "worker",
        "short_error",
    )
    list_filter = ("state", "trigger", "claimed_at")
    search_fields = ("task_name", "celery_task_id", "error")
    date_hierarchy = "claimed_at"

    @admin.display(description="error")
    def short_error(self, obj: TaskRun) -> str:
        return obj.error[:100]


@admin.register(ScheduleChange)
class ScheduleChangeAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor", "model", "object_repr", "action", "changed_fields")
    list_filter = ("model", "action", "at")
    search_fields = ("object_repr", "actor")
    date_hierarchy = "at"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="fields")
    def changed_fields(self, obj: ScheduleChange) -> str:
        return ", ".join(sorted(obj.changes))


@admin.register(SchedulerLease)
class SchedulerLeaseAdmin(ReadOnlyAdmin):
    list_display = ("name", "holder", "generation", "acquired_at", "renewed_at", "expires_at")


@admin.register(UserAction)
class UserActionAdmin(AttributedChangesMixin, admin.ModelAdmin):
    formfield_overrides = JSON_EDITING
    list_display = ("action", "created_at", "created_by")
    list_filter = ("action",)
    search_fields = ("action",)

    def save_model(self, request: HttpRequest, obj: UserAction, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user.get_username()
        super().save_model(request, obj, form, change)


@admin.register(UserActionAudit)
class UserActionAuditAdmin(ReadOnlyAdmin):
    list_display = ("action", "created_at", "created_by", "deleted_at", "deleted_by")
    list_filter = ("action",)
    search_fields = ("action", "created_by", "deleted_by")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
