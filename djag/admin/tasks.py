"""The periodic task pages: the form with its one-line cron, the list, the change page."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from djag.admin.base import AttributedChangesMixin, LenientChangeList
from djag.admin.cells import alert_badges, cut_text, moment_field
from djag.admin.fragments import (
    RECENT_RUNS,
    change_history_html,
    next_fires,
    recent_runs_html,
    task_fire_times_html,
)
from djag.admin.task_action_pages import TaskActionsMixin
from djag.admin.task_form import (
    JSON_EDITING,
    PeriodicTaskForm,
    crontab_from_line,
    registered_task_names,
)
from djag.inspect import waiting as status
from djag.models import (
    PeriodicTask,
    TaskDependency,
)
from djag.store.compile import Problem
from djag.store.volume import task_run_count
from djag.text import local_text, zoned_text

#: The dependency column names at most this many dependees, then "and N more".
DEPENDEES_SHOWN = 5
#: The "by source" filter's value for the tasks made in the admin (no source file or
#: module is named "-").
EDITED_HERE = "-"


class DependencyInline(admin.TabularInline):
    model = TaskDependency
    fk_name = "depender"
    extra = 0
    autocomplete_fields = ("dependee",)
    fields = ("dependee", "future_depends", "require_success")
    verbose_name = "dependency (this task runs after)"
    verbose_name_plural = "dependencies (this task runs after)"


class TaskChangeList(LenientChangeList):
    """Reads, for the tasks of the page only, their dependencies and which of them wait."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        tasks = list(self.result_list)
        ids = [task.pk for task in tasks]
        found = status.waiting(ids, timezone.now())
        edges: dict[int, list[tuple[str, bool, bool]]] = {}
        for depender, name, future, require_success in (
            TaskDependency.objects.filter(depender__in=ids)
            .order_by("dependee__name")
            .values_list("depender_id", "dependee__name", "future_depends", "require_success")
        ):
            edges.setdefault(depender, []).append((name, future, require_success))
        for task in tasks:
            task.waiting_status = found.get(task.pk)
            task.dependee_edges = edges.get(task.pk, [])


