"""Scheduled management commands (the built-in task ``djag.call_command``) are opt-in.

Whoever may edit a periodic task chooses its arguments, so a task that runs any
management command would let a task editor run ``shell -c "<code>"``. Only the
commands named in ``DJAG_ALLOWED_COMMANDS`` (empty by default) may run: the rule
below is applied when a task is validated (the admin, ``full_clean``,
``djag_sync``, the importer) and again by the task itself when it runs, for rows
written past validation. :data:`UNSAFE_COMMANDS` lists the commands that must not
be allowed at all (system check ``djag.W001`` warns when the setting names one).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: The built-in task that runs a management command.
CALL_COMMAND_TASK = "djag.call_command"

#: Commands that execute, load or write whatever their arguments say, or that serve
#: the site; allowing one lets any task editor do it. Why, for each:
UNSAFE_COMMANDS: dict[str, str] = {
    "shell": "runs the Python code given with -c",
    "shell_plus": "runs the Python code given with -c (django-extensions)",
    "dbshell": "runs the SQL given after -- with the site's database credentials",
    "runscript": "runs any Python script module (django-extensions)",
    "loaddata": "writes any rows (users, permissions) from the fixture files it is given",
    "testserver": "loads the fixtures it is given and serves the site",
    "runserver": "starts a web server (with DEBUG, one that shows settings) and never returns",
    "runserver_plus": "starts a debugging web server (django-extensions) and never returns",
    "flush": "deletes every row of every table",
    "migrate": "can unapply migrations (migrate <app> zero drops tables)",
    "createsuperuser": "creates administrator accounts",
    "changepassword": "changes a user's password",
    "dumpdata": "writes every row, password hashes included, to the file it is given",
    "diffsettings": "prints every setting, SECRET_KEY included, into the run's result",
    "makemigrations": "writes Python files into the project's code",
    "squashmigrations": "writes Python files into the project's code",
    "startapp": "writes files from a template, which may be downloaded from any URL",
    "startproject": "writes files from a template, which may be downloaded from any URL",
    "test": "imports and runs the test modules it is given",
    "djag_sync": "imports any Python module it is given and rewrites the schedule",
}


def command_of(args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
    """The command a ``djag.call_command`` run names: its first argument, or ``command``."""
    if args:
        return args[0]
    return kwargs.get("command")


def command_refusal(command: Any, allowed: Iterable[str]) -> str | None:
    """Why ``djag.call_command`` may not run ``command``, or None when it may."""
    if not isinstance(command, str) or not command:
        return (
            f"the task {CALL_COMMAND_TASK} needs the name of a management command as its first "
            'argument, e.g. ["clearsessions"]'
        )
    names = sorted(set(allowed))
    if command in names:
        return None
    if not names:
        return (
            f"the command {command!r} is not in DJAG_ALLOWED_COMMANDS, which is empty: "
            "scheduled management commands are off until you list the ones to allow"
        )
    return f"the command {command!r} is not in DJAG_ALLOWED_COMMANDS (allowed: {', '.join(names)})"
