"""Exporting the database's schedules in the format ``djag_sync`` reads.

``declarations()`` turns every PeriodicTask into the mapping ``djag.sync.declared`` parses, so
that ``djag_sync --export schedules.yaml`` followed by ``djag_sync schedules.yaml`` on an empty
database makes the same tasks, crontabs and dependencies. A field at its model default is left
out (``djag_sync`` reads a missing key as the default), ``start_at`` never is (a task declared
without one would start at the moment it is created).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.db import models

from djag.core.exclusions import parse_dates
from djag.core.interval import duration
from djag.models import PeriodicTask, TaskDependency
from djag.models.changes import plain
from djag.sync.declared import TASK_FIELDS, SyncError

#: The file types an export can be written as, by suffix.
FORMATS = {".yaml": "YAML", ".yml": "YAML", ".json": "JSON"}


def declarations() -> dict[str, Any]:
    """Every task, by name, with its dependencies, as a declaration mapping."""
    edges: dict[int, list[Any]] = {}
    for edge in TaskDependency.objects.select_related("dependee").order_by("dependee__name"):
        edges.setdefault(edge.depender_id, []).append(_edge(edge))
    tasks = PeriodicTask.objects.select_related("crontab").order_by("name")
    return {"tasks": [_task(task, edges.get(task.pk, [])) for task in tasks]}


def _task(task: PeriodicTask, after: list[Any]) -> dict[str, Any]:
    item: dict[str, Any] = {"name": task.name, "task": task.task}
    if task.crontab is not None:
        item["cron"] = task.crontab.line()
        zone = task.crontab.zone_name
    else:
        assert task.interval_seconds is not None  # the model's one-schedule constraint
        zone = str(getattr(task.interval_timezone, "key", task.interval_timezone))
        item["every"] = duration(task.interval_seconds)
        if task.interval_anchor is not None:
            # Written in the task's zone, with its offset: readable and unambiguous.
            item["anchor"] = task.interval_anchor.astimezone(ZoneInfo(zone)).isoformat()
    if zone != "UTC":
        item["timezone"] = zone
    for name in TASK_FIELDS:
        if name == "task":
            continue
        value = getattr(task, name)
        if name != "start_at" and value == _default(name):
            continue
        item[name] = _value(name, value)
    if after:
        item["after"] = after
    return item


def _default(name: str) -> Any:
    field = PeriodicTask._meta.get_field(name)
    assert isinstance(field, models.Field)
    return field.get_default()


def _value(name: str, value: Any) -> Any:
    """A field's value as the file holds it: instants in ISO 8601, listed dates as a list."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if name == "exclude_dates":
        return [day.isoformat() for day in parse_dates(value)]
    return plain(value)


def _edge(edge: TaskDependency) -> Any:
    if not edge.future_depends and edge.require_success:
        return edge.dependee.name
    entry: dict[str, Any] = {"task": edge.dependee.name}
    if edge.future_depends:
        entry["future"] = True
    if not edge.require_success:
        entry["require_success"] = False
    return entry


def check_target(path: Path) -> None:
    """Raise SyncError if ``path`` is no file an export can be written to, before any work."""
    if path.suffix.lower() not in FORMATS:
        raise SyncError([f"{path}: unknown file type; name it .yaml, .yml or .json."])
    try:
        if path.is_dir():
            raise SyncError([f"{path}: is a directory; give a file name."])
        if not path.parent.is_dir():
            raise SyncError([f"{path}: {path.parent} is not a directory."])
    except OSError as exc:  # a name too long, a loop of links
        raise SyncError([f"{path}: cannot write the file ({exc.strerror or exc})."]) from exc


def write(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as YAML or JSON (by the suffix); SyncError if the file cannot be written."""
    check_target(path)
    if FORMATS[path.suffix.lower()] == "JSON":
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    else:
        try:
            import yaml
        except ImportError as exc:
            raise SyncError(
                [f"{path}: writing YAML needs PyYAML: pip install 'djag[yaml]' (or PyYAML)."]
            ) from exc
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SyncError([f"{path}: cannot write the file ({exc.strerror or exc})."]) from exc
