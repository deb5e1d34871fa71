"""Django signal receivers, connected by the app config."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete

from djag.models import TrackedModel, UserAction, UserActionAudit
from djag.models.changes import current_actor


def record_schedule_delete(
    sender: type[TrackedModel], instance: TrackedModel, using: str, **_: Any
) -> None:
    # Connected per model, so Django's collector sends one signal per deleted row
    # (cascades and QuerySet.delete() included) instead of a silent fast delete.
    instance.record_delete(using)


def audit_user_action_delete(
    sender: type[UserAction], instance: UserAction, using: str, **_: Any
) -> None:
    UserActionAudit.objects.using(using).create(
        original_id=instance.pk,
        action=instance.action,
        payload=instance.payload,
        created_at=instance.created_at,
        created_by=instance.created_by,
        deleted_by=current_actor(),
    )


def connect() -> None:
    for model in TrackedModel.tracked_models():
        post_delete.connect(
            record_schedule_delete, sender=model, dispatch_uid=f"djag-log-{model.__name__}"
        )
    post_delete.connect(
        audit_user_action_delete, sender=UserAction, dispatch_uid="djag-audit-action"
    )
