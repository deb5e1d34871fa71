"""Form pieces of the admin: JSON editing that reports bad input instead of failing on it."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.html import format_html, format_html_join
from django_json_widget.widgets import JSONEditorWidget

from djag.core import cron
from djag.inspect.registry import registered_task_names
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


def crontab_from_line(line: str, zone: Any) -> Crontab:
    """An unsaved, validated Crontab from a one-line cron (five or six fields) and a zone.

    Raises ValidationError with one message naming the bad part.
    """
    if len(line) > CRON_LINE_MAX:
        raise ValidationError(f"The line is too long (at most {CRON_LINE_MAX} characters).")
    try:
        fields = cron.parse_line(line)
        crontab = Crontab(**dict(zip(cron.FIELD_NAMES, fields, strict=True)), timezone=zone)
        crontab.full_clean(validate_unique=False, validate_constraints=False)
    except cron.CronError as exc:
        raise ValidationError(f"{exc.message}.") from exc
    except ValidationError as exc:
        raise ValidationError(
            [
                f"{message}" if field in ("__all__", "timezone") else f"{field}: {message}"
                for field, messages in exc.message_dict.items()
                for message in messages
            ]
        ) from exc
    except Exception as exc:  # input no validator foresaw: an error on the line, never a 500
        raise ValidationError(f"This line cannot be read ({type(exc).__name__}: {exc}).") from exc
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


#: Task fields the form may leave empty, and what empty means.
EMPTY_MEANS: dict[str, Any] = {"interval_timezone": "UTC", "jitter_seconds": 0}

#: What a cron line takes, said the same on every form that has one.
CRON_LINE_HELP = (
    "Six fields, seconds first (second minute hour day month weekday, e.g. "
    '"*/5 * * * * *"), or the five classic ones (at second 0, e.g. "0 5 * * 1-5"). '
    'An "&" before the weekday ("0 9 1-7 * &mon": the first Monday) means both day '
    "fields must match, as in Celery; without it either may, as in cron."
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

    #: Set by PeriodicTaskAdmin.get_form: the URL of the JSON preview, and whether the
    #: user may add crontabs (a cron line that matches no crontab creates one).
    preview_url = ""
    may_add_crontab = True

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
        for name in EMPTY_MEANS:  # optional on the form: see clean()
            if name in self.fields:
                self.fields[name].required = False

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
        # This form says what is wrong with the schedule (and creates a new crontab on save):
        # the model does not say it again.
        self.instance.schedule_from_form = True
        for name, value in EMPTY_MEANS.items():
            if name in self.fields and cleaned.get(name) in (None, ""):
                cleaned[name] = value
        if "cron" in self.errors or "cron_timezone" in self.errors:
            return cleaned
        if cleaned.get("interval_seconds") is not None:
            self._clean_interval(cleaned)
        elif self.line_used():
            zone = cleaned.get("cron_timezone") or "UTC"
            try:
                crontab = crontab_from_line(cleaned["cron"], zone)
            except ValidationError as exc:
                self.add_error("cron", exc)
                return cleaned
            lookup = {name: getattr(crontab, name) for name in (*cron.FIELD_NAMES, "day_match")}
            existing = Crontab.objects.filter(**lookup, timezone=crontab.zone_name).first()
            if existing is not None:
                cleaned["crontab"] = existing
            elif not self.may_add_crontab:
                self.add_error(
                    "cron",
                    "No crontab has these fields and this zone, and you may not add crontabs: "
                    "choose an existing crontab below, or ask someone who may add them.",
                )
            else:
                cleaned["crontab"] = None
                self.new_crontab = crontab
        elif (
            "crontab" in self.fields and not cleaned.get("crontab") and "crontab" not in self.errors
        ):
            self.add_error("cron", "Give a cron line, choose a crontab, or give an interval.")
        return cleaned

    def _get_validation_exclusions(self) -> set[str]:
        # clean() has checked the crontab (chosen, or one save() creates) against the cron
        # line and the interval: the model's checks of it would repeat or pre-empt that.
        excluded = super()._get_validation_exclusions()  # type: ignore[misc]
        return {*excluded, "crontab"}

    def _clean_interval(self, cleaned: dict[str, Any]) -> None:
        """An interval makes an interval task: its crontab goes, unless one was given now."""
        if self.line_used():
            self.add_error(
                "interval_seconds", "Give a cron line or an interval, not both: empty one of them."
            )
        elif cleaned.get("crontab") and "crontab" in self.changed_data:
            self.add_error(
                "interval_seconds", "Choose a crontab or give an interval, not both: empty one."
            )
        else:
            cleaned["crontab"] = None

    def save(self, commit: bool = True) -> Any:
        if self.new_crontab is not None:
            fields = {
                name: getattr(self.new_crontab, name) for name in (*cron.FIELD_NAMES, "day_match")
            }
            self.instance.crontab, _ = Crontab.objects.get_or_create(
                **fields, timezone=self.new_crontab.zone_name
            )
        return super().save(commit)
