"""ScheduleChange, and the base model and queryset that write it.

Every write to Crontab, PeriodicTask and TaskDependency through the ORM lands
here: ``save()``, ``delete()`` (also cascades, via the post_delete signal),
``QuerySet.update()``, ``bulk_create()`` and ``bulk_update()``. The log is both
the audit trail shown in the admin and the feed beat reloads from, so it must
not miss a write: anything done behind the ORM's back is announced with
``djag.touch()``.
"""

from __future__ import annotations

import contextvars
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, router, transaction
from django.utils import timezone

from djag import wakeup
from djag.core.batches import CHUNK, chunks

_actor: contextvars.ContextVar[str] = contextvars.ContextVar("djag_actor", default="")


def actor_label(who: object) -> str:
    """A short text naming who made a change: a user's username, or the text given."""
    if who is None:
        return ""
    get_username = getattr(who, "get_username", None)
    if callable(get_username):
        return str(get_username())
    return str(who)[:150]


@contextmanager
def acting_as(who: object) -> Iterator[None]:
    """Attribute the schedule changes made inside the block to ``who`` (a user or a text)."""
    token = _actor.set(actor_label(who))
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor() -> str:
    return _actor.get()


class ScheduleChange(models.Model):
    class Action(models.TextChoices):
        CREATE = "create", "created"
        UPDATE = "update", "updated"
        DELETE = "delete", "deleted"
        TOUCH = "touch", "touched (raw SQL)"

    class Kind(models.TextChoices):
        CRONTAB = "crontab", "crontab"
        TASK = "periodictask", "periodic task"
        DEPENDENCY = "taskdependency", "task dependency"
        # Runs asked for from code, a command or the admin, and their cancellation
        # (written by djag.store.ledger; beat's feed ignores them).
        RUN = "taskrun", "run"

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.CharField(max_length=150, blank=True, help_text="Who made the change.")
    model = models.CharField(max_length=20, choices=Kind.choices)
    object_id = models.BigIntegerField(
        null=True, blank=True, help_text="Empty for a touch that concerns every object."
    )
    object_repr = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=10, choices=Action.choices)
    changes = models.JSONField(
        default=dict, blank=True, encoder=DjangoJSONEncoder, help_text="field: [old, new]"
    )

    class Meta:
        ordering = ("-id",)
        get_latest_by = "id"
        indexes = (models.Index(fields=("model", "object_id"), name="djag_change_object"),)

    def __str__(self) -> str:
        return f"{self.object_repr or self.model} {self.get_action_display()}"


def plain(value: Any) -> Any:
    """A JSON-friendly form of a field value, so old/new values compare and store cleanly."""
    if isinstance(value, dt.datetime):
        # One instant, one text: a form in another time zone is not a change.
        return (value.astimezone(dt.UTC) if timezone.is_aware(value) else value).isoformat()
    if isinstance(value, ZoneInfo):
        return value.key
    return value


def attname(model: type[models.Model], name: str) -> str:
    """The column attribute of field ``name`` ("crontab" -> "crontab_id")."""
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field), f"{name} is not a concrete field"
    return field.attname


def validate_empty_json(field: Any, value: Any) -> None:
    """Run a JSON field's validators on an empty value too.

    Django skips the validators of a blank field holding an empty value (None,
    "", [], {}), but an empty object is not a list and None is not stored.
    """
    if isinstance(field, models.JSONField) and value in field.empty_values:
        if value is None and not field.null:
            raise ValidationError(field.error_messages["null"], code="null")
        for validator in field.validators:
            validator(value)


def _record(
    model: type[TrackedModel],
    rows: Iterable[tuple[Any, str, str, dict[str, list[Any]]]],
    using: str,
) -> None:
    now = timezone.now()
    actor = current_actor()
    kind = str(model._meta.model_name)
    ScheduleChange.objects.using(using).bulk_create(
        [
            ScheduleChange(
                at=now,
                actor=actor,
                model=kind,
                object_id=pk,
                object_repr=text[:200],
                action=action,
                changes=diff,
            )
            for pk, text, action, diff in rows
        ],
        batch_size=CHUNK,
    )
    wakeup.touch_on_commit(using)


def touch(model: type[TrackedModel] | None = None, pks: Iterable[Any] | None = None) -> None:
    """Announce writes made behind the ORM's back (raw SQL, another program).

    ``touch()`` makes beat reload everything; ``touch(PeriodicTask, [1, 2])``
    only those rows. Call it after the raw write has committed, or inside the
    same transaction.
    """
    models_to_touch = [model] if model is not None else TrackedModel.tracked_models()
    for tracked in models_to_touch:
        using = router.db_for_write(tracked)
        targets: list[Any] = list(pks) if pks is not None and model is not None else [None]
        _record(tracked, [(pk, "", ScheduleChange.Action.TOUCH, {}) for pk in targets], using)


