"""The one place a stored row becomes what the core schedules with.

- :func:`compile_crontab`: a crontab row (its six fields, zone and day matching) to a
  :class:`~djag.core.cron.CronSchedule`;
- :func:`task_row`: a PeriodicTask's column values to a :class:`~djag.store.rows.TaskRow`
  (JSON decoded, routing options gathered);
- :func:`task_schedule`: a task's base schedule, its crontab's or its interval
  (:class:`~djag.core.interval.IntervalSchedule`), with the zone it is read in;
- :func:`task_spec`: a task row and its crontab's schedule to the planner's
  :class:`~djag.core.plan.TaskSpec`, with its exclusions
  (:class:`~djag.core.exclusions.ExcludingSchedule`, holiday calendars from
  ``djag.models.calendars``) and its jitter.

Beat, the commands, the admin pages and the importer all call these, so what
they show is what beat does. None of them raises for a bad row: whatever a row
holds (a field written with raw SQL, a zone that is a folder, a crontab that
can never fire), the answer is a :class:`Problem` naming the row, which the
caller records or shows, and every other row goes on.
"""

from __future__ import annotations

import datetime as dt
import json
import operator
from dataclasses import dataclass
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from djag.core.alerts import AlertKind, AlertRule
from djag.core.cron import CronError, CronSchedule, format_line, never_fires, parse_cron
from djag.core.exclusions import ExcludingSchedule, Exclusions, parse_dates, parse_weekdays
from djag.core.interval import IntervalError, IntervalSchedule
from djag.core.jitter import Jitter, JitterError
from djag.core.message import reserved_header_names, reserved_headers_text
from djag.core.plan import TaskSpec
from djag.core.vocab import MAX_CATCHUP, Policy
from djag.models.calendars import holiday_calendar
from djag.models.task_alerts import ALERT_RULE_FIELDS
from djag.models.task_rules import LARGEST_INTEGER
from djag.store.db import to_epoch
from djag.store.rows import (
    NO_ALERTS,
    NO_EXCLUSIONS,
    CrontabRow,
    ExclusionRow,
    IntervalRow,
    TaskRow,
)


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a row cannot be scheduled, in words for the task's ``problem`` field.

    ``subject`` names the row at fault ("crontab 7"), or is empty when the
    problem is the task's own; ``detail`` says what is wrong with it.
    """

    detail: str
    subject: str = ""

    def __str__(self) -> str:
        return f"{self.subject}: {self.detail}" if self.subject else self.detail


class CrontabLike(Protocol):
    """What :func:`crontab_row` reads of a Crontab (a model instance, saved or not)."""

    pk: Any
    day_match: str

    def raw_fields(self) -> tuple[str, str, str, str, str, str]: ...

    @property
    def zone_name(self) -> str: ...


def crontab_row(crontab: CrontabLike) -> CrontabRow:
    return CrontabRow(crontab.pk or 0, crontab.raw_fields(), crontab.zone_name, crontab.day_match)


def crontab_line(row: CrontabRow) -> str:
    """The crontab's one-line form, "&" before the day of week in "both" day matching."""
    try:
        return format_line(*row.fields, day_match=row.day_match)
    except (CronError, AttributeError):  # a row written behind the ORM's back
        return " ".join(str(field) for field in row.fields)


def zone_of(name: str) -> ZoneInfo:
    """The zone named ``name``; raises ValueError with a readable message otherwise."""
    try:
        return ZoneInfo(name)
    except Exception as exc:  # not a key, a folder ("America"), a path, a NUL byte ...
        raise ValueError(f"unknown time zone {name!r}") from exc


def compile_crontab(row: CrontabRow) -> CronSchedule | Problem:
    """The crontab's schedule, or the problem that keeps its tasks from running."""
    subject = f"crontab {row.id}" if row.id else "crontab"
    try:
        zone = zone_of(row.zone)
        fields = parse_cron(*row.fields, day_match=row.day_match)
        if never_fires(fields):
            return Problem("never fires (no such day in the chosen months)", subject)
        return CronSchedule(fields, zone)
    except (CronError, ValueError) as exc:
        return Problem(str(exc), subject)
    except Exception as exc:  # a row no validation let through: report it, never raise
        return Problem(f"cannot be read ({type(exc).__name__}: {exc})", subject)


