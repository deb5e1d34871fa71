"""The crontab pages: a one-line cron with its live preview, the readable text and the
next fire times; a list filtered by the zones in use and searchable by zone."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Cast
from django.http import HttpRequest
from django.urls import reverse

from djag.admin.base import AttributedChangesMixin
from djag.admin.fragments import fire_times_html, next_fires
from djag.admin.task_form import connect_preview, cron_line_field, crontab_from_line
from djag.core import cron
from djag.models import (
    Crontab,
)
from djag.store.compile import Problem
from djag.text import zoned_text


def zone_text() -> Cast:
    """The zone as stored text: a name tzdata no longer knows still reads (and filters)."""
    return Cast("timezone", models.TextField())


class ZoneInUseFilter(admin.SimpleListFilter):
    """The zones that crontabs use, not every zone tzdata knows (some 600)."""

    title = "time zone"
    parameter_name = "zone"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        zones = (
            Crontab._base_manager.annotate(zone_text=zone_text())
            .values_list("zone_text", flat=True)
            .distinct()
            .order_by("zone_text")
        )
        return [(zone, zone) for zone in zones]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        value = self.value()
        return queryset if value is None else queryset.filter(zone_text=value)


class CrontabForm(forms.ModelForm):
    """The six cron fields as one line (as on the task form), and the zone."""

    cron = cron_line_field(required=True)

    #: Set by CrontabAdmin.get_form: the URL of the JSON preview.
    preview_url = ""

    class Media:
        js = ("djag/cron_preview.js",)

    class Meta:
        model = Crontab
        fields = ("timezone",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial.setdefault("cron", self.instance.line())
        connect_preview(self.fields["cron"], self.preview_url, "id_timezone")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        if "cron" in self.errors or "timezone" in self.errors:
            return cleaned
        try:
            parsed = crontab_from_line(cleaned["cron"], cleaned["timezone"])
        except ValidationError as exc:
            self.add_error("cron", exc)
            return cleaned
        for name in (*cron.FIELD_NAMES, "day_match"):  # "&mon" in the line: "both"
            setattr(self.instance, name, getattr(parsed, name))
        self.instance.timezone = cleaned["timezone"]
        # Django checks only the constraints whose fields are all on the form, and the
        # six cron fields are not: the uniqueness of the crontab is checked here.
        try:
            self.instance.validate_constraints()
        except ValidationError as exc:
            self.add_error("cron", exc.messages)
        return cleaned

    def _post_clean(self) -> None:
        # A line with an error leaves the instance as stored (a row written past validation,
        # say 31 February): validating it again would report fields this form does not show.
        if "cron" not in self.errors:
            super()._post_clean()  # type: ignore[misc]


@admin.register(Crontab)
class CrontabAdmin(AttributedChangesMixin, admin.ModelAdmin):
    form = CrontabForm
    list_display = ("line", "zone_name", "readable", "next_fire", "task_count")
    list_filter = (ZoneInUseFilter, "day_match")
    # "zone_text" is the zone annotated as text: "Berlin" finds Europe/Berlin (here and in
    # the task form's crontab autocomplete, which searches with these fields).
    search_fields = (
        "second",
        "minute",
        "hour",
        "day_of_month",
        "month_of_year",
        "day_of_week",
        "zone_text",
    )
    readonly_fields = ("readable", "next_fires")
    fieldsets = (
        (None, {"fields": ("cron", "timezone")}),
        ("Preview", {"fields": ("readable", "next_fires")}),
    )

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        """No stored preview on the add page: the line's live preview is the one there."""
        fieldsets = super().get_fieldsets(request, obj)
        return fieldsets if obj is not None else fieldsets[:1]

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Crontab]:
        return (
            super()
            .get_queryset(request)
            .annotate(task_total=models.Count("periodic_tasks"), zone_text=zone_text())
            # A GROUP BY drops the model's default ordering: the autocomplete pages need one.
            .order_by(*Crontab._meta.ordering)
        )

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form: Any = super().get_form(request, obj, change=change, **kwargs)
        form.preview_url = reverse(f"{self.admin_site.name}:djag_periodictask_cron_preview")
        return form

    @admin.display(description="cron (s m h dom mon dow)")
    def line(self, obj: Crontab) -> str:
        return obj.line()

    @admin.display(description="zone", ordering="zone_text")
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
        fires = next_fires(obj, 1)
        if isinstance(fires, Problem):
            return f"error: {fires}"
        return zoned_text(fires[0]) if fires else "never"

    @admin.display(description="tasks", ordering="task_total")
    def task_count(self, obj: Crontab) -> int:
        return getattr(obj, "task_total", 0)
