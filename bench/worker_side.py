"""The worker's side: what djag's signal handlers add to each task.

``python -m bench.run worker --n 2000 --dbs sqlite,postgres``, per database:

- **handlers alone**: ``djag.worker.on_prerun`` and ``on_success`` called
  in-process for N runs, as a worker calls them around a task, once writing
  each transition at once (``DJAG_WORKER_FLUSH_SECONDS = 0``: the ledger's
  start and finish writes and a wake-up touch per task) and once batched (the
  default: noted in memory, written by the process's recorder thread a batch
  at a time; the time runs until the last batch is written), taking turns;
  queries are counted in every thread;
- **a real worker**: ``celery worker -P prefork -c 2`` on the local Redis
  broker, fed N messages of a task that only increments a Redis counter,
  once as plain Celery messages (the handlers see no run id and do nothing)
  and as djag's runs (a ``djag_run_id`` header: each run is marked started,
  then success), batched and written at once. Completions per second are
  counted from the first completion until the counter reaches N and, for
  djag, until the ledger shows N successes. The three take turns.

The wake-up key lives in Django's database cache (the embedded default), so a
touch is one more database write; with memcached or Redis as ``DJAG_CACHE`` it
is a cache write instead.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench.dbsuite import fresh_django, in_children, write
from bench.metrics import measured
from bench.run import BASE_DIR, REDIS_BROKER_URL

BROKER = REDIS_BROKER_URL
QUEUE = "djag-bench-worker"
COUNTER = "djag-bench-worker-done"
START_TIMEOUT = 60.0


def _runs(n: int) -> list[tuple[int, str]]:
    from djag.models import Crontab, PeriodicTask, RunState, TaskRun

    crontab = Crontab.objects.create(minute="*")
    task = PeriodicTask.objects.create(name="worker-bench", task="bench.count", crontab=crontab)
    TaskRun.objects.bulk_create(
        [
            TaskRun(
                periodic_task=task,
                task_name=task.name,
                task=task.task,
                trigger="manual",
                state=RunState.SENT,
                celery_task_id=str(uuid.uuid4()),
            )
            for _ in range(n)
        ],
        batch_size=2000,
    )
    return list(TaskRun.objects.order_by("id").values_list("id", "celery_task_id"))


def _reset() -> None:
    from djag.models import RunState, TaskRun

    TaskRun.objects.update(state=RunState.SENT, started_at=None, finished_at=None, worker="")


class _AllQueries:
    """Queries run by any thread's connection (the recorder writes from its own)."""

    def __init__(self) -> None:
        from django.db.backends.utils import CursorWrapper

        self.count = 0
        self.cls: Any = CursorWrapper  # its _execute_with_wrappers is not in the stubs
        self.real = getattr(CursorWrapper, "_execute_with_wrappers")  # noqa: B009

    def __enter__(self) -> _AllQueries:
        real = self.real

        def counted(wrapper: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return real(wrapper, *args, **kwargs)

        self.cls._execute_with_wrappers = counted
        return self

    def __exit__(self, *_: object) -> None:
        self.cls._execute_with_wrappers = self.real


def handlers_alone(runs: list[tuple[int, str]], repeat: int) -> dict[str, Any]:
    from django.conf import settings

    from djag import recorder, worker
    from djag.models import RunState, TaskRun

    batched = getattr(settings, "DJAG_WORKER_FLUSH_SECONDS", 0.1)
    modes = {"at once": 0, "batched": batched}
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    queries: dict[str, int] = {}
    for _ in range(repeat):
        for mode, seconds in modes.items():
            _reset()
            settings.DJAG_WORKER_FLUSH_SECONDS = seconds
            with _AllQueries() as counted, measured() as sample:
                for run_id, _ in runs:
                    request = SimpleNamespace(hostname="bench", djag_run_id=run_id)
                    task = SimpleNamespace(request=request)
                    worker.on_prerun(sender=task, task=task)
                    worker.on_success(sender=task)
                recorder.flush()  # what is still held: the time ends with the last write
            times[mode].append(sample.seconds)
            queries[mode] = counted.count
            done = TaskRun.objects.filter(state=RunState.SUCCESS).count()
            assert done == len(runs), (mode, done)
    settings.DJAG_WORKER_FLUSH_SECONDS = batched
    result = {}
    for mode, values in times.items():
        per_task = [1000 * t / len(runs) for t in values]
        result[mode] = {
            "ms_per_task": statistics.median(per_task),
            "worst_ms_per_task": max(per_task),
            "queries_per_task": queries[mode] / len(runs),
        }
    return result


def _successes() -> int:
    from djag.models import RunState, TaskRun

    return TaskRun.objects.filter(state=RunState.SUCCESS).count()


def real_worker(runs: list[tuple[int, str]], djag: bool, flush: float | None = None) -> float:
    """Completions per second of a 2-process worker on N messages."""
    import redis

    from bench.celery_app import app

    client = redis.Redis.from_url(BROKER)
    client.delete(COUNTER, QUEUE)
    _reset()
    with app.producer_or_acquire() as producer:
        for run_id, celery_id in runs:
            headers = {"djag_run_id": run_id} if djag else {}
            app.send_task(
                "bench.count", task_id=celery_id, queue=QUEUE, headers=headers, producer=producer
            )
    command = [sys.executable, "-m", "celery", "-A", "bench.worker_app", "worker", "-P"]
    command += ["prefork", "-c", "2", "-Q", QUEUE, "--without-heartbeat", "--without-mingle"]
    command += ["--without-gossip", "-l", "warning"]
    env = {**os.environ, "BENCH_BROKER_URL": BROKER}
    if flush is not None:
        env["BENCH_WORKER_FLUSH_SECONDS"] = str(flush)
    process = subprocess.Popen(command, cwd=BASE_DIR, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while int(client.get(COUNTER) or 0) == 0:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the worker did not start")
            time.sleep(0.005)
        started, first = time.perf_counter(), int(client.get(COUNTER) or 0)
        total = len(runs)
        while int(client.get(COUNTER) or 0) < total or (djag and _successes() < total):
            time.sleep(0.01)
        return (total - first) / (time.perf_counter() - started)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        client.delete(COUNTER, QUEUE)


def measure(n: int, repeat: int) -> dict[str, Any]:
    runs = _runs(n)
    result: dict[str, Any] = {"handlers": handlers_alone(runs, repeat)}
    rates: dict[str, list[float]] = {"plain Celery": [], "djag runs": [], "djag at once": []}
    for _ in range(repeat):
        rates["plain Celery"].append(real_worker(runs, djag=False))
        rates["djag runs"].append(real_worker(runs, djag=True))
        rates["djag at once"].append(real_worker(runs, djag=True, flush=0))
    result["worker"] = {
        name: {"median_per_s": statistics.median(values), "worst_per_s": min(values)}
        for name, values in rates.items()
    }
    plain, ours = (result["worker"][k]["median_per_s"] for k in ("plain Celery", "djag runs"))
    once = result["worker"]["djag at once"]["median_per_s"]
    result["added_ms_per_task"] = 2 * 1000 * (1 / ours - 1 / plain)  # 2 processes in parallel
    result["added_ms_per_task_at_once"] = 2 * 1000 * (1 / once - 1 / plain)
    return result


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run worker", description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dbs", default="sqlite,postgres")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(BASE_DIR / "var" / "bench"))
    args = parser.parse_args(argv)
    if args.one:
        fresh_django(args.one, "worker", broker=BROKER)
        print(json.dumps(measure(args.n, args.repeat)))
        return
    results = in_children(
        "bench.worker_side", args.dbs.split(","), ["--n", str(args.n), "--repeat", str(args.repeat)]
    )
    lines = [
        "| database | handlers alone, ms per task (worst), queries per task: at once "
        "| batched | plain Celery, tasks/s (worst) "
        "| djag runs at once, completions recorded/s (worst) | added per task, ms "
        "| djag runs batched, completions recorded/s (worst) | added per task, ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for db, r in results.items():
        plain, once, ours = (r["worker"][k] for k in ("plain Celery", "djag at once", "djag runs"))
        cells = [
            f"{h['ms_per_task']:.2f} ({h['worst_ms_per_task']:.2f}), {h['queries_per_task']:.3g}"
            for h in (r["handlers"]["at once"], r["handlers"]["batched"])
        ]
        rate = [f"{x['median_per_s']:.0f} ({x['worst_per_s']:.0f})" for x in (plain, once, ours)]
        lines.append(
            f"| {db} | {cells[0]} | {cells[1]} | {rate[0]} | {rate[1]}"
            f" | {r['added_ms_per_task_at_once']:.2f} | {rate[2]} | {r['added_ms_per_task']:.2f} |"
        )
    command = "python -m bench.run worker " + " ".join(argv)
    write(Path(args.out), f"worker-{args.n}", command, "\n".join(lines), results)


if __name__ == "__main__":
    main(sys.argv[1:])
