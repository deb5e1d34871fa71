"""What every djag admin page shares: writes attributed to the user, read-only ledgers, links."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.db import DataError, models
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


class LenientChangeList(ChangeList):
    """A list whose malformed filter values in the URL (``?claimed_at__year=99999999999``,
    ``?periodic_task__id__exact=²``) give Django's "invalid lookup" page (``?e=1``), never
    a 500: Django itself lets some of them raise OverflowError or a database DataError."""

    def get_filters(self, request: HttpRequest) -> Any:
        try:
            return super().get_filters(request)
        except (IncorrectLookupParameters, SuspiciousOperation, ImproperlyConfigured):
            raise
        except (ValueError, OverflowError, TypeError) as exc:
            raise IncorrectLookupParameters(exc) from exc

    def get_results(self, request: HttpRequest) -> None:
        try:
            super().get_results(request)
        except (DataError, OverflowError) as exc:  # a value the column cannot hold
            raise IncorrectLookupParameters(exc) from exc


class ReadOnlyAdmin(admin.ModelAdmin):
    """A ledger or log: shown, never edited by hand."""

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return LenientChangeList

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def admin_link(model: type[models.Model], view: str, *args: Any, query: dict | None = None) -> str:
    url = reverse(f"admin:djag_{model._meta.model_name}_{view}", args=args)
    return f"{url}?{urlencode(query)}" if query else url
