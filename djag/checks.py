"""System checks: misconfiguration reported by ``manage.py check`` with an id and a fix.

| id        | problem                                                      |
|-----------|--------------------------------------------------------------|
| djag.E001 | DJAG_CACHE names no cache in CACHES                          |
| djag.E002 | DJAG_CACHE is a per-process cache (LocMemCache, DummyCache)  |
| djag.E003 | USE_TZ is False                                              |
| djag.E004 | Celery's task serializer is not JSON                         |
| djag.E005 | Celery accepts a content type other than JSON                |
| djag.E006 | a DJAG_* setting has a value of the wrong type or range      |
| djag.E007 | DJAG_ALERT_WEBHOOK is not an http(s) URL                     |
| djag.W001 | DJAG_ALLOWED_COMMANDS names a command that runs any input    |
| djag.W002 | DJAG_ALLOWED_COMMANDS names no installed management command  |
"""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.management import get_commands

from djag import conf
from djag.core.commands import CALL_COMMAND_TASK, UNSAFE_COMMANDS

PER_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache": "LocMemCache",
    "django.core.cache.backends.dummy.DummyCache": "DummyCache",
}

SHARED_CACHE_HINT = (
    "Point DJAG_CACHE at a cache every process shares: memcached "
    "(PyMemcacheCache), Redis (RedisCache) or the database cache (DatabaseCache)."
)


def check_cache(**_: Any) -> list[checks.CheckMessage]:
    alias = getattr(settings, "DJAG_CACHE", conf.DEFAULTS["DJAG_CACHE"])
    caches = getattr(settings, "CACHES", {})
    if alias not in caches:
        return [
            checks.Error(
                f"DJAG_CACHE is {alias!r}, but CACHES has no cache of that name.",
                hint=f"Add {alias!r} to CACHES or set DJAG_CACHE to one of {sorted(caches)}. "
                + SHARED_CACHE_HINT,
                id="djag.E001",
            )
        ]
    backend = caches[alias].get("BACKEND", "")
    if backend in PER_PROCESS_CACHES:
        return [
            checks.Error(
                f"DJAG_CACHE ({alias!r}) uses {PER_PROCESS_CACHES[backend]}, which each "
                "process keeps to itself: workers could never wake beat.",
                hint=SHARED_CACHE_HINT,
                id="djag.E002",
            )
        ]
    return []


def check_use_tz(**_: Any) -> list[checks.CheckMessage]:
    if getattr(settings, "USE_TZ", True):
        return []
    return [
        checks.Error(
            "USE_TZ is False: djag stores every instant in UTC and needs aware datetimes.",
            hint="Set USE_TZ = True in your settings.",
            id="djag.E003",
        )
    ]


def _celery_conf() -> Any:
    from celery import current_app

    return current_app.conf


def check_celery_serializer(**_: Any) -> list[checks.CheckMessage]:
    celery_conf = _celery_conf()
    errors: list[checks.CheckMessage] = []
    serializer = celery_conf.task_serializer
    if serializer != "json":
        errors.append(
            checks.Error(
                f"Celery's task_serializer is {serializer!r}: djag sends task arguments as JSON "
                "data and never as pickles.",
                hint='Set CELERY_TASK_SERIALIZER = "json" (or task_serializer="json" on the app).',
                id="djag.E004",
            )
        )
    accepted = sorted(set(celery_conf.accept_content or []) - {"json", "application/json"})
    if accepted:
        errors.append(
            checks.Error(
                f"Celery accepts {', '.join(accepted)} besides JSON; a worker would run "
                "messages that are not plain data.",
                hint='Set CELERY_ACCEPT_CONTENT = ["json"].',
                id="djag.E005",
            )
        )
    return errors


def _positive_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and value > 0


def _setting(name: str) -> Any:
    return getattr(settings, name, conf.DEFAULTS[name])