class TrackedQuerySet(models.QuerySet):
    """QuerySet whose bulk writes validate their input and append ScheduleChange rows."""

    def _values_by_pk(self, pks: Sequence[Any], names: Sequence[str]) -> dict[Any, dict]:
        base = self.model._base_manager.using(self.db)
        rows: dict[Any, dict] = {}
        for chunk in chunks(pks):
            for row in base.filter(pk__in=chunk).values("pk", *names):
                rows[row["pk"]] = row
        return rows

    def _record_diffs(self, before: dict[Any, dict], after: dict[Any, dict]) -> None:
        """Log each row whose fields (those ``before`` holds) changed."""
        model: type[TrackedModel] = self.model
        rows = []
        for pk, old in before.items():
            new = after.get(pk)
            if new is None:
                continue
            diff = {
                name: [plain(value), plain(new[name])]
                for name, value in old.items()
                if name != "pk" and plain(value) != plain(new[name])
            }
            if diff:
                rows.append((pk, model.repr_from_values(new), ScheduleChange.Action.UPDATE, diff))
        _record(model, rows, self.db)

    def _clean_rows_as_updated(self, pks: Sequence[Any], kwargs: dict[str, Any]) -> None:
        """Run the model's clean() on each row as the update will leave it.

        Only when the update gives a plain value to a field that clean() checks
        against others; values given as expressions cannot be known here and
        are left to the database constraints.
        """
        model: type[TrackedModel] = self.model
        values = {k: v for k, v in kwargs.items() if not hasattr(v, "resolve_expression")}
        names = {model._meta.get_field(name).name for name in values}
        if not names.intersection(model.cross_checked_fields):
            return
        base = model._base_manager.using(self.db)
        for chunk in chunks(pks):
            for obj in base.filter(pk__in=chunk):
                for name, value in values.items():
                    setattr(obj, name, value)
                obj.clean()

    def update(self, **kwargs: Any) -> int:
        model: type[TrackedModel] = self.model
        tracked = set(model.tracked_attnames())
        attnames = [attname(model, name) for name in kwargs]
        if not tracked.intersection(attnames):
            return super().update(**kwargs)
        model.validate_update(kwargs)
        watched = sorted(tracked.intersection(attnames) | model.implied_attnames(attnames))
        with transaction.atomic(using=self.db):
            before = {row["pk"]: row for row in self.values("pk", *watched)}
            pks = list(before)
            self._clean_rows_as_updated(pks, kwargs)
            count = super().update(**kwargs)
            after = self._values_by_pk(pks, [*watched, *model.repr_lookups])
            model.after_update(self.db, before, after)
            self._record_diffs(before, after)
        return count

    update.alters_data = True  # type: ignore[attr-defined]

    def bulk_create(self, objs: Iterable[Any], *args: Any, **kwargs: Any) -> list[Any]:
        model: type[TrackedModel] = self.model
        objs = list(objs)
        for obj in objs:
            obj.validate_for_write()
        with transaction.atomic(using=self.db):
            created = super().bulk_create(objs, *args, **kwargs)
            names = model.tracked_attnames()
            rows = [
                (
                    obj.pk,
                    str(obj),
                    ScheduleChange.Action.CREATE,
                    {name: [None, plain(getattr(obj, name))] for name in names},
                )
                for obj in created
            ]
            if any(obj.pk is None for obj in created):
                # The backend did not return primary keys: beat must reload this model.
                rows = [(None, "", ScheduleChange.Action.TOUCH, {})]
            _record(model, rows, self.db)
            model.after_bulk_create(self.db)
        return created

    def bulk_update(self, objs: Iterable[Any], *args: Any, **kwargs: Any) -> int:
        # Django's bulk_update() writes through update(), which logs the changes.
        objs = list(objs)
        for obj in objs:
            obj.validate_for_write()
        return super().bulk_update(objs, *args, **kwargs)

    bulk_update.alters_data = True  # type: ignore[attr-defined]


