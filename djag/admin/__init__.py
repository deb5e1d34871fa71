"""The Django admin for djag's models.

Every write made through these pages is attributed to the logged-in user in
ScheduleChange. Scheduler-owned fields are read-only; validation errors from
the models land on the field they concern.
"""

from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from djag import user_actions
from djag.admin import task_actions as actions
from djag.admin.task_form import (
    JSON_EDITING,
    PeriodicTaskForm,
    crontab_from_line,
    registered_task_names,
)
from djag.inspect import waiting as status
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


RECENT_RUNS = 20
RECENT_CHANGES = 50


def admin_link(model: type[models.Model], view: str, *args: Any, query: dict | None = None) -> str:
    url = reverse(f"admin:djag_{model._meta.model_name}_{view}", args=args)
    return f"{url}?{urlencode(query)}" if query else url


def when_text(moment: Any) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S}" if moment else "-"


def duration_text(duration: Any) -> str:
    return "-" if duration is None else actions.format_seconds(duration.total_seconds())


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
                run.state,
                run.get_trigger_display(),
                when_text(run.scheduled_for) if run.scheduled_for else "manual",
                when_text(run.claimed_at),
                duration_text(run.duration),
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
                when_text(change.at),
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


class PauseForm(forms.Form):
    until = forms.DateTimeField(
        label="Pause until",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="No event at or before this moment runs; later events run as usual.",
    )

    def clean_until(self) -> Any:
        until = self.cleaned_data["until"]
        if until <= timezone.now():
            raise ValidationError("Choose a moment in the future.")
        return until


