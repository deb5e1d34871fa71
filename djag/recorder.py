"""A worker process's ledger writes, batched: starts and ends written together, once a flush.

Written one by one, each run's start and end cost a commit each (an fsync on SQLite in
rollback-journal mode and on PostgreSQL), a wake-up touch (three queries and a commit
with Django's database cache) and, with ``CONN_MAX_AGE = 0``, a new connection per
write: 20-90 ms per task on a loaded two-core machine (docs/performance.md, "The
worker's side"), far more than a short task itself. So the signal handlers
(``djag.worker``) only note a start or an end here, in memory, and a background thread
of the process writes what it holds in one transaction (``worker_batch.record_batch``) and
touches the wake-up key once, when the oldest entry is ``DJAG_WORKER_FLUSH_SECONDS``
old or ``MAX_BATCH`` entries wait, whichever comes first; also at the process's
shutdown (``worker_process_shutdown``, ``worker_shutdown``, and at exit), and before
any write the handlers still make at once (a retry, a revoke), so those land in order.

The thread keeps its own database connection between flushes, whatever
``CONN_MAX_AGE`` says (Celery closes the task thread's connections around each task),
and closes it after ``IDLE_CLOSE_SECONDS`` without work.

What a flush cannot write (the database is down) is handled as a single write was:
each end is parked (``djag.completions``) and written when the database answers; a
start is only logged, as the end that follows supersedes it.

The trade-off: beat learns of an end up to ``DJAG_WORKER_FLUSH_SECONDS`` later, and a
worker process killed outright (SIGKILL, the OOM killer, a cold shutdown) loses what it
held, at most that many seconds of starts and ends. Such a run is recovered as a run
whose worker died during the task: it stays in flight until ``run_timeout_seconds``
from its claim, then beat marks it ``lost``, freeing its slot. A task that did finish
just before the kill is therefore recorded ``lost``, not ``success``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections

from djag import wakeup
from djag.completions import Completion, park
from djag.core.vocab import RunState
from djag.store import worker_batch
from djag.store.db import default_database

logger = logging.getLogger("djag.worker")

#: A flush starts as soon as this many starts and ends wait, however young.
MAX_BATCH = 500
#: The flushing thread closes its database connection after this long without work.
IDLE_CLOSE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Start:
    run_id: int
    started_at: float
    worker: str


@dataclass(frozen=True, slots=True)
class FlushPolicy:
    """When a buffer must be written: its oldest entry's age, or its size."""

    seconds: float
    max_batch: int = MAX_BATCH

    def wait(self, oldest: float | None, count: int, now: float) -> float | None:
        """Seconds until a flush is due (0: now), or None with nothing to write."""
        if oldest is None or count == 0:
            return None
        if count >= self.max_batch:
            return 0.0
        return max(0.0, oldest + self.seconds - now)


