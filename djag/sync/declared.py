"""Schedules as code: read declarations (YAML, JSON, a Python module) and sync them.

Used by ``manage.py djag_sync`` (and, for crontabs, ``djag_import_celery_beat``).
The functions here do the work; the commands only parse arguments and print.

A declaration is a mapping::

    timezone: Europe/Paris          # optional default zone of the tasks below (else UTC)
    tasks:
      - name: nightly-report
        task: reports.tasks.build
        cron: "0 30 2 * * *"        # seconds first; a five-field line gets second 0
        after: [extract]            # or [{task: extract, future: false, require_success: true}]
      - name: poll-feeds
        task: feeds.tasks.poll
        every: 6h                   # instead of cron: seconds, or 90s, 15m, 6h, 3 days
        anchor: "2026-03-01T05:00"  # optional; a naive time is read in the task's timezone
        exclude_weekdays: sat,sun   # also exclude_dates: [2026-12-24], holiday_calendar: US-NY
        jitter_seconds: 30
        alert_failures_in_a_row: 3  # also alert_succeed_within_seconds, pause_after_failures

``djag.sync.apply.sync`` writes through the ORM, so every change is validated by the models and
logged to ScheduleChange; the caller wraps it in a transaction and rolls it back for
a dry run or when :class:`SyncError` is raised.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from djag.core.interval import IntervalError, parse_every
from djag.models import PeriodicTask

#: PeriodicTask fields a declaration may set, besides name, cron, timezone and after.
TASK_FIELDS = (
    "task",
    "args",
    "kwargs",
    "queue",
    "exchange",
    "routing_key",
    "priority",
    "headers",
    "expires_seconds",
    "enabled",
    "start_at",
    "end_at",
    "misfire_policy",
    "grace_seconds",
    "max_catchup",
    "max_running",
    "max_runs",
    "run_timeout_seconds",
    "keep_history",
    "description",
    "exclude_dates",
    "exclude_weekdays",
    "holiday_calendar",
    "jitter_seconds",
    "alert_succeed_within_seconds",
    "alert_failures_in_a_row",
    "pause_after_failures",
)


TASK_KEYS = frozenset({"name", "cron", "every", "anchor", "timezone", "after", *TASK_FIELDS})


EDGE_KEYS = frozenset({"task", "future", "require_success"})


TOP_KEYS = frozenset({"tasks", "timezone"})


SOURCE_MAX = PeriodicTask._meta.get_field("source").max_length or 200


class SyncError(Exception):
    """Declarations that cannot be synced; ``errors`` holds one line per problem."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = list(errors)


@dataclass(frozen=True)
class DeclaredEdge:
    dependee: str
    future_depends: bool = False
    require_success: bool = True


@dataclass
class DeclaredTask:
    name: str
    source: str
    cron: tuple[str, str, str, str, str, str] | None  # None: an interval task
    timezone: str
    fields: dict[str, Any]  # the TASK_FIELDS the declaration sets
    after: list[DeclaredEdge] = field(default_factory=list)
    every: int | None = None  # the interval in seconds, instead of cron
    anchor: dt.datetime | None = None


def load(spec: str) -> tuple[str, Any]:
    """(source label, data) of one declaration: a .yaml/.yml/.json file or a dotted module
    whose ``SCHEDULES`` is the mapping."""
    suffix = Path(spec).suffix.lower()
    if suffix in {".yaml", ".yml", ".json"} or Path(spec).is_file():
        return _source_label(spec), _load_file(Path(spec), suffix)
    try:
        module = importlib.import_module(spec)
    except ImportError as exc:
        raise SyncError(
            [f"{spec}: no such file, and no module of that name can be imported ({exc})."]
        ) from exc
    except Exception as exc:  # the module itself is broken: say so, without a traceback
        raise SyncError([f"{spec}: importing the module failed: {exc!r}"]) from exc
    data = getattr(module, "SCHEDULES", None)
    if not isinstance(data, Mapping):
        raise SyncError([f"{spec}: the module has no SCHEDULES dict."])
    return spec, data


def _source_label(spec: str) -> str:
    """The path as given, normalised: stored in PeriodicTask.source."""
    text = Path(spec).as_posix()
    return text[-SOURCE_MAX:]


