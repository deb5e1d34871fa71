"""Field validators shared by the models, the admin forms and djag_sync."""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

from djag.core import cron

# Field names of Crontab in the order of the one-line form (seconds first).
CRON_FIELD_NAMES = cron.FIELD_NAMES


def cron_field_error(field_name: str, value: str) -> cron.CronError | None:
    """What is wrong with one cron field on its own (the others being ``*``), or None."""
    raw = dict.fromkeys(CRON_FIELD_NAMES, "*")
    raw[field_name] = value
    try:
        cron.parse_cron(**raw)
    except cron.CronError as exc:
        return exc
    return None


def cron_error_text(error: cron.CronError) -> str:
    """What is wrong, without the field name a CronError's message starts with.

    A model error is keyed on its field, which the form shows next to it and
    whoever lists several fields' errors (the cron line, djag_sync) puts in
    front of it: the name written here too would appear twice.
    """
    return error.message.removeprefix(f"{error.field}: ")


def validate_cron_field(field_name: str, value: str) -> None:
    """Check one cron field on its own; the error says what is wrong with it."""
    error = cron_field_error(field_name, value)
    if error is not None:
        raise ValidationError(cron_error_text(error), code="invalid_cron")


@deconstructible
class CronFieldValidator:
    """Validator for one Crontab field (deconstructible, so migrations can name it)."""

    def __init__(self, field_name: str) -> None:
        self.field_name = field_name

    def __call__(self, value: str) -> None:
        validate_cron_field(self.field_name, value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CronFieldValidator) and other.field_name == self.field_name

    def __hash__(self) -> int:
        return hash(self.field_name)


def validate_json_list(value: Any) -> None:
    if not isinstance(value, list):
        raise ValidationError(
            'Enter a JSON list, for example [1, "a"]; got %(kind)s.',
            code="not_a_list",
            params={"kind": type(value).__name__},
        )
    validate_storable_json(value)


def validate_json_object(value: Any) -> None:
    if not isinstance(value, dict):
        raise ValidationError(
            'Enter a JSON object, for example {"key": "value"}; got %(kind)s.',
            code="not_an_object",
            params={"kind": type(value).__name__},
        )
    validate_storable_json(value)


def validate_storable_json(value: Any) -> None:
    """Refuse what Python's json module accepts but a database or a broker cannot carry.

    NaN and Infinity are not JSON (PostgreSQL and SQLite refuse them, other
    consumers of the message may too); PostgreSQL cannot store the NUL
    character; a lone surrogate (from a ``"\\ud800"`` escape) is not UTF-8.
    """
    pending = [value]
    while pending:  # a loop, not recursion: JSON may nest deeper than the stack allows
        item = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValidationError(
                "%(value)s is not a JSON number; use null or a string.",
                code="not_finite",
                params={"value": item},
            )
        if isinstance(item, str):
            _validate_storable_text(item)
        elif isinstance(item, dict):
            pending.extend(key for key in item if isinstance(key, str))
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)


def _validate_storable_text(text: str) -> None:
    if "\x00" in text:
        raise ValidationError(
            "Text in JSON cannot contain the NUL character (\\u0000).", code="nul"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(
            "Text in JSON must be valid Unicode (no lone surrogate \\ud800-\\udfff).",
            code="surrogate",
        ) from exc