class TrackedModel(models.Model):
    """A schedule model: its writes are validated and logged to ScheduleChange."""

    #: Scheduler-owned fields: written by beat, never logged, never a reason to reload.
    untracked_fields: ClassVar[frozenset[str]] = frozenset()
    #: Fields that clean() checks together: a QuerySet.update() of any of them runs
    #: clean() on every row it changes.
    cross_checked_fields: ClassVar[frozenset[str]] = frozenset()
    #: What repr_from_values() reads: ``values()`` lookups of the row.
    repr_lookups: ClassVar[tuple[str, ...]] = ()

    objects = TrackedQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        self.validate_for_write()
        names = self.tracked_attnames()
        if kwargs.get("update_fields") is not None:
            # Log only what is written, and write what the written fields imply.
            written = {attname(type(self), name) for name in kwargs["update_fields"]}
            written |= self.implied_attnames(sorted(written))
            kwargs["update_fields"] = sorted(written)
            names = [name for name in names if name in written]
        with transaction.atomic(using=using):
            old = None
            if not self._state.adding and self.pk is not None:
                old = (
                    type(self)._base_manager.using(using).filter(pk=self.pk).values(*names).first()
                )
            self.before_write(old)
            super().save(*args, **kwargs)
            if old is None:
                action = ScheduleChange.Action.CREATE
                diff = {name: [None, plain(getattr(self, name))] for name in names}
            else:
                action = ScheduleChange.Action.UPDATE
                diff = self.tracked_diff(old)
            if diff:
                _record(type(self), [(self.pk, str(self), action, diff)], using)
            self.after_write(old, using)

    save.alters_data = True  # type: ignore[attr-defined]

    @classmethod
    def tracked_attnames(cls) -> list[str]:
        return [
            field.attname
            for field in cls._meta.concrete_fields
            if not field.primary_key and field.name not in cls.untracked_fields
        ]

    @classmethod
    def repr_from_values(cls, values: dict[str, Any]) -> str:
        """The object's text from the ``repr_lookups`` values of its row (for bulk updates)."""
        return f"{cls._meta.verbose_name} {values.get('pk', '')}"

    # Hooks for the subclasses; the defaults do nothing.

    @classmethod
    def implied_attnames(cls, attnames: Sequence[str]) -> set[str]:
        """Fields that a write of ``attnames`` may change too (watched and logged with them)."""
        return set()

    @classmethod
    def after_update(cls, using: str, before: dict[Any, dict], after: dict[Any, dict]) -> None:
        """Run inside QuerySet.update() once the rows are written (``before`` and ``after``:
        the watched fields by primary key). May write implied fields, putting their new
        values in ``after`` so that they are logged, and refuse the update by raising."""

    @classmethod
    def after_bulk_create(cls, using: str) -> None:
        """Run inside bulk_create() once the rows are written; may refuse them by raising."""

    @classmethod
    def validate_update(cls, kwargs: dict[str, Any]) -> None:
        """Validate the plain values given to QuerySet.update() like a form would."""
        errors: dict[str, list[ValidationError]] = {}
        for name, value in kwargs.items():
            field = cls._meta.get_field(name)
            if hasattr(value, "resolve_expression") or field.is_relation:
                continue
            try:
                field.clean(value, None)  # type: ignore[union-attr]
                validate_empty_json(field, value)
            except ValidationError as exc:
                errors[name] = exc.error_list
        if errors:
            raise ValidationError(errors)

    def unique_error_message(self, model_class: Any, unique_check: Any) -> ValidationError:
        # Django 5.0+ reports a UniqueConstraint over fields with its own
        # violation_error_message; Django 4.2 only ever calls this method.
        for constraint in model_class._meta.constraints:
            message = constraint.violation_error_message
            if (
                isinstance(constraint, models.UniqueConstraint)
                and tuple(constraint.fields) == tuple(unique_check)
                and message
                and message != constraint.default_violation_error_message
            ):
                return ValidationError(message, code="unique")
        return super().unique_error_message(model_class, unique_check)

    def clean_fields(self, exclude: Any = None) -> None:
        errors: dict[str, Any] = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        for field in self._meta.concrete_fields:
            if field.name in errors or (exclude and field.name in exclude):
                continue
            try:
                validate_empty_json(field, getattr(self, field.attname))
            except ValidationError as exc:
                errors[field.name] = exc.error_list
        if errors:
            raise ValidationError(errors)

    def validate_for_write(self) -> None:
        """Field and model validation run on every ORM write (not uniqueness: the DB does that)."""
        exclude = [field.name for field in self._meta.concrete_fields if field.is_relation]
        self.clean_fields(exclude=exclude)
        self.clean()

    def tracked_diff(self, old: dict[str, Any]) -> dict[str, list[Any]]:
        """``{field: [old, new]}`` for the fields of the stored ``old`` that differ."""
        diff = {}
        for name in old:
            before, after = plain(old[name]), plain(getattr(self, name))
            if before != after:
                diff[name] = [before, after]
        return diff

    def before_write(self, old: dict[str, Any] | None) -> None:
        """Adjust the instance before save(); ``old`` is the stored row, None on create."""

    def after_write(self, old: dict[str, Any] | None, using: str) -> None:
        """Run after save() inside its transaction."""

    def record_delete(self, using: str) -> None:
        names = self.tracked_attnames()
        diff = {name: [plain(getattr(self, name)), None] for name in names}
        _record(type(self), [(self.pk, str(self), ScheduleChange.Action.DELETE, diff)], using)

    @classmethod
    def tracked_models(cls) -> list[type[TrackedModel]]:
        """Crontab, PeriodicTask and TaskDependency (the concrete subclasses)."""
        return list(TrackedModel.__subclasses__())
