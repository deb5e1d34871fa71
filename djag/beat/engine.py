"""Beat's in-memory state and its reactions: the imperative shell around ``djag.core``.

The engine knows the tasks, when each is next due (a heap), the runs in flight
and what the dependency rule needs of each task's history. It turns time
passing, schedule changes and finished runs into ``djag.core.plan.decide``
calls and carries the decisions out through the store and a ``publish``
callable. It knows nothing of Celery, so tests and benchmarks drive it with a
fake clock and a fake publisher.

Cost model: an idle tick looks at the top of the heap and, every
``CHECK_SECONDS``, reads the wake-up key. The database is read when the key
changed or every ``DJAG_POLL_SECONDS``, and then only the new ScheduleChange
rows, the active runs and the history of tasks that wait for something.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfoNotFoundError

from djag.beat.outbox import Dispatch, Publisher
from djag.core import cron
from djag.core.dag import NO_RUNS, Edge, RunMarks, blocking_edges
from djag.core.plan import Decision, Progress, TaskSpec, decide, next_event
from djag.models import RunState, Trigger
from djag.store import ActiveRun, ChangeBatch, ChangeFeed, NewRun, Store, TaskRow

logger = logging.getLogger("djag.beat")

#: Runs still "claimed" this long after their claim were not published (a beat
#: died, or the broker failed); the leader publishes them again.
STALE_CLAIM_SECONDS = 60.0

#: After a failed publish (broker down), wait this long before trying again.
PUBLISH_RETRY_SECONDS = 5.0

#: The timeout of a run whose task is gone (the model's default run_timeout_seconds).
DEFAULT_RUN_TIMEOUT = 3600


@dataclass(slots=True)
class LiveTask:
    row: TaskRow
    spec: TaskSpec | None  # None: the task cannot be scheduled, see ``problem``
    problem: str


class Engine:
    CHECK_SECONDS = 0.5  # how often the wake-up key is read: changes show within a second

    def __init__(
        self,
        store: Store,
        publish: Publisher,
        *,
        poll_seconds: float,
        read_wake_token: Callable[[], str | None],
    ) -> None:
        self.store = store
        self.publish = publish
        self.poll_seconds = poll_seconds
        self.read_wake_token = read_wake_token

        self.tasks: dict[int, LiveTask] = {}
        self.progress: dict[int, Progress] = {}
        self.marks: dict[int, RunMarks] = {}
        self.edges: dict[int, list[Edge]] = {}  # depender -> its edges
        self.dependers: dict[int, set[int]] = {}  # dependee -> dependers
        self.schedules: dict[int, cron.CronSchedule | str] = {}  # crontab id -> schedule or problem
        self.heap: list[tuple[int, int, int]] = []  # (due, task id, version)
        self.versions: dict[int, int] = {}
        self.waiting: dict[int, Decision] = {}
        self.active: dict[int, ActiveRun] = {}
        self.unpublished: dict[int, Dispatch] = {}
        self.retry_publish_at = 0.0
        self.dirty_checkpoints: dict[int, int] = {}
        self.feed: ChangeFeed | None = None
        self.wake_token: str | None = None
        self.next_expiry = 0.0  # no active run can be lost before this instant
        self.activity: tuple[object, ...] | None = None  # Store.activity() at the last full poll
        self.cache_error: str | None = None  # set while the wake-up key cannot be read
        self.next_check = 0.0
        self.next_db_poll = 0.0

    # -- loading ----------------------------------------------------------------

    def load(self, now: float) -> None:
        """Read the whole schedule once; afterwards only changes are applied."""
        self.activity = self.store.activity()  # first: what is written later is read later
        self.feed = ChangeFeed(self.store, self.store.change_cursor())
        self.wake_token = self._read_wake_token()
        self._load_crontabs(None)
        rows = self.store.load_tasks()
        checkpoint_time = self.store.checkpoint_time()
        self.tasks.clear()
        self.progress.clear()
        self.heap.clear()
        self.waiting.clear()
        self.unpublished.clear()
        self.active = {run.id: run for run in self.store.active_runs()}
        self.next_expiry = 0.0
        active_counts = Counter(run.task_id for run in self.active.values())
        newest = self.store.last_events(since=checkpoint_time)
        counted = self.store.scheduled_run_counts([r.id for r in rows if r.max_runs is not None])
        for row in rows:
            last_event = max(
                (e for e in (row.last_event_at, newest.get(row.id)) if e is not None),
                default=None,
            )
            self.progress[row.id] = Progress(
                last_event=last_event,
                active_runs=active_counts.get(row.id, 0),
                scheduled_runs=counted.get(row.id, 0),
            )
            self._install(row, int(now))
        self._load_edges()
        self.next_db_poll = now + self.poll_seconds
        self.next_check = now + self.CHECK_SECONDS
        self.republish_claims(now, older_than=0.0)
        logger.info(
            "djag beat: loaded %d tasks (%d enabled), %d dependency edges, %d runs in flight",
            len(rows),
            sum(1 for r in rows if r.enabled),
            sum(len(e) for e in self.edges.values()),
            len(self.active),
        )

    def _load_crontabs(self, ids: Iterable[int] | None) -> None:
        for crontab in self.store.load_crontabs(ids).values():
            try:
                self.schedules[crontab.id] = crontab.schedule()
            except cron.CronError as exc:
                self.schedules[crontab.id] = f"crontab {crontab.id}: {exc}"
            except ZoneInfoNotFoundError as exc:
                self.schedules[crontab.id] = (
                    f"crontab {crontab.id}: unknown time zone {crontab.zone!r} ({exc})"
                )

    def _load_edges(self) -> None:
        self.edges = self.store.load_edges()
        self.dependers = {}
        for depender, edges in self.edges.items():
            for edge in edges:
                self.dependers.setdefault(edge.dependee, set()).add(depender)
        involved = set(self.edges) | set(self.dependers)
        self.marks = self.store.run_marks(sorted(involved))

    def _install(self, row: TaskRow, now: int) -> None:
        """Take a (re)loaded row in: rebuild its spec and put it on the heap if enabled."""
        schedule = self.schedules.get(row.crontab_id)
        problem = row.problem
        spec = None
        if isinstance(schedule, str):
            problem = problem or schedule
        elif schedule is None:
            problem = problem or f"crontab {row.crontab_id} could not be loaded"
        elif not problem:
            spec = row.spec(schedule)
        self.tasks[row.id] = LiveTask(row, spec, problem)
        self.progress.setdefault(row.id, Progress())
        if problem != row.stored_problem:
            if problem:
                logger.error("djag beat: task %r cannot be scheduled: %s", row.name, problem)
            self.store.set_problem(row.id, problem)
        self.waiting.pop(row.id, None)
        self._forget_heap_entry(row.id)
        if spec is not None and row.enabled:
            progress = self.progress[row.id]
            after = max(spec.not_before, progress.last_event or spec.not_before)
            due = next_event(spec, after)
            if due is not None:
                self._push(row.id, due)

    def _drop(self, task_id: int) -> None:
        self.tasks.pop(task_id, None)
        self.waiting.pop(task_id, None)
        self._forget_heap_entry(task_id)

    # -- the heap ---------------------------------------------------------------

    def _push(self, task_id: int, due: int) -> None:
        version = self.versions.get(task_id, 0) + 1
        self.versions[task_id] = version
        heapq.heappush(self.heap, (due, task_id, version))
        if len(self.heap) > 2 * len(self.tasks) + 64:
            self._compact_heap()

    def _forget_heap_entry(self, task_id: int) -> None:
        self.versions[task_id] = self.versions.get(task_id, 0) + 1

    def _compact_heap(self) -> None:
        self.heap = [e for e in self.heap if self.versions.get(e[1]) == e[2]]
        heapq.heapify(self.heap)

    def next_due(self) -> int | None:
        while self.heap and self.versions.get(self.heap[0][1]) != self.heap[0][2]:
            heapq.heappop(self.heap)
        return self.heap[0][0] if self.heap else None

    # -- a tick -------------------------------------------------------------------

    def tick(self, now: float) -> float:
        """Do what is due at ``now``; return the seconds until the next tick is needed."""
        if now >= self.next_check:
            self.check(now)
        self.dispatch_due(now)
        if self.unpublished and now >= self.retry_publish_at:
            self._publish(list(self.unpublished.values()), now)
        wake_at = self.next_check
        due = self.next_due()
        if due is not None:
            wake_at = min(wake_at, due)
        return max(0.0, wake_at - now)

    def check(self, now: float) -> None:
        """Read the wake-up key; on news, or every DJAG_POLL_SECONDS, read the database."""
        self.next_check = now + self.CHECK_SECONDS
        poll_due = now >= self.next_db_poll
        # A due poll reads the database anyway: the key can wait for the next check,
        # so that no idle tick costs more than one query (the key may be in the database).
        token = None if poll_due else self._read_wake_token()
        if poll_due or (token is not None and token != self.wake_token):
            if token is not None:
                self.wake_token = token
            self.next_db_poll = now + self.poll_seconds
            self.poll(now)

    def _read_wake_token(self) -> str | None:
        try:
            token = self.read_wake_token()
        except Exception as exc:
            if self.cache_error is None:
                logger.warning(
                    "djag beat: the wake-up cache cannot be read (%s: %s); reading the "
                    "database every %g s until it is back",
                    type(exc).__name__,
                    exc,
                    self.poll_seconds,
                )
            self.cache_error = str(exc)
            return None
        if self.cache_error is not None:
            logger.warning("djag beat: the wake-up cache is readable again")
            self.cache_error = None
        return token

    def poll(self, now: float) -> None:
        """Read schedule changes and run updates, or only ask whether there are any."""
        assert self.feed is not None, "load() first"
        activity = self.store.activity()
        if activity == self.activity and not self.feed.gaps:
            # Nothing was written since the last full poll: only the clock moved.
            self._replan_affected(self._expire_lost(now), now)
            self.republish_claims(now, older_than=STALE_CLAIM_SECONDS)
            return
        batch = self.feed.read(now)
        if batch:
            self.apply_changes(batch, now)
        self.refresh_runs(now)
        self.activity = activity

    # -- schedule changes ---------------------------------------------------------

    def apply_changes(self, batch: ChangeBatch, now: float) -> None:
        if batch.reload_all:
            self.load(now)
            return
        if batch.crontabs:
            self._load_crontabs(batch.crontabs)
        rows = self.store.load_tasks(ids=batch.tasks) if batch.tasks else []
        if batch.crontabs:
            rows += self.store.load_tasks(crontab_ids=batch.crontabs)
        seen = set()
        for row in rows:
            seen.add(row.id)
            self._install(row, int(now))
        for task_id in batch.tasks - seen:
            self._drop(task_id)
        if batch.edges_changed:
            self._load_edges()
            for task_id in list(self.waiting):
                self._replan(task_id, now)
        logger.info(
            "djag beat: applied changes to %d tasks, %d crontabs%s",
            len(batch.tasks),
            len(batch.crontabs),
            ", dependencies" if batch.edges_changed else "",
        )

    # -- runs in flight -----------------------------------------------------------

    def refresh_runs(self, now: float) -> None:
        """Learn which runs finished or appeared, mark stale ones lost, re-plan who waited."""
        current = {run.id: run for run in self.store.active_runs()}
        gone = [run_id for run_id in self.active if run_id not in current]
        changed: set[int] = set()
        for _run_id, task_id, state, finished_at in self.store.finished_runs(gone):
            if task_id is not None:
                self._note_finish(task_id, state, finished_at or now)
                changed.add(task_id)
        for run in current.values():
            if run.id not in self.active and run.task_id is not None:
                self._note_start(run.task_id, run.claimed_at)
                changed.add(run.task_id)
        before, self.active = self.active, current
        self.next_expiry = 0.0  # new runs: scan them all
        changed |= self._expire_lost(now)
        changed |= self._recount_active(before)
        changed |= self._refresh_waiting_marks()
        self._replan_affected(changed, now)
        self.republish_claims(now, older_than=STALE_CLAIM_SECONDS)

    def _note_start(self, task_id: int, claimed_at: float) -> None:
        marks = self.marks.get(task_id, NO_RUNS)
        if marks.last_start is None or claimed_at > marks.last_start:
            self.marks[task_id] = replace(marks, last_start=claimed_at)

    def _note_finish(self, task_id: int, state: str, finished_at: float) -> None:
        marks = self.marks.get(task_id, NO_RUNS)
        last_finish = max(finished_at, marks.last_finish or finished_at)
        last_success = marks.last_success
        if state == RunState.SUCCESS:
            last_success = max(finished_at, last_success or finished_at)
        self.marks[task_id] = replace(marks, last_finish=last_finish, last_success=last_success)

    def _timeout_of(self, task_id: int | None) -> int:
        task = self.tasks.get(task_id) if task_id is not None else None
        return task.row.run_timeout_seconds if task else DEFAULT_RUN_TIMEOUT

    def _expire_lost(self, now: float) -> set[int]:
        """Mark runs past their timeout lost; scan again only when the next one may be."""
        if now < self.next_expiry:
            return set()
        lost = []
        next_expiry = math.inf
        for run in self.active.values():
            deadline = run.claimed_at + self._timeout_of(run.task_id)
            if now > deadline:
                lost.append(run)
            else:
                next_expiry = min(next_expiry, deadline)
        self.next_expiry = next_expiry
        if not lost:
            return set()
        self.store.mark_lost([run.id for run in lost], now)
        changed = set()
        for run in lost:
            del self.active[run.id]
            self.unpublished.pop(run.id, None)
            if run.task_id is not None:
                logger.warning(
                    "djag beat: run %d of task %s is lost (no result within its timeout)",
                    run.id,
                    run.task_id,
                )
                self._note_finish(run.task_id, RunState.LOST, now)
                progress = self.progress.get(run.task_id)
                if progress is not None and progress.active_runs > 0:
                    self.progress[run.task_id] = replace(
                        progress, active_runs=progress.active_runs - 1
                    )
                changed.add(run.task_id)
        return changed

    def _recount_active(self, before: dict[int, ActiveRun]) -> set[int]:
        """Set each task's active-run count; only tasks with runs before or now can change."""
        counts = Counter(run.task_id for run in self.active.values())
        touched = {run.task_id for run in before.values()} | set(counts)
        changed: set[int] = set()
        for task_id in touched:
            if task_id is None:
                continue
            progress = self.progress.get(task_id)
            if progress is not None and progress.active_runs != counts.get(task_id, 0):
                self.progress[task_id] = replace(progress, active_runs=counts.get(task_id, 0))
                changed.add(task_id)
        return changed

    def _refresh_waiting_marks(self) -> set[int]:
        """Re-read the history of tasks that wait on dependencies, and of their dependees.

        Catches runs that started and finished between two polls (a manual run, say),
        which the active-run comparison cannot see.
        """
        involved: set[int] = set()
        for task_id in self.waiting:
            if task_id in self.edges:
                involved.add(task_id)
                involved.update(edge.dependee for edge in self.edges[task_id])
        if not involved:
            return set()
        fresh = self.store.run_marks(sorted(involved))
        changed = {t for t in involved if fresh.get(t, NO_RUNS) != self.marks.get(t, NO_RUNS)}
        for task_id in changed:
            self.marks[task_id] = fresh.get(task_id, NO_RUNS)
        return changed

    def _replan_affected(self, changed: set[int], now: float) -> None:
        """A change of task T can unblock T (concurrency) and T's dependers (dependencies)."""
        candidates = set()
        for task_id in changed:
            if task_id in self.waiting:
                candidates.add(task_id)
            candidates.update(d for d in self.dependers.get(task_id, ()) if d in self.waiting)
        for task_id in sorted(candidates):
            self._replan(task_id, now)

    def _replan(self, task_id: int, now: float) -> None:
        """Decide again at once (through the heap, so the claim joins the next batch)."""
        self.waiting.pop(task_id, None)
        task = self.tasks.get(task_id)
        if task and task.spec is not None and task.row.enabled:
            self._push(task_id, int(now))

    # -- dispatching ----------------------------------------------------------------

    def dispatch_due(self, now: float) -> None:
        """Decide every task due by ``now``, claim their runs in bulk, publish them."""
        moment = int(now)
        due_tasks = []
        while True:
            due = self.next_due()
            if due is None or due > moment:
                break
            _, task_id, _ = heapq.heappop(self.heap)
            self._forget_heap_entry(task_id)
            due_tasks.append(task_id)
        if not due_tasks:
            return
        new_runs: list[NewRun] = []
        decided: list[tuple[int, Decision]] = []
        for task_id in due_tasks:
            decision = self._decide(task_id, moment)
            if decision is None:
                continue
            decided.append((task_id, decision))
            new_runs.extend(self._ledger_rows(task_id, decision))
        stamp = self._claim_stamp(now, [task_id for task_id, _ in decided])
        try:
            claimed = self.store.claim(new_runs, stamp)
        except Exception:
            # Nothing was applied: put the tasks back so they are decided again.
            for task_id in due_tasks:
                if task_id in self.tasks:
                    self._push(task_id, moment)
            raise
        for task_id, decision in decided:
            self._apply_decision(task_id, decision, moment)
        self._track_claims(claimed, now)

    def _claim_stamp(self, now: float, task_ids: Iterable[int]) -> float:
        """The claim time of runs decided now: never before a dependee finish they counted.

        The rule compares a dependee's finish with the depender's last start. A
        finish stamped by a worker whose clock runs ahead, or read by a tick that
        began before it, could otherwise look newer than the run it let start,
        and let the next run go without waiting.
        """
        finishes = [
            self._marks_of(edge.dependee).last_finish or now
            for task_id in task_ids
            for edge in self.edges.get(task_id, ())
        ]
        return max([now, *finishes])

    def _decide(self, task_id: int, now: int) -> Decision | None:
        task = self.tasks.get(task_id)
        if task is None or task.spec is None or not task.row.enabled:
            return None
        blockers: list[Edge] = []
        edges = self.edges.get(task_id)
        if edges:
            blockers = blocking_edges(
                edges, self.marks.get(task_id, NO_RUNS), task.spec.start_at, self._marks_of
            )
        decision = decide(task.spec, self.progress[task_id], blockers, now)
        if decision.waiting is not None:
            self.waiting[task_id] = decision
        elif decision.next_due is not None:
            self._push(task_id, decision.next_due)
        return decision

    def _marks_of(self, task_id: int) -> RunMarks:
        return self.marks.get(task_id, NO_RUNS)

    def _ledger_rows(self, task_id: int, decision: Decision) -> list[NewRun]:
        if decision.resolution is None:
            return []
        row = self.tasks[task_id].row
        rows = [
            NewRun(task_id, row.name, row.task, run.scheduled_for, run.trigger, run.coalesced_count)
            for run in decision.resolution.runs
        ]
        skipped = decision.resolution.skipped
        if skipped is not None:
            rows.append(
                NewRun(
                    task_id,
                    row.name,
                    row.task,
                    skipped.scheduled_for,
                    Trigger.SCHEDULE,
                    skipped.count,
                    skipped=True,
                )
            )
        return rows

    def _apply_decision(self, task_id: int, decision: Decision, now: int) -> None:
        if decision.exhausted:
            logger.info("djag beat: task %s reached max_runs; disabling it", task_id)
            self.store.disable_exhausted(task_id)
        if decision.resolution is None:
            return
        progress = self.progress[task_id]
        runs = len(decision.resolution.runs)
        self.progress[task_id] = Progress(
            last_event=decision.resolution.handled_through,
            active_runs=progress.active_runs,
            scheduled_runs=progress.scheduled_runs + runs,
        )
        self.dirty_checkpoints[task_id] = decision.resolution.handled_through

    def _track_claims(self, claimed: Sequence, now: float) -> None:
        dispatches = []
        for run in claimed:
            self.active[run.id] = ActiveRun(
                run.id, run.task_id, RunState.CLAIMED, run.celery_task_id, run.claimed_at, None
            )
            self.next_expiry = min(self.next_expiry, run.claimed_at + self._timeout_of(run.task_id))
            progress = self.progress.get(run.task_id)
            if progress is not None:
                self.progress[run.task_id] = replace(progress, active_runs=progress.active_runs + 1)
            self._note_start(run.task_id, run.claimed_at)
            dispatch = self._dispatch_for(run.id, run.celery_task_id, run.task_id)
            if dispatch is not None:
                dispatches.append(dispatch)
        self._publish(dispatches, now)

    def _dispatch_for(
        self, run_id: int, celery_task_id: str, task_id: int | None
    ) -> Dispatch | None:
        task = self.tasks.get(task_id) if task_id is not None else None
        if task is None:
            return None
        row = task.row
        return Dispatch(run_id, celery_task_id, row.id, row.task, row.args, row.kwargs, row.options)

    def _publish(self, dispatches: list[Dispatch], now: float) -> None:
        if not dispatches:
            return
        failed = {dispatch.run_id: exc for dispatch, exc in self.publish(dispatches)}
        sent = []
        for dispatch in dispatches:
            exc = failed.get(dispatch.run_id)
            if exc is not None:
                if dispatch.run_id not in self.unpublished:
                    logger.warning(
                        "djag beat: could not publish run %d (%s): %s; will retry",
                        dispatch.run_id,
                        dispatch.task,
                        exc,
                    )
                self.unpublished[dispatch.run_id] = dispatch
                continue
            sent.append(dispatch.run_id)
            self.unpublished.pop(dispatch.run_id, None)
            run = self.active.get(dispatch.run_id)
            if run is not None and run.state == RunState.CLAIMED:
                self.active[dispatch.run_id] = replace(run, state=RunState.SENT)
        if failed:
            self.retry_publish_at = now + PUBLISH_RETRY_SECONDS
        self.store.mark_sent(sent, now)

    def republish_claims(self, now: float, older_than: float) -> None:
        """Publish again, with the same Celery task id, runs claimed but never marked sent."""
        dispatches = []
        for run in list(self.active.values()):
            if (
                run.state == RunState.CLAIMED
                and now - run.claimed_at >= older_than
                and run.id not in self.unpublished
            ):
                dispatch = self._dispatch_for(run.id, run.celery_task_id, run.task_id)
                if dispatch is not None:
                    dispatches.append(dispatch)
        if dispatches:
            logger.warning(
                "djag beat: publishing %d claimed but unsent runs again", len(dispatches)
            )
            self._publish(dispatches, now)

    # -- persistence ------------------------------------------------------------------

    def sync(self, now: float) -> None:
        """Save the handled-event checkpoints of the tasks that moved since the last sync."""
        if not self.dirty_checkpoints:
            return
        pending, self.dirty_checkpoints = self.dirty_checkpoints, {}
        try:
            self.store.save_checkpoints(pending, now)
        except Exception:
            pending.update(self.dirty_checkpoints)
            self.dirty_checkpoints = pending
            raise
