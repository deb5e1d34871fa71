"""The crontab pages: the fields, the readable text and the next fire times."""

from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from djag.admin.base import AttributedChangesMixin
from djag.admin.fragments import fire_times_html, next_fires
from djag.models import (
    Crontab,
)
from djag.store.compile import Problem
from djag.text import zoned_text


@admin.register(Crontab)
class CrontabAdmin(AttributedChangesMixin, admin.ModelAdmin):
    list_display = ("line", "zone_name", "readable", "next_fire", "task_count")
    list_filter = ("timezone", "day_match")
    search_fields = ("second", "minute", "hour", "day_of_month", "month_of_year", "day_of_week")
    readonly_fields = ("readable", "next_fires")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    ("second", "minute", "hour"),
                    ("day_of_month", "month_of_year", "day_of_week"),
                    "day_match",
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
        fires = next_fires(obj, 1)
        if isinstance(fires, Problem):
            return f"error: {fires}"
        return zoned_text(fires[0]) if fires else "never"

    @admin.display(description="tasks", ordering="task_total")
    def task_count(self, obj: Crontab) -> int:
        return getattr(obj, "task_total", 0)
