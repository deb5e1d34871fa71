"""The Celery task names the running workers have registered, asked over the broker.

``djag_check --workers`` flags a periodic task whose Celery task no worker knows before its
first run fails with ``NotRegistered``. Asking is Celery's ``inspect registered`` broadcast:
every worker on the broker that answers within the timeout counts. No answer means "could not
check", never "nothing is registered".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: Connecting to the broker: one attempt of at most this long, then say it cannot be
#: reached; a check must end, not wait for the broker to come back.
CONNECT_SECONDS = 5.0


@dataclass(frozen=True)
class WorkerAnswers:
    """The workers that answered, and every task name any of them registered."""

    workers: tuple[str, ...]
    registered: frozenset[str]
    failure: str = ""  # why the workers could not be asked: the broker's error


def ask_workers(timeout: float) -> WorkerAnswers:
    """``inspect registered`` on the app's broker, waiting ``timeout`` seconds for answers."""
    from celery import current_app

    app: Any = current_app
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=CONNECT_SECONDS)
            replies = app.control.inspect(timeout=timeout, connection=connection).registered()
    except Exception as exc:  # the broker is down or refuses us: not the schedule's problem
        return WorkerAnswers((), frozenset(), f"{type(exc).__name__}: {exc}")
    replies = replies or {}
    names = {
        # A worker asked with task info items answers "name [rate_limit=...]".
        name.split(" [", 1)[0]
        for registered in replies.values()
        for name in registered or ()
    }
    return WorkerAnswers(tuple(sorted(replies)), frozenset(names))


def unregistered_texts(tasks: Iterable[tuple[str, str]], answers: WorkerAnswers) -> list[str]:
    """One line per (periodic task, Celery task) whose Celery task no worker that answered
    has registered."""
    count = len(answers.workers)
    who = "the worker that answered" if count == 1 else f"the {count} workers that answered"
    return [
        f"{name!r} runs {celery_task!r}, which none of {who} has registered: its runs will "
        "fail (NotRegistered). Fix the task name, or deploy workers that import its module."
        for name, celery_task in tasks
        if celery_task not in answers.registered
    ]


def warning_text(answers: WorkerAnswers, timeout: float) -> str:
    """Why the task names could not be checked, or "" when some worker answered."""
    if answers.failure:
        return f"Could not ask the workers which tasks they know: {answers.failure}"
    if not answers.workers:
        return (
            f"Could not check the task names: no worker answered within {timeout:g} s "
            "(inspect registered). Are workers running on this broker, with remote control "
            "enabled? Try a longer --workers timeout."
        )
    return ""
