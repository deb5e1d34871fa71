"""UserAction: free-form control signals that tasks may read, and their audit trail."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from djag.text import local_text

from .changes import validate_empty_json
from .validators import validate_storable_json


class UserAction(models.Model):
    action = models.CharField(max_length=100, db_index=True, help_text="An action code.")
    payload = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.CharField(max_length=150, blank=True, editable=False)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.action} ({local_text(self.created_at)})"

    def clean(self) -> None:
        try:
            validate_empty_json(self._meta.get_field("payload"), self.payload)
            validate_storable_json(self.payload)
        except ValidationError as exc:
            raise ValidationError({"payload": exc.error_list}) from exc


class UserActionAudit(models.Model):
    """A deleted UserAction, kept with its original creation time."""

    original_id = models.BigIntegerField()
    action = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(help_text="When the original action was created.")
    created_by = models.CharField(max_length=150, blank=True)
    deleted_at = models.DateTimeField(default=timezone.now)
    deleted_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ("-deleted_at", "-id")
        verbose_name = "user action audit"

    def __str__(self) -> str:
        return f"{self.action} (deleted {local_text(self.deleted_at)})"