def _load_file(path: Path, suffix: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SyncError([f"{path}: cannot read the file ({exc.strerror or exc})."]) from exc
    if suffix == ".json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise SyncError([f"{path}: not valid JSON: {exc}"]) from exc
    if suffix not in {".yaml", ".yml"}:
        raise SyncError([f"{path}: unknown file type; name it .yaml, .yml or .json."])
    try:
        import yaml
    except ImportError as exc:
        raise SyncError(
            [f"{path}: reading YAML needs PyYAML: pip install 'djag[yaml]' (or PyYAML)."]
        ) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SyncError([f"{path}: not valid YAML: {exc}"]) from exc
    except ValueError as exc:  # PyYAML's own date reading: "2026-02-30"
        raise SyncError([f"{path}: a value is not valid: {exc}"]) from exc


def parse(source: str, data: Any) -> list[DeclaredTask]:
    """The tasks of one declaration; SyncError lists every problem found."""
    if not isinstance(data, Mapping):
        raise SyncError([f"{source}: expected a mapping with a 'tasks' list."])
    errors = [
        f"{source}: unknown key {key!r} (known: {', '.join(sorted(TOP_KEYS))})."
        for key in data
        if key not in TOP_KEYS
    ]
    default_zone = data.get("timezone", "UTC")
    if not isinstance(default_zone, str):
        errors.append(f"{source}: timezone must be a zone name such as 'Europe/Paris'.")
        default_zone = "UTC"
    items = data.get("tasks")
    if not isinstance(items, list):
        errors.append(f"{source}: 'tasks' must be a list of tasks.")
        items = []
    tasks: list[DeclaredTask] = []
    for index, item in enumerate(items, start=1):
        try:
            tasks.append(_parse_task(source, item, default_zone))
        except SyncError as exc:
            name = item.get("name") if isinstance(item, Mapping) else None
            who = f"task {name!r}" if isinstance(name, str) and name else f"task #{index}"
            errors.extend(f"{source}: {who}: {error}" for error in exc.errors)
    if errors:
        raise SyncError(errors)
    return tasks


def _parse_task(source: str, item: Any, default_zone: str) -> DeclaredTask:
    if not isinstance(item, Mapping):
        raise SyncError(["expected a mapping with name, task and cron."])
    errors = [
        f"unknown key {key!r} (known: {', '.join(sorted(TASK_KEYS))})."
        for key in item
        if key not in TASK_KEYS
    ]
    errors += [
        f"{key}: text cannot contain the NUL character (\\x00)."
        for key, value in item.items()
        if _holds_nul(value)
    ]
    for key in ("name", "task"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            errors.append(f"{key!r} is required (a text).")
    zone = item.get("timezone", default_zone)
    if not isinstance(zone, str):
        errors.append("timezone must be a zone name such as 'Europe/Paris'.")
    line: tuple[str, str, str, str, str, str] | None = None
    every, anchor = _interval(item, zone if isinstance(zone, str) else "UTC", errors)
    if isinstance(item.get("cron"), str) and item["cron"].strip():
        try:
            line = cron_fields(item["cron"])
        except ValueError as exc:
            errors.append(f"cron: {exc}")
    elif "every" not in item:
        errors.append("'cron' (a text) or 'every' (an interval) is required.")
    if "cron" in item and "every" in item:
        errors.append("give 'cron' or 'every', not both.")
    fields: dict[str, Any] = {key: item[key] for key in TASK_FIELDS if key in item}
    if isinstance(fields.get("exclude_dates"), list):
        fields["exclude_dates"] = ", ".join(_date_text(day) for day in fields["exclude_dates"])
    for key in ("start_at", "end_at"):
        if key in fields and fields[key] is not None:
            try:
                fields[key] = instant(fields[key])
            except ValueError as exc:
                errors.append(f"{key}: {exc}")
    after: list[DeclaredEdge] = []
    try:
        after = _parse_after(item.get("after", []))
    except ValueError as exc:
        errors.append(f"after: {exc}")
    if errors:
        raise SyncError(errors)
    return DeclaredTask(
        name=item["name"].strip(),
        source=source,
        cron=line,
        timezone=str(zone),
        fields=fields,
        after=after,
        every=every,
        anchor=anchor,
    )


def _holds_nul(value: Any) -> bool:
    """Whether a NUL character is anywhere in a declared value (PostgreSQL refuses it)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str) and "\x00" in item:
            return True
        if isinstance(item, Mapping):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return False


def _interval(
    item: Mapping[str, Any], zone: str, errors: list[str]
) -> tuple[int | None, dt.datetime | None]:
    """The declared ``every`` in seconds and ``anchor`` (a naive time is read in ``zone``)."""
    every = anchor = None
    if "every" in item:
        try:
            every = parse_every(item["every"])
        except IntervalError as exc:
            errors.append(exc.message)
    if "anchor" in item:
        if "every" not in item:
            errors.append("anchor: an anchor belongs to an interval; declare 'every' too.")
        try:
            anchor = instant(item["anchor"], zone)
        except ValueError as exc:
            errors.append(f"anchor: {exc}")
    return every, anchor


def _date_text(day: Any) -> str:
    """A listed date as text (YAML reads 2026-12-24 as a date; the model validates it)."""
    return day.isoformat() if isinstance(day, dt.date) else str(day)


def cron_fields(line: str) -> tuple[str, str, str, str, str, str]:
    """Six cron fields, seconds first, from a six-field line or a five-field one (second 0)."""
    parts = line.split()
    if len(parts) == 5:
        parts = ["0", *parts]
    if len(parts) != 6:
        raise ValueError(
            f"{line!r} has {len(parts)} fields; write five (minute hour day month weekday) "
            "or six (second first)."
        )
    second, minute, hour, day_of_month, month_of_year, day_of_week = parts
    return second, minute, hour, day_of_month, month_of_year, day_of_week


def instant(value: Any, zone: str | None = None) -> dt.datetime:
    """An aware datetime from an ISO 8601 text or a datetime; naive = in ``zone``, or
    settings.TIME_ZONE."""
    if isinstance(value, dt.datetime):
        parsed: dt.datetime | None = value
    elif isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
    else:
        parsed = None
    if parsed is None:
        raise ValueError(
            f"{value!r} is not a date and time; write ISO 8601, e.g. 2026-03-02T12:00Z"
        )
    if timezone.is_naive(parsed):
        try:
            parsed = timezone.make_aware(parsed, None if zone is None else ZoneInfo(zone))
        except Exception as exc:  # an unknown zone: the task's timezone error says so
            raise ValueError(f"unknown time zone {zone!r}") from exc
    return parsed


def _parse_after(value: Any) -> list[DeclaredEdge]:
    if not isinstance(value, list):
        raise ValueError("expected a list of task names or {task, future, require_success}.")
    edges: list[DeclaredEdge] = []
    for entry in value:
        if isinstance(entry, str):
            edges.append(DeclaredEdge(entry))
            continue
        if not isinstance(entry, Mapping) or not isinstance(entry.get("task"), str):
            raise ValueError(f"{entry!r} is neither a task name nor a mapping with 'task'.")
        unknown = sorted(set(entry) - EDGE_KEYS)
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r} (known: {', '.join(sorted(EDGE_KEYS))}).")
        flags = {key: entry.get(key) for key in ("future", "require_success") if key in entry}
        for key, flag in flags.items():
            if not isinstance(flag, bool):
                raise ValueError(f"{key} of {entry['task']!r} must be true or false.")
        edges.append(
            DeclaredEdge(
                entry["task"],
                future_depends=entry.get("future", False),
                require_success=entry.get("require_success", True),
            )
        )
    names = [edge.dependee for edge in edges]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"{duplicates[0]!r} is listed twice.")
    return edges


def read_all(specs: Iterable[str]) -> list[DeclaredTask]:
    """Every task of every declaration; a name declared twice is an error."""
    errors: list[str] = []
    tasks: list[DeclaredTask] = []
    for spec in specs:
        try:
            tasks.extend(parse(*load(spec)))
        except SyncError as exc:
            errors.extend(exc.errors)
    seen: dict[str, str] = {}
    for declared in tasks:
        if declared.name in seen:
            errors.append(
                f"task {declared.name!r} is declared twice ({seen[declared.name]} and "
                f"{declared.source})."
            )
        seen.setdefault(declared.name, declared.source)
    if errors:
        raise SyncError(errors)
    return tasks


def error_lines(exc: ValidationError) -> list[str]:
    """A model's ValidationError as ``field: message`` lines."""
    if not hasattr(exc, "error_dict"):
        return list(exc.messages)
    lines: list[str] = []
    for name, messages in exc.message_dict.items():
        prefix = "" if name == NON_FIELD_ERRORS else f"{name}: "
        lines.extend(f"{prefix}{message}" for message in messages)
    return lines
