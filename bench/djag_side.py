"""djag's side: the engine driven directly, as beat drives it, with a fake or a real clock.

The engine is built as DjagScheduler builds it (the real Store and wake-up
key), but publishes to a counter so that publishing costs nearly nothing, as
for the peers. The burst is also measured through DjagScheduler's own
``publish`` (``djag/beat/publish.py``) to the in-memory transport, Redis and
RabbitMQ, with the time of each phase and of the cyclic garbage collector.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench import workload
from bench.anatomy import Collections, Phases
from bench.celery_app import app
from bench.metrics import TickStats, live_pickup, measured, peak_rss_mb
from bench.profiling import Profiles
from djag import conf, wakeup
from djag.beat import heap
from djag.beat.engine import Engine
from djag.beat.outbox import Dispatch
from djag.models import Crontab, PeriodicTask, RunState, TaskDependency, TaskRun
from djag.scheduler import DjagScheduler
from djag.store.door import Store

#: The every-few-seconds tasks start this long after the workload is built, so
#: that the idle window holds N tasks of which none is due.
QUIET_SECONDS = 3600
BURST_LEAD = 59  # a burst task's start_at is this long before its one event


class Counting:
    """Publishes through ``publish`` (or nowhere) and counts the messages sent."""

    def __init__(self, publish: Callable[[Sequence[Dispatch]], list] | None = None) -> None:
        self.publish = publish
        self.sent = 0

    def __call__(self, dispatches: Sequence[Dispatch]) -> list[tuple[Dispatch, Exception]]:
        failures = self.publish(dispatches) if self.publish else []
        self.sent += len(dispatches) - len(failures)
        return failures


def _engine(publisher: Counting) -> Engine:
    return Engine(
        Store(),
        publisher,
        poll_seconds=conf.get().poll_seconds,
        read_wake_token=wakeup.read,
        after_load=heap.freeze_loaded,  # as DjagScheduler builds it
    )


def connected_scheduler() -> tuple[DjagScheduler, Counting]:
    """A real DjagScheduler whose engine publishes to the broker (counted), connected as
    a running beat is."""
    scheduler = DjagScheduler(app=app)
    publisher = Counting(scheduler.publish)
    engine = scheduler.engine
    engine.publish = publisher
    connection = scheduler.producer.connection
    assert connection is not None
    connection.ensure_connection()
    return scheduler, publisher


# -- the workload -----------------------------------------------------------------------


def _second_field(spec: workload.Spec, index: int) -> str:
    if spec.kind == "every":
        return f"{index % spec.seconds}/{spec.seconds}"  # spread over the period
    return "0"


def prepare(kind: str, n: int, dag: bool) -> None:
    """Write the workload through the ORM (so the change log is as in real life)."""
    specs = workload.steady(n) if kind == "steady" else workload.burst(n)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    burst_event = now.replace(second=0) + dt.timedelta(minutes=2)
    keys = [(_second_field(s, i), s.minute, s.hour) for i, s in enumerate(specs)]
    crontabs = Crontab.objects.bulk_create(
        [Crontab(second=a, minute=b, hour=c) for a, b, c in dict.fromkeys(keys)]
    )
    crontab_ids = {(c.second, c.minute, c.hour): c.pk for c in crontabs}
    tasks = []
    for spec, key in zip(specs, keys, strict=True):
        if spec.kind == "burst":
            start = burst_event - dt.timedelta(seconds=BURST_LEAD)
        elif spec.kind == "every":
            start = now + dt.timedelta(seconds=QUIET_SECONDS)
        else:
            start = now
        tasks.append(
            PeriodicTask(
                name=spec.name,
                task=workload.TASK,
                crontab_id=crontab_ids[key],
                kwargs=spec.kwargs,
                start_at=start,
            )
        )
    created = PeriodicTask.objects.bulk_create(tasks, batch_size=2000)
    if dag:
        TaskDependency.objects.bulk_create(
            [TaskDependency(depender=created[a], dependee=created[b]) for a, b in workload.edges(n)]
        )


# -- steady workload: setup, change pickup, idle ticks ----------------------------------


def measure_steady(n: int, dag: bool, rounds: int, idle_seconds: float, profiles: Profiles) -> dict:
    baseline_mb = peak_rss_mb()
    publisher = Counting()
    with profiles.phase("setup"), measured() as setup:
        engine = _engine(publisher)
        now = time.time()
        engine.load(now)
        engine.tick(now)
    result: dict[str, Any] = {
        "setup_s": setup.seconds,
        "setup_queries": setup.queries,
        "peak_mb": peak_rss_mb(),
        "baseline_mb": baseline_mb,
    }
    result["pickup"] = _pickup(engine, n, rounds, profiles)
    result["idle"] = _idle(engine, publisher, idle_seconds, profiles)
    return result


def _pickup(engine: Engine, n: int, rounds: int, profiles: Profiles) -> list[dict]:
    ids = dict(
        PeriodicTask.objects.filter(
            name__in=[workload.edited_name(r) for r in range(rounds)]
        ).values_list("name", "pk")
    )

    def tick() -> float:
        with profiles.phase("pickup"):
            return engine.tick(time.time())

    def edit(round_: int) -> None:
        task = PeriodicTask.objects.get(name=workload.edited_name(round_))
        task.kwargs = {**task.kwargs, "edit": round_}
        task.save()

    def applied(round_: int) -> bool:
        live = engine.tasks.get(ids[workload.edited_name(round_)])
        return live is not None and live.row.kwargs.get("edit") == round_

    return live_pickup(tick, edit, applied, rounds, workload.edit_offsets(rounds))


def _idle(engine: Engine, publisher: Counting, seconds: float, profiles: Profiles) -> dict:
    """Beat's own cadence on a fake clock: each tick at the moment the last one asked for."""
    idle, check, poll = TickStats(), TickStats(), TickStats()
    start = now = time.time()
    busy = 0
    while now < start + seconds:
        sent, next_poll = publisher.sent, engine.next_db_poll
        with profiles.phase("idle"), measured() as sample:
            interval = engine.tick(now)
        if publisher.sent != sent:
            busy += 1
        else:
            idle.add(sample)
            (poll if engine.next_db_poll != next_poll else check).add(sample)
        now += max(interval, 0.001)
    return {
        **idle.summary(),
        "check": check.summary(),
        "poll": poll.summary(),
        "busy_ticks": busy,
        "simulated_s": seconds,
    }