def check_djag_settings(**_: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    positive_numbers = ("DJAG_LEASE_SECONDS", "DJAG_POLL_SECONDS", "DJAG_RUN_RETENTION_DAYS")
    for name in positive_numbers:
        value = _setting(name)
        if not _positive_number(value):
            errors.append(
                checks.Error(
                    f"{name} is {value!r}; it must be a number greater than zero.",
                    hint=f"Remove {name} to use the default ({conf.DEFAULTS[name]}).",
                    id="djag.E006",
                )
            )
    change_days = getattr(settings, "DJAG_CHANGE_RETENTION_DAYS", None)
    if change_days is not None and not _positive_number(change_days):
        errors.append(
            checks.Error(
                f"DJAG_CHANGE_RETENTION_DAYS is {change_days!r}; it must be None (keep every "
                "schedule change) or a number greater than zero.",
                hint="Remove DJAG_CHANGE_RETENTION_DAYS to keep every change.",
                id="djag.E006",
            )
        )
    notify = _setting("DJAG_NOTIFY")
    if not isinstance(notify, bool):
        errors.append(
            checks.Error(
                f"DJAG_NOTIFY is {notify!r}; it must be True or False.",
                hint="Remove DJAG_NOTIFY to learn of news by LISTEN/NOTIFY or Redis pub/sub "
                "where they are there, or set it to False to read the wake-up key.",
                id="djag.E006",
            )
        )
    flush = _setting("DJAG_WORKER_FLUSH_SECONDS")
    if flush != 0 and not _positive_number(flush):
        errors.append(
            checks.Error(
                f"DJAG_WORKER_FLUSH_SECONDS is {flush!r}; it must be 0 (write each run's start "
                "and end at once) or a number of seconds greater than zero.",
                hint="Remove DJAG_WORKER_FLUSH_SECONDS to use the default "
                f"({conf.DEFAULTS['DJAG_WORKER_FLUSH_SECONDS']}).",
                id="djag.E006",
            )
        )
    schedules = _setting("DJAG_SCHEDULES")
    if not isinstance(schedules, list | tuple) or not all(
        isinstance(item, str) and item.strip() for item in schedules
    ):
        errors.append(
            checks.Error(
                f"DJAG_SCHEDULES is {schedules!r}; it must be a list of file paths or "
                "module names.",
                hint='Set it to a list, e.g. DJAG_SCHEDULES = ["schedules.yaml"], or remove it.',
                id="djag.E006",
            )
        )
    return errors


def check_alert_settings(**_: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    mail = _setting("DJAG_ALERT_MAIL")
    if not isinstance(mail, bool):
        errors.append(
            checks.Error(
                f"DJAG_ALERT_MAIL is {mail!r}; it must be True or False.",
                hint="Set DJAG_ALERT_MAIL = False to send no alert mail, or remove it "
                "(alerts are mailed to ADMINS).",
                id="djag.E006",
            )
        )
    webhook = _setting("DJAG_ALERT_WEBHOOK")
    if webhook != "" and not conf.is_http_url(webhook):
        errors.append(
            checks.Error(
                f"DJAG_ALERT_WEBHOOK is {webhook!r}, which is not an http:// or https:// URL: "
                "no alert could be posted to it.",
                hint='Set it to the URL alerts are posted to, e.g. "https://hooks.example.com/'
                'djag", or remove it.',
                id="djag.E007",
            )
        )
    return errors


def check_metrics_settings(**_: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    port = _setting("DJAG_METRICS_PORT")
    if port is not None and not conf.is_port(port):
        errors.append(
            checks.Error(
                f"DJAG_METRICS_PORT is {port!r}; it must be a port number (1-65535) or None. "
                "Beat serves no metrics until it is fixed.",
                hint="Set DJAG_METRICS_PORT to a free port number, e.g. 9808, or remove it.",
                id="djag.E006",
            )
        )
    address = _setting("DJAG_METRICS_ADDRESS")
    if not isinstance(address, str) or not address:
        errors.append(
            checks.Error(
                f"DJAG_METRICS_ADDRESS is {address!r}; it must be a host name or IP address.",
                hint='Set it to the address to listen on, e.g. "127.0.0.1", or remove it '
                '(every IPv4 interface, "0.0.0.0").',
                id="djag.E006",
            )
        )
    return errors


def check_allowed_commands(**_: Any) -> list[checks.CheckMessage]:
    value = _setting("DJAG_ALLOWED_COMMANDS")
    if not isinstance(value, list | tuple) or not all(
        isinstance(name, str) and name for name in value
    ):
        return [
            checks.Error(
                f"DJAG_ALLOWED_COMMANDS is {value!r}; it must be a list of management "
                "command names.",
                hint='Set it to a list, e.g. DJAG_ALLOWED_COMMANDS = ["clearsessions"], or '
                f"remove it (no command may be scheduled with {CALL_COMMAND_TASK}).",
                id="djag.E006",
            )
        ]
    messages: list[checks.CheckMessage] = [
        checks.Warning(
            f"DJAG_ALLOWED_COMMANDS allows {name!r}, which {UNSAFE_COMMANDS[name]}: anyone "
            f"who may edit periodic tasks could make a worker do that with {CALL_COMMAND_TASK}.",
            hint=f"Remove {name!r} from DJAG_ALLOWED_COMMANDS; write a task of your own that "
            "does the one thing you need instead.",
            id="djag.W001",
        )
        for name in sorted(set(value))
        if name in UNSAFE_COMMANDS
    ]
    installed = get_commands()
    messages += [
        checks.Warning(
            f"DJAG_ALLOWED_COMMANDS names {name!r}, which is no installed management command.",
            hint="Check the spelling, or the app that provides it in INSTALLED_APPS.",
            id="djag.W002",
        )
        for name in sorted(set(value))
        if name not in installed
    ]
    return messages


def register() -> None:
    for check in (
        check_cache,
        check_use_tz,
        check_celery_serializer,
        check_djag_settings,
        check_alert_settings,
        check_metrics_settings,
        check_allowed_commands,
    ):
        checks.register(check, "djag")
