"""The dependency pages; deleting an ordinary edge also deletes its paired future edge."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models, transaction
from django.http import HttpRequest

from djag.admin.base import AttributedChangesMixin
from djag.models import (
    TaskDependency,
)


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
