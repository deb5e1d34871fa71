"""Crontab: when tasks fire, as cron fields (with seconds) in a time zone."""

from __future__ import annotations

from typing import Any

from cron_descriptor import Options, get_description
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from djag.core import cron

from ._compat import check_constraint
from .changes import TrackedModel
from .fields import ZoneField
from .validators import CronFieldValidator, cron_error_text, cron_field_error


def _cron_field(name: str, default: str, help_text: str) -> models.CharField:
    return models.CharField(
        max_length=120,
        default=default,
        validators=[CronFieldValidator(name)],
        help_text=help_text,
    )


class Crontab(TrackedModel):
    second = _cron_field("second", "0", 'Seconds (0-59), e.g. "0", "*/5".')
    minute = _cron_field("minute", "*", 'Minutes (0-59), e.g. "*/15", "0,30".')
    hour = _cron_field("hour", "*", 'Hours (0-23), e.g. "5", "9-17".')
    day_of_month = _cron_field("day_of_month", "*", 'Days of the month (1-31, "L" = last).')
    month_of_year = _cron_field("month_of_year", "*", "Months (1-12 or jan-dec).")
    day_of_week = _cron_field(
        "day_of_week", "*", 'Days of the week (0-6 or sun-sat, 7 = Sunday, "mon#2" = 2nd Monday).'
    )
    timezone = ZoneField(
        default="UTC", use_pytz=False, help_text="Cron is read on this zone's clock."
    )

    cross_checked_fields = frozenset(cron.FIELD_NAMES)
    repr_lookups = (*cron.FIELD_NAMES, "timezone")

    class Meta:
        ordering = ("hour", "minute", "second", "pk")
        constraints = [
            models.UniqueConstraint(
                fields=(
                    "second",
                    "minute",
                    "hour",
                    "day_of_month",
                    "month_of_year",
                    "day_of_week",
                    "timezone",
                ),
                name="djag_crontab_unique",
                violation_error_message="An identical crontab already exists; use it.",
            ),
            *(
                check_constraint(~models.Q(**{name: ""}), name=f"djag_crontab_{name}_not_empty")
                for name in cron.FIELD_NAMES
            ),
        ]

    def __str__(self) -> str:
        return f"{self.line()} ({self.zone_name})"

    @property
    def zone_name(self) -> str:
        return str(getattr(self.timezone, "key", self.timezone))

    def raw_fields(self) -> tuple[str, str, str, str, str, str]:
        return (
            self.second,
            self.minute,
            self.hour,
            self.day_of_month,
            self.month_of_year,
            self.day_of_week,
        )

    def line(self) -> str:
        """The one-line form, seconds first: ``"0 5 5 * * 1-5"``."""
        return " ".join(self.raw_fields())

    @classmethod
    def repr_from_values(cls, values: dict[str, Any]) -> str:
        fields = " ".join(str(values.get(name, "?")) for name in cron.FIELD_NAMES)
        return f"{fields} ({getattr(values.get('timezone'), 'key', values.get('timezone'))})"

    def clean(self) -> None:
        if not all(isinstance(value, str) for value in self.raw_fields()):
            return  # not text: clean_fields() has reported it
        try:
            fields = cron.parse_cron(*self.raw_fields())
        except cron.CronError as exc:
            if exc.field not in cron.FIELD_NAMES:  # no field is wrong alone: the six together are
                raise ValidationError(cron_error_text(exc)) from exc
            if cron_field_error(exc.field, getattr(self, exc.field)) is not None:
                return  # wrong on its own: clean_fields() reports it on the field, once
            raise ValidationError({exc.field: cron_error_text(exc)}) from exc
        if cron.never_fires(fields):
            raise ValidationError(
                {"day_of_month": "This crontab never fires (no such day in the chosen months)."}
            )

    def describe(self) -> str:
        """Readable text, e.g. "At 05:05, Monday through Friday, Europe/Paris".

        The cron line itself when the fields are invalid (a row written behind
        the ORM's back) or beyond what cron-descriptor reads.
        """
        try:
            cron.parse_cron(*self.raw_fields())
            text = get_description(self.line(), options=_DESCRIPTION_OPTIONS)
        except Exception:  # cron-descriptor cannot read every form djag accepts
            text = self.line()
        return f"{text}, {self.zone_name}"

    def after_write(self, old: dict[str, Any] | None, using: str) -> None:
        if old is not None and self.tracked_diff(old):
            self.resume_tasks([self.pk], using)

    @classmethod
    def after_update(cls, using: str, before: dict[Any, dict], after: dict[Any, dict]) -> None:
        changed = [pk for pk, old in before.items() if any(old[k] != after[pk][k] for k in old)]
        if changed:
            cls.resume_tasks(changed, using)

    @staticmethod
    def resume_tasks(crontab_pks: list[Any], using: str) -> None:
        """A changed crontab resumes its tasks from now: no burst of "missed" events.

        Written without a change-log entry of its own: beat reloads a crontab's
        tasks when it applies the crontab's change.
        """
        tasks = apps.get_model("djag", "PeriodicTask")
        tasks._base_manager.using(using).filter(crontab_id__in=crontab_pks).update(
            resume_at=timezone.now()
        )


_DESCRIPTION_OPTIONS = Options()
_DESCRIPTION_OPTIONS.use_24hour_time_format = True