class SourceFilter(admin.SimpleListFilter):
    """The schedule files and modules tasks are declared in (djag_sync), and the admin."""

    title = "source"
    parameter_name = "source"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        sources = (
            PeriodicTask.objects.exclude(source="")
            .values_list("source", flat=True)
            .distinct()
            .order_by("source")
        )
        return [(EDITED_HERE, "edited here"), *((source, source) for source in sources)]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(source="" if value == EDITED_HERE else value)


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(AttributedChangesMixin, TaskActionsMixin):
    form = PeriodicTaskForm
    formfield_overrides = JSON_EDITING
    list_display = (
        "name",
        "task",
        "schedule_text",
        "enabled",
        "misfire_policy",
        "dependencies_column",
        "waiting_column",
        "alerts_column",
        "source_column",
        "problem_flag",
    )
    list_filter = ("enabled", "misfire_policy", "task", SourceFilter)
    search_fields = ("name", "task", "description")
    autocomplete_fields = ("crontab",)
    list_select_related = ("crontab",)
    inlines = (DependencyInline,)
    actions = (
        "run_now",
        "enable_tasks",
        "disable_tasks",
        "pause_until",
        "resume_from_now",
        "clear_lost_runs",
    )
    readonly_fields = (
        "ledger_rows",
        "recent_runs",
        "change_history",
        "schedule_text",
        "next_fires",
        "waiting_for",
        "alerts_text",
        "resume_at_text",
        "last_event_at_text",
        "problem",
        "problem_at_text",
        "source",
        "created_at_text",
    )
    fieldsets = (
        (None, {"fields": ("name", "task", "enabled", "waiting_for", "description")}),
        (
            "When",
            {
                "fields": (
                    "cron",
                    "cron_timezone",
                    "crontab",
                    ("interval_seconds", "interval_anchor", "interval_timezone"),
                    "schedule_text",
                    "next_fires",
                    "start_at",
                    "end_at",
                )
            },
        ),
        (
            "Exclusions and jitter",
            {
                "fields": (
                    "exclude_dates",
                    ("exclude_weekdays", "holiday_calendar"),
                    "jitter_seconds",
                )
            },
        ),
        ("Arguments", {"fields": ("args", "kwargs")}),
        (
            "Alerts",
            {
                "fields": (
                    "alert_succeed_within_seconds",
                    ("alert_failures_in_a_row", "pause_after_failures"),
                    "alerts_text",
                )
            },
        ),
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
        ("History", {"fields": ("keep_history", "ledger_rows")}),
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
                    "resume_at_text",
                    "last_event_at_text",
                    "problem",
                    "problem_at_text",
                    "source",
                    "created_at_text",
                ),
            },
        ),
    )

    resume_at_text = moment_field("resume_at", "resume at")
    last_event_at_text = moment_field("last_event_at", "last event at")
    problem_at_text = moment_field("problem_at", "problem at")
    created_at_text = moment_field("created_at", "created at")

    @admin.display(description="schedule")
    def schedule_text(self, obj: PeriodicTask) -> str:
        return obj.describe_schedule()

    @admin.display(description="next fire times")
    def next_fires(self, obj: PeriodicTask) -> str:
        """As beat computes them: exclusions left out, each with its jitter."""
        return task_fire_times_html(obj.pk) if obj.pk else "-"

    def get_urls(self) -> list[Any]:
        from django.urls import path

        from djag.admin.dag import views_for

        dag_view, dag_state_view = views_for(self)
        dag = path("dag/", self.admin_site.admin_view(dag_view), name="djag_periodictask_dag")
        dag_state = path(
            "dag/state/",
            self.admin_site.admin_view(dag_state_view),
            name="djag_periodictask_dag_state",
        )
        preview = path(
            "cron-preview/",
            self.admin_site.admin_view(self.cron_preview_view),
            name="djag_periodictask_cron_preview",
        )
        return [dag, dag_state, preview, *super().get_urls()]

    # -- the form: a cron line with its live preview, task name suggestions ------------------

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form: Any = super().get_form(request, obj, change=change, **kwargs)
        form.preview_url = reverse(f"{self.admin_site.name}:djag_periodictask_cron_preview")
        form.may_add_crontab = request.user.has_perm("djag.add_crontab")
        return form

    def cron_preview_view(self, request: HttpRequest) -> JsonResponse:
        """``cron-preview/?line=...&timezone=...``: the readable text of a cron line and its
        next five fire times in the zone, or the error that the form would show."""
        # The crontab form previews its line here too.
        if not (self.has_view_permission(request) or request.user.has_perm("djag.view_crontab")):
            return JsonResponse({"text": "", "next": [], "error": "Permission denied."}, status=403)
        line = request.GET.get("line", "").strip()
        zone = request.GET.get("timezone", "").strip() or "UTC"
        if not line:
            return JsonResponse({"text": "", "next": [], "error": None})
        try:
            crontab = crontab_from_line(line, zone)
        except ValidationError as exc:
            return JsonResponse({"text": "", "next": [], "error": " ".join(exc.messages)})
        fires = next_fires(crontab, 5)
        if isinstance(fires, Problem):  # a line the parser takes but the schedule cannot run
            return JsonResponse({"text": "", "next": [], "error": fires.detail})
        return JsonResponse(
            {
                "text": crontab.describe(),
                "next": [zoned_text(when) for when in fires],
                "error": None if fires else "This line never fires.",
            }
        )

    def save_model(self, request: HttpRequest, obj: PeriodicTask, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if obj.task not in registered_task_names():
            self.message_user(
                request,
                f"The Celery task {obj.task!r} is not registered in this process; "
                "check the worker has it.",
                messages.WARNING,
            )

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return TaskChangeList

    class Media:
        css = {"all": ("djag/admin.css",)}

    @admin.display(description="dependencies")
    def dependencies_column(self, obj: PeriodicTask) -> str:
        """The task's dependees; a future edge and one that takes any result are marked."""
        edges = getattr(obj, "dependee_edges", [])
        if not edges:
            return "-"
        shown = format_html_join(
            ", ",
            "{}{}",
            (
                (
                    name,
                    format_html(
                        ' <em class="djag-edge-kind">({})</em>',
                        ", ".join(
                            kind
                            for kind, marked in (("future", future), ("any result", not success))
                            if marked
                        ),
                    )
                    if future or not success
                    else "",
                )
                for name, future, success in edges[:DEPENDEES_SHOWN]
            ),
        )
        more = len(edges) - DEPENDEES_SHOWN
        return format_html("after {}{}", shown, f" and {more} more" if more > 0 else "")

    @admin.display(description="waiting")
    def waiting_column(self, obj: PeriodicTask) -> str:
        """Which dependees hold the task's due event back, since when; the why on hover."""
        found = getattr(obj, "waiting_status", None)
        if found is None:
            return "-"
        names = ", ".join(blocker.dependee for blocker in found.blockers)
        return format_html(
            '<span class="djag-waiting" title="{}">for {} since {}</span>',
            str(found),
            cut_text(names, 60),
            local_text(found.since),
        )

    @admin.display(description="waiting")
    def waiting_for(self, obj: PeriodicTask) -> str:
        if obj.pk is None:
            return "-"
        if hasattr(obj, "waiting_status"):
            found = obj.waiting_status
        else:
            found = status.waiting([obj.pk], timezone.now()).get(obj.pk)
        return str(found) if found is not None else "-"

    @admin.display(description="alerts", ordering="alerts_tripped")
    def alerts_column(self, obj: PeriodicTask) -> str:
        """A badge per tripped alert, its reason on hover."""
        return alert_badges(obj.tripped_alerts(), obj.alert_note, obj.alert_since) or "-"

    @admin.display(description="tripped now")
    def alerts_text(self, obj: PeriodicTask) -> str:
        """What beat recorded: each tripped alert with its reason, and a pause after failures."""
        if not obj.alert_note:
            return "-"
        since = f" (since {local_text(obj.alert_since)})" if obj.alert_since else ""
        return f"{obj.alert_note}{since}"

    @admin.display(description="source", ordering="source")
    def source_column(self, obj: PeriodicTask) -> str:
        """ "code" for a task declared in a schedule file or module (djag_sync), whose edits
        here the next sync overwrites; the empty-value dash for a task made here (said
        explicitly: Django 4.2 shows an empty string as it is, 5.x as the dash)."""
        if not obj.source:
            return self.get_empty_value_display()
        return format_html(
            '<span class="djag-badge djag-source-code" title="declared in {}; edits made here are'
            ' overwritten by the next djag_sync">code</span>',
            obj.source,
        )

    @admin.display(description="problem", boolean=False)
    def problem_flag(self, obj: PeriodicTask) -> str:
        return obj.problem[:80]

    # -- the change page: recent runs and history ---------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is None or obj.pk is None:
            return fieldsets
        if request.user.has_perm("djag.view_taskrun"):
            fieldsets.append(("Recent runs", {"fields": ("recent_runs",)}))
        if request.user.has_perm("djag.view_schedulechange"):
            fieldsets.append(("Change history", {"fields": ("change_history",)}))
        return fieldsets

    @admin.display(description=f"last {RECENT_RUNS} runs")
    def recent_runs(self, obj: PeriodicTask) -> str:
        return recent_runs_html(obj) if obj.pk else "-"

    @admin.display(description="runs in the ledger")
    def ledger_rows(self, obj: PeriodicTask) -> str:
        """How many ledger rows the task has: what its keep_history bounds."""
        if not obj.pk:
            return "-"
        count = task_run_count(obj.pk)
        return f"{count:,} run{'' if count == 1 else 's'}"

    @admin.display(description="changes, newest first")
    def change_history(self, obj: PeriodicTask) -> str:
        return change_history_html(obj) if obj.pk else "-"
