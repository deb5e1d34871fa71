"""The Celery app of ``bench/worker_side.py``'s worker: one task that counts its runs in Redis."""

from __future__ import annotations

import redis

from bench.celery_app import app
from bench.worker_side import BROKER, COUNTER

_client = redis.Redis.from_url(BROKER)


@app.task(name="bench.count")
def count() -> None:
    _client.incr(COUNTER)
