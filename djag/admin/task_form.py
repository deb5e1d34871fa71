"""Form pieces of the admin: JSON editing that reports bad input instead of failing on it."""

from __future__ import annotations

import json
from contextlib import suppress
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.html import format_html, format_html_join
from django_json_widget.widgets import JSONEditorWidget

from djag.core import cron
from djag.models import Crontab


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


# -- the periodic task form: a one-line cron field, its preview, task name suggestions --------

#: The longest cron line read (the six fields of a Crontab hold 120 characters each).
CRON_LINE_MAX = 6 * 121


def registered_task_names() -> list[str]:
    """The Celery task names registered in this process, without Celery's own ``celery.*``.

    The task modules a worker imports (``imports``/``include``, and the ``tasks`` module
    of each installed Django app, as ``autodiscover_tasks()`` finds them) are imported
    first, once, so the admin suggests what a worker of the same configuration would run.
    (Not through ``import_default_modules()``: its signal makes Celery's Django fixup run
    ``django.setup()`` and the system checks again.)
    """
    from celery import current_app

    app: Any = current_app
    if not getattr(app, "_djag_modules_imported", False):
        app._djag_modules_imported = True
        loader = app.loader
        # A broken task module must not break the admin page.
        for module in loader.default_modules:
            with suppress(Exception):
                loader.import_task_module(module)
        for config in apps.get_app_configs():
            with suppress(Exception):
                loader.autodiscover_tasks([config.name], related_name="tasks")
    return sorted(name for name in list(app.tasks) if not name.startswith("celery."))


def crontab_from_line(line: str, zone: Any) -> Crontab:
    """An unsaved, validated Crontab from a one-line cron (five or six fields) and a zone.

    Raises ValidationError with one message naming the bad part.
    """
    if len(line) > CRON_LINE_MAX:
        raise ValidationError(f"The line is too long (at most {CRON_LINE_MAX} characters).")
    try:
        fields = cron.parse_line(line)
    except cron.CronError as exc:
        raise ValidationError(f"{exc.message}.") from exc
    crontab = Crontab(**dict(zip(cron.FIELD_NAMES, fields, strict=True)), timezone=zone)
    try:
        crontab.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise ValidationError(
            [
                f"{message}" if field in ("__all__", "timezone") else f"{field}: {message}"
                for field, messages in exc.message_dict.items()
                for message in messages
            ]
        ) from exc
    return crontab


class CronLineInput(forms.TextInput):
    """A text input followed by the live preview that cron_preview.js fills in."""

    def render(self, name: str, value: Any, attrs: Any = None, renderer: Any = None) -> Any:
        field = super().render(name, value, attrs, renderer)
        target = (attrs or {}).get("id", f"id_{name}")
        return format_html(
            '<div class="djag-cron-field" style="display: block; flex: 1 1 auto;">{}'
            '<div class="djag-cron-preview" id="{}_preview" aria-live="polite"'
            ' style="margin: .4em 0 0; line-height: 1.6;">'
            '<div class="djag-cron-text" style="font-weight: bold;"></div>'
            '<ol class="djag-cron-next" style="margin: 0; padding-left: 1.6em;"></ol>'
            '<div class="errornote djag-cron-error" style="display: none;"></div></div></div>',
            field,
            target,
        )


class TaskNameInput(forms.TextInput):
    """Free text with the registered task names as suggestions (an HTML datalist)."""

    def get_context(self, name: str, value: Any, attrs: Any) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"]["list"] = f"{context['widget']['attrs'].get('id', name)}_names"
        return context

    def render(self, name: str, value: Any, attrs: Any = None, renderer: Any = None) -> Any:
        field = super().render(name, value, attrs, renderer)
        target = (attrs or {}).get("id", name)
        return format_html(
            '{}<datalist id="{}_names">{}</datalist>',
            field,
            target,
            format_html_join("", '<option value="{}"></option>', ((n,) for n in self.names())),
        )

    @staticmethod
    def names() -> list[str]:
        return registered_task_names()


#: What a cron line takes, said the same on every form that has one.
CRON_LINE_HELP = (
    "Six fields, seconds first (second minute hour day month weekday, e.g. "
    '"*/5 * * * * *"), or the five classic ones (at second 0, e.g. "0 5 * * 1-5").'
)


