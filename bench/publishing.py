"""Publishing alone: ``python -m bench.run publishing --sizes 10000,100000``.

``RunPublisher.publish`` (beat's publish path: composing and kombu) for N
runs of N distinct tasks, 2,000 per call as a tick hands them over, with a
young-generation collection between calls as between ticks: first with every
message new to the publisher ("new"), then the same runs again ("again": the
templates kept). No database; the broker is kombu's in-memory transport unless
``--broker`` names another. Reports CPU seconds (less sensitive to a loaded
machine than wall time) and wall seconds; each size in a fresh process.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
import uuid

from bench.run import BASE_DIR

PER_CALL = 2000


def measure(n: int, broker: str) -> dict[str, object]:
    from celery import Celery

    from djag.beat import heap
    from djag.beat.outbox import Dispatch
    from djag.beat.publish import RunPublisher

    app = Celery("bench-publishing", broker=broker, set_as_current=False)
    app.conf.task_default_queue = "djag-bench-publishing"
    calls = [
        [
            Dispatch(i, str(uuid.uuid4()), i, "bench.noop", [], {"n": i}, {"headers": {}})
            for i in range(start, min(n, start + PER_CALL))
        ]
        for start in range(0, n, PER_CALL)
    ]
    heap.freeze_loaded()  # as after beat's load
    figures: dict[str, object] = {"n": n}
    with app.producer_or_acquire() as producer:
        publisher = RunPublisher(app, producer)
        for label in ("new", "again"):
            cpu, wall = time.process_time(), time.perf_counter()
            for call in calls:
                assert publisher.publish(call) == []
                gc.collect(0)
            figures[f"{label}_cpu_s"] = time.process_time() - cpu
            figures[f"{label}_wall_s"] = time.perf_counter() - wall
    if broker.startswith("redis://"):
        import redis

        redis.Redis.from_url(broker).delete(app.conf.task_default_queue)
    return figures


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run publishing", description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--broker", default="memory://")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one, args.broker)))
        return
    for rep in range(args.repeat):
        for n in [int(s.replace("_", "")) for s in args.sizes.split(",")]:
            command = [sys.executable, "-m", "bench.publishing", "--one", str(n)]
            command += ["--broker", args.broker]
            done = subprocess.run(
                command, cwd=BASE_DIR, capture_output=True, text=True, check=True, timeout=3600
            )
            print(f"[{rep + 1}/{args.repeat}] {done.stdout.strip()}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
