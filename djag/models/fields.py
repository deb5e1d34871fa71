"""ZoneField: django-timezone-field's TimeZoneField, tolerant of names it cannot resolve.

TimeZoneField raises ValidationError as soon as an unknown zone name is assigned or
loaded. A row whose zone left the installed tzdata (or was written by raw SQL) would
then break every page and query that loads it, and ``Crontab(timezone="Mars/Base")``
would fail before ``full_clean()`` could report the error on its field. ZoneField keeps
such a name as a plain string instead; validation (``to_python``) still refuses it.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from django.core.exceptions import ValidationError
from timezone_field import TimeZoneField
from timezone_field.utils import AutoDeserializedAttribute


class _LenientZoneAttribute(AutoDeserializedAttribute):
    def __set__(self, instance: Any, value: Any) -> None:
        with suppress(ValidationError):  # kept as given: full_clean() reports it on the field
            value = self.field.to_python(value)
        instance.__dict__[self.field.attname] = value


class ZoneField(TimeZoneField):
    descriptor_class = _LenientZoneAttribute

    def to_python(self, value: Any) -> Any:
        try:
            return super().to_python(value)
        except (ValueError, OSError) as exc:
            # zoneinfo reads a name as a file path: "America" is a directory, "../x" and
            # names holding NUL are refused with ValueError instead of "not found".
            raise ValidationError(f"Invalid timezone '{value}'", code="invalid") from exc

    def from_db_value(self, value: Any, *args: Any) -> Any:
        try:
            return self.to_python(value)
        except ValidationError:
            return value

    def deconstruct(self) -> Any:
        # Same column as TimeZoneField: migrations name the parent class, so that
        # this Python-side leniency never needs a migration of its own.
        name, _, args, kwargs = super().deconstruct()
        return name, "timezone_field.fields.TimeZoneField", args, kwargs
