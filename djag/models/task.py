"""PeriodicTask (what runs, when, how) and TaskDependency (an edge of the DAG)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.lookups import Exact
from django.utils import timezone

from djag.core.batches import chunks
from djag.core.dag import find_cycle
from djag.core.vocab import MAX_CATCHUP, KeepHistory, choices, values
from djag.core.vocab import Policy as MisfirePolicy

from ._compat import JSONTypeOf, check_constraint
from .changes import TrackedModel
from .crontab import Crontab
from .fields import ZoneField
from .task_alerts import TaskAlerts
from .task_rules import LARGEST_INTEGER, rule_errors
from .task_schedule import (
    MAX_EVERY,
    MAX_JITTER,
    interval_help,
    schedule_errors,
    schedule_text,
    validate_exclude_dates,
    validate_exclude_weekdays,
    validate_holiday_calendar,
)
from .validators import validate_json_list, validate_json_object


def _json_type_is(field: str, kind: str) -> Exact:
    return Exact(JSONTypeOf(field), models.Value(kind))


class PeriodicTask(TrackedModel, TaskAlerts):
    name = models.CharField(
        max_length=200, unique=True, help_text="A unique name for this schedule."
    )
    task = models.CharField(
        max_length=200, help_text='The registered Celery task name, e.g. "reports.tasks.build".'
    )
    crontab = models.ForeignKey(
        Crontab,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="periodic_tasks",
        help_text="When the task fires (or give an interval instead). A crontab used by tasks "
        "cannot be deleted.",
    )
    interval_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_EVERY)],
        help_text=interval_help(),
    )
    interval_anchor = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The interval counts from this moment: a run at the anchor and every "
        "interval after it (e.g. every 6 hours starting 05:00). Empty: from the start.",
    )
    interval_timezone = ZoneField(
        default="UTC",
        use_pytz=False,
        help_text="Interval tasks: the zone their anchor is shown in and their excluded dates "
        "are read in (a crontab task uses its crontab's zone).",
    )
    exclude_dates = models.TextField(
        blank=True,
        validators=[validate_exclude_dates],
        help_text="Dates the task does not run, YYYY-MM-DD, separated by commas or spaces "
        "(local dates in the schedule's zone).",
    )
    exclude_weekdays = models.CharField(
        max_length=60,
        blank=True,
        validators=[validate_exclude_weekdays],
        help_text='Weekdays the task does not run, as in cron: "sat,sun", "0,6".',
    )
    holiday_calendar = models.CharField(
        max_length=60,
        blank=True,
        validators=[validate_holiday_calendar],
        help_text="Skip the holidays of this calendar (the holidays package): a country code, "
        'optionally with a subdivision: "US", "US-NY", "DE-BY", "FR".',
    )
    jitter_seconds = models.PositiveIntegerField(
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_JITTER)],
        help_text="Release each run up to this many seconds after its time, the same delay for "
        "a given time on every beat: spreads tasks due at the same moment. 0 = none.",
    )
    args = models.JSONField(
        default=list, blank=True, validators=[validate_json_list], help_text="JSON list."
    )
    kwargs = models.JSONField(
        default=dict, blank=True, validators=[validate_json_object], help_text="JSON object."
    )

    queue = models.CharField(max_length=200, blank=True, help_text="Celery queue; empty = default.")
    exchange = models.CharField(max_length=200, blank=True)
    routing_key = models.CharField(max_length=200, blank=True)
    priority = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        # MinValueValidator(0): Django 4.2 does not add one to positive fields on every backend.
        validators=[MinValueValidator(0), MaxValueValidator(255)],
        help_text="0-255 (the broker decides which end is high); empty = default.",
    )
    headers = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_json_object],
        help_text="Extra message headers (JSON object).",
    )
    expires_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(LARGEST_INTEGER)],
        help_text="A message not picked up by a worker within this many seconds is discarded.",
    )

    enabled = models.BooleanField(default=True)
    start_at = models.DateTimeField(
        default=timezone.now, help_text="No event at or before this moment (defaults to creation)."
    )
    end_at = models.DateTimeField(null=True, blank=True, help_text="No event after this moment.")
    misfire_policy = models.CharField(
        max_length=10, choices=choices(MisfirePolicy), default=MisfirePolicy.COALESCE
    )
    grace_seconds = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(0), MaxValueValidator(LARGEST_INTEGER)],
        help_text="An event is on time while it is at most this late.",
    )
    max_catchup = models.PositiveIntegerField(
        default=100,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_CATCHUP)],
        help_text=f"run_all: at most this many runs for one backlog (1-{MAX_CATCHUP}); the rest "
        "are coalesced.",
    )
    max_running = models.PositiveIntegerField(
        default=1,
        validators=[MinValueValidator(0), MaxValueValidator(LARGEST_INTEGER)],
        help_text="Runs allowed at the same time; 0 = no limit.",
    )
    max_runs = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(LARGEST_INTEGER)],
        help_text="Disable the task after this many scheduled runs; empty = forever.",
    )
    run_timeout_seconds = models.PositiveIntegerField(
        default=3600,
        validators=[MinValueValidator(1), MaxValueValidator(LARGEST_INTEGER)],
        help_text="A run not finished after this long is marked lost and frees its slot.",
    )
    keep_history = models.CharField(
        max_length=10,
        choices=choices(KeepHistory),
        default=KeepHistory.ALL,
        help_text="Which finished runs djag_prune (and the djag.prune task) delete whatever "
        "their age: none (all), successes (failures), or all but the last (last). The runs "
        "beat reads are always kept.",
    )
    description = models.TextField(blank=True)
    source = models.CharField(
        max_length=200,
        blank=True,
        help_text="Where the task is declared in code (set by djag_sync); empty = edited here.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    # Scheduler-owned state: never in an admin form.
    resume_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="No event at or before this moment: set on enable, crontab change, pause.",
    )
    problem = models.TextField(
        blank=True, editable=False, help_text="Why beat cannot schedule this task, if it cannot."
    )
    problem_at = models.DateTimeField(null=True, blank=True, editable=False)

    untracked_fields = frozenset({"problem", "problem_at", *TaskAlerts.alert_state_fields})
    cross_checked_fields = frozenset({"start_at", "end_at"})
    repr_lookups = ("name",)

    class Meta:
        ordering = ("name",)
        constraints = [
            check_constraint(
                models.Q(priority__isnull=True) | models.Q(priority__lte=255),
                name="djag_task_priority_range",
            ),
            check_constraint(
                models.Q(max_catchup__gte=1, max_catchup__lte=MAX_CATCHUP),
                name="djag_task_max_catchup_range",
            ),
            check_constraint(
                models.Q(run_timeout_seconds__gte=1), name="djag_task_run_timeout_positive"
            ),
            check_constraint(
                models.Q(max_runs__isnull=True) | models.Q(max_runs__gte=1),
                name="djag_task_max_runs_positive",
            ),
            check_constraint(
                models.Q(end_at__isnull=True) | models.Q(end_at__gt=models.F("start_at")),
                name="djag_task_end_after_start",
            ),
            check_constraint(~models.Q(task=""), name="djag_task_task_not_empty"),
            check_constraint(
                models.Q(crontab__isnull=False, interval_seconds__isnull=True)
                | models.Q(crontab__isnull=True, interval_seconds__isnull=False),
                name="djag_task_one_schedule",
            ),
            check_constraint(
                models.Q(interval_seconds__isnull=True)
                | models.Q(interval_seconds__gte=1, interval_seconds__lte=MAX_EVERY),
                name="djag_task_interval_range",
            ),
            check_constraint(
                models.Q(jitter_seconds__lte=MAX_JITTER), name="djag_task_jitter_range"
            ),
            check_constraint(
                models.Q(misfire_policy__in=values(MisfirePolicy)), name="djag_task_misfire_policy"
            ),
            check_constraint(
                models.Q(keep_history__in=values(KeepHistory)), name="djag_task_keep_history"
            ),
            check_constraint(_json_type_is("args", "array"), name="djag_task_args_is_list"),
            check_constraint(_json_type_is("kwargs", "object"), name="djag_task_kwargs_is_object"),
            check_constraint(
                _json_type_is("headers", "object"), name="djag_task_headers_is_object"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def repr_from_values(cls, values: dict[str, Any]) -> str:
        return str(values.get("name") or f"periodic task {values.get('pk', '')}")

    @property
    def last_event_at(self) -> dt.datetime | None:
        """The newest event beat handled, as last saved (``TaskCheckpoint``); None before."""
        try:
            return self.checkpoint.moment
        except ObjectDoesNotExist:
            return None

    def describe_schedule(self) -> str:
        """The schedule in words: the crontab's text, or "Every 6 hours from ..."."""
        return schedule_text(self)

    def clean(self) -> None:
        errors = {**rule_errors(self), **schedule_errors(self)}
        if self.end_at is not None and self.start_at is not None and self.end_at <= self.start_at:
            errors["end_at"] = "The end must be after the start."
        if errors:
            raise ValidationError(errors)

    def before_write(self, old: dict[str, Any] | None) -> None:
        if old is None:
            return
        if self.tracked_diff(old):
            # An edit may fix what beat reported; beat reloads the task and says again if not.
            self.problem, self.problem_at = "", None
        if _resumes(old, {name: getattr(self, name) for name in ("enabled", *_SCHEDULE_ATTNAMES)}):
            self.resume_at = timezone.now()

    @classmethod
    def implied_attnames(cls, attnames: Any) -> set[str]:
        resuming = {"enabled", *_SCHEDULE_ATTNAMES}
        return {"resume_at"} if resuming.intersection(attnames) else set()

    @classmethod
    def after_update(cls, using: str, before: dict[Any, dict], after: dict[Any, dict]) -> None:
        resuming = [pk for pk, old in before.items() if _resumes(old, after[pk])]
        if not resuming:
            return
        now = timezone.now()
        for chunk in chunks(resuming):
            cls._base_manager.using(using).filter(pk__in=chunk).update(resume_at=now)
        for pk in resuming:
            after[pk]["resume_at"] = now


