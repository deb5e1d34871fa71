"""Beat's in-memory state and its reactions: the imperative shell around ``djag.core``.

The engine knows the tasks and their compiled specs, the dependency edges and
the tasks that wait. It turns time passing, schedule changes and finished runs
into ``djag.core.plan.decide`` calls and carries the decisions out through the
store and the outbox. Its parts each hold one kind of state: the due queue
(when each task is next decided), the run book (runs in flight and each task's
run history) and the outbox (messages the broker has not taken yet). It knows
nothing of Celery or the ORM: tests drive it with a fake store, a fake
publisher and a simulated clock.

Cost model: an idle tick looks at the top of the due queue and, every
``watch.check_seconds``, looks for news (``djag.beat.watch``: a listener's socket,
or the wake-up key). The database is read on news or every ``watch.poll_seconds``,
and then only the new ScheduleChange rows, the active runs and the history of
tasks that wait for something.

Bounded work: one tick claims at most ``MAX_CLAIMS_PER_TICK`` ledger rows across
all tasks, deciding the due tasks earliest first. The task that would overflow
the batch is decided again in the next tick, which follows at once, so a
backlog is worked off in batches and the tasks due after it wait a tick, not
the whole backlog. One task's decision always fits (``max_catchup`` is at most
``MAX_CATCHUP``, below the bound).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import partial

from djag.beat.backlog import RunsRefresh
from djag.beat.catalog import Catalog, LiveTask
from djag.beat.checkpoints import Checkpoints
from djag.beat.due import DueQueue
from djag.beat.heap import collector_paused
from djag.beat.outbox import Dispatch, Outbox, Publisher
from djag.beat.ports import StorePort
from djag.beat.requested import RequestWatch, gate
from djag.beat.runbook import RunBook
from djag.beat.watch import KeyWatch, Watch
from djag.core.dag import Edge, blocking_edges
from djag.core.plan import Decision, Progress, decide, next_due
from djag.core.requested import TASK_GONE, select
from djag.core.vocab import MAX_CATCHUP
from djag.store.feed import ChangeFeed
from djag.store.rows import Activity, ChangeBatch, ClaimedRun, Fence, NewRun

logger = logging.getLogger("djag.beat")

#: Runs still "claimed" this long after their claim were not published (a beat
#: died, or the broker failed); the leader publishes them again.
STALE_CLAIM_SECONDS = 60.0

#: The most ledger rows (runs and skip records) one tick claims, across all tasks.
MAX_CLAIMS_PER_TICK = 2 * MAX_CATCHUP


class Engine:
    def __init__(
        self,
        store: StorePort,
        publish: Publisher,
        *,
        poll_seconds: float,
        read_wake_token: Callable[[], str | None],
        max_claims_per_tick: int = MAX_CLAIMS_PER_TICK,
        watch: Watch | None = None,
        after_load: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        #: Called after each full load (beat freezes the loaded schedule: ``djag.beat.heap``).
        self.after_load = after_load
        self.poll_seconds = poll_seconds
        self.max_claims_per_tick = max_claims_per_tick
        #: The lease claims are made under (set by the scheduler at each tick); None
        #: claims unfenced, for a lone engine in tests and tools.
        self.fence: Fence | None = None
        self.due = DueQueue()
        self.runs = RunBook()
        self.outbox = Outbox(publish)
        #: How news is learnt of (``djag.beat.listen.watch_for``); the wake-up key by default.
        self.watch = watch or KeyWatch(read_wake_token, poll_seconds)
        self.requests = RequestWatch()
        self.runs_refresh = RunsRefresh()  # mid-burst, the runs in flight are read later

        self.catalog = Catalog()
        self.waiting: dict[int, Decision] = {}
        self.checkpoints = Checkpoints()
        self.feed: ChangeFeed | None = None
        self.activity: Activity | None = None  # Store.activity() at the last full poll
        self.next_check = 0.0
        self.next_db_poll = 0.0

    @property
    def tasks(self) -> dict[int, LiveTask]:
        return self.catalog.tasks

    @property
    def publish(self) -> Publisher:
        return self.outbox.publish

    @publish.setter
    def publish(self, publish: Publisher) -> None:
        self.outbox.publish = publish

    # -- loading ----------------------------------------------------------------

    @collector_paused()  # a million tasks loaded make no cyclic garbage, only collections
    def load(self, now: float) -> None:
        """Read the whole schedule once; afterwards only changes are applied."""
        self.watch.start(now)  # before reading: what is written after the read is news
        self.activity = self.store.activity()  # first: what is written later is read later
        self.requests.polled(self.activity, now)
        self.feed = ChangeFeed(self.store.change_rows, self.store.change_cursor())
        self.catalog.compile_crontabs(self.store.load_crontabs().values())
        rows = self.store.load_tasks()
        checkpoint_time = self.store.checkpoint_time()
        self.catalog.tasks.clear()
        self.due.clear()
        self.waiting.clear()
        self.outbox.clear()
        newest = self.store.last_events(since=checkpoint_time)
        counted = self.store.scheduled_run_counts([r.id for r in rows if r.max_runs is not None])
        self.catalog.set_edges(self.store.load_edges())
        self.runs.reset(self.store.active_runs(), self.store.run_marks(self.catalog.edge_tasks()))
        for row in rows:
            last_event = max(
                (e for e in (row.last_event_at, newest.get(row.id)) if e is not None),
                default=None,
            )
            self._install(self.catalog.install(row, last_event, counted.get(row.id, 0)))
        self.next_db_poll = now + self.watch.poll_seconds
        self.next_check = now + self.watch.check_seconds
        self.republish_claims(now, older_than=0.0)
        logger.info(
            "djag beat: loaded %d tasks (%d enabled), %d dependency edges, %d runs in flight",
            len(rows),
            sum(1 for r in rows if r.enabled),
            sum(len(e) for e in self.catalog.edges.values()),
            len(self.runs.active),
        )
        self.after_load()

    def _load_edges(self) -> None:
        self.catalog.set_edges(self.store.load_edges())
        involved = self.catalog.edge_tasks()
        self.runs.update_marks(self.store.run_marks(involved), involved)

    def _install(self, task: LiveTask) -> None:
        """Queue a task just (re)compiled, if enabled; record a change of its problem."""
        row, problem, spec = task.row, task.problem, task.spec
        if problem != row.stored_problem:
            if problem:
                logger.error("djag beat: task %r cannot be scheduled: %s", row.name, problem)
            self.store.set_problem(row.id, problem)
        self.waiting.pop(row.id, None)
        self.due.forget(row.id)
        if spec is not None and row.enabled:
            # The release of the next event (jitter), or the end of an excluded date first.
            due = next_due(spec, max(spec.not_before, task.last_event or spec.not_before))
            if due is not None:
                self.due.push(row.id, due)

    def _drop(self, task_id: int) -> None:
        self.catalog.tasks.pop(task_id, None)
        self.waiting.pop(task_id, None)
        self.due.forget(task_id)

    # -- a tick -------------------------------------------------------------------

    def tick(self, now: float) -> float:
        """Do what is due at ``now``; return the seconds until the next tick is needed."""
        if now >= self.next_check:
            self.check(now)
        with collector_paused():  # a burst allocates, but leaves no cyclic garbage to find
            self.dispatch_due(now)
        self.runs_refresh.ticked(now, self.due)
        if self.requests.due(now):
            self.dispatch_requested(now)
        if self.outbox.retry_due(now):
            self._sent(self.outbox.resend(now), now)
        wake_at = self.next_check
        for due in (self.due.next_due(), self.requests.look_at):
            if due is not None:
                wake_at = min(wake_at, due)
        return max(0.0, wake_at - now)

    def check(self, now: float) -> None:
        """Look for news; on news, or when the fallback poll is due, read the database."""
        # A due poll reads the database anyway: the news can wait for the next check,
        # so that no idle tick costs more than one query (the key may be in the database).
        news = now >= self.next_db_poll or self.watch.news(now)
        self.next_check = now + self.watch.check_seconds  # shorter once a listener is back
        if news:
            self.next_db_poll = now + self.watch.poll_seconds
            self.poll(now)
        else:  # a timeout is the clock's news: lost now, not at a poll a minute away
            self._replan_affected(self._expire_lost(now), now)

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
        if self.runs_refresh.defer(now):
            return  # a backlog first: the runs and the activity are read once it is done
        self.refresh_runs(now)
        self.activity = activity
        self.requests.polled(activity, now)

    # -- schedule changes ---------------------------------------------------------

    def apply_changes(self, batch: ChangeBatch, now: float) -> None:
        if batch.reload_all:
            self.load(now)
            return
        if batch.crontabs:
            self.catalog.compile_crontabs(self.store.load_crontabs(batch.crontabs).values())
        rows = self.store.load_tasks(ids=batch.tasks) if batch.tasks else []
        if batch.crontabs:
            rows += self.store.load_tasks(crontab_ids=batch.crontabs)
        seen = set()
        for row in rows:
            seen.add(row.id)
            self._install(self.catalog.reinstall(row))
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
        current = self.store.active_runs()
        finished = self.store.finished_runs(self.runs.missing_from(current))
        changed = self.runs.refresh(current, finished, now)
        changed |= self._expire_lost(now)
        changed |= self._refresh_waiting_marks()
        self._replan_affected(changed, now)
        self.republish_claims(now, older_than=STALE_CLAIM_SECONDS)

    def _expire_lost(self, now: float) -> set[int]:
        """Mark runs past their timeout lost; return the tasks that got a slot back."""
        lost = self.runs.expire(now, self.catalog.timeout_of)
        if not lost:
            return set()
        self.store.mark_lost([run.id for run in lost], now)
        changed = set()
        for run in lost:
            self.outbox.forget(run.id)
            if run.task_id is not None:
                logger.warning(
                    "djag beat: run %d of task %s is lost (no result within its timeout)",
                    run.id,
                    run.task_id,
                )
                changed.add(run.task_id)
        return changed

    def _refresh_waiting_marks(self) -> set[int]:
        """Re-read the history of tasks that wait on dependencies, and of their dependees.

        Catches runs that started and finished between two polls (a manual run, say),
        which the active-run comparison cannot see.
        """
        involved: set[int] = set()
        for task_id in self.waiting:
            if task_id in self.catalog.edges:
                involved.add(task_id)
                involved.update(edge.dependee for edge in self.catalog.edges[task_id])
        if not involved:
            return set()
        return self.runs.update_marks(self.store.run_marks(sorted(involved)), involved)

    def _replan_affected(self, changed: set[int], now: float) -> None:
        """A change of task T can unblock T (concurrency) and T's dependers (dependencies)."""
        candidates = set()
        for task_id in changed:
            if task_id in self.waiting:
                candidates.add(task_id)
            candidates.update(
                d for d in self.catalog.dependers.get(task_id, ()) if d in self.waiting
            )
        for task_id in sorted(candidates):
            self._replan(task_id, now)

    def _replan(self, task_id: int, now: float) -> None:
        """Decide again at once (through the due queue, so the claim joins the next batch)."""
        self.waiting.pop(task_id, None)
        if self.catalog.schedulable(task_id):
            self.due.push(task_id, int(now))

    # -- dispatching ----------------------------------------------------------------

    def dispatch_due(self, now: float) -> None:
        """Decide the tasks due by ``now``, earliest first, claim their runs in bulk (at
        most ``max_claims_per_tick`` rows), publish them."""
        moment = int(now)
        due_tasks: list[int] = []
        new_runs: list[NewRun] = []
        decided: list[tuple[int, Decision]] = []
        while len(new_runs) < self.max_claims_per_tick:
            task_id = self.due.pop_next(moment)
            if task_id is None:
                break
            decision = self._decide(task_id, moment)
            if decision is None:
                continue
            rows = self.catalog.ledger_rows(task_id, decision)
            if new_runs and len(new_runs) + len(rows) > self.max_claims_per_tick:
                self.due.push(task_id, moment)  # first of the next tick, which comes at once
                break
            due_tasks.append(task_id)
            self._follow(task_id, decision)
            decided.append((task_id, decision))
            new_runs.extend(rows)
        if not due_tasks:
            return
        stamp = self._claim_stamp(now, [task_id for task_id, _ in decided])
        try:
            claimed = self.store.claim(new_runs, stamp, self.fence)
        except Exception:
            # Nothing was applied: put the tasks back so they are decided again.
            for task_id in due_tasks:
                if task_id in self.catalog.tasks:
                    self.due.push(task_id, moment)
            raise
        for task_id, decision in decided:
            self._apply_decision(task_id, decision)
        self._track_claims(claimed, now)

    def _claim_stamp(self, now: float, task_ids: Iterable[int]) -> float:
        return self.runs.claim_stamp(now, task_ids, self.catalog.edges)

    def progress(self, task_id: int) -> Progress:
        """What the planner needs of the task's runs."""
        task = self.catalog.tasks[task_id]
        return Progress(task.last_event, self.runs.active_count(task_id), task.scheduled_runs)

    def _decide(self, task_id: int, now: int) -> Decision | None:
        """What the task does now (nothing is changed until :meth:`_follow`)."""
        task = self.catalog.schedulable(task_id)
        if task is None or task.spec is None:
            return None
        blockers: list[Edge] = []
        edges = self.catalog.edges.get(task_id)
        if edges:
            blockers = blocking_edges(
                edges, self.runs.marks_of(task_id), task.spec.start_at, self.runs.marks_of
            )
        return decide(task.spec, self.progress(task_id), blockers, now)

    def _follow(self, task_id: int, decision: Decision) -> None:
        """Note what the task waits for, or queue it at its next due time."""
        if decision.waiting is not None:
            self.waiting[task_id] = decision
        elif decision.next_due is not None:
            self.due.push(task_id, decision.next_due)

    def _apply_decision(self, task_id: int, decision: Decision) -> None:
        if decision.exhausted:
            logger.info("djag beat: task %s reached max_runs; disabling it", task_id)
            self.store.disable_exhausted(task_id)
        if decision.resolution is None:
            return
        task = self.catalog.tasks[task_id]
        task.last_event = decision.resolution.handled_through
        task.scheduled_runs += len(decision.resolution.runs)
        self.checkpoints.moved(task_id, decision.resolution.handled_through)

    def dispatch_requested(self, now: float) -> None:
        """Claim and publish the waiting runs (one-off, manual, backfill) that may go now."""
        due, next_at = self.store.requested_runs(now, RequestWatch.PER_LOOK, RequestWatch.PER_TASK)
        selection = select(due, partial(gate, self.catalog, self.runs))
        if selection.cancel:
            self.store.cancel(selection.cancel, now, "djag beat", TASK_GONE)
        if selection.claim:
            chosen = set(selection.claim)
            tasks = {run.task_id for run in due if run.run_id in chosen and run.task_id}
            claimed = self.store.claim_waiting(
                selection.claim, self._claim_stamp(now, tasks), self.fence
            )
            self._track_claims(claimed, now)
        self.requests.looked(len(due), next_at, now)

    def _track_claims(self, claimed: list[ClaimedRun], now: float) -> None:
        self.runs.track_claims(claimed, self.catalog.timeout_of)
        runs = [(run.id, run.celery_task_id, run.task_id) for run in claimed]
        self._sent(self.outbox.send(self.dispatches(runs), now), now)

    def dispatches(self, runs: list[tuple[int, str, int | None]]) -> list[Dispatch]:
        """The messages of claimed runs, each with its context (one read of the ledger)."""
        if not runs:
            return []
        details = self.store.run_details([run_id for run_id, _, _ in runs])
        return [
            dispatch
            for run_id, celery_id, task_id in runs
            if (detail := details.get(run_id)) is not None
            and (dispatch := self.catalog.dispatch_for(run_id, celery_id, task_id, detail))
        ]

    def _sent(self, run_ids: list[int], now: float) -> None:
        self.runs.mark_sent(run_ids)
        self.store.mark_sent(run_ids, now)

    def republish_claims(self, now: float, older_than: float) -> None:
        """Publish again, with the same Celery task id, runs claimed but never marked sent."""
        dispatches = self.dispatches(
            [
                (run.id, run.celery_task_id, run.task_id)
                for run in self.runs.unsent(now, older_than)
                if run.id not in self.outbox
            ]
        )
        if dispatches:
            logger.warning(
                "djag beat: publishing %d claimed but unsent runs again", len(dispatches)
            )
            self._sent(self.outbox.send(dispatches, now), now)

    # -- persistence ------------------------------------------------------------------

    def sync(self, now: float) -> None:
        """Save the handled-event checkpoints of the tasks that moved since the last sync."""
        self.checkpoints.save(self.store, now)
