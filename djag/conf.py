"""djag's settings, read in one place.

Every setting has a safe default; ``docs/reference.md`` lists them. Read them
through :func:`get` at call time (never at import time) so that
``override_settings`` in tests and late configuration both work.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class DjagSettings:
    cache: str
    lease_seconds: float
    poll_seconds: float
    run_retention_days: int
    schedules: tuple[str, ...]
    allowed_commands: frozenset[str]


DEFAULTS = {
    # Cache alias used for wake-ups between workers and beat.
    "DJAG_CACHE": "default",
    # A leader that has not renewed its lease for this long is replaced.
    "DJAG_LEASE_SECONDS": 10.0,
    # How often beat reads the database when the cache says nothing.
    "DJAG_POLL_SECONDS": 5.0,
    # TaskRun and audit rows older than this are removed by djag_prune.
    "DJAG_RUN_RETENTION_DAYS": 30,
    # Schedule files (paths) or dotted module names that djag_sync reads when given none.
    "DJAG_SCHEDULES": [],
    # Management commands the built-in task djag.call_command may run (djag.core.commands).
    "DJAG_ALLOWED_COMMANDS": [],
}


def get() -> DjagSettings:
    def read(name: str) -> object:
        return getattr(settings, name, DEFAULTS[name])

    return DjagSettings(
        cache=str(read("DJAG_CACHE")),
        lease_seconds=float(read("DJAG_LEASE_SECONDS")),  # type: ignore[arg-type]
        poll_seconds=float(read("DJAG_POLL_SECONDS")),  # type: ignore[arg-type]
        run_retention_days=int(read("DJAG_RUN_RETENTION_DAYS")),  # type: ignore[call-overload]
        schedules=_names(read("DJAG_SCHEDULES")),
        allowed_commands=frozenset(_names(read("DJAG_ALLOWED_COMMANDS"))),
    )


def _names(value: object) -> tuple[str, ...]:
    """A list setting as a tuple of texts; a lone text is a list of one (the check says so)."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(str(item) for item in value)
    return ()