#: The PeriodicTask columns :func:`task_row` reads, JSON columns cast to text, and the
#: datetimes as ``*_instant``: epoch seconds, or datetimes (``djag.store.schedule``).
TASK_COLUMNS = (
    "id",
    "name",
    "task",
    "enabled",
    "crontab_id",
    "args_text",
    "kwargs_text",
    "headers_text",
    "queue",
    "exchange",
    "routing_key",
    "priority",
    "expires_seconds",
    "misfire_policy",
    "grace_seconds",
    "max_catchup",
    "max_running",
    "max_runs",
    "run_timeout_seconds",
    "start_at_instant",
    "resume_at_instant",
    "end_at_instant",
    "saved_checkpoint",
    "problem",
    "interval_seconds",
    "interval_anchor_instant",
    "interval_zone_text",
    "exclude_dates",
    "exclude_weekdays",
    "holiday_calendar",
    "jitter_seconds",
    *ALERT_RULE_FIELDS,
    "alerts_tripped",
)

_EMPTY_JSON: dict[type, str] = {list: "[]", dict: "{}"}


def _decode_json(text: str | None, kind: type, name: str) -> tuple[Any, str]:
    """(value, problem): the decoded JSON, or a problem saying why it cannot be used."""
    if text is None or text == _EMPTY_JSON[kind]:  # most tasks: skip the parser
        return kind(), ""
    try:
        value = json.loads(text)
    except (TypeError, ValueError) as exc:
        return kind(), f"{name} is not valid JSON ({exc})"
    if not isinstance(value, kind):
        expected = "a JSON list" if kind is list else "a JSON object"
        return kind(), f"{name} must be {expected}, not {type(value).__name__}"
    return value, ""


def _checked_json(text: str | None, kind: type, name: str) -> tuple[str, str]:
    """(text, problem): the JSON text as stored if it decodes to a ``kind``; else the empty
    value's text and why it cannot be used."""
    empty = _EMPTY_JSON[kind]
    if text is None or text == empty:
        return empty, ""
    _, problem = _decode_json(text, kind, name)
    return (empty, problem) if problem else (text, "")


class Kept(dict[Any, Any]):
    """``kept[value]``: the equal value kept before, or ``value``, kept from now on."""

    def __missing__(self, value: Any) -> Any:
        self[value] = value
        return value


class Shared:
    """Equal values of many rows kept once: one "reports.build" string, one 3600, one
    crontab id for all the rows that hold it, rather than a copy per row of a million."""

    __slots__ = ("numbers", "texts")

    def __init__(self) -> None:
        self.numbers = Kept()  # integers (never a bool: True == 1) and None
        self.texts = Kept()  # strings, and tuples of them (routing options)


class TaskColumns(Protocol):
    """A row of :data:`TASK_COLUMNS` by name (``values_list(*TASK_COLUMNS, named=True)``)."""

    def __getattr__(self, name: str) -> Any: ...


def task_row(values: TaskColumns, shared: Shared | None = None) -> TaskRow:
    """The task as beat needs it; a value that cannot be used becomes the row's problem.

    ``shared`` keeps the values rows have in common once (give one to every row of a load).
    """
    try:
        return _task_row(values, shared or Shared())
    except Exception as exc:  # a row no validation let through: report it, never raise
        return TaskRow(
            id=values.id,
            name=str(getattr(values, "name", None) or values.id),
            task=str(getattr(values, "task", None) or ""),
            enabled=bool(getattr(values, "enabled", False)),
            crontab_id=getattr(values, "crontab_id", None),
            misfire_policy=Policy.COALESCE,
            grace_seconds=0,
            max_catchup=1,
            max_running=1,
            max_runs=None,
            run_timeout_seconds=3600,
            start_at=0,
            resume_at=None,
            end_at=None,
            last_event_at=None,
            stored_problem=str(getattr(values, "problem", None) or ""),
            problem=f"the task's row cannot be read ({type(exc).__name__}: {exc})",
        )


_ROUTING_TEXTS = ("queue", "exchange", "routing_key")


