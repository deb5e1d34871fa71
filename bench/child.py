"""One benchmark step in a fresh process: ``python -m bench.child prepare|measure ...``.

``prepare`` builds a workload in the database (or Redis) named by the
environment; ``measure`` measures one scheduler on it and prints its figures
as one JSON line. The orchestrator (``bench/run.py``) runs every step in a new
process, so that memory figures and caches start clean.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from django.core.management import call_command

from bench import (
    celery_app,  # (sets Django up first)
    celery_beat_side,
    djag_side,
    floor,
    redbeat_side,
)
from bench.profiling import Profiles


def prepare(args: argparse.Namespace) -> dict:
    if args.side == "redbeat":
        redbeat_side.prepare(args.kind, args.n)
        return {}
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    if args.kind == "floor":
        djag_side.prepare("burst", args.n, dag=False)  # the tasks the ledger rows are of
    elif args.side == "djag":
        djag_side.prepare(args.kind, args.n, args.dag)
    else:
        celery_beat_side.prepare(args.kind, args.n)
    return {}


def measure(args: argparse.Namespace) -> dict:
    profiles = Profiles(
        Path(args.profile_dir) if args.profile_dir else None,
        f"djag-{args.n}{'-dag' if args.dag else ''}",
    )
    if args.kind == "floor":
        return floor.measure_floor(args.n)
    if args.side == "djag":
        if args.kind == "steady":
            result = djag_side.measure_steady(
                args.n, args.dag, args.edits, args.idle_seconds, profiles
            )
        else:
            result = djag_side.measure_burst(args.n, args.dag, args.publish, profiles)
            clear_broker()
        profiles.write()
        return result
    side = celery_beat_side if args.side == "celery-beat" else redbeat_side
    if args.kind == "burst":
        return side.measure_burst(args.n, args.limit)
    if side is celery_beat_side:
        return celery_beat_side.measure_steady(args.n, args.edits, args.peer_idle_seconds)
    return redbeat_side.measure_steady(args.n, args.peer_idle_seconds)


def clear_broker() -> None:
    """Drop what a burst left in the broker (Redis: the benchmark's own database)."""
    app = celery_app.app
    url = app.conf.broker_url
    if url.startswith("redis://"):
        import redis

        redis.Redis.from_url(url).flushdb()
    elif url.startswith("amqp://"):
        with app.connection_for_write() as connection:
            channel: Any = connection.default_channel
            channel.queue_purge(app.conf.task_default_queue)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.child")
    parser.add_argument("step", choices=("prepare", "measure"))
    parser.add_argument("--side", choices=("djag", "celery-beat", "redbeat"), required=True)
    parser.add_argument("--kind", choices=("steady", "burst", "floor"), required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--dag", action="store_true")
    parser.add_argument("--publish", choices=("count", "memory", "broker"), default="count")
    parser.add_argument("--edits", type=int, default=3)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--peer-idle-seconds", type=float, default=3.0)
    parser.add_argument("--limit", type=float, default=180.0)
    parser.add_argument("--profile-dir")
    args = parser.parse_args()
    result = prepare(args) if args.step == "prepare" else measure(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
