"""Django settings for the benchmarks: djag and django-celery-beat side by side.

The orchestrator (``bench/run.py``) gives every measuring process its own
database through environment variables:

- ``BENCH_DATABASE_URL``: the database (default: SQLite in ``var/bench/``);
- ``BENCH_CACHE_URL``: djag's wake-up cache (default: Django's database cache,
  the embedded default, so the wake-up check is a database query and counted);
- ``BENCH_BROKER_URL``: Celery's broker (default ``memory://``); messages go
  to the queue ``djag-bench``;
- ``BENCH_WORKER_FLUSH_SECONDS``: ``DJAG_WORKER_FLUSH_SECONDS`` (djag's default if unset).
"""

from __future__ import annotations

import os
from pathlib import Path

from sample_site.settings import cache_from_url, database_from_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var" / "bench"

SECRET_KEY = "benchmarks-only-not-a-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "djag",
    "django_celery_beat",
]

DATABASES = {
    "default": database_from_url(
        os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{VAR_DIR / 'bench.sqlite3'}")
    )
}
CACHES = {"default": cache_from_url(os.environ.get("BENCH_CACHE_URL", "db://djag_cache"))}
DJAG_CACHE = "default"
if "BENCH_WORKER_FLUSH_SECONDS" in os.environ:  # bench/worker_side.py: djag's default if unset
    DJAG_WORKER_FLUSH_SECONDS = float(os.environ["BENCH_WORKER_FLUSH_SECONDS"])

CELERY_BROKER_URL = os.environ.get("BENCH_BROKER_URL", "memory://")
CELERY_TASK_DEFAULT_QUEUE = "djag-bench"  # not "celery": RabbitMQ may be shared
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_RESULT_EXPIRES = None  # no celery.backend_cleanup entry in the peers' schedules
CELERY_TIMEZONE = "UTC"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