def _task_row(row: TaskColumns, shared: Shared) -> TaskRow:
    args_json, args_problem = _checked_json(row.args_text, list, "args")
    kwargs_json, kwargs_problem = _checked_json(row.kwargs_text, dict, "kwargs")
    headers, headers_problem = _decode_json(row.headers_text, dict, "headers")
    routing: tuple[tuple[str, Any], ...] = ()
    if (
        row.queue
        or row.exchange
        or row.routing_key
        or row.priority is not None
        or row.expires_seconds
    ):
        pairs = [(name, getattr(row, name)) for name in _ROUTING_TEXTS if getattr(row, name)]
        if row.priority is not None:
            pairs.append(("priority", row.priority))
        if row.expires_seconds:
            pairs.append(("expires", row.expires_seconds))
        routing = shared.texts[tuple(pairs)]
    problems = [p for p in (args_problem, kwargs_problem, headers_problem) if p]
    reserved = reserved_header_names(headers) if headers else ()
    if reserved:
        problems.append(reserved_headers_text(reserved))
    if row.misfire_policy not in _POLICIES:
        problems.append(f"unknown misfire policy {row.misfire_policy!r}")
    for value, (name, (low, high)) in zip(_RANGE_VALUES(row), _RANGE_BOUNDS, strict=True):
        if value is not None and not low <= value <= high:
            problems.append(f"{name} is {value}, outside {low}-{high}")
    start_at = _epoch(row.start_at_instant)
    interval = None
    if row.interval_seconds is not None:
        interval = IntervalRow(
            row.interval_seconds, _epoch(row.interval_anchor_instant), row.interval_zone_text
        )
    numbers, texts = shared.numbers, shared.texts
    return TaskRow(
        id=row.id,
        name=row.name,
        task=texts[row.task],
        enabled=row.enabled,
        crontab_id=numbers[row.crontab_id],
        misfire_policy=texts[row.misfire_policy],
        grace_seconds=numbers[row.grace_seconds],
        max_catchup=numbers[row.max_catchup],
        max_running=numbers[row.max_running],
        max_runs=numbers[row.max_runs],
        run_timeout_seconds=numbers[row.run_timeout_seconds],
        start_at=numbers[start_at] if start_at is not None else 0,
        resume_at=numbers[_epoch(row.resume_at_instant)],
        end_at=numbers[_epoch(row.end_at_instant)],
        last_event_at=row.saved_checkpoint,
        stored_problem=row.problem,
        problem="; ".join(problems),
        interval=interval,
        exclusions=_exclusions(row.exclude_dates, row.exclude_weekdays, row.holiday_calendar),
        jitter_seconds=numbers[row.jitter_seconds],
        alert_rule=None if problems else alert_rule(row),
        alerts_tripped=tripped_alerts(row.alerts_tripped),
        args_json=args_json,
        kwargs_json=kwargs_json,
        headers_json=texts[row.headers_text] if headers else _EMPTY_JSON[dict],
        routing=routing,
    )


def _epoch(instant: int | dt.datetime | None) -> int | None:
    """An instant read as epoch seconds (as PostgreSQL gives it) or as a datetime."""
    return instant if instant is None or isinstance(instant, int) else to_epoch(instant)


def _exclusions(dates: str | None, weekdays: str | None, holidays: str | None) -> ExclusionRow:
    if not (dates or weekdays or holidays):
        return NO_EXCLUSIONS
    return ExclusionRow(dates or "", weekdays or "", holidays or "")


def alert_rule(row: TaskColumns) -> AlertRule | None:
    """The task's alert thresholds (its columns, in range), or None when none is set."""
    thresholds = _ALERT_VALUES(row)
    if thresholds.count(None) == len(thresholds):
        return None
    return AlertRule(*thresholds)


_ALERT_KINDS = {kind.value: kind for kind in AlertKind}


def tripped_alerts(text: str | None) -> frozenset[AlertKind]:
    """The alerts beat recorded as tripped (``alerts_tripped``); unknown names are dropped."""
    if not text:
        return NO_ALERTS
    return frozenset(_ALERT_KINDS[name] for name in text.split(",") if name in _ALERT_KINDS)


