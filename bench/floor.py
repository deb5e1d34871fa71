"""The physical floor of a burst: what claiming and publishing N runs cannot go below.

Measured in a fresh process on the same database and broker as the burst:

- **ledger**: one transaction that inserts N ledger rows (the columns a claim
  writes, with the Celery task ids a claim makes, one ``executemany``) and one
  that updates them all to ``sent`` (one statement);
- **broker**: N messages of the size djag publishes, written as fast as the
  broker's client allows: Redis, one pipelined ``LPUSH`` per message in one
  round trip; RabbitMQ, ``basic.publish`` on a confirm-mode channel, then
  every acknowledgement; in memory, nothing (0).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from bench import workload
from bench.celery_app import app
from djag.beat.outbox import Dispatch
from djag.beat.publish import RunPublisher
from djag.models import PeriodicTask, RunState, TaskRun
from djag.store.ledger import new_celery_task_id

QUEUE = "djag-bench-floor"


def publish_sample(n: int) -> None:
    """Publish one message with djag's publisher, as in the burst, to the floor's queue."""
    run = Dispatch(1, str(uuid.uuid4()), 1, workload.TASK, [], {"n": n}, {"queue": QUEUE})
    with app.producer_or_acquire() as producer:
        assert RunPublisher(app, producer).publish([run]) == []


def ledger_floor(n: int, tasks: list[tuple[int, str, str]] | None = None) -> float:
    """Insert N ledger rows in one transaction, then mark them all sent in another.

    The rows are of ``tasks`` ((id, name, Celery task name)), by default every task.
    """
    if tasks is None:
        tasks = list(PeriodicTask.objects.order_by("pk").values_list("pk", "name", "task"))
    assert len(tasks) == n, "prepare the burst workload of N tasks first"
    now = timezone.now()
    table = TaskRun._meta.db_table
    quote = connection.ops.quote_name
    columns = ["periodic_task_id", "task_name", "task", "scheduled_for", "trigger", "state"]
    columns += ["celery_task_id", "claimed_at", "coalesced_count", "worker", "error"]
    columns += ["requested_by", "delay_seconds", "note"]  # the claim's other NOT NULL columns
    sql = (
        f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    at = connection.ops.adapt_datetimefield_value(now)
    rows = [
        (pk, name, task, at, "schedule", "claimed", new_celery_task_id(), at, 1, "", "", "", 0, "")
        for pk, name, task in tasks
    ]
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    with transaction.atomic():
        TaskRun.objects.filter(state=RunState.CLAIMED).update(
            state=RunState.SENT, sent_at=timezone.now()
        )
    seconds = time.perf_counter() - started
    TaskRun.objects.all().delete()
    return seconds


def broker_floor(n: int) -> tuple[float, int]:
    """(seconds, message bytes) to get N copies of djag's message into the broker."""
    url = app.conf.broker_url
    if url.startswith("memory://"):
        return 0.0, 0
    publish_sample(n)
    if url.startswith("redis://"):
        import redis

        client = redis.Redis.from_url(url)
        payload = client.lpop(QUEUE)
        assert isinstance(payload, bytes)
        started = time.perf_counter()
        pipe = client.pipeline(transaction=False)
        for _ in range(n):
            pipe.lpush(QUEUE, payload)
        pipe.execute()
        seconds = time.perf_counter() - started
        client.delete(QUEUE)
        return seconds, len(payload)
    with app.connection_for_write() as conn:
        channel: Any = conn.channel()
        channel.auto_decode = False
        message = channel.basic_get(QUEUE, no_ack=True)
        channel.confirm_select()
        acked = 0

        def ack(tag: int, multiple: bool) -> None:
            nonlocal acked
            acked = tag

        channel.events["basic_ack"].add(ack)
        started = time.perf_counter()
        for _ in range(n):
            channel._basic_publish(message, exchange="", routing_key=QUEUE)
        while acked < n:
            conn.drain_events(timeout=30)
        seconds = time.perf_counter() - started
        channel.queue_delete(QUEUE)
        channel.close()
        return seconds, len(message.body)


def measure_floor(n: int, tasks: list[tuple[int, str, str]] | None = None) -> dict:
    ledger = ledger_floor(n, tasks)
    broker, size = broker_floor(n)
    return {"floor_s": ledger + broker, "ledger_s": ledger, "broker_s": broker, "bytes": size}
