"""A periodic task's alert thresholds and the alerts beat found tripped.

The thresholds are the task's own fields (edited in the admin's "Alerts"
fieldset and in ``djag_sync`` files); ``djag.store.compile`` turns them into a
``djag.core.alerts.AlertRule``. The tripped state is beat's: it writes it when
an alert trips or recovers, and no form does.
"""

from __future__ import annotations

from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from djag.core.alerts import AlertKind

from .task_rules import LARGEST_INTEGER

#: The rule's fields, as named on the model (``djag.core.alerts.AlertRule`` drops the prefix).
ALERT_RULE_FIELDS = (
    "alert_succeed_within_seconds",
    "alert_failures_in_a_row",
    "pause_after_failures",
)


def _threshold(help_text: str) -> models.PositiveIntegerField:
    return models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(LARGEST_INTEGER)],
        help_text=help_text,
    )


class TaskAlerts(models.Model):
    alert_succeed_within_seconds = _threshold(
        "Overdue alert (a dead man's switch): each slot must be followed by a successful run "
        "within this many seconds. Empty = off."
    )
    alert_failures_in_a_row = _threshold(
        "Failing alert: trips when this many runs failed (or were lost) in a row, recovers "
        "at the next success. Empty = off."
    )
    pause_after_failures = _threshold(
        "Disable the task when this many runs since it was last enabled failed in a row. "
        "Empty = never."
    )

    # Beat-owned: never in an admin form, never logged as a schedule change.
    alerts_tripped = models.CharField(
        max_length=40,
        blank=True,
        editable=False,
        help_text="The alerts tripped now, comma-separated: " + ", ".join(AlertKind) + ".",
    )
    alert_note = models.TextField(
        blank=True,
        editable=False,
        help_text="Why: the reason of each tripped alert, and of a pause after failures.",
    )
    alert_since = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the alerts tripped now first did."
    )

    #: The columns beat writes; the tracked model leaves them out of the change log.
    alert_state_fields = frozenset({"alerts_tripped", "alert_note", "alert_since"})

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save without beat's columns: an instance read before beat recorded an alert (a
        form, a script) must not write the old state back."""
        whole_row = not args and kwargs.get("update_fields") is None
        if whole_row and not self._state.adding and not kwargs.get("force_insert"):
            skipped = self.alert_state_fields | self.get_deferred_fields()
            kwargs["update_fields"] = [
                field.name
                for field in self._meta.concrete_fields
                if not field.primary_key and field.attname not in skipped
            ]
        super().save(*args, **kwargs)

    def tripped_alerts(self) -> list[str]:
        """The kinds of the alerts tripped now ("failing", "overdue")."""
        return [kind for kind in self.alerts_tripped.split(",") if kind]