#: The ranges validation keeps numbers in; a row written past it is a problem, not a
#: tick that claims two billion runs or a message Celery cannot compose.
_RANGES = {
    "priority": (0, 255),
    "expires_seconds": (1, LARGEST_INTEGER),
    "grace_seconds": (0, LARGEST_INTEGER),
    "max_catchup": (1, MAX_CATCHUP),
    "max_running": (0, LARGEST_INTEGER),
    "max_runs": (1, LARGEST_INTEGER),
    "run_timeout_seconds": (1, LARGEST_INTEGER),
    **dict.fromkeys(ALERT_RULE_FIELDS, (1, LARGEST_INTEGER)),
}

_RANGE_VALUES = operator.attrgetter(*_RANGES)
_RANGE_BOUNDS = tuple(_RANGES.items())
_ALERT_VALUES = operator.attrgetter(*ALERT_RULE_FIELDS)

_POLICIES = {policy.value: policy for policy in Policy}  # faster than Policy(value) per task


Schedule = CronSchedule | IntervalSchedule


@dataclass(frozen=True, slots=True)
class Timing:
    """A task's base schedule (its crontab's, or its interval) and the zone it is read in."""

    schedule: Schedule
    zone: ZoneInfo


def compile_interval(row: IntervalRow, start_at: int) -> Timing | Problem:
    """The interval's schedule (anchored at its start when it names no anchor) and zone."""
    try:
        anchor = start_at if row.anchor is None else row.anchor
        return Timing(IntervalSchedule(row.every, anchor), zone_of(row.zone))
    except (IntervalError, ValueError) as exc:
        return Problem(f"interval: {exc}")


def task_schedule(row: TaskRow, crontab: CronSchedule | Problem | None) -> Timing | Problem:
    """The task's base schedule: its interval's, or ``crontab`` (what :func:`compile_crontab`
    gave for the task's crontab; None: the crontab row could not be found)."""
    if row.interval is not None:
        return compile_interval(row.interval, row.start_at)
    if crontab is None:
        return Problem("could not be loaded", f"crontab {row.crontab_id}")
    if isinstance(crontab, Problem):
        return crontab
    return Timing(crontab, crontab.zone)


def compile_exclusions(row: ExclusionRow) -> Exclusions:
    """The exclusions a task stores; raises ValueError naming the field at fault."""
    try:
        dates = parse_dates(row.dates)
    except ValueError as exc:
        raise ValueError(f"exclude_dates: {exc}") from exc
    try:
        weekdays = parse_weekdays(row.weekdays) if row.weekdays.strip() else frozenset()
    except CronError as exc:
        raise ValueError(f"exclude_weekdays: {exc.message.removeprefix('day_of_week: ')}") from exc
    try:
        calendar = holiday_calendar(row.holidays) if row.holidays.strip() else None
    except ValueError as exc:
        raise ValueError(f"holiday_calendar: {exc}") from exc
    return Exclusions(dates, weekdays, calendar)


def task_spec(row: TaskRow, schedule: CronSchedule | Problem | None) -> TaskSpec | Problem:
    """The task as the planner sees it, or why it cannot be scheduled.

    ``schedule`` is what :func:`compile_crontab` gave for the task's crontab
    (None: the crontab row could not be found; ignored for an interval task).
    """
    if row.problem:
        return Problem(row.problem)
    if row.interval is None and isinstance(schedule, CronSchedule):
        base: Schedule = schedule  # most tasks: no Timing to make
        zone = schedule.zone
    else:
        timing = task_schedule(row, schedule)
        if isinstance(timing, Problem):
            return timing
        base, zone = timing.schedule, timing.zone
    try:
        spec_schedule: Any = base
        if row.exclusions is not NO_EXCLUSIONS and row.exclusions:
            spec_schedule = ExcludingSchedule(base, compile_exclusions(row.exclusions), zone)
        jitter = Jitter(row.jitter_seconds, f"task {row.id}") if row.jitter_seconds else None
    except (ValueError, JitterError) as exc:
        return Problem(str(exc))
    except Exception as exc:  # a row no validation let through: report it, never raise
        return Problem(f"cannot be read ({type(exc).__name__}: {exc})")
    return TaskSpec(
        id=row.id,
        schedule=spec_schedule,
        policy=_POLICIES[row.misfire_policy],
        grace_seconds=row.grace_seconds,
        max_catchup=row.max_catchup,
        max_running=row.max_running,
        max_runs=row.max_runs,
        start_at=row.start_at,
        resume_at=row.resume_at,
        end_at=row.end_at,
        jitter=jitter,
    )
