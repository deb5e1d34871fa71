"""The logs: schedule changes, the lease, deleted user actions; read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from djag.admin.base import ReadOnlyAdmin
from djag.admin.cells import moment_field
from djag.models import (
    ScheduleChange,
    SchedulerLease,
    UserActionAudit,
)


@admin.register(ScheduleChange)
class ScheduleChangeAdmin(ReadOnlyAdmin):
    list_display = ("at_text", "actor", "model", "object_repr", "action", "changed_fields")
    list_filter = ("model", "action", "at")
    search_fields = ("object_repr", "actor")
    date_hierarchy = "at"
    at_text = moment_field("at", "at")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="fields")
    def changed_fields(self, obj: ScheduleChange) -> str:
        return ", ".join(sorted(obj.changes))


@admin.register(SchedulerLease)
class SchedulerLeaseAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "holder",
        "generation",
        "acquired_at_text",
        "renewed_at_text",
        "ticked_at_text",
        "expires_at_text",
    )
    acquired_at_text = moment_field("acquired_at", "acquired at")
    renewed_at_text = moment_field("renewed_at", "renewed at")
    ticked_at_text = moment_field("ticked_at", "last tick at")
    expires_at_text = moment_field("expires_at", "expires at")


@admin.register(UserActionAudit)
class UserActionAuditAdmin(ReadOnlyAdmin):
    list_display = ("action", "created_at_text", "created_by", "deleted_at_text", "deleted_by")
    created_at_text = moment_field("created_at", "created at")
    deleted_at_text = moment_field("deleted_at", "deleted at")
    list_filter = ("action",)
    search_fields = ("action", "created_by", "deleted_by")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
