"""Small shims so that one set of models and migrations serves Django 4.2 and 5.2."""

from __future__ import annotations

from typing import Any

import django
from django.db import models

# Django 5.1 renamed CheckConstraint's ``check`` to ``condition``.
_CONDITION_KWARG = "condition" if django.VERSION >= (5, 1) else "check"


def check_constraint(condition: Any, name: str) -> models.CheckConstraint:
    return models.CheckConstraint(**{_CONDITION_KWARG: condition, "name": name})


class JSONTypeOf(models.Func):
    """The JSON type name ('array', 'object', ...) of a JSON column, in lower case.

    Lets a CHECK constraint say "args is a JSON list" on every supported database.
    """

    output_field = models.CharField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, function="JSON_TYPE", **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, function="JSONB_TYPEOF", **extra)

    def as_mysql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler, connection, template="LOWER(JSON_TYPE(%(expressions)s))", **extra
        )