# -- burst: N runs due at the same instant ------------------------------------------------


def measure_burst(n: int, dag: bool, publish: str, profiles: Profiles) -> dict:
    """Claim and publish every run due at one instant; ``publish``: count, memory or broker."""
    start_at = PeriodicTask.objects.order_by("pk").values_list("start_at", flat=True).first()
    assert start_at is not None, "prepare the burst workload first"
    event = start_at.timestamp() + BURST_LEAD
    if publish == "count":
        publisher = Counting()
        engine = _engine(publisher)
    else:
        scheduler, publisher = connected_scheduler()
        engine = scheduler.engine
    engine.load(event - 1)
    engine.tick(event - 1)
    phases = Phases()
    phases.attach(engine)
    expected = n - (len(workload.dependers(n)) if dag else 0)
    ticks = 0
    # Each tick claims at most max_claims_per_tick runs; a few more ticks allow for retries.
    max_ticks = expected // engine.max_claims_per_tick + 10
    with profiles.phase("burst"), Collections() as collections, measured() as sample:
        while publisher.sent < expected and ticks < max_ticks:
            engine.tick(event)
            ticks += 1
    assert publisher.sent == expected, f"{publisher.sent} of {expected} sent in {ticks} ticks"
    ledger_sent = TaskRun.objects.filter(state=RunState.SENT).count()
    result = {
        "burst_s": sample.seconds,
        "burst_queries": sample.queries,
        "sent": publisher.sent,
        "ledger_sent": ledger_sent,
        "expected": expected,
        "ticks": ticks,
        **phases.figures(sample.seconds),
        **collections.figures(),
    }
    if publish != "count":
        result["publish_again_s"] = _publish_again(engine, publisher)
    return result


def _publish_again(engine: Engine, publisher: Counting) -> float:
    """The same runs published once more: the tasks' messages already composed."""
    dispatches = engine.dispatches(
        [(run.id, run.celery_task_id, run.task_id) for run in engine.runs.active.values()]
    )
    assert publisher.publish is not None
    started = time.perf_counter()
    failures = publisher.publish(dispatches)
    seconds = time.perf_counter() - started
    assert not failures, failures[:3]
    return seconds