class Recorder:
    """The starts and ends a worker process has not written yet, and their writer."""

    def __init__(
        self,
        policy: FlushPolicy,
        clock: Callable[[], float] = time.monotonic,
        background: bool = True,
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.background = background  # False: only flush() writes (tests)
        self.pid = os.getpid()
        self.cond = threading.Condition()
        self.write_lock = threading.Lock()  # one batch at a time, in the order taken
        self.starts: list[Start] = []
        self.ends: list[Completion] = []
        self.oldest: float | None = None
        self.thread: threading.Thread | None = None
        self.stopping = False

    def start(self, entry: Start) -> None:
        self._add(entry)

    def end(self, entry: Completion) -> None:
        self._add(entry)

    def _add(self, entry: Start | Completion) -> None:
        with self.cond:
            # The list is looked up under the lock: a flush swaps in new ones.
            if isinstance(entry, Start):
                self.starts.append(entry)
            else:
                self.ends.append(entry)
            if self.oldest is None:
                self.oldest = self.clock()
                self.cond.notify()
            elif len(self.starts) + len(self.ends) >= self.policy.max_batch:
                self.cond.notify()
            if (
                self.background
                and not self.stopping
                and not (self.thread and self.thread.is_alive())
            ):
                self.thread = threading.Thread(
                    target=self._run, name="djag-ledger-writes", daemon=True
                )
                self.thread.start()

    def due(self) -> float | None:
        """Seconds until the next flush is due (0: now), or None with nothing held."""
        with self.cond:
            return self.policy.wait(self.oldest, len(self.starts) + len(self.ends), self.clock())

    def pending(self) -> int:
        with self.cond:
            return len(self.starts) + len(self.ends)

    def flush(self) -> int:
        """Write what is held now, in this thread; return how many starts and ends it held.

        Never raises: ends the database refused are parked, starts are logged.
        """
        with self.write_lock:
            with self.cond:
                starts, ends = self.starts, self.ends
                self.starts, self.ends, self.oldest = [], [], None
            if not starts and not ends:
                return 0
            self._write(starts, ends)
            return len(starts) + len(ends)

    def _write(self, starts: list[Start], ends: list[Completion]) -> None:
        using = default_database()
        rows = [(s.run_id, s.started_at, s.worker) for s in starts]
        finished = [(e.run_id, RunState(e.state), e.finished_at, e.error) for e in ends]
        for attempt in (1, 2):
            try:
                worker_batch.record_batch(using, rows, finished)
                break
            except Exception as exc:
                # A kept connection the server has dropped (a restart, an idle timeout)
                # fails once: try again on a fresh one before parking anything.
                connections[using].close()
                if attempt == 1:
                    continue
                self._park(starts, ends, exc)
                return
        if ends:
            wakeup.touch(using)

    def _park(self, starts: list[Start], ends: list[Completion], exc: Exception) -> None:
        why = f"{type(exc).__name__}: {exc}"
        if starts:
            logger.warning("djag: could not record %d run(s) as started (%s)", len(starts), why)
        for end in ends:
            park(end)  # parked before it says so: the process may be killed right after
            # The line a single write logs: what watches the logs for it still finds it.
            logger.warning(
                "djag: could not record run %s as %s (%s); parked, it is written when the "
                "database answers",
                end.run_id,
                end.state,
                why,
            )

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is held, then end the thread and close its connection (tests: a
        connection left open would outlive the test database)."""
        with self.cond:
            self.stopping = True
            self.cond.notify()
            thread = self.thread
        if thread is not None:
            thread.join(timeout)
        self.flush()

    def _run(self) -> None:
        idle_since, connected = self.clock(), True
        while True:
            with self.cond:
                while (wait := self.due()) != 0:
                    if self.stopping:
                        self._close()
                        return
                    if wait is not None:
                        self.cond.wait(wait)
                    elif not connected:
                        self.cond.wait()
                    elif (left := IDLE_CLOSE_SECONDS - (self.clock() - idle_since)) > 0:
                        self.cond.wait(left)
                    else:
                        self._close()
                        connected = False
            self.flush()
            idle_since, connected = self.clock(), True

    def _close(self) -> None:
        try:
            connections[default_database()].close()
        except Exception:  # closing a broken connection may fail; it is gone either way
            logger.debug("djag: closing the ledger writer's connection failed", exc_info=True)


_recorder: Recorder | None = None
_creating = threading.Lock()


def get(seconds: float) -> Recorder:
    """This process's recorder, for a flush delay of ``seconds``."""
    global _recorder
    recorder = _recorder
    if recorder is not None and recorder.pid == os.getpid() and recorder.policy.seconds == seconds:
        return recorder
    with _creating:  # a threads pool calls the handlers from several threads
        recorder = _recorder
        if recorder is None or recorder.pid != os.getpid() or recorder.policy.seconds != seconds:
            if recorder is not None and recorder.pid == os.getpid():
                recorder.flush()
            recorder = _recorder = Recorder(FlushPolicy(seconds))
        return recorder


def _forget_the_parent() -> None:
    # A forked pool process starts empty: the parent's entries are the parent's to
    # write, and its thread and locks did not come along.
    global _recorder, _creating
    _recorder, _creating = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_the_parent)


def flush() -> int:
    """Write what this process holds now (at shutdown, before a write made at once)."""
    recorder = _recorder
    if recorder is None or recorder.pid != os.getpid():
        return 0
    return recorder.flush()
