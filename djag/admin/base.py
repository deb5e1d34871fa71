"""What every djag admin page shares: writes attributed to the user, read-only ledgers, links."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.http import urlencode

from djag.models import (
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


class ReadOnlyAdmin(admin.ModelAdmin):
    """A ledger or log: shown, never edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def admin_link(model: type[models.Model], view: str, *args: Any, query: dict | None = None) -> str:
    url = reverse(f"admin:djag_{model._meta.model_name}_{view}", args=args)
    return f"{url}?{urlencode(query)}" if query else url
