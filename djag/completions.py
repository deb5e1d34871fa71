"""Completions a worker could not write, and how they reach the ledger anyway.

A worker's signal handlers write each run's end (success, failure, revoked) to the
ledger (``djag.worker``). When that write fails, because the database is down or
restarting, the completion is *parked* rather than lost, in two places:

- in the worker process, where a background thread writes it as soon as the database
  answers again (after ``RETRY_FIRST`` seconds, backing off to ``RETRY_MAX``);
- in the wake-up cache (``DJAG_CACHE``), one key per run, for beat: whenever beat
  (re)loads its schedule, as it does after every outage, it first folds the parked
  completions of the runs it finds in flight into the ledger. This path covers a worker
  that died before the database came back, when the cache is not the database itself.

Both paths make the ledger's guarded move (only from an active state), so whichever
comes first wins and the other changes nothing, and both record the moment the worker
finished the run, not the moment it was written. Until one of them gets through, the
run holds its ``max_running`` slot as any run in flight does; one that never does
(worker gone, cache flushed) becomes ``lost`` after ``run_timeout_seconds``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from django.core.cache import caches
from django.db import connections

from djag import conf, wakeup
from djag.core.vocab import ACTIVE_STATES, RunState
from djag.store import history, ledger
from djag.store.db import default_database

logger = logging.getLogger("djag.worker")

#: The cache key of a parked completion.
PARKED_KEY = "djag:parked:{}"

#: How long a parked completion waits in the cache for beat.
PARKED_SECONDS = 7 * 86400

#: The worker's retries: first after this many seconds, then twice as long each time, up to
#: RETRY_MAX.
RETRY_FIRST = 1.0
RETRY_MAX = 10.0


@dataclass(frozen=True, slots=True)
class Completion:
    run_id: int
    state: str  # a terminal RunState
    finished_at: float
    error: str = ""

    def write(self, using: str) -> int:
        """Move the run to its end in the ledger (nothing if it already ended)."""
        state = RunState(self.state)
        return ledger.mark_finished(using, [self.run_id], state, self.finished_at, self.error)


def park(completion: Completion) -> None:
    """Keep a completion the ledger refused, in the cache and in this process, to write later."""
    try:
        _cache().set(PARKED_KEY.format(completion.run_id), asdict(completion), PARKED_SECONDS)
    except Exception as exc:  # the cache may be down too (or be the database itself)
        logger.warning(
            "djag: run %s could not be parked in the cache either: %s", completion.run_id, exc
        )
    _retrier.add(completion)


def write_parked() -> int:
    """Write the completions parked in this process now; return how many were written.

    Raises if the database still refuses them (they stay parked).
    """
    return _retrier.flush()


def fold_parked(using: str, run_ids: Iterable[int] | None = None) -> int:
    """Write the parked completions found in the cache for the runs in flight (all of
    them, or ``run_ids``); return how many runs they ended. Beat calls it when it loads.

    A cache that cannot be read folds nothing (logged); database errors are raised.
    """
    ids = [run.id for run in history.active_runs(using)] if run_ids is None else list(run_ids)
    if not ids:
        return 0
    keys = {PARKED_KEY.format(run_id): run_id for run_id in ids}
    try:
        found: dict[str, Any] = _cache().get_many(list(keys))
    except Exception as exc:
        logger.warning("djag beat: cannot read parked completions from the cache: %s", exc)
        return 0
    ended = 0
    for key, value in found.items():
        try:
            completion = Completion(**value)
            if completion.run_id != keys[key] or RunState(completion.state) in ACTIVE_STATES:
                raise ValueError(completion)
        except (TypeError, ValueError):  # not one of ours (another version, another app)
            logger.warning("djag beat: ignoring the unreadable parked completion %s", key)
            continue
        ended += completion.write(using)
    if found:
        logger.warning(
            "djag beat: %d run(s) ended while the database was unreachable: recorded now",
            ended,
        )
        _forget(found)
    return ended


def _cache() -> Any:
    return caches[conf.get().cache]


def _forget(keys: Iterable[str]) -> None:
    try:
        _cache().delete_many(list(keys))
    except Exception as exc:  # they are harmless: the ledger refuses a second end
        logger.warning("djag: could not remove parked completions from the cache: %s", exc)


class _Retrier:
    """The completions parked in this process and the thread that writes them."""

    def __init__(self, background: bool = True) -> None:
        self.lock = threading.Lock()
        self.pending: dict[int, Completion] = {}
        self.thread: threading.Thread | None = None
        self.background = background  # False: only write_parked() writes (tests)

    def add(self, completion: Completion) -> None:
        with self.lock:
            self.pending[completion.run_id] = completion
            if self.background and (self.thread is None or not self.thread.is_alive()):
                self.thread = threading.Thread(
                    target=self._run, name="djag-parked-completions", daemon=True
                )
                self.thread.start()

    def flush(self) -> int:
        with self.lock:
            batch = list(self.pending.values())
        if not batch:
            return 0
        using = default_database()
        try:
            for completion in batch:
                completion.write(using)
            wakeup.touch(using)  # on this thread's connection, before it is closed
        finally:
            connections[using].close()  # this thread's connection: fresh at the next attempt
        with self.lock:
            for completion in batch:
                if self.pending.get(completion.run_id) is completion:
                    del self.pending[completion.run_id]
        _forget(PARKED_KEY.format(completion.run_id) for completion in batch)
        logger.warning("djag: %d parked completion(s) written to the ledger", len(batch))
        return len(batch)

    def _run(self) -> None:
        delay = RETRY_FIRST
        while True:
            time.sleep(delay)
            try:
                self.flush()
            except Exception:
                delay = min(RETRY_MAX, delay * 2)
                continue
            delay = RETRY_FIRST
            with self.lock:
                if not self.pending:
                    self.thread = None
                    return


_retrier = _Retrier()
