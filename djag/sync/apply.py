"""Writing declared schedules to the database through the ORM, validated and logged."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, transaction

from djag.core import cron
from djag.models import Crontab, PeriodicTask, TaskDependency
from djag.models.changes import plain
from djag.sync.declared import (
    TASK_FIELDS,
    DeclaredEdge,
    DeclaredTask,
    SyncError,
    error_lines,
)

#: Fields compared (and written) on every sync; start_at only when declared.
MANAGED_FIELDS = (
    *(name for name in TASK_FIELDS if name != "start_at"),
    "crontab",
    "interval_seconds",
    "interval_anchor",
    "interval_timezone",
    "source",
)


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)


@dataclass
class Change:
    """One create, update or delete, with ``{field: (old, new)}`` as readable values."""

    action: str  # "create" | "update" | "delete"
    kind: str  # "crontab" | "task" | "dependency"
    label: str
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        head = f"{self.action} {self.kind} {self.label}"
        body = [
            f"    {name}: {_shown(old)} -> {_shown(new)}"
            if self.action == "update"
            else f"    {name}: {_shown(new)}"
            for name, (old, new) in self.fields.items()
        ]
        return [head, *body]


@dataclass
class SyncResult:
    changes: list[Change]
    declared: int
    undeclared: list[str]  # code-managed tasks no longer declared (and not pruned)

    def count(self, action: str, kind: str = "task") -> int:
        return sum(1 for c in self.changes if c.action == action and c.kind == kind)


def sync(declared: Sequence[DeclaredTask], prune: bool = False) -> SyncResult:
    """Make the database match the declarations; run inside a transaction.

    Creates or updates each declared task (``source`` = where it is declared), makes
    its dependencies exactly its ``after`` list, and with ``prune`` deletes the
    code-managed tasks (non-empty ``source``) that are declared no more; tasks made in
    the admin are never deleted. Raises SyncError listing every invalid task (the
    caller rolls the transaction back): nothing is half-written.
    """
    changes: list[Change] = []
    errors: list[str] = []
    saved: dict[str, PeriodicTask] = {}
    for item in declared:
        try:
            with transaction.atomic():  # a savepoint: a database error stays with its task
                saved[item.name] = _sync_task(item, changes)
        except ValidationError as exc:
            errors.extend(f"task {item.name!r}: {line}" for line in error_lines(exc))
        except Exception as exc:  # a value no validator foresaw: its task's error, no traceback
            errors.append(f"task {item.name!r}: cannot be saved ({type(exc).__name__}: {exc})")
    names = {item.name for item in declared}
    orphans = PeriodicTask.objects.exclude(source="").exclude(name__in=names).order_by("name")
    undeclared: list[str] = []
    for orphan in orphans:
        if prune:
            changes.append(Change("delete", "task", repr(orphan.name)))
            orphan.delete()
        else:
            undeclared.append(orphan.name)
    failed = names - set(saved)
    errors.extend(
        _sync_edges([item for item in declared if item.name in saved], saved, failed, changes)
    )
    if errors:
        raise SyncError(errors)
    return SyncResult(changes, len(declared), undeclared)


def _sync_task(item: DeclaredTask, changes: list[Change]) -> PeriodicTask:
    crontab_changes: list[Change] = []
    try:
        crontab = (
            None if item.cron is None else crontab_for(item.cron, item.timezone, crontab_changes)
        )
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        raise ValidationError(
            {
                key if key in ("timezone", NON_FIELD_ERRORS) else f"cron {key}": messages
                for key, messages in exc.message_dict.items()
            }
        ) from exc
    values = _task_values(item)
    existing = PeriodicTask.objects.filter(name=item.name).select_related("crontab").first()
    if existing is None:
        obj = PeriodicTask(name=item.name, crontab=crontab, **values)
        obj.full_clean()
        obj.save()
        changes.extend(crontab_changes)
        when = ["crontab"] if item.cron is not None else ["interval_seconds", "interval_anchor"]
        shown = ["task", *when, *(k for k in item.fields if k != "task"), "source"]
        changes.append(
            Change(
                "create",
                "task",
                repr(item.name),
                {name: (None, _readable(obj, name)) for name in shown},
            )
        )
        return obj
    obj = PeriodicTask.objects.select_related("crontab").get(pk=existing.pk)
    obj.crontab = crontab
    for name, value in values.items():
        setattr(obj, name, value)
    obj.full_clean()  # converts the values, so that they compare with the stored ones
    diff = {
        name: (_readable(existing, name), _readable(obj, name))
        for name in (*MANAGED_FIELDS, "start_at")
        if _readable(existing, name) != _readable(obj, name)
    }
    if diff:
        obj.save()
        changes.extend(crontab_changes)
        changes.append(Change("update", "task", repr(item.name), diff))
    return obj


def crontab_for(
    fields: Sequence[str],
    zone: str,
    changes: list[Change] | None = None,
    day_match: str = cron.DayMatch.EITHER,
) -> Crontab:
    """The crontab with these six fields (seconds first), zone and day matching, created if
    missing; an "&" before the day of week selects "both" day matching too.

    Raises ValidationError (with ``field: message`` of the Crontab model) if invalid.
    An existing crontab is never modified: other tasks may share it.
    """
    candidate = Crontab(
        **dict(zip(cron.FIELD_NAMES, fields, strict=True)), timezone=zone, day_match=day_match
    )
    # Also takes the "&" notation off the day of week into day_match.
    candidate.full_clean(validate_unique=False, validate_constraints=False)
    found = Crontab.objects.filter(
        **{name: getattr(candidate, name) for name in (*cron.FIELD_NAMES, "day_match")},
        timezone=candidate.zone_name,
    ).first()
    if found is not None:
        return found
    candidate.save()
    if changes is not None:
        changes.append(Change("create", "crontab", str(candidate)))
    return candidate


def _task_values(declared: DeclaredTask) -> dict[str, Any]:
    """The managed field values the declaration asks for (model defaults where silent)."""
    values: dict[str, Any] = {}
    for name in MANAGED_FIELDS:
        if name in ("crontab", "source") or name.startswith("interval_"):
            continue
        if name in declared.fields:
            values[name] = declared.fields[name]
        else:
            model_field = PeriodicTask._meta.get_field(name)
            assert isinstance(model_field, models.Field)
            values[name] = model_field.get_default()
    if "start_at" in declared.fields:
        values["start_at"] = declared.fields["start_at"]
    values["interval_seconds"] = declared.every
    values["interval_anchor"] = declared.anchor
    values["interval_timezone"] = declared.timezone if declared.every is not None else "UTC"
    values["source"] = declared.source
    return values


def _readable(obj: PeriodicTask, name: str) -> Any:
    if name == "crontab":
        return str(obj.crontab) if obj.crontab_id else None
    if name == "interval_timezone":
        return str(getattr(obj.interval_timezone, "key", obj.interval_timezone))
    return plain(getattr(obj, name))


def _sync_edges(
    declared: Sequence[DeclaredTask],
    saved: Mapping[str, PeriodicTask],
    failed: set[str],
    changes: list[Change],
) -> list[str]:
    """Make each declared task's dependencies its ``after`` list: removals first (so that
    reversing an edge is no cycle), then updates, then additions."""
    errors: list[str] = []
    plans = []
    for item in declared:
        depender = saved[item.name]
        current = {
            edge.dependee.name: edge
            for edge in TaskDependency.objects.filter(depender=depender).select_related("dependee")
        }
        wanted = {edge.dependee: edge for edge in item.after}
        for name, edge in current.items():
            if name not in wanted:
                changes.append(Change("delete", "dependency", _edge_label(item.name, edge)))
                edge.delete()
        plans.append((item, depender, current, wanted))
    for item, _depender, current, wanted in plans:
        for name, want in wanted.items():
            edge = current.get(name)
            if edge is None:
                continue
            diff = {
                key: (getattr(edge, key), getattr(want, key))
                for key in ("future_depends", "require_success")
                if getattr(edge, key) != getattr(want, key)
            }
            if diff:
                for key, (_, new) in diff.items():
                    setattr(edge, key, new)
                try:
                    edge.full_clean()
                    edge.save()
                except ValidationError as exc:
                    errors.extend(_edge_errors(item.name, want, exc))
                    continue
                changes.append(Change("update", "dependency", _edge_label(item.name, want), diff))
    for item, depender, current, wanted in plans:
        for name, want in wanted.items():
            if name in current or name in failed:
                continue  # a task that failed validation has its own error
            dependee = saved.get(name) or PeriodicTask.objects.filter(name=name).first()
            if dependee is None:
                errors.append(
                    f"task {item.name!r}: after: no task named {name!r} is declared or exists."
                )
                continue
            new = TaskDependency(
                depender=depender,
                dependee=dependee,
                future_depends=want.future_depends,
                require_success=want.require_success,
            )
            try:
                new.full_clean()
                new.save()
            except ValidationError as exc:
                errors.extend(_edge_errors(item.name, want, exc))
                continue
            changes.append(
                Change(
                    "create",
                    "dependency",
                    _edge_label(item.name, want),
                    {"require_success": (None, want.require_success)},
                )
            )
    return errors


def _edge_label(depender: str, edge: DeclaredEdge | TaskDependency) -> str:
    if isinstance(edge, TaskDependency):
        dependee, future = edge.dependee.name, edge.future_depends
    else:
        dependee, future = edge.dependee, edge.future_depends
    return f"{depender!r} after {'future ' if future else ''}{dependee!r}"


def _edge_errors(depender: str, edge: DeclaredEdge, exc: ValidationError) -> list[str]:
    prefix = f"task {depender!r}: after {edge.dependee!r}: "
    messages = exc.messages if not hasattr(exc, "error_dict") else error_lines(exc)
    return [prefix + message.removeprefix("dependee: ") for message in messages]