#: The columns that say when a task fires: a change resumes the task from now.
_SCHEDULE_ATTNAMES = ("crontab_id", "interval_seconds", "interval_anchor")


def _resumes(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether a task written from ``old`` to ``new`` starts afresh from now: it was enabled,
    or moved to another crontab or interval. A re-enabled or re-timed task has no backlog.

    The rows may hold only the fields being written; a field absent from ``old`` is unchanged.
    """
    enabled = "enabled" in old and not old["enabled"] and bool(new["enabled"])
    moved = any(name in old and old[name] != new[name] for name in _SCHEDULE_ATTNAMES)
    return enabled or moved


class TaskDependency(TrackedModel):
    depender = models.ForeignKey(
        PeriodicTask,
        on_delete=models.CASCADE,
        related_name="dependencies",
        help_text="The task that waits.",
    )
    dependee = models.ForeignKey(
        PeriodicTask,
        on_delete=models.CASCADE,
        related_name="dependers",
        help_text="The task it waits for.",
    )
    future_depends = models.BooleanField(
        default=False,
        help_text="Future edge: the dependee's next run waits for the depender to consume its "
        "last output. Holds until the depender has run once after the edge was created.",
    )
    require_success = models.BooleanField(
        default=True,
        help_text="Only a successful run of the dependee counts; otherwise any finished run does.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    cross_checked_fields = frozenset({"depender", "dependee", "future_depends"})
    repr_lookups = ("depender__name", "dependee__name", "future_depends")

    class Meta:
        verbose_name_plural = "task dependencies"
        ordering = ("depender", "dependee")
        constraints = [
            models.UniqueConstraint(
                fields=("depender", "dependee"),
                name="djag_dependency_unique_pair",
                violation_error_message="This dependency already exists.",
            ),
            check_constraint(
                models.Q(future_depends=True) | ~models.Q(depender=models.F("dependee")),
                name="djag_dependency_self_needs_future",
            ),
        ]

    def __str__(self) -> str:
        kind = "future " if self.future_depends else ""
        return f"{self.depender_name()} after {kind}{self.dependee_name()}"

    def depender_name(self) -> str:
        return self.depender.name if self.depender_id else "?"

    def dependee_name(self) -> str:
        return self.dependee.name if self.dependee_id else "?"

    def clean(self) -> None:
        if not self.depender_id or not self.dependee_id:
            return  # the form reports the missing field
        if self.depender_id == self.dependee_id and not self.future_depends:
            raise ValidationError(
                {
                    "dependee": "A task cannot wait for itself. To forbid overlapping runs, "
                    "make it a future dependency."
                }
            )
        others = TaskDependency._base_manager.filter(future_depends=False)
        if self.pk is not None:
            others = others.exclude(pk=self.pk)
        edges = list(others.values_list("depender_id", "dependee_id"))
        if not self.future_depends:
            edges.append((self.depender_id, self.dependee_id))
        cycle_error = _cycle_error(edges, start=self.depender_id)
        if cycle_error is not None:
            raise ValidationError({"dependee": cycle_error})

    @classmethod
    def repr_from_values(cls, values: dict[str, Any]) -> str:
        kind = "future " if values.get("future_depends") else ""
        return f"{values.get('depender__name')} after {kind}{values.get('dependee__name')}"

    @classmethod
    def after_bulk_create(cls, using: str) -> None:
        cls.check_acyclic(using)

    @classmethod
    def after_update(cls, using: str, before: dict[Any, dict], after: dict[Any, dict]) -> None:
        cls.check_acyclic(using)

    @classmethod
    def check_acyclic(cls, using: str) -> None:
        edges = cls._base_manager.using(using).filter(future_depends=False)
        error = _cycle_error(list(edges.values_list("depender_id", "dependee_id")))
        if error is not None:
            raise ValidationError(error)


def _cycle_error(edges: list[tuple[int, int]], start: int | None = None) -> str | None:
    """The error naming a cycle among ordinary (depender, dependee) edges, or None.

    The cycle is written in "waits for" order, from ``start`` when it is on the cycle
    (the depender being saved), so that "a -> b -> a" reads "a waits for b, which
    waits for a".
    """
    cycle = find_cycle(edges)
    if cycle is None:
        return None
    if start in cycle:
        at = cycle.index(start)
        cycle = [*cycle[at:-1], *cycle[:at], start]
    names = dict(PeriodicTask._base_manager.filter(pk__in=set(cycle)).values_list("pk", "name"))
    path = " -> ".join(names.get(pk, str(pk)) for pk in cycle)
    return (
        f"This would make a cycle of dependencies: {path} (each waits for the next). "
        "Make one of these dependencies a future dependency to close the cycle."
    )
