"""Beat's exit on SIGTERM after a burst: ``python -m bench.run sigterm --n 100000 --dbs sqlite``.

Per database, in a fresh one: N tasks due at one instant (the burst workload),
a real ``celery beat -S djag.scheduler:DjagScheduler`` publishing to Redis. Once
the ledger shows the N runs sent, beat holds N checkpoints not saved yet
(Celery syncs every three minutes); it gets SIGTERM, and the figure is the
time until the process has exited, its ``close()`` having saved the
checkpoints (checked: N tasks' ``TaskCheckpoint`` at or after the burst's
instant; the burst tasks run every minute).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.dbsuite import fresh_django, in_children, write
from bench.run import BASE_DIR, REDIS_BROKER_URL

QUEUE_WAIT = 600.0  # seconds the burst may take to come due and be sent


def measure(n: int) -> dict[str, Any]:
    import redis

    from bench import djag_side
    from djag.models import PeriodicTask, RunState, TaskCheckpoint, TaskRun

    djag_side.prepare("burst", n, dag=False)
    start_at = PeriodicTask.objects.order_by("pk").values_list("start_at", flat=True).first()
    assert start_at is not None
    event = start_at.timestamp() + djag_side.BURST_LEAD
    # At or after the burst's instant: tasks decided early in a burst longer than a
    # minute (a loaded server) are decided again at the next minute's event.
    checkpointed = TaskCheckpoint.objects.filter(handled_through__gte=event)
    command = [sys.executable, "-m", "celery", "-A", "bench.celery_app", "beat"]
    command += ["-S", "djag.scheduler:DjagScheduler", "-l", "warning"]
    env = {**os.environ, "BENCH_BROKER_URL": REDIS_BROKER_URL}
    log = BASE_DIR / "var" / "bench" / "sigterm-beat.log"  # beat's warnings, for a failed run
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as stderr:
        beat = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stderr=stderr, start_new_session=True
        )
    try:
        deadline = time.monotonic() + QUEUE_WAIT
        while TaskRun.objects.filter(state=RunState.SENT).count() < n:
            if time.monotonic() > deadline or beat.poll() is not None:
                raise RuntimeError("beat did not send the burst")
            time.sleep(0.5)
        sent_at = time.time()
        unsaved = n - checkpointed.count()
        started = time.perf_counter()
        beat.send_signal(signal.SIGTERM)
        beat.wait(timeout=120)
        exit_s = time.perf_counter() - started
    finally:
        if beat.poll() is None:
            os.killpg(beat.pid, signal.SIGKILL)
        redis.Redis.from_url(REDIS_BROKER_URL).flushdb()
    saved = checkpointed.count()
    assert saved == n, f"{saved} of {n} checkpoints saved at exit"
    return {
        "exit_s": exit_s,
        "unsaved_before": unsaved,
        "saved": saved,
        "burst_to_sigterm_s": sent_at - event,
        "returncode": beat.returncode,
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run sigterm", description=__doc__)
    parser.add_argument("--n", type=int, default=100000)
    parser.add_argument("--dbs", default="sqlite,postgres")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(BASE_DIR / "var" / "bench"))
    args = parser.parse_args(argv)
    if args.one:
        fresh_django(args.one, f"sigterm-{args.n}")
        print(json.dumps(measure(args.n)))
        return
    results = in_children("bench.sigterm", args.dbs.split(","), ["--n", str(args.n)])
    lines = [
        "| database | N | exit after SIGTERM, s | checkpoints saved at exit |",
        "|---|---|---|---|",
    ]
    for db, r in results.items():
        lines.append(f"| {db} | {args.n:,} | {r['exit_s']:.2f} | {r['saved']:,} |")
    command = "python -m bench.run sigterm " + " ".join(argv)
    write(Path(args.out), f"sigterm-{args.n}", command, "\n".join(lines), results)


if __name__ == "__main__":
    main(sys.argv[1:])
