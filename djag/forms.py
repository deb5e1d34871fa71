"""Form pieces of the admin: JSON editing that reports bad input instead of failing on it."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django_json_widget.widgets import JSONEditorWidget


class JSONEditor(JSONEditorWidget):
    """The JSON editor, able to show again text that is not JSON, next to its error.

    The upstream widget parses the submitted text once more to display it, and
    so raises on the very input the form is reporting.
    """

    def format_value(self, value: Any) -> Any:
        try:
            return super().format_value(value)
        except (TypeError, ValueError, RecursionError):
            return str(value)


class JSONFormField(forms.JSONField):
    """Django's JSON form field, reporting nesting too deep to parse as an error and
    rendering any value it parsed."""

    def to_python(self, value: Any) -> Any:
        try:
            return super().to_python(value)
        except RecursionError as exc:
            raise ValidationError(
                "This JSON is nested too deeply to read.", code="invalid", params={"value": ""}
            ) from exc

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        # ASCII escapes, so that text Unicode cannot encode (a lone surrogate from a
        # "\ud800" escape) still renders next to its error.
        return json.dumps(value, cls=self.encoder)

    def bound_data(self, data: Any, initial: Any) -> Any:
        try:
            return super().bound_data(data, initial)
        except RecursionError:
            return forms.fields.InvalidJSONInput(data)


#: ``formfield_overrides`` of a ModelAdmin with JSON fields.
JSON_EDITING: dict[type[models.Field], dict[str, Any]] = {
    models.JSONField: {"form_class": JSONFormField, "widget": JSONEditor(height="160px")}
}
