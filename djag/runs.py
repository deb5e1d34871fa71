"""Runs started from code, a command or the admin: ``djag.enqueue``, ``djag.run_now``,
``djag.backfill`` and ``djag.cancel``.

Each writes waiting rows to the ledger (``djag.store.ledger.request``) and
publishes nothing: beat claims a waiting run when it is due and sends it like
the schedule's runs, through the same publisher, with the run and its context
in the headers. So a run asked for here is sent exactly once, never before its
time, whichever beat leads then, and whoever asked is recorded on the row and
in the audit log (``ScheduleChange`` rows of kind "run"). See
docs/runs-from-code.md.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import router

from djag import wakeup
from djag.core.message import reserved_header_names, reserved_headers_text
from djag.core.requested import BACKFILL_LIMIT, backfill_events
from djag.core.vocab import Trigger
from djag.inspect.snapshot import read_tasks
from djag.models import PeriodicTask, TaskRun
from djag.models.changes import actor_label, current_actor
from djag.models.validators import validate_storable_json
from djag.store import ledger
from djag.store.compile import Problem
from djag.store.rows import RunRequest

#: The routing options a one-off may have: those of a periodic task.
OPTION_NAMES = ("queue", "exchange", "routing_key", "priority", "headers", "expires")


class RunRefused(ValueError):
    """A run was asked for with something that cannot be used; the message says what."""


def enqueue(
    task: Any,
    args: list[Any] | tuple[Any, ...] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    at: dt.datetime | None = None,
    delay: float | dt.timedelta | None = None,
    options: Mapping[str, Any] | None = None,
    by: Any = "",
) -> TaskRun:
    """A one-off run of the Celery task ``task`` (a name, or the task itself), once.

    Now (``at`` and ``delay`` both None), at the aware datetime ``at``, or
    ``delay`` seconds (or a timedelta) from now. ``options`` are the routing
    options a periodic task has. The run is a waiting ledger row when this
    returns; beat sends it at or after its time.
    """
    name = _task_name(task)
    if at is not None and delay is not None:
        raise RunRefused("give at or delay, not both")
    now = time.time()
    not_before = now
    if at is not None:
        not_before = _aware(at, "at").timestamp()
    elif delay is not None:
        not_before = now + _seconds(delay, "delay")
    if not isinstance(args, list | tuple):
        raise RunRefused(f"args must be a list or a tuple, not {type(args).__name__}")
    if not isinstance(kwargs or {}, Mapping):
        raise RunRefused(f"kwargs must be a mapping, not {type(kwargs).__name__}")
    message = (
        _json(list(args), "args"),
        _json(dict(kwargs or {}), "kwargs"),
        _routing_options(options or {}),
    )
    slot = None if at is None and delay is None else not_before
    asked = RunRequest(None, name, name, Trigger.ONEOFF, not_before, slot, message)
    [run] = _request([asked], by, now)
    return run


def run_now(periodic_task: PeriodicTask | str, *, by: Any = "") -> TaskRun:
    """A manual run of the periodic task (or its name), with the task's own arguments and
    routing options. Like the schedule's runs it holds a ``max_running`` slot while it
    runs, but it goes whatever the limits, dependencies and the enabled flag."""
    task = _periodic_task(periodic_task)
    problem = read_tasks([task.pk])[task.pk].row.problem
    if problem:
        raise RunRefused(f"{task.name} cannot be run: {problem}")
    now = time.time()
    asked = RunRequest(task.pk, task.name, task.task, Trigger.MANUAL, now)
    [run] = _request([asked], by, now)
    return run


@dataclass(frozen=True)
class BackfillPlan:
    task: PeriodicTask
    events: list[dt.datetime]  # every event of the schedule in the range, oldest first
    in_ledger: list[dt.datetime]  # those with a row already: left as they are

    @property
    def new(self) -> list[dt.datetime]:
        known = set(self.in_ledger)
        return [event for event in self.events if event not in known]


def plan_backfill(
    periodic_task: PeriodicTask | str,
    start: dt.datetime,
    end: dt.datetime,
    *,
    limit: int = BACKFILL_LIMIT,
    now: dt.datetime | None = None,
) -> BackfillPlan:
    """The events a backfill of [start, end] covers, and which are in the ledger already."""
    task = _periodic_task(periodic_task)
    first, last = _aware(start, "start"), _aware(end, "end")
    moment = now or dt.datetime.now(dt.UTC)
    if last > moment:
        raise RunRefused(
            "the end of the range is in the future: the schedule runs those events itself"
        )
    spec = read_tasks([task.pk])[task.pk].spec
    if isinstance(spec, Problem):
        raise RunRefused(f"{task.name} cannot be scheduled: {spec}")
    try:
        epochs = backfill_events(
            spec.schedule, math.ceil(first.timestamp()), math.floor(last.timestamp()), limit
        )
    except ValueError as exc:
        raise RunRefused(f"cannot backfill {task.name}: {exc}") from None
    events = [dt.datetime.fromtimestamp(event, dt.UTC) for event in epochs]
    rows = TaskRun.objects.filter(periodic_task=task, scheduled_for__in=events)
    in_ledger = sorted(e for e in rows.values_list("scheduled_for", flat=True) if e is not None)
    return BackfillPlan(task, events, in_ledger)


def backfill(
    periodic_task: PeriodicTask | str,
    start: dt.datetime,
    end: dt.datetime,
    *,
    by: Any = "",
    limit: int = BACKFILL_LIMIT,
) -> list[TaskRun]:
    """One run per event of the task's schedule in [start, end], oldest first, each with
    its own ``scheduled_for``. An event that has a ledger row already (it ran, failed, was
    skipped, or waits) is left as it is. The runs respect ``max_running`` and the task's
    dependencies like scheduled runs, and go one after the other in event order."""
    plan = plan_backfill(periodic_task, start, end, limit=limit)
    task, now = plan.task, time.time()
    return _request(
        [
            RunRequest(task.pk, task.name, task.task, Trigger.BACKFILL, now, event.timestamp())
            for event in plan.new
        ],
        by,
        now,
    )


def cancel(run: TaskRun | int, *, by: Any = "") -> bool:
    """Call off a run that waits to be sent: it is recorded as cancelled, never sent.

    Returns False if the run had left the waiting state (beat claimed it already).
    """
    run_id = run.pk if isinstance(run, TaskRun) else run
    if not TaskRun.objects.filter(pk=run_id).exists():
        raise RunRefused(f"there is no run {run_id}")
    return bool(cancel_waiting([run_id], by=by))


def cancel_waiting(run_ids: Iterable[int], *, by: Any = "") -> list[int]:
    """Cancel those of the runs that still wait; return their ids."""
    who = _who(by)
    why = f"Cancelled by {who} before it was sent." if who else "Cancelled before it was sent."
    return ledger.cancel(router.db_for_write(TaskRun), list(run_ids), time.time(), who, why)


# -- checks and helpers ------------------------------------------------------------------------


def _request(requests: list[RunRequest], by: Any, now: float) -> list[TaskRun]:
    if not requests:
        return []
    using = router.db_for_write(TaskRun)
    ids = ledger.request(using, requests, _who(by), now)
    wakeup.touch_on_commit(using)  # beat looks at the new runs at once
    return list(TaskRun.objects.using(using).filter(pk__in=ids).order_by("scheduled_for", "pk"))


def _who(by: Any) -> str:
    """Who asked: ``by`` (a user or a text), else whoever ``acting_as`` names."""
    return actor_label(by) if by else current_actor()


def _task_name(task: Any) -> str:
    name = task if isinstance(task, str) else getattr(task, "name", None)
    if not isinstance(name, str) or not name.strip():
        raise RunRefused(f"task must be a Celery task or its registered name, not {task!r}")
    if len(name) > 200:
        raise RunRefused("the task name is longer than 200 characters")
    return name


def _periodic_task(task: PeriodicTask | str) -> PeriodicTask:
    if isinstance(task, PeriodicTask):
        return task
    found = PeriodicTask.objects.filter(name=task).first()
    if found is None:
        raise RunRefused(f"there is no periodic task named {task!r}")
    return found


def _aware(moment: Any, name: str) -> dt.datetime:
    if not isinstance(moment, dt.datetime):
        raise RunRefused(f"{name} must be a datetime, not {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise RunRefused(f"{name} must be an aware datetime (with a time zone), not {moment}")
    return moment.astimezone(dt.UTC)


def _seconds(value: Any, name: str) -> float:
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise RunRefused(f"{name} must be a number of seconds or a timedelta, not {value!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise RunRefused(f"{name} must be a finite number of seconds of at least 0, not {value}")
    return float(seconds)


def _json(value: Any, name: str) -> Any:
    """``value`` as the JSON it will travel as (tuples become lists), or a refusal."""
    try:
        value = json.loads(json.dumps(value, allow_nan=False))
        validate_storable_json(value)
    except (TypeError, ValueError) as exc:
        raise RunRefused(f"{name} must be JSON data: {exc}") from None
    except ValidationError as exc:
        raise RunRefused(f"{name} cannot be stored: {' '.join(exc.messages)}") from None
    return value


def _routing_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The one-off's routing options, checked as a periodic task's fields are."""
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise RunRefused(
            f"unknown option {', '.join(map(repr, unknown))}; "
            f"the options are {', '.join(OPTION_NAMES)}"
        )
    checked: dict[str, Any] = {"headers": {}}
    for name in ("queue", "exchange", "routing_key"):
        value = options.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str) or len(value) > 200:
            raise RunRefused(f"{name} must be a text of at most 200 characters, not {value!r}")
        checked[name] = value
    priority = options.get("priority")
    if priority is not None:
        if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 255:
            raise RunRefused(f"priority must be a whole number from 0 to 255, not {priority!r}")
        checked["priority"] = priority
    headers = options.get("headers") or {}
    if not isinstance(headers, Mapping):
        raise RunRefused(f"headers must be a mapping, not {type(headers).__name__}")
    reserved = reserved_header_names(headers)
    if reserved:
        raise RunRefused(reserved_headers_text(reserved))
    checked["headers"] = _json(dict(headers), "headers")
    expires = options.get("expires")
    if expires is not None:
        seconds = _seconds(expires, "expires")
        if seconds <= 0:
            raise RunRefused("expires must be more than 0 seconds")
        checked["expires"] = int(seconds) if seconds.is_integer() else seconds
    return checked