def cron_line_field(*, required: bool, help_text: str = CRON_LINE_HELP) -> forms.CharField:
    """The one-line cron input and its live preview, for the task and the crontab forms.

    The form points the preview at the cron-preview view and at its zone input with
    :func:`connect_preview`.
    """
    return forms.CharField(
        label="Cron line",
        required=required,
        max_length=CRON_LINE_MAX,
        strip=True,
        widget=CronLineInput(
            attrs={
                "class": "vTextField djag-cron-line",
                "placeholder": "*/5 * * * * *   or   0 5 * * 1-5",
                "autocomplete": "off",
                "spellcheck": "false",
            }
        ),
        help_text=help_text,
    )


def connect_preview(field: forms.Field, preview_url: str, zone_input_id: str) -> None:
    """Tell cron_preview.js where to ask for the preview and which input holds the zone."""
    field.widget.attrs.update(
        {"data-preview-url": preview_url, "data-timezone-input": zone_input_id}
    )


class PeriodicTaskForm(forms.ModelForm):
    """The periodic task form: "when" is a cron line and a zone, or a chosen crontab.

    The line is optional. When it is filled in (on the change page: edited; it starts as
    the task's current crontab), it wins over the crontab field: saving reuses the
    crontab with these seven fields or creates it. Otherwise the chosen crontab is kept.
    """

    cron = cron_line_field(
        required=False,
        help_text=f"{CRON_LINE_HELP} When filled in, it wins over the crontab chosen below: "
        "saving reuses the crontab with these fields and zone, or creates it.",
    )

    cron_timezone = Crontab._meta.get_field("timezone").formfield(
        required=False,
        initial="UTC",
        label="Cron line's time zone",
        help_text="The cron line is read on this zone's clock.",
    )

    #: Set by PeriodicTaskAdmin.get_form: the URL of the JSON preview.
    preview_url = ""

    class Media:
        js = ("djag/cron_preview.js",)

    class Meta:
        widgets = {"task": TaskNameInput(attrs={"class": "vTextField", "autocomplete": "off"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        crontab = getattr(self.instance, "crontab", None) if self.instance.crontab_id else None
        # Prefilled from a readable crontab only: a zone name that left tzdata has no
        # option in the zone list, and the browser would send another zone back.
        if crontab is not None and isinstance(crontab.timezone, ZoneInfo):
            self.initial.setdefault("cron", crontab.line())
            self.initial.setdefault("cron_timezone", crontab.zone_name)
        if "crontab" in self.fields:
            self.fields["crontab"].required = False
            self.fields["crontab"].help_text = (
                "Or choose an existing crontab; used when the cron line above is empty "
                "or left as it was."
            )
        connect_preview(self.fields["cron"], self.preview_url, "id_cron_timezone")
        self.new_crontab: Crontab | None = None

    def line_used(self) -> bool:
        """Whether the cron line decides the crontab: filled in, and edited on a change page."""
        if not self.cleaned_data.get("cron"):
            return False
        if self.instance.pk is None or not self.instance.crontab_id:
            return True
        return self["cron"].initial != self.cleaned_data["cron"] or str(
            self["cron_timezone"].initial
        ) != str(self.cleaned_data.get("cron_timezone") or "UTC")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        if "cron" in self.errors or "cron_timezone" in self.errors:
            return cleaned
        if self.line_used():
            zone = cleaned.get("cron_timezone") or "UTC"
            try:
                crontab = crontab_from_line(cleaned["cron"], zone)
            except ValidationError as exc:
                self.add_error("cron", exc)
                return cleaned
            lookup = {name: getattr(crontab, name) for name in cron.FIELD_NAMES}
            existing = Crontab.objects.filter(**lookup, timezone=crontab.zone_name).first()
            if existing is not None:
                cleaned["crontab"] = existing
            else:
                cleaned["crontab"] = None
                self.new_crontab = crontab
        elif (
            "crontab" in self.fields and not cleaned.get("crontab") and "crontab" not in self.errors
        ):
            self.add_error("cron", "Give a cron line, or choose a crontab below.")
        return cleaned

    def save(self, commit: bool = True) -> Any:
        if self.new_crontab is not None:
            fields = {name: getattr(self.new_crontab, name) for name in cron.FIELD_NAMES}
            self.instance.crontab, _ = Crontab.objects.get_or_create(
                **fields, timezone=self.new_crontab.zone_name
            )
        return super().save(commit)
