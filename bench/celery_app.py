"""Django set up with the benchmark settings, and the Celery app every scheduler gets."""

from __future__ import annotations

import os

import django
from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

app = Celery("bench")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.redbeat_redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
app.conf.redbeat_key_prefix = "bench:"
