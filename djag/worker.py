"""Worker signal handlers: move a run's ledger row as the worker executes it.

Connected by djag's app config, so any Celery worker of a Django project with
djag installed reports without importing anything. A message carries its run
id in the ``djag_run_id`` header; messages without it (not sent by djag) are
ignored. Each transition is one UPDATE guarded by the states it may come from,
so a late or repeated signal never moves a run backwards. A run's end touches the
wake-up key so beat learns at once (the row stays the truth if the cache is down);
a start or a retry does not: it frees no slot and satisfies no dependency, so
beat has nothing to do until the end, and a touch costs up to three queries
with Django's database cache.
A run's end that cannot be written (the database is down) is parked and written
when the database answers again (``djag.completions``).

With ``DJAG_WORKER_FLUSH_SECONDS`` above 0 (the default), a start and an end (success,
failure: the handlers run in the pool process, once per task) are only noted in
memory, and ``djag.recorder`` writes them a batch at a time, with one commit and one
wake-up touch per batch; its docstring says what that trades. The rarer transitions
(retry, revoked, unknown, rejected) are written at once, after what the process holds.
"""

from __future__ import annotations

import atexit
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

from celery import signals
from django.db import close_old_connections

from djag import conf, recorder, wakeup
from djag.completions import Completion, park
from djag.core.message import RUN_ID_HEADER
from djag.core.vocab import RunState
from djag.models.run import ERROR_MAX_CHARS
from djag.store import history, ledger, schedule
from djag.store.db import default_database

logger = logging.getLogger("djag.worker")


def run_id_of(request: Any) -> int | None:
    """The djag run id carried by a task request or message headers, if any."""
    if request is None:
        return None
    value = getattr(request, RUN_ID_HEADER, None)
    if value is None:
        headers = request if isinstance(request, dict) else getattr(request, "headers", None)
        value = (headers or {}).get(RUN_ID_HEADER)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def error_text(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    return f"{type(exc).__name__}: {exc}"[:ERROR_MAX_CHARS]


def _record(
    run_id: int | None,
    what: str,
    write: Callable[[str, int], object],
    end: Completion | None = None,
) -> None:
    """Write one ledger transition of the run, then wake beat if it ended; never fail the task.

    A run's ``end`` that cannot be written is parked; a start or a retry is only logged
    (the end that follows supersedes it).
    """
    if run_id is None:
        return
    recorder.flush()  # what this process noted before comes first
    using = default_database()
    try:
        close_old_connections()
        write(using, run_id)
    except Exception as exc:
        if end is None:
            logger.exception("djag: could not record run %s as %s", run_id, what)
            return
        # Parked before it says so: the process may be killed right after the line.
        park(end)
        logger.warning(
            "djag: could not record run %s as %s (%s: %s); parked, it is written when the "
            "database answers",
            run_id,
            what,
            type(exc).__name__,
            exc,
        )
        return
    if end is not None:
        wakeup.touch(using)


def _batched() -> recorder.Recorder | None:
    """This process's recorder, or None when each transition is written at once."""
    seconds = conf.worker_flush_seconds()
    return recorder.get(seconds) if seconds > 0 else None


def _finish(run_id: int | None, state: RunState, error: str = "", batch: bool = False) -> None:
    if run_id is None:
        return
    end = Completion(run_id, state, time.time(), error)
    held = _batched() if batch else None
    if held is not None:
        held.end(end)
        return
    _record(run_id, state, lambda using, run: end.write(using), end)


def _hostname(sender: Any) -> str:
    request = getattr(sender, "request", None)
    return str(getattr(request, "hostname", None) or socket.gethostname())[:255]


def on_prerun(sender: Any = None, task: Any = None, **_: Any) -> None:
    task = task or sender
    run_id = run_id_of(getattr(task, "request", None))
    if run_id is None:
        return
    worker, now = _hostname(task), time.time()
    held = _batched()
    if held is not None:
        held.start(recorder.Start(run_id, now, worker))
        return
    _record(
        run_id,
        RunState.STARTED,
        lambda using, run: ledger.mark_started(using, run, now, worker),
    )


def on_success(sender: Any = None, **_: Any) -> None:
    _finish(run_id_of(getattr(sender, "request", None)), RunState.SUCCESS, batch=True)


def on_failure(sender: Any = None, exception: BaseException | None = None, **_: Any) -> None:
    request = getattr(sender, "request", None)
    _finish(run_id_of(request), RunState.FAILURE, error_text(exception), batch=True)


def on_process_shutdown(**_: Any) -> None:
    """Write what this process holds before it exits (a pool process, or a solo worker)."""
    recorder.flush()


def on_retry(sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
    why = str(reason) if reason is not None else ""
    _record(
        run_id_of(request), RunState.RETRY, lambda using, run: ledger.mark_retry(using, run, why)
    )


def on_revoked(sender: Any = None, request: Any = None, **kwargs: Any) -> None:
    why = "expired" if kwargs.get("expired") else "revoked"
    _finish(run_id_of(request), RunState.REVOKED, why)


def on_unknown(sender: Any = None, name: str = "", message: Any = None, **_: Any) -> None:
    """A message for a task the worker does not know: fail the run and flag its task."""
    run_id = run_id_of(getattr(message, "headers", None))
    error = f"NotRegistered: no task named {name!r} on worker {socket.gethostname()}"
    _finish(run_id, RunState.FAILURE, error)
    if run_id is None:
        return
    try:
        using = default_database()
        task_id = history.task_of_run(using, run_id)
        if task_id is not None:
            schedule.set_problem(using, task_id, error)
    except Exception:
        logger.exception("djag: could not flag the task of run %s as unknown", run_id)


def on_rejected(
    sender: Any = None, message: Any = None, exc: BaseException | None = None, **_: Any
) -> None:
    _finish(
        run_id_of(getattr(message, "headers", None)),
        RunState.FAILURE,
        f"rejected by the worker: {error_text(exc)}",
    )


def connect() -> None:
    signals.task_prerun.connect(on_prerun, weak=False, dispatch_uid="djag-prerun")
    signals.task_success.connect(on_success, weak=False, dispatch_uid="djag-success")
    signals.task_failure.connect(on_failure, weak=False, dispatch_uid="djag-failure")
    signals.task_retry.connect(on_retry, weak=False, dispatch_uid="djag-retry")
    signals.task_revoked.connect(on_revoked, weak=False, dispatch_uid="djag-revoked")
    signals.task_unknown.connect(on_unknown, weak=False, dispatch_uid="djag-unknown")
    signals.task_rejected.connect(on_rejected, weak=False, dispatch_uid="djag-rejected")
    signals.worker_process_shutdown.connect(
        on_process_shutdown, weak=False, dispatch_uid="djag-process-shutdown"
    )
    signals.worker_shutdown.connect(on_process_shutdown, weak=False, dispatch_uid="djag-shutdown")
    atexit.register(recorder.flush)
