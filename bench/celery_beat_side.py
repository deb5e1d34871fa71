"""django-celery-beat's side: its DatabaseScheduler, tick() called in a loop on the real clock.

Publishing costs nearly nothing: the task name is not registered, so
Celery's ``apply_async`` ends in ``send_task``, which only counts here.
Everything before it (the entry's next run, the sync of dirty entries) is the
peer's own code.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

from django_celery_beat.models import (
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    PeriodicTasks,
)
from django_celery_beat.schedulers import DatabaseScheduler

from bench import workload
from bench.celery_app import app
from bench.djag_side import QUIET_SECONDS
from bench.metrics import drain, live_pickup, measured, peak_rss_mb, tight_idle


class CountingScheduler(DatabaseScheduler):
    sent = 0

    def send_task(self, *args: Any, **kwargs: Any) -> None:
        self.sent += 1


def prepare(kind: str, n: int) -> None:
    specs = workload.steady(n) if kind == "steady" else workload.burst(n)
    now = dt.datetime.now(dt.UTC)
    crontabs = {
        key: CrontabSchedule.objects.create(minute=key[0], hour=key[1], timezone="UTC")
        for key in dict.fromkeys((s.minute, s.hour) for s in specs if s.kind != "every")
    }
    intervals = {
        seconds: IntervalSchedule.objects.create(every=seconds, period=IntervalSchedule.SECONDS)
        for seconds in workload.PERIODS
    }
    tasks = []
    for spec in specs:
        task = PeriodicTask(name=spec.name, task=workload.TASK, kwargs=json.dumps(spec.kwargs))
        if spec.kind == "every":
            task.interval = intervals[spec.seconds]
            task.last_run_at = now + dt.timedelta(seconds=QUIET_SECONDS)
        else:
            task.crontab = crontabs[spec.minute, spec.hour]
            if spec.kind == "burst":
                task.last_run_at = now - dt.timedelta(days=1)  # due at once
        tasks.append(task)
    PeriodicTask.objects.bulk_create(tasks, batch_size=2000)
    PeriodicTasks.update_changed()


def measure_steady(n: int, rounds: int, idle_seconds: float) -> dict:
    baseline_mb = peak_rss_mb()
    with measured() as setup:
        scheduler = CountingScheduler(app=app)
        scheduler.tick()
    result: dict[str, Any] = {
        "setup_s": setup.seconds,
        "setup_queries": setup.queries,
        "peak_mb": peak_rss_mb(),
        "baseline_mb": baseline_mb,
        "loaded": len(scheduler._schedule),  # its schedule property would query
    }

    def edit(round_: int) -> None:
        task = PeriodicTask.objects.get(name=workload.edited_name(round_))
        task.kwargs = json.dumps({**json.loads(task.kwargs), "edit": round_})
        task.save()

    def applied(round_: int) -> bool:
        entry = scheduler._schedule.get(workload.edited_name(round_))
        return entry is not None and entry.kwargs.get("edit") == round_

    offsets = workload.edit_offsets(rounds)
    result["pickup"] = live_pickup(scheduler.tick, edit, applied, rounds, offsets)
    result["idle"] = tight_idle(scheduler.tick, lambda: scheduler.sent, idle_seconds)
    return result


def measure_burst(n: int, limit_s: float) -> dict:
    scheduler = CountingScheduler(app=app)
    # What the first tick() would do before sending: build the heap from the loaded schedule.
    scheduler.old_schedulers = copy.copy(scheduler.schedule)
    scheduler.populate_heap()
    scheduler.producer  # noqa: B018  (a running beat is connected)
    return drain(scheduler.tick, lambda: scheduler.sent, n, limit_s)