class ConfirmForm(forms.Form):
    """An intermediate page with nothing to fill in: the button confirms."""


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(AttributedChangesMixin, admin.ModelAdmin):
    form = PeriodicTaskForm
    formfield_overrides = JSON_EDITING
    list_display = (
        "name",
        "task",
        "schedule_text",
        "enabled",
        "misfire_policy",
        "in_code",
        "waiting_for",
        "problem_flag",
    )
    list_filter = ("enabled", "misfire_policy", "task", "source")
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
        "recent_runs",
        "change_history",
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
        (
            "When",
            {
                "fields": (
                    "cron",
                    "cron_timezone",
                    "crontab",
                    "schedule_text",
                    "next_fires",
                    "start_at",
                    "end_at",
                )
            },
        ),
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

    def get_urls(self) -> list[Any]:
        from django.urls import path

        from djag.admin.dag import view_for

        dag = path("dag/", self.admin_site.admin_view(view_for(self)), name="djag_periodictask_dag")
        preview = path(
            "cron-preview/",
            self.admin_site.admin_view(self.cron_preview_view),
            name="djag_periodictask_cron_preview",
        )
        return [dag, preview, *super().get_urls()]

    # -- the form: a cron line with its live preview, task name suggestions ------------------

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form: Any = super().get_form(request, obj, change=change, **kwargs)
        form.preview_url = reverse(f"{self.admin_site.name}:djag_periodictask_cron_preview")
        return form

    def cron_preview_view(self, request: HttpRequest) -> JsonResponse:
        """``cron-preview/?line=...&timezone=...``: the readable text of a cron line and its
        next five fire times in the zone, or the error that the form would show."""
        if not self.has_view_permission(request):
            return JsonResponse({"text": "", "next": [], "error": "Permission denied."}, status=403)
        line = request.GET.get("line", "").strip()
        zone = request.GET.get("timezone", "").strip() or "UTC"
        if not line:
            return JsonResponse({"text": "", "next": [], "error": None})
        try:
            crontab = crontab_from_line(line, zone)
            fires = crontab.next_fires(5)
        except ValidationError as exc:
            return JsonResponse({"text": "", "next": [], "error": " ".join(exc.messages)})
        except Exception as exc:  # a line the parser takes but the schedule cannot run
            return JsonResponse({"text": "", "next": [], "error": str(exc)})
        return JsonResponse(
            {
                "text": crontab.describe(),
                "next": [f"{when:%Y-%m-%d %H:%M:%S %Z}" for when in fires],
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

    @admin.display(description="in code", boolean=True)
    def in_code(self, obj: PeriodicTask) -> bool:
        """Declared in a schedule file (djag_sync): edits here are overwritten by the next sync."""
        return bool(obj.source)

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

    @admin.display(description="changes, newest first")
    def change_history(self, obj: PeriodicTask) -> str:
        return change_history_html(obj) if obj.pk else "-"

    # -- actions (AttributedChangesMixin runs them inside acting_as(request.user)) -----------

    @admin.action(description="Run now (a manual run, published at once)", permissions=["change"])
    def run_now(self, request: HttpRequest, queryset: models.QuerySet[PeriodicTask]) -> None:
        result = actions.run_now(list(queryset.values_list("pk", flat=True)))
        if result.sent:
            self.message_user(
                request,
                "Sent a manual run of "
                + ", ".join(f"{name} (run {run_id})" for name, run_id in result.sent)
                + ".",
                messages.SUCCESS,
            )
        for name, run_id, error in result.failed:
            self.message_user(
                request,
                f"Could not publish the run of {name}; run {run_id} is marked failed. "
                f"Is the broker reachable? {error}",
                messages.ERROR,
            )
        for name, why in result.refused:
            self.message_user(request, f"{name} was not run: {why}.", messages.ERROR)

    @admin.action(description="Enable", permissions=["change"])
    def enable_tasks(self, request: HttpRequest, queryset: models.QuerySet[PeriodicTask]) -> None:
        changed, already = self._write(request, actions.set_enabled, queryset, True)
        if changed is not None:
            self.message_user(
                request,
                f"Enabled {_tasks(changed)}; they start afresh from now (no backlog)."
                + (f" {_tasks(already)} already enabled." if already else ""),
                messages.SUCCESS,
            )

    @admin.action(description="Disable", permissions=["change"])
    def disable_tasks(self, request: HttpRequest, queryset: models.QuerySet[PeriodicTask]) -> None:
        changed, already = self._write(request, actions.set_enabled, queryset, False)
        if changed is not None:
            self.message_user(
                request,
                f"Disabled {_tasks(changed)}; runs in flight go on."
                + (f" {_tasks(already)} already disabled." if already else ""),
                messages.SUCCESS,
            )

    @admin.action(description="Pause until\u2026", permissions=["change"])
    def pause_until(
        self, request: HttpRequest, queryset: models.QuerySet[PeriodicTask]
    ) -> HttpResponse | None:
        form = PauseForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            until = form.cleaned_data["until"]
            count, _ = self._write(request, _pair(actions.set_resume_at), queryset, until)
            if count is not None:
                self.message_user(
                    request,
                    f"Paused {_tasks(count)} until {when_text(until)} "
                    f"({timezone.get_current_timezone_name()}): no event at or before then runs.",
                    messages.SUCCESS,
                )
            return None
        return self.action_page(
            request,
            queryset,
            form,
            action="pause_until",
            title="Pause until\u2026",
            intro="Events at or before the chosen moment are dropped (not caught up); "
            "runs in flight go on. Enabling a disabled task later starts it from that moment.",
            button="Pause",
        )

    @admin.action(description="Resume from now (drop pending events)", permissions=["change"])
    def resume_from_now(
        self, request: HttpRequest, queryset: models.QuerySet[PeriodicTask]
    ) -> None:
        now = timezone.now()
        count, _ = self._write(request, _pair(actions.set_resume_at), queryset, now)
        if count is not None:
            self.message_user(
                request,
                f"{_tasks(count).capitalize()} resume from {when_text(now)}: pending events "
                "are dropped, a pause is lifted.",
                messages.SUCCESS,
            )

    @admin.action(
        description="Clear lost runs (mark runs in flight lost, freeing their slots)",
        permissions=["change"],
    )
    def clear_lost_runs(
        self, request: HttpRequest, queryset: models.QuerySet[PeriodicTask]
    ) -> HttpResponse | None:
        if "apply" in request.POST:
            count = actions.mark_in_flight_lost(queryset)
            self.message_user(
                request,
                f"Marked {count} run{'s' if count != 1 else ''} in flight lost; "
                "their slots are free.",
                messages.SUCCESS if count else messages.WARNING,
            )
            return None
        in_flight = TaskRun.objects.filter(
            periodic_task__in=queryset, state__in=actions.ACTIVE_STATES
        ).count()
        return self.action_page(
            request,
            queryset,
            ConfirmForm(),
            action="clear_lost_runs",
            title="Clear lost runs",
            intro=f"{in_flight} run{'s' if in_flight != 1 else ''} of these tasks "
            "(claimed, sent, started or retrying) will be marked lost now, as beat does after "
            "run_timeout_seconds, and stop holding max_running slots. Do this only when their "
            "workers are known to be gone: a worker still running one would overlap with the "
            "next run. The rows stay in the ledger.",
            button="Mark lost",
        )

    def _write(self, request: HttpRequest, write: Any, *args: Any) -> tuple[Any, Any]:
        """Run a schedule write; a refused write becomes an error message, never a 500."""
        try:
            return write(*args)
        except ValidationError as exc:
            error = "; ".join(exc.messages)
            self.message_user(request, f"Nothing changed: {error}", messages.ERROR)
            return None, None

    def action_page(
        self,
        request: HttpRequest,
        queryset: models.QuerySet[PeriodicTask],
        form: forms.Form,
        *,
        action: str,
        title: str,
        intro: str,
        button: str,
    ) -> HttpResponse:
        """The intermediate page of an action: the chosen tasks, a form, a button."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "intro": intro,
            "button": button,
            "form": form,
            "tasks": queryset,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/djag/periodictask/action_form.html", context)


def _tasks(count: int) -> str:
    return f"{count} task{'s' if count != 1 else ''}"


def _pair(write: Any) -> Any:
    """A write returning a count, as the (count, None) pair ``_write`` passes on."""
    return lambda *args: (write(*args), None)


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
    search_fields = ("task_name", "celery_task_id", "error")
    date_hierarchy = "claimed_at"
    fields = (
        ("periodic_task", "task_name", "task"),
        ("trigger", "state", "coalesced_count"),
        "scheduled_for",
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
        return duration_text(obj.duration)

    @admin.display(description="error")
    def short_error(self, obj: TaskRun) -> str:
        return obj.error[:100]

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
                extra_context["duration_chart"] = actions.duration_chart_svg(
                    actions.duration_points(task.pk)
                )
        return super().changelist_view(request, extra_context)


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
    """Adding is two steps when actions are registered: pick the action, then fill its form."""

    formfield_overrides = JSON_EDITING
    list_display = ("action", "created_at", "created_by")
    list_filter = ("action",)
    search_fields = ("action",)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        if user_actions.kinds() and "action" not in request.GET and request.method == "GET":
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": f"Add {self.opts.verbose_name}",
                "kinds": user_actions.kinds(),
            }
            return TemplateResponse(request, "admin/djag/useraction/pick_action.html", context)
        return super().add_view(request, form_url, extra_context)

    def get_form(
        self,
        request: HttpRequest,
        obj: UserAction | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> Any:
        code = obj.action if obj is not None else request.GET.get("action", "")
        kind = user_actions.kind(code)
        if kind is None:
            return super().get_form(request, obj, change=change, **kwargs)
        return payload_form(kind)

    def save_model(self, request: HttpRequest, obj: UserAction, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user.get_username()
        super().save_model(request, obj, form, change)


def payload_form(kind: user_actions.ActionKind) -> type[forms.ModelForm]:
    """A UserAction form whose payload is edited through the action's own form fields."""

    class Meta:
        model = UserAction
        fields = ("action",)

    def __init__(self: forms.ModelForm, *args: Any, **kwargs: Any) -> None:
        forms.ModelForm.__init__(self, *args, **kwargs)
        stored = self.instance.payload if isinstance(self.instance.payload, dict) else {}
        for name in kind.form.base_fields:
            if name in stored:
                self.initial.setdefault(name, stored[name])

    def clean(self: forms.ModelForm) -> dict[str, Any]:
        cleaned = forms.ModelForm.clean(self) or {}
        self.instance.payload = kind.payload(cleaned)
        return cleaned

    # Declared on the class (not added per instance) so the admin lays the fields out.
    declared = {name: copy.deepcopy(field) for name, field in kind.form.base_fields.items()}
    return type(
        f"{kind.code.title().replace('_', '')}PayloadForm",
        (forms.ModelForm,),
        {
            "action": forms.CharField(initial=kind.code, disabled=True, label="Action"),
            **declared,
            "Meta": Meta,
            "__init__": __init__,
            "clean": clean,
        },
    )


@admin.register(UserActionAudit)
class UserActionAuditAdmin(ReadOnlyAdmin):
    list_display = ("action", "created_at", "created_by", "deleted_at", "deleted_by")
    list_filter = ("action",)
    search_fields = ("action", "created_by", "deleted_by")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
