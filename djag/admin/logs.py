"""The logs: schedule changes, the lease, deleted user actions; read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from djag.admin.base import ReadOnlyAdmin
from djag.models import (
    ScheduleChange,
    SchedulerLease,
    UserActionAudit,
)


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


@admin.register(UserActionAudit)
class UserActionAuditAdmin(ReadOnlyAdmin):
    list_display = ("action", "created_at", "created_by", "deleted_at", "deleted_by")
    list_filter = ("action",)
    search_fields = ("action", "created_by", "deleted_by")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
