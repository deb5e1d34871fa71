"""Beat's watch over the tasks' alerts: when to check a task, and what to do with the answer.

The rule is ``djag.core.alerts.evaluate``; this module feeds it and acts on it.
A task with an alert rule is checked when one of its runs ended (a failure of
a task that may be paused at once, before beat re-plans it), when its row
changed (an edit, an enable, a pause), when beat (re)loaded the schedule, and
when the deadline of its newest slot passes. Between those moments nothing can
change its alerts, so an idle pass over the tasks costs a dictionary look-up
each and reads nothing.

A check reads the task's newest outcomes from the store, and when an alert
trips or recovers it records the tripped set on the task, announces each change
(``announce``: the Django signal and the notifier, ``djag.alerts.announce``) and,
when the pause rule says so, disables the task, recording why.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import replace

from djag.alerts import Alert
from djag.beat.engine import Engine
from djag.core.alerts import AlertKind, TaskFacts, due_slot, evaluate
from djag.core.vocab import RunState
from djag.store.rows import FinishedRun

logger = logging.getLogger("djag.beat")

#: How often beat looks for slots whose ``succeed_within`` deadline passed.
CHECK_SECONDS = 5.0
#: The most tasks one tick checks (two queries each); the rest wait for the next ticks.
MAX_CHECKS_PER_TICK = 200


class AlertWatch:
    def __init__(self, engine: Engine, announce: Callable[[Alert], None]) -> None:
        self.engine = engine
        self.announce = announce
        self.tripped: dict[int, frozenset[AlertKind]] = {}
        self.checked: dict[int, object] = {}  # task -> the row it was last checked with
        self.deadlines: dict[int, float] = {}  # task -> when its overdue check may change
        self.stale: set[int] = set()  # tasks with runs that ended since their last check
        self.next_pass = 0.0

    def reset(self) -> None:
        """Beat (re)loaded the schedule: check every task again, from its stored state."""
        self.tripped.clear()
        self.checked.clear()
        self.deadlines.clear()
        self.stale.clear()
        self.next_pass = 0.0

    def runs_ended(self, finished: Iterable[FinishedRun], now: float) -> None:
        """Runs that ended: their tasks are checked at the next :meth:`tick`, but a failure
        of a task that may be paused at once: before beat re-plans it, so that a run that
        waited for the failed one never starts after the failure that pauses the task."""
        tasks = self.engine.catalog.tasks
        for run in finished:
            task = tasks.get(run.task_id) if run.task_id is not None else None
            if task is None:
                continue
            rule = task.row.alert_rule
            if run.state == RunState.FAILURE and rule and rule.pause_after_failures:
                self.check(task.row.id, now)
            else:
                self.stale.add(task.row.id)

    def tick(self, now: float) -> None:
        """Check the tasks whose runs ended; every ``CHECK_SECONDS``, those with news."""
        tasks = self.engine.catalog.tasks
        if now >= self.next_pass:
            self.next_pass = now + CHECK_SECONDS
            for gone in [task_id for task_id in self.checked if task_id not in tasks]:
                self._forget(gone)
            due = [
                task_id
                for task_id, task in tasks.items()
                if task.row.alert_rule is not None
                and (
                    task_id in self.stale
                    or self.checked.get(task_id) is not task.row
                    or now >= self.deadlines.get(task_id, math.inf)
                )
            ]
        else:
            due = [task_id for task_id in self.stale if task_id in tasks]
        due.sort()
        self.stale = set(due[MAX_CHECKS_PER_TICK:])
        for task_id in due[:MAX_CHECKS_PER_TICK]:
            self.check(task_id, now)

    def _forget(self, task_id: int) -> None:
        for memory in (self.tripped, self.checked, self.deadlines):
            memory.pop(task_id, None)

    def check(self, task_id: int, now: float) -> None:
        """Evaluate the task's alerts at ``now`` and act on what changed."""
        task = self.engine.catalog.tasks[task_id]
        row, spec, rule = task.row, task.spec, task.row.alert_rule
        if rule is None or spec is None:
            return
        self.checked[task_id] = row
        history = self.engine.store.alert_history(task_id, rule.failures_needed)
        facts = TaskFacts(
            history.finished,
            history.last_success_slot,
            active_since=spec.not_before if row.enabled else None,
            end_at=row.end_at,
        )
        moment = int(now)
        before = self.tripped.get(task_id, row.alerts_tripped)
        result = evaluate(rule, facts, spec.schedule, before, moment)
        self.tripped[task_id] = result.tripped
        self.deadlines[task_id] = self._next_deadline(task_id, facts, moment)
        pause = result.pause if result.pause is not None and row.enabled else None
        if not result.transitions and pause is None:
            return
        now_tripped = evaluate(rule, facts, spec.schedule, frozenset(), moment).transitions
        note = "\n".join(f"{t.kind}: {t.reason}" for t in now_tripped)
        if self.engine.store.record_alerts(task_id, result.tripped, note, now, pause):
            logger.warning("djag beat: task %r %s", row.name, pause)
            # Decided no more; the change feed brings the disabled row at the next poll.
            task.row = self.checked[task_id] = replace(row, enabled=False)
            self.engine.due.forget(task_id)
            self.engine.waiting.pop(task_id, None)
        at = dt.datetime.fromtimestamp(now, dt.UTC)
        for transition in result.transitions:
            alert = Alert.of(task_id, row.name, transition, at)
            logger.warning("%s: %s", alert.headline, alert.reason)
            self.announce(alert)

    def _next_deadline(self, task_id: int, facts: TaskFacts, now: int) -> float:
        """When the task's overdue check can next change by the clock alone."""
        task = self.engine.catalog.tasks[task_id]
        rule = task.row.alert_rule
        if rule is None or rule.succeed_within is None or task.spec is None:
            return math.inf
        if facts.active_since is None:  # disabled: enabling it changes the row, which is news
            return math.inf
        slot = due_slot(rule, facts, task.spec.schedule, now)
        after = max(now - rule.succeed_within, facts.active_since) if slot is None else slot
        following = task.spec.schedule.next_after(after)
        if following is None or (facts.end_at is not None and following > facts.end_at):
            return math.inf
        return following + rule.succeed_within
