"""Rules on a periodic task's values beyond each field's own validators.

- Scheduled management commands are opt-in (``djag.core.commands``).
- A task's headers may not use the names Celery and djag reserve (``djag.core.message``).
- Text must be storable: no NUL character (PostgreSQL refuses it; the forms do too).

``PeriodicTask.clean`` applies them, so the admin, ``full_clean``, ``djag_sync``
and the importer all refuse the same values with the same words. Beat and the
task itself check the first two again on rows written past validation.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from djag import conf
from djag.core.commands import CALL_COMMAND_TASK, command_of, command_refusal
from djag.core.message import reserved_header_names, reserved_headers_text

#: The largest value of an integer column on PostgreSQL and MariaDB (SQLite stores more;
#: a larger number of seconds makes Celery's message arithmetic overflow).
LARGEST_INTEGER = 2**31 - 1

NUL_MESSAGE = "Text cannot contain the NUL character (\\x00)."


def rule_errors(task: Any) -> dict[str, str]:
    """``{field: message}`` for each rule the task's values break."""
    errors: dict[str, str] = {}
    args = task.args if isinstance(task.args, list) else []
    kwargs = task.kwargs if isinstance(task.kwargs, dict) else {}
    if task.task == CALL_COMMAND_TASK:
        refusal = command_refusal(command_of(args, kwargs), conf.get().allowed_commands)
        if refusal is not None:
            errors["args"] = f"{refusal[:1].upper()}{refusal[1:]}."
    if isinstance(task.headers, dict):
        reserved = reserved_header_names(task.headers)
        if reserved:
            text = reserved_headers_text(reserved)
            errors["headers"] = f"{text[:1].upper()}{text[1:]}."
    for field in task._meta.concrete_fields:
        if isinstance(field, models.CharField | models.TextField) and field.name not in errors:
            value = getattr(task, field.attname)
            if isinstance(value, str) and "\x00" in value:
                errors[field.name] = NUL_MESSAGE
    return errors
