"""celery-redbeat's side: RedBeatScheduler on a Redis database of its own, flushed first.

RedBeat keeps no schedule in the beat process: each tick asks Redis for the
entries due now, loads each of them and writes its next run back. So it has no
database queries (its Redis commands per tick are reported instead), nothing
to load at start, and no change pickup to measure: an edit saved to Redis is
read by the tick that runs the task.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

from celery.schedules import crontab, schedule
from redbeat.schedulers import (
    RedBeatScheduler,
    RedBeatSchedulerEntry,
    acquire_distributed_beat_lock,
    get_redis,
)

from bench import workload
from bench.celery_app import app
from bench.djag_side import QUIET_SECONDS
from bench.metrics import drain, measured, peak_rss_mb, tight_idle


class CountingScheduler(RedBeatScheduler):
    sent = 0

    def send_task(self, *args: Any, **kwargs: Any) -> None:
        self.sent += 1


def prepare(kind: str, n: int) -> None:
    get_redis(app).flushdb()
    specs = workload.steady(n) if kind == "steady" else workload.burst(n)
    now = dt.datetime.now(dt.UTC)
    for spec in specs:
        last_run_at = now
        if spec.kind == "every":
            when: Any = schedule(dt.timedelta(seconds=spec.seconds), app=app)
            last_run_at = now + dt.timedelta(seconds=QUIET_SECONDS)
        else:
            when = crontab(minute=spec.minute, hour=spec.hour, app=app)
            if spec.kind == "burst":
                last_run_at = now - dt.timedelta(days=1)  # due at once (None means "now")
        RedBeatSchedulerEntry(
            spec.name,
            workload.TASK,
            when,
            kwargs=spec.kwargs,
            app=app,
            last_run_at=last_run_at,
        ).save()


def _started() -> CountingScheduler:
    scheduler = CountingScheduler(app=app)
    acquire_distributed_beat_lock(sender=SimpleNamespace(scheduler=scheduler))
    return scheduler


def _redis_commands() -> int:
    return int(get_redis(app).info("stats")["total_commands_processed"])


def measure_steady(n: int, idle_seconds: float) -> dict:
    baseline_mb = peak_rss_mb()
    with measured() as setup:
        scheduler = _started()
        scheduler.tick()
    result: dict[str, Any] = {
        "setup_s": setup.seconds,
        "setup_queries": setup.queries,
        "peak_mb": peak_rss_mb(),
        "baseline_mb": baseline_mb,
    }
    commands = _redis_commands()
    idle = tight_idle(scheduler.tick, lambda: scheduler.sent, idle_seconds)
    # One INFO command is ours; the rest are the ticks' (idle and busy).
    ticks = idle["ticks"] + idle["busy_ticks"]
    idle["redis_commands"] = (_redis_commands() - commands - 1) / max(1, ticks)
    result["idle"] = idle
    scheduler.close()
    return result


def measure_burst(n: int, limit_s: float) -> dict:
    scheduler = _started()
    scheduler.producer  # noqa: B018  (a running beat is connected)
    result = drain(scheduler.tick, lambda: scheduler.sent, n, limit_s)
    scheduler.close()
    return result
