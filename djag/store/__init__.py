"""The scheduler's only access to the database.

Beat reads rows into plain dataclasses here and writes the ledger here; the
rest of beat never imports a model. Reads decode JSON and zone names row by
row, so one corrupted row is reported instead of failing the whole load.
Instants cross this boundary as UTC epoch seconds.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import OperationalError, connections, router, transaction
from django.db.models import Count, Max, Q, TextField
from django.db.models.constants import OnConflict
from django.db.models.functions import Cast
from django.utils import timezone

from djag.core.cron import CronSchedule, parse_cron
from djag.core.dag import Edge, RunMarks
from djag.core.misfire import Policy
from djag.core.plan import TaskSpec
from djag.models import (
    ACTIVE_STATES,
    TERMINAL_STATES,
    Crontab,
    PeriodicTask,
    RunState,
    ScheduleChange,
    SchedulerLease,
    TaskDependency,
    TaskRun,
    Trigger,
)
from djag.models.run import ERROR_MAX_CHARS

# Stay well below every backend's limit on bound parameters per statement.
CHUNK = 2000

#: The ledger columns a claim writes, in the order of ``Store.claim``'s rows. The
#: others are nullable; the model's defaults are not the database's, so every
#: column that is not must be here.
_CLAIM_FIELDS = (
    "periodic_task",
    "task_name",
    "task",
    "scheduled_for",
    "trigger",
    "state",
    "celery_task_id",
    "claimed_at",
    "finished_at",
    "coalesced_count",
    "worker",
    "error",
)

_CELERY_ID = _CLAIM_FIELDS.index("celery_task_id")

_POLICIES = {policy.value: policy for policy in Policy}  # faster than Policy(value) per task


def to_epoch(moment: dt.datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def from_epoch(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


T = TypeVar("T")

#: Errors a database raises on the victim of a deadlock: MariaDB/MySQL's errno,
#: PostgreSQL's SQLSTATE. The statement was rolled back and may simply be run again.
DEADLOCK_ERRNOS = {1213}
DEADLOCK_SQLSTATES = {"40P01", "40001"}
DEADLOCK_ATTEMPTS = 4


def is_deadlock(exc: OperationalError) -> bool:
    cause = exc.__cause__
    if getattr(cause, "sqlstate", None) in DEADLOCK_SQLSTATES:
        return True
    args: tuple[Any, ...] = getattr(cause, "args", ())
    return bool(args) and args[0] in DEADLOCK_ERRNOS


def retry_deadlocks(write: Callable[[], T], using: str) -> T:
    """Run a single-statement write again when the database made it a deadlock victim.

    InnoDB does so under concurrent updates of nearby rows (a worker marking a
    run started while beat marks a batch sent); retrying is its documented
    remedy. Inside a transaction the whole transaction is gone, so the error is
    raised for the caller's transaction to handle.
    """
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            return write()
        except OperationalError as exc:
            if (
                attempt == DEADLOCK_ATTEMPTS
                or connections[using].in_atomic_block
                or not is_deadlock(exc)
            ):
                raise
            time.sleep(0.01 * attempt)
    raise AssertionError("unreachable")


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True, slots=True)
class CrontabRow:
    id: int
    fields: tuple[str, str, str, str, str, str]
    zone: str

    def schedule(self) -> CronSchedule:
        """The compiled schedule; raises CronError, or ZoneInfoNotFoundError for a zone
        name that is not a zone (a directory such as "America" included)."""
        try:
            zone = ZoneInfo(self.zone)
        except (ValueError, OSError) as exc:
            raise ZoneInfoNotFoundError(f"No time zone found with key {self.zone}") from exc
        return CronSchedule(parse_cron(*self.fields), zone)


@dataclass(frozen=True, slots=True)
class TaskRow:
    """One PeriodicTask as beat needs it. ``problem`` is set when a field could not be read."""

    id: int
    name: str
    task: str
    enabled: bool
    crontab_id: int
    args: Any
    kwargs: Any
    options: dict[str, Any]
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

    def spec(self, schedule: CronSchedule) -> TaskSpec:
        """The task as the planner sees it."""
        return TaskSpec(
            id=self.id,
            schedule=schedule,
            policy=_POLICIES[self.misfire_policy],
            grace_seconds=self.grace_seconds,
            max_catchup=self.max_catchup,
            max_running=self.max_running,
            max_runs=self.max_runs,
            start_at=self.start_at,
            resume_at=self.resume_at,
            end_at=self.end_at,
        )


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


@dataclass(frozen=True, slots=True)
class ClaimedRun:
    id: int
    task_id: int
    celery_task_id: str
    claimed_at: float


@dataclass(frozen=True, slots=True)
class ActiveRun:
    id: int
    task_id: int | None
    state: str
    celery_task_id: str
    claimed_at: float
    started_at: float | None


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    """New ScheduleChange rows, reduced to what must be reloaded."""

    crontabs: frozenset[int] = frozenset()
    tasks: frozenset[int] = frozenset()
    edges_changed: bool = False
    reload_all: bool = False

    def __bool__(self) -> bool:
        return bool(self.crontabs or self.tasks or self.edges_changed or self.reload_all)


class ChangeFeed:
    """Reads each ScheduleChange row once, in spite of ids that commit out of order.

    On PostgreSQL and MariaDB a transaction can take id 10, another id 11 and
    commit first: reading "id > 11" afterwards would miss 10 for ever. So the
    ids skipped over are remembered as ranges and asked for again until
    ``GAP_SECONDS`` pass (a rolled-back transaction leaves its ids unused).
    """

    GAP_SECONDS = 300.0

    def __init__(self, store: Store, newest_read: int) -> None:
        self.store = store
        self.newest_read = newest_read
        self.gaps: list[tuple[int, int, float]] = []  # (first id, last id, noticed at)
        self.read_in_gaps: set[int] = set()

    def read(self, now: float) -> ChangeBatch:
        self.gaps = [gap for gap in self.gaps if now - gap[2] <= self.GAP_SECONDS]
        self.read_in_gaps = {
            i for i in self.read_in_gaps if any(lo <= i <= hi for lo, hi, _ in self.gaps)
        }
        rows = [
            row
            for row in self.store.change_rows(
                self.newest_read, [(lo, hi) for lo, hi, _ in self.gaps]
            )
            if row[0] not in self.read_in_gaps
        ]
        expected = self.newest_read + 1
        for change_id, _, _ in rows:
            if change_id <= self.newest_read:
                self.read_in_gaps.add(change_id)
                continue
            if change_id > expected:
                self.gaps.append((expected, change_id - 1, now))
            expected = change_id + 1
        self.newest_read = expected - 1
        return ChangeBatch(
            crontabs=frozenset(o for _, m, o in rows if m == ScheduleChange.Kind.CRONTAB and o),
            tasks=frozenset(o for _, m, o in rows if m == ScheduleChange.Kind.TASK and o),
            edges_changed=any(m == ScheduleChange.Kind.DEPENDENCY for _, m, _ in rows),
            reload_all=any(o is None for _, _, o in rows),
        )


class Store:
    def __init__(self, using: str | None = None) -> None:
        self.using = using or router.db_for_write(TaskRun)

    # -- connection -----------------------------------------------------------

    def close(self) -> None:
        """Drop the connection; the next query opens a fresh one (used after errors)."""
        connections[self.using].close()

    # -- schedule -------------------------------------------------------------

    def load_crontabs(self, ids: Iterable[int] | None = None) -> dict[int, CrontabRow]:
        rows = Crontab._base_manager.using(self.using).annotate(
            zone_text=Cast("timezone", TextField())
        )
        if ids is not None:
            rows = rows.filter(pk__in=list(ids))
        return {
            row["id"]: CrontabRow(
                row["id"],
                (
                    row["second"],
                    row["minute"],
                    row["hour"],
                    row["day_of_month"],
                    row["month_of_year"],
                    row["day_of_week"],
                ),
                row["zone_text"],
            )
            for row in rows.values(
                "id",
                "second",
                "minute",
                "hour",
                "day_of_month",
                "month_of_year",
                "day_of_week",
                "zone_text",
            )
        }

    def load_tasks(
        self, ids: Iterable[int] | None = None, crontab_ids: Iterable[int] | None = None
    ) -> list[TaskRow]:
        """Enabled and disabled tasks alike; JSON is decoded per row so a bad row stands alone."""
        rows = PeriodicTask._base_manager.using(self.using).annotate(
            args_text=Cast("args", TextField()),
            kwargs_text=Cast("kwargs", TextField()),
            headers_text=Cast("headers", TextField()),
        )
        if ids is not None:
            rows = rows.filter(pk__in=list(ids))
        if crontab_ids is not None:
            rows = rows.filter(crontab_id__in=list(crontab_ids))
        return [
            _task_row(row)
            for row in rows.values(
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
                "start_at",
                "resume_at",
                "end_at",
                "last_event_at",
                "problem",
            )
        ]

    def load_edges(self, dependers: Sequence[int] | None = None) -> dict[int, list[Edge]]:
        """The dependency edges (all, or those of ``dependers``), grouped by depender."""
        edges: dict[int, list[Edge]] = {}
        rows = TaskDependency._base_manager.using(self.using).values_list(
            "depender_id", "dependee_id", "future_depends", "require_success", "created_at"
        )
        if dependers is not None:
            rows = rows.filter(depender_id__in=list(dependers))
        for depender, dependee, future, require_success, created_at in rows:
            edges.setdefault(depender, []).append(
                Edge(dependee, future, require_success, created_at.timestamp())
            )
        return edges

    def change_cursor(self) -> int:
        """The id of the newest ScheduleChange: loading starts from here."""
        newest = ScheduleChange.objects.using(self.using).aggregate(newest=Max("id"))["newest"]
        return newest or 0

    def change_rows(
        self, after: int, gaps: Iterable[tuple[int, int]]
    ) -> list[tuple[int, str, int | None]]:
        """(id, model, object id) of changes with an id above ``after`` or in a gap range."""
        condition = Q(id__gt=after)
        for first, last in gaps:
            condition |= Q(id__range=(first, last))
        return list(
            ScheduleChange.objects.using(self.using)
            .filter(condition)
            .order_by("id")
            .values_list("id", "model", "object_id")
        )

    # -- run history ----------------------------------------------------------

    def last_events(
        self, since: dt.datetime | None, task_ids: Sequence[int] | None = None
    ) -> dict[int, int]:
        """Newest handled event per task among runs claimed since ``since`` (all if None)."""
        rows = TaskRun.objects.using(self.using).filter(
            scheduled_for__isnull=False, periodic_task__isnull=False
        )
        if since is not None:
            rows = rows.filter(claimed_at__gte=since)
        if task_ids is not None:
            rows = rows.filter(periodic_task_id__in=list(task_ids))
        return {
            task_id: int(newest.timestamp())
            for task_id, newest in rows.values("periodic_task_id")
            .annotate(newest=Max("scheduled_for"))
            .values_list("periodic_task_id", "newest")
        }

    def scheduled_run_counts(self, task_ids: Sequence[int]) -> dict[int, int]:
        """Runs that count towards max_runs: dispatched by the schedule (not manual, not skips)."""
        counts: dict[int, int] = {}
        for chunk in chunks(task_ids):
            rows = (
                TaskRun.objects.using(self.using)
                .filter(periodic_task_id__in=chunk)
                .exclude(trigger=Trigger.MANUAL)
                .exclude(state=RunState.SKIPPED)
                .values("periodic_task_id")
                .annotate(total=Count("id"))
                .values_list("periodic_task_id", "total")
            )
            counts.update(rows)
        return counts

    def run_marks(self, task_ids: Sequence[int]) -> dict[int, RunMarks]:
        """What the dependency rule needs of each task's runs."""
        marks: dict[int, RunMarks] = {}
        for chunk in chunks(task_ids):
            rows = (
                TaskRun.objects.using(self.using)
                .filter(periodic_task_id__in=chunk)
                .exclude(state=RunState.SKIPPED)
                .values("periodic_task_id")
                .annotate(
                    last_start=Max("claimed_at"),
                    last_success=Max("finished_at", filter=Q(state=RunState.SUCCESS)),
                    last_finish=Max("finished_at", filter=Q(state__in=TERMINAL_STATES)),
                )
            )
            for row in rows:
                marks[row["periodic_task_id"]] = RunMarks(
                    last_start=_timestamp(row["last_start"]),
                    last_success=_timestamp(row["last_success"]),
                    last_finish=_timestamp(row["last_finish"]),
                )
        return marks

    def activity(self) -> tuple[Any, ...]:
        """One cheap query whose answer changes whenever beat has something to read.

        A schedule change raises the newest change id; a run claimed anywhere (a
        manual run, another beat) raises the newest run id; a run that finishes
        lowers the count of active runs (runs never move back to an active state).
        """
        connection = connections[self.using]
        quote = connection.ops.quote_name
        changes = quote(ScheduleChange._meta.db_table)
        runs = quote(TaskRun._meta.db_table)
        active = ", ".join(["%s"] * len(ACTIVE_STATES))
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT (SELECT MAX(id) FROM {changes}), (SELECT MAX(id) FROM {runs}), "
                f"(SELECT COUNT(*) FROM {runs} WHERE state IN ({active}))",
                [str(state) for state in ACTIVE_STATES],
            )
            row = cursor.fetchone()
        return tuple(row) if row is not None else ()

    def active_runs(self) -> list[ActiveRun]:
        rows = (
            TaskRun.objects.using(self.using)
            .filter(state__in=ACTIVE_STATES)
            .values_list(
                "id", "periodic_task_id", "state", "celery_task_id", "claimed_at", "started_at"
            )
        )
        return [
            ActiveRun(run_id, task_id, state, celery_id, claimed.timestamp(), _timestamp(started))
            for run_id, task_id, state, celery_id, claimed, started in rows
        ]

    def unsent_claims(self) -> list[tuple[int, str, int | None]]:
        """Runs claimed but never marked sent: (run id, celery task id, task id)."""
        return list(
            TaskRun.objects.using(self.using)
            .filter(state=RunState.CLAIMED)
            .exclude(celery_task_id="")
            .values_list("id", "celery_task_id", "periodic_task_id")
        )

    # -- ledger writes --------------------------------------------------------

    def claim(self, new_runs: Sequence[NewRun], now: float) -> list[ClaimedRun]:
        """Insert ledger rows; return the runs this process won.

        The unique slot (task, scheduled_for) lets exactly one claimer insert a
        slot: rows another beat inserted first are silently left out, and each
        row is recognised as ours by the Celery task id we generated for it.
        """
        if not new_runs:
            return []
        claimed_at = from_epoch(now)
        rows = [
            (
                run.task_id,
                run.task_name[:200],
                run.task[:200],
                None if run.scheduled_for is None else from_epoch(run.scheduled_for),
                run.trigger,
                RunState.SKIPPED if run.skipped else RunState.CLAIMED,
                "" if run.skipped else str(uuid.uuid4()),
                claimed_at,
                claimed_at if run.skipped else None,
                run.coalesced_count,
                "",
                "",
            )
            for run in new_runs
        ]
        self._insert_runs(rows)
        mine = [row[_CELERY_ID] for row in rows if row[_CELERY_ID]]
        won: list[ClaimedRun] = []
        for chunk in chunks(mine):
            won.extend(
                ClaimedRun(run_id, task_id, celery_id, now)
                for run_id, task_id, celery_id in TaskRun.objects.using(self.using)
                .filter(celery_task_id__in=chunk)
                .order_by("id")
                .values_list("id", "periodic_task_id", "celery_task_id")
            )
        return won

    def _insert_runs(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """``bulk_create(ignore_conflicts=True)`` for ``_CLAIM_FIELDS`` rows, without models.

        Building and preparing a model instance per row was most of the cost of
        claiming a burst of runs; the statement is the one Django writes.
        """
        connection = connections[self.using]
        ops = connection.ops
        by_name = {field.name: field for field in TaskRun._meta.concrete_fields}
        columns = [by_name[name] for name in _CLAIM_FIELDS]
        datetimes = [
            i for i, field in enumerate(columns) if field.get_internal_type() == "DateTimeField"
        ]
        sql = " ".join(
            part
            for part in (
                ops.insert_statement(on_conflict=OnConflict.IGNORE),
                ops.quote_name(TaskRun._meta.db_table),
                f"({', '.join(ops.quote_name(field.column) for field in columns)})",
                f"VALUES ({', '.join(['%s'] * len(columns))})",
                ops.on_conflict_suffix_sql(columns, OnConflict.IGNORE, None, None),
            )
            if part
        )
        adapt = ops.adapt_datetimefield_value
        with transaction.atomic(using=self.using), connection.cursor() as cursor:
            for chunk in chunks(rows):
                params = []
                for row in chunk:
                    values = list(row)
                    for i in datetimes:
                        values[i] = adapt(values[i])
                    params.append(values)
                cursor.executemany(sql, params)

    def mark_sent(self, run_ids: Sequence[int], now: float) -> None:
        # Only from "claimed": a fast worker may already have marked the run started.
        for chunk in chunks(run_ids):
            rows = TaskRun.objects.using(self.using).filter(id__in=chunk, state=RunState.CLAIMED)
            retry_deadlocks(
                partial(rows.update, state=RunState.SENT, sent_at=from_epoch(now)), self.using
            )

    def mark_failed(self, run_ids: Sequence[int], error: str, now: float) -> None:
        for chunk in chunks(run_ids):
            TaskRun.objects.using(self.using).filter(id__in=chunk, state__in=ACTIVE_STATES).update(
                state=RunState.FAILURE, finished_at=from_epoch(now), error=error[:ERROR_MAX_CHARS]
            )

    def mark_lost(self, run_ids: Sequence[int], now: float) -> int:
        lost = 0
        for chunk in chunks(run_ids):
            lost += (
                TaskRun.objects.using(self.using)
                .filter(id__in=chunk, state__in=ACTIVE_STATES)
                .update(
                    state=RunState.LOST,
                    finished_at=from_epoch(now),
                    error="No result before the run timeout: marked lost (worker gone?).",
                )
            )
        return lost

    def finished_runs(
        self, run_ids: Sequence[int]
    ) -> list[tuple[int, int | None, str, float | None]]:
        """(run id, task id, state, finished at) of runs no longer active."""
        result: list[tuple[int, int | None, str, float | None]] = []
        for chunk in chunks(run_ids):
            result.extend(
                (run_id, task_id, state, _timestamp(finished))
                for run_id, task_id, state, finished in TaskRun.objects.using(self.using)
                .filter(id__in=chunk)
                .exclude(state__in=ACTIVE_STATES)
                .values_list("id", "periodic_task_id", "state", "finished_at")
            )
        return result

    # -- task state owned by beat ---------------------------------------------

    def save_checkpoints(self, last_events: dict[int, int], now: float) -> None:
        """Persist each task's newest handled event, then note when (see ``last_events``)."""
        table = PeriodicTask._meta.db_table
        connection = connections[self.using]
        quote = connection.ops.quote_name
        rows = [(from_epoch(event), task_id) for task_id, event in last_events.items()]
        with connection.cursor() as cursor:
            for chunk in chunks(rows):
                cursor.executemany(
                    f"UPDATE {quote(table)} SET {quote('last_event_at')} = %s WHERE id = %s",
                    [(_db_datetime(connection, when), task_id) for when, task_id in chunk],
                )
        SchedulerLease.objects.using(self.using).filter(name="default").update(
            synced_at=from_epoch(now)
        )

    def checkpoint_time(self) -> dt.datetime | None:
        row = SchedulerLease.objects.using(self.using).filter(name="default").first()
        return row.synced_at if row else None

    def set_problem(self, task_id: int, problem: str) -> None:
        PeriodicTask._base_manager.using(self.using).filter(pk=task_id).update(
            problem=problem[:ERROR_MAX_CHARS], problem_at=timezone.now() if problem else None
        )

    def disable_exhausted(self, task_id: int) -> None:
        """A task that reached max_runs disables itself (logged as a schedule change)."""
        from djag.models import acting_as

        with acting_as("djag beat (max_runs reached)"):
            PeriodicTask.objects.using(self.using).filter(pk=task_id, enabled=True).update(
                enabled=False
            )


def _timestamp(moment: dt.datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _db_datetime(connection: Any, moment: dt.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(moment)


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


def _task_row(row: dict[str, Any]) -> TaskRow:
    args, args_problem = _decode_json(row["args_text"], list, "args")
    kwargs, kwargs_problem = _decode_json(row["kwargs_text"], dict, "kwargs")
    headers, headers_problem = _decode_json(row["headers_text"], dict, "headers")
    options: dict[str, Any] = {"headers": headers}
    for name in ("queue", "exchange", "routing_key"):
        if row[name]:
            options[name] = row[name]
    if row["priority"] is not None:
        options["priority"] = row["priority"]
    if row["expires_seconds"]:
        options["expires"] = row["expires_seconds"]
    problems = [p for p in (args_problem, kwargs_problem, headers_problem) if p]
    start_at = to_epoch(row["start_at"])
    return TaskRow(
        id=row["id"],
        name=row["name"],
        task=row["task"],
        enabled=row["enabled"],
        crontab_id=row["crontab_id"],
        args=args,
        kwargs=kwargs,
        options=options,
        misfire_policy=row["misfire_policy"],
        grace_seconds=row["grace_seconds"],
        max_catchup=row["max_catchup"],
        max_running=row["max_running"],
        max_runs=row["max_runs"],
        run_timeout_seconds=row["run_timeout_seconds"],
        start_at=start_at if start_at is not None else 0,
        resume_at=to_epoch(row["resume_at"]),
        end_at=to_epoch(row["end_at"]),
        last_event_at=to_epoch(row["last_event_at"]),
        stored_problem=row["problem"],
        problem="; ".join(problems),
    )
