"""Built-in tasks: schedule a Django management command without writing a task."""

from __future__ import annotations

import io
from typing import Any

from celery import shared_task
from django.core import management

from djag import conf
from djag.core.commands import command_refusal

#: Bound on the command output returned (and logged by Celery).
OUTPUT_MAX_CHARS = 10_000


class CommandNotAllowed(PermissionError):
    """``djag.call_command`` was asked for a command DJAG_ALLOWED_COMMANDS does not list."""


@shared_task(name="djag.call_command")
def call_command(command: str, *args: Any, **options: Any) -> str:
    """Run ``manage.py <command> <args> <options>``; return what it printed (bounded).

    Only the commands listed in ``DJAG_ALLOWED_COMMANDS`` run (none by default): any
    other fails the run with ``CommandNotAllowed`` in the ledger. Schedule it with task
    ``djag.call_command``, args ``["clearsessions"]`` or ``["djag_prune", "--older-than",
    "30"]``. A failing command fails the run with the command's error in the ledger.
    """
    # Checked here too: a row written past validation (raw SQL, an old row after the
    # setting changed) must not run what validation would refuse.
    refusal = command_refusal(command, conf.get().allowed_commands)
    if refusal is not None:
        raise CommandNotAllowed(refusal)
    return _run_command(command, *args, **options)


def _run_command(command: str, *args: Any, **options: Any) -> str:
    stdout, stderr = io.StringIO(), io.StringIO()
    management.call_command(command, *args, stdout=stdout, stderr=stderr, **options)
    return (stdout.getvalue() + stderr.getvalue())[-OUTPUT_MAX_CHARS:]


@shared_task(name="djag.prune")
def prune(older_than_days: float | None = None) -> str:
    """Delete old run history and audit rows, as ``manage.py djag_prune`` does.

    Schedule task ``djag.prune`` once a day; with no arguments it keeps
    DJAG_RUN_RETENTION_DAYS days, or give ``{"older_than_days": 90}`` as kwargs.
    Returns the command's report. (It needs no DJAG_ALLOWED_COMMANDS entry: it runs
    one fixed command, whose only argument is a number.)
    """
    args = [] if older_than_days is None else ["--older-than", str(float(older_than_days))]
    return _run_command("djag_prune", *args)
