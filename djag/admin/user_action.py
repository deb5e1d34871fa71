"""The user action pages: pick an action, then fill in its own form."""

from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from djag import user_actions
from djag.admin.base import AttributedChangesMixin
from djag.admin.task_form import JSON_EDITING
from djag.models import (
    UserAction,
)


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
