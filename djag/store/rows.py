"""The rows beat works with: plain dataclasses, no Django, so the beat side can be
driven by a fake store in tests. Instants are UTC epoch seconds."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NamedTuple

from djag.core.alerts import AlertKind, AlertRule, Outcome
from djag.core.message import RunContext


@dataclass(frozen=True, slots=True)
class CrontabRow:
    id: int
    fields: tuple[str, str, str, str, str, str]  # second first, as djag.core.cron.FIELD_NAMES
    zone: str
    day_match: str = "either"  # djag.core.cron.DayMatch: "either" (cron) or "both" (Celery)


@dataclass(frozen=True, slots=True)
class IntervalRow:
    """A task's interval schedule: every ``every`` seconds from ``anchor`` (None: its start)."""

    every: int
    anchor: int | None
    zone: str  # where its anchor is shown and its excluded dates are read


@dataclass(frozen=True, slots=True)
class ExclusionRow:
    """A task's exclusions as stored: listed dates, cron weekdays, a holiday calendar name."""

    dates: str = ""
    weekdays: str = ""
    holidays: str = ""

    def __bool__(self) -> bool:
        return bool(self.dates.strip() or self.weekdays.strip() or self.holidays.strip())


#: The ExclusionRow of a task without exclusions (most tasks), and of a task with no
#: alert tripped: one object shared, not one per task.
NO_EXCLUSIONS = ExclusionRow()
NO_ALERTS: frozenset[AlertKind] = frozenset()


@dataclass(slots=True)
class TaskRow:
    """One PeriodicTask as beat needs it. ``problem`` is set when a field could not be read.

    Beat holds one for every task, a million of them if need be, so the row is
    compact: its message is kept as stored (JSON texts, and the routing options
    set as (name, value) pairs) and decoded afresh by :attr:`args`,
    :attr:`kwargs` and :attr:`options` when a run is published; each message
    gets lists and dicts of its own. :func:`message_fields` makes these fields
    from decoded values.
    """

    id: int
    name: str
    task: str
    enabled: bool
    crontab_id: int | None  # None: an interval task
    misfire_policy: str
    grace_seconds: int
    max_catchup: int
    max_running: int
    max_runs: int | None
    run_timeout_seconds: int
    start_at: int
    resume_at: int | None
    end_at: int | None
    last_event_at: int | None
    stored_problem: str
    problem: str = ""
    interval: IntervalRow | None = None  # instead of a crontab
    exclusions: ExclusionRow = NO_EXCLUSIONS
    jitter_seconds: int = 0
    alert_rule: AlertRule | None = None  # None: no alert threshold is set
    alerts_tripped: frozenset[AlertKind] = NO_ALERTS  # as beat last recorded them
    args_json: str = "[]"  # a JSON list
    kwargs_json: str = "{}"  # a JSON object
    headers_json: str = "{}"  # a JSON object
    routing: tuple[tuple[str, Any], ...] = ()  # queue, exchange, routing_key, priority, expires

    @property
    def args(self) -> list[Any]:
        return [] if self.args_json == "[]" else json.loads(self.args_json)

    @property
    def kwargs(self) -> dict[str, Any]:
        return {} if self.kwargs_json == "{}" else json.loads(self.kwargs_json)

    @property
    def options(self) -> dict[str, Any]:
        """The routing options and the headers, as ``apply_async`` takes them."""
        headers = {} if self.headers_json == "{}" else json.loads(self.headers_json)
        options: dict[str, Any] = {"headers": headers}
        options.update(self.routing)
        return options


def message_fields(args: Any, kwargs: Any, options: dict[str, Any]) -> dict[str, Any]:
    """The message fields of a :class:`TaskRow` holding ``args``, ``kwargs`` and ``options``."""
    routing = {name: value for name, value in options.items() if name != "headers"}
    return {
        "args_json": json.dumps(args),
        "kwargs_json": json.dumps(kwargs),
        "headers_json": json.dumps(options.get("headers", {})),
        "routing": tuple(routing.items()),
    }


@dataclass(frozen=True, slots=True)
class Fence:
    """The lease a leader claims under: its claims insert nothing unless the lease row
    still names this holder and generation, checked in the claim's own transaction."""

    name: str
    holder: str
    generation: int
    lease_seconds: float = 10.0  # a claim transaction left idle this long is ended


@dataclass(frozen=True, slots=True)
class NewRun:
    """A ledger row to claim: a run to publish, or a skip record (``skipped``)."""

    task_id: int
    task_name: str
    task: str
    scheduled_for: int | None
    trigger: str
    coalesced_count: int = 1
    skipped: bool = False
    delay: int = 0  # jitter: released this many seconds after scheduled_for
    note: str = ""  # why, for a skip that is not the misfire policy's (an excluded date)


@dataclass(frozen=True, slots=True)
class RunRequest:
    """A run asked for outside the schedule, to be written as a waiting ledger row."""

    task_id: int | None  # None: a one-off of a Celery task by name
    task_name: str  # the periodic task's name, or the one-off's Celery task name
    task: str
    trigger: str
    not_before: float
    scheduled_for: float | None = None
    message: tuple[list, dict, dict] | None = None  # a one-off's (args, kwargs, options)


@dataclass(frozen=True, slots=True)
class ClaimedRun:
    id: int
    task_id: int | None  # None: a one-off
    celery_task_id: str
    claimed_at: float


@dataclass(frozen=True, slots=True)
class RunDetail:
    """What a run's message needs beyond its task: its context, and a one-off's own message."""

    context: RunContext
    task: str  # the Celery task name on the row
    message: tuple[list, dict, dict] | None = None  # a one-off's (args, kwargs, options)


class Activity(NamedTuple):
    """One cheap read whose answer changes whenever beat has something to read
    (compared whole), and what beat needs to know of the runs that wait."""

    newest_change: int | None
    newest_run: int | None
    active_runs: int
    waiting_runs: int
    first_waiting: Any  # the earliest not_before of a waiting run, as the database gives it


@dataclass(frozen=True, slots=True)
class ActiveRun:
    id: int
    task_id: int | None
    state: str
    celery_task_id: str
    claimed_at: float
    started_at: float | None


@dataclass(frozen=True, slots=True)
class FinishedRun:
    id: int
    task_id: int | None
    state: str
    finished_at: float | None
    started_at: float | None = None  # None: it never started (lost, revoked before)
    task_name: str = ""  # the periodic task's name (a one-off's Celery task) at dispatch


@dataclass(frozen=True, slots=True)
class AlertHistory:
    """What the alert checks read of a task's ledger (``djag.core.alerts.TaskFacts``)."""

    finished: tuple[Outcome, ...]  # the newest finished runs, newest slot first, none revoked
    last_success_slot: int | None


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    """New ScheduleChange rows, reduced to what must be reloaded."""

    crontabs: frozenset[int] = frozenset()
    tasks: frozenset[int] = frozenset()
    edges_changed: bool = False
    reload_all: bool = False

    def __bool__(self) -> bool:
        return bool(self.crontabs or self.tasks or self.edges_changed or self.reload_all)
