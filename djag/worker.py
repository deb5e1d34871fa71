"""Worker signal handlers: move a run's ledger row as the worker executes it.

Connected by djag's app config, so any Celery worker of a Django project with
djag installed reports without importing anything. A message carries its run
id in the ``djag_run_id`` header; messages without it (not sent by djag) are
ignored. Each transition is one UPDATE guarded by the states it may come from,
so a late or repeated signal never moves a run backwards, and each touches the
wake-up key so beat learns at once (the row stays the truth if the cache is down).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable
from functools import partial
from typing import Any

from celery import signals
from django.db import close_old_connections
from django.utils import timezone

from djag import wakeup
from djag.core.message import RUN_ID_HEADER
from djag.models import RunState, TaskRun
from djag.models.run import ERROR_MAX_CHARS
from djag.store import Store, retry_deadlocks

logger = logging.getLogger("djag.worker")

_BEFORE_START = (RunState.CLAIMED, RunState.SENT, RunState.RETRY)
_UNFINISHED = (RunState.CLAIMED, RunState.SENT, RunState.STARTED, RunState.RETRY)


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


def _move(run_id: int | None, from_states: Iterable[str], **fields: Any) -> None:
    if run_id is None:
        return
    try:
        close_old_connections()
        rows = TaskRun.objects.filter(id=run_id, state__in=list(from_states))
        retry_deadlocks(partial(rows.update, **fields), rows.db)
    except Exception:
        # The run will be found lost after its timeout; never fail the task for this.
        logger.exception("djag: could not record run %s as %s", run_id, fields.get("state"))
        return
    wakeup.touch()


def _hostname(sender: Any) -> str:
    request = getattr(sender, "request", None)
    return str(getattr(request, "hostname", None) or socket.gethostname())[:255]


def on_prerun(sender: Any = None, task: Any = None, **_: Any) -> None:
    task = task or sender
    _move(
        run_id_of(getattr(task, "request", None)),
        _BEFORE_START,
        state=RunState.STARTED,
        started_at=timezone.now(),
        worker=_hostname(task),
    )


def on_success(sender: Any = None, **_: Any) -> None:
    _move(
        run_id_of(getattr(sender, "request", None)),
        _UNFINISHED,
        state=RunState.SUCCESS,
        finished_at=timezone.now(),
    )


def on_failure(sender: Any = None, exception: BaseException | None = None, **_: Any) -> None:
    _move(
        run_id_of(getattr(sender, "request", None)),
        _UNFINISHED,
        state=RunState.FAILURE,
        finished_at=timezone.now(),
        error=error_text(exception),
    )


def on_retry(sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
    _move(
        run_id_of(request),
        _UNFINISHED,
        state=RunState.RETRY,
        error=str(reason)[:ERROR_MAX_CHARS] if reason is not None else "",
    )


def on_revoked(sender: Any = None, request: Any = None, **kwargs: Any) -> None:
    why = "expired" if kwargs.get("expired") else "revoked"
    _move(
        run_id_of(request),
        _UNFINISHED,
        state=RunState.REVOKED,
        finished_at=timezone.now(),
        error=why,
    )


def on_unknown(sender: Any = None, name: str = "", message: Any = None, **_: Any) -> None:
    """A message for a task the worker does not know: fail the run and flag its task."""
    run_id = run_id_of(getattr(message, "headers", None))
    error = f"NotRegistered: no task named {name!r} on worker {socket.gethostname()}"
    _move(run_id, _UNFINISHED, state=RunState.FAILURE, finished_at=timezone.now(), error=error)
    if run_id is None:
        return
    try:
        task_id = TaskRun.objects.filter(id=run_id).values_list("periodic_task_id", flat=True)
        Store().set_problem(task_id.first() or 0, error)
    except Exception:
        logger.exception("djag: could not flag the task of run %s as unknown", run_id)


def on_rejected(
    sender: Any = None, message: Any = None, exc: BaseException | None = None, **_: Any
) -> None:
    _move(
        run_id_of(getattr(message, "headers", None)),
        _UNFINISHED,
        state=RunState.FAILURE,
        finished_at=timezone.now(),
        error=f"rejected by the worker: {error_text(exc)}",
    )


def connect() -> None:
    signals.task_prerun.connect(on_prerun, weak=False, dispatch_uid="djag-prerun")
    signals.task_success.connect(on_success, weak=False, dispatch_uid="djag-success")
    signals.task_failure.connect(on_failure, weak=False, dispatch_uid="djag-failure")
    signals.task_retry.connect(on_retry, weak=False, dispatch_uid="djag-retry")
    signals.task_revoked.connect(on_revoked, weak=False, dispatch_uid="djag-revoked")
    signals.task_unknown.connect(on_unknown, weak=False, dispatch_uid="djag-unknown")
    signals.task_rejected.connect(on_rejected, weak=False, dispatch_uid="djag-rejected")
