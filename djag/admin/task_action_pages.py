"""The actions of the periodic task list (run now, enable, pause ...) and their pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from djag.admin import task_actions as actions
from djag.core.vocab import ACTIVE_STATES
from djag.models import (
    PeriodicTask,
    TaskRun,
)
from djag.text import local_text


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


class TaskActionsMixin(admin.ModelAdmin):
    """The actions of the task list; ``AttributedChangesMixin`` runs them inside
    ``acting_as(request.user)``, so their writes are attributed."""

    @admin.action(
        description="Run now (a manual run, sent by beat at once)", permissions=["change"]
    )
    def run_now(self, request: HttpRequest, queryset: models.QuerySet[PeriodicTask]) -> None:
        result = actions.run_now(queryset, by=request.user)
        if result.queued:
            self.message_user(
                request,
                "Queued a manual run of "
                + ", ".join(f"{name} (run {run_id})" for name, run_id in result.queued)
                + "; beat sends it within a second.",
                messages.SUCCESS,
            )
        for why in result.refused:
            self.message_user(request, why, messages.ERROR)

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
                    f"Paused {_tasks(count)} until {local_text(until)} "
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
                f"{_tasks(count).capitalize()} resume from {local_text(now)}: pending events "
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
            periodic_task__in=queryset, state__in=ACTIVE_STATES
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
