"""djag's settings, read in one place.

Every setting has a safe default; ``docs/reference.md`` lists them. Read them
through :func:`get` at call time (never at import time) so that
``override_settings`` in tests and late configuration both work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator


@dataclass(frozen=True)
class DjagSettings:
    cache: str
    lease_seconds: float
    poll_seconds: float
    notify: bool
    run_retention_days: int
    change_retention_days: float | None
    schedules: tuple[str, ...]
    alert_mail: bool
    alert_webhook: str
    metrics_port: int | None
    metrics_address: str
    allowed_commands: frozenset[str]
    worker_flush_seconds: float


DEFAULTS = {
    # Cache alias used for wake-ups between workers and beat.
    "DJAG_CACHE": "default",
    # A leader that has not renewed its lease for this long is replaced.
    "DJAG_LEASE_SECONDS": 10.0,
    # How often beat reads the database when the cache says nothing.
    "DJAG_POLL_SECONDS": 5.0,
    # Learn of news by PostgreSQL LISTEN/NOTIFY or Redis pub/sub where they are there
    # (djag.news); False reads the wake-up key instead.
    "DJAG_NOTIFY": True,
    # TaskRun and audit rows older than this are removed by djag_prune.
    "DJAG_RUN_RETENTION_DAYS": 30,
    # ScheduleChange rows (the audit trail of edits) older than this are removed by
    # djag_prune; None keeps them all.
    "DJAG_CHANGE_RETENTION_DAYS": None,
    # Schedule files (paths) or dotted module names that djag_sync reads when given none.
    "DJAG_SCHEDULES": [],
    # Mail alerts (djag.alerts) to ADMINS.
    "DJAG_ALERT_MAIL": True,
    # Also POST alerts as JSON to this http(s) URL; "" for none.
    "DJAG_ALERT_WEBHOOK": "",
    # Beat serves Prometheus metrics on this port (djag.beat.metrics); None for none.
    "DJAG_METRICS_PORT": None,
    # The address the metrics server listens on (every IPv4 interface by default).
    "DJAG_METRICS_ADDRESS": "0.0.0.0",
    # Management commands the built-in task djag.call_command may run (djag.core.commands).
    "DJAG_ALLOWED_COMMANDS": [],
    # A worker process writes its runs' starts and ends to the ledger in one transaction
    # at most this many seconds after they happen (djag.recorder); 0 writes each at once.
    "DJAG_WORKER_FLUSH_SECONDS": 0.1,
}


def get() -> DjagSettings:
    def read(name: str) -> object:
        return getattr(settings, name, DEFAULTS[name])

    return DjagSettings(
        cache=str(read("DJAG_CACHE")),
        lease_seconds=float(read("DJAG_LEASE_SECONDS")),  # type: ignore[arg-type]
        poll_seconds=float(read("DJAG_POLL_SECONDS")),  # type: ignore[arg-type]
        notify=read("DJAG_NOTIFY") is not False,
        run_retention_days=int(read("DJAG_RUN_RETENTION_DAYS")),  # type: ignore[call-overload]
        change_retention_days=_days(read("DJAG_CHANGE_RETENTION_DAYS")),
        schedules=_names(read("DJAG_SCHEDULES")),
        alert_mail=read("DJAG_ALERT_MAIL") is True,
        alert_webhook=str(read("DJAG_ALERT_WEBHOOK") or ""),
        metrics_port=_port(read("DJAG_METRICS_PORT")),
        metrics_address=str(read("DJAG_METRICS_ADDRESS")),
        allowed_commands=frozenset(_names(read("DJAG_ALLOWED_COMMANDS"))),
        worker_flush_seconds=_seconds(read("DJAG_WORKER_FLUSH_SECONDS")),
    )


def worker_flush_seconds() -> float:
    """``DJAG_WORKER_FLUSH_SECONDS`` alone: the worker reads it twice per task, and
    :func:`get` builds every setting (about 0.1 ms, more than the batched write)."""
    return _seconds(
        getattr(settings, "DJAG_WORKER_FLUSH_SECONDS", DEFAULTS["DJAG_WORKER_FLUSH_SECONDS"])
    )


def is_http_url(value: object) -> bool:
    """Whether ``value`` is an http:// or https:// URL (DJAG_ALERT_WEBHOOK)."""
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        return False
    return True


def is_port(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def _port(value: object) -> int | None:
    """A port number, or None when unset or not a port (system check djag.E006 says so):
    a bad value turns the metrics off, never the processes that read the settings."""
    return value if is_port(value) else None  # type: ignore[return-value]


def _days(value: object) -> float | None:
    """A number of days, or None when unset or not a positive number (system check djag.E006
    says so): a bad value prunes nothing, rather than everything."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value > 0 else None


def _seconds(value: object) -> float:
    """A delay in seconds; 0 (write at once) when not a number >= 0 (the check says so)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value) if math.isfinite(value) and value >= 0 else 0.0


def _names(value: object) -> tuple[str, ...]:
    """A list setting as a tuple of texts; a lone text is a list of one (the check says so)."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(str(item) for item in value)
    return ()
