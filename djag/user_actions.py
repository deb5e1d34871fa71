"""The registry of UserAction kinds: a code, a label, and the form of its payload.

A project declares its own in its AppConfig.ready()::

    from djag import user_actions

    user_actions.register("pause_mail", "Pause the mailings", PauseMailForm)

The admin's add page then asks which action first, and edits the payload with
that form; its cleaned data is stored as JSON (dates and times as ISO text).
An action code nobody registered keeps a free JSON payload.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.serializers.json import DjangoJSONEncoder


@dataclass(frozen=True)
class ActionKind:
    code: str
    label: str
    form: type[forms.Form]

    def payload(self, cleaned_data: dict[str, Any]) -> Any:
        """The form's cleaned data as stored: plain JSON values."""
        data = {name: cleaned_data.get(name) for name in self.form.base_fields}
        return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


_kinds: dict[str, ActionKind] = {}


def register(code: str, label: str, form: type[forms.Form]) -> None:
    """Declare an action kind; registering the same code with another form is an error."""
    known = _kinds.get(code)
    if known is not None and known.form is not form:
        raise ValueError(f"UserAction code {code!r} is already registered with {known.form!r}")
    _kinds[code] = ActionKind(code, label, form)


def unregister(code: str) -> None:
    _kinds.pop(code, None)


def kind(code: str) -> ActionKind | None:
    return _kinds.get(code)


def kinds() -> list[ActionKind]:
    return sorted(_kinds.values(), key=lambda k: k.label)
