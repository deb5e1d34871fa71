"""An idle leading beat at N tasks on PostgreSQL: ``python -m bench.run idle``.

Per mode, in a fresh PostgreSQL database holding N tasks that do not fire during
the run (yearly crontabs), a real ``DjagScheduler`` (lease, engine, alerts,
Celery's own tick) driven as Celery's beat service drives it: ``tick()``, then
sleep what it returned, on the real clock.

- **notify**: ``DJAG_NOTIFY = True`` (the default): LISTEN/NOTIFY, tick() waiting
  for news on the listener's socket (``DjagScheduler.nap``), the fallback poll
  every 60 s;
- **poll**: ``DJAG_NOTIFY = False``: the wake-up key read every 0.5 s (in Django's
  database cache, the bench's and the embedded default: a query) and the database
  polled every ``DJAG_POLL_SECONDS`` (5 s), as before;
- **celery-beat** (the peer): django-celery-beat's ``DatabaseScheduler`` with N
  entries, its own loop interval (5 s), idle only (its edit pickup is in the main
  bench).

Figures: the queries/s of the beat's connection over ``--window`` seconds of idle
(counted by a ``connection.execute_wrapper``, so every statement: lease renewals,
key reads, polls), the CPU seconds per second of the process in that window
(``time.process_time``; nothing else runs in it then), ticks/s; then ``--edits``
edits, each committed by a second thread at a random moment: the time from the
commit's return to the beat having applied the edit (checked after each tick),
median and worst. Modes take turns per repetition.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.dbsuite import fresh_django, write
from bench.run import BASE_DIR

MODES = ("notify", "poll", "celery-beat")
YEARLY = {"minute": "0", "hour": "0", "day_of_month": "1", "month_of_year": "1"}


def _prepare_djag(n: int) -> None:
    from djag.models import Crontab, PeriodicTask

    crontab = Crontab.objects.create(**YEARLY)
    PeriodicTask.objects.bulk_create(
        [PeriodicTask(name=f"t{i}", task="bench.noop", crontab=crontab) for i in range(n)],
        batch_size=2000,
    )


def _prepare_peer(n: int) -> None:
    from django_celery_beat.models import CrontabSchedule, PeriodicTask, PeriodicTasks

    crontab = CrontabSchedule.objects.create(**YEARLY, day_of_week="*")
    PeriodicTask.objects.bulk_create(
        [PeriodicTask(name=f"t{i}", task="bench.noop", crontab=crontab) for i in range(n)],
        batch_size=2000,
    )
    PeriodicTasks.update_changed()


class Counter:
    def __init__(self) -> None:
        self.queries = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.queries += 1
        return execute(sql, params, many, context)


def _idle(tick: Any, window: float) -> dict[str, float]:
    """Celery's service loop for ``window`` seconds: queries/s, CPU s/s, ticks/s."""
    from django.db import connection

    counter = Counter()
    ticks = 0
    with connection.execute_wrapper(counter):
        wall, cpu = time.monotonic(), time.process_time()
        end = wall + window
        while time.monotonic() < end:
            interval = tick()
            ticks += 1
            if interval and interval > 0:
                time.sleep(min(interval, max(0.0, end - time.monotonic())))
        wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    return {
        "queries_per_s": counter.queries / wall,
        "queries": counter.queries,
        "cpu_ms_per_s": 1000 * cpu / wall,
        "ticks_per_s": ticks / wall,
        "window_s": wall,
    }


def _edits(beat: Any, edits: int) -> dict[str, Any]:
    """Edits committed by another thread at random moments; seconds until beat applied each."""
    from django.db import connections, transaction

    from djag.models import PeriodicTask

    ids = list(PeriodicTask.objects.order_by("pk").values_list("pk", flat=True)[:edits])
    committed: dict[int, float] = {}
    seen: dict[int, float] = {}
    done = threading.Event()

    def note_commit(round_: int) -> None:
        committed[round_] = time.time()

    def editor() -> None:
        rng = random.Random(15)
        try:
            for round_, pk in enumerate(ids):
                time.sleep(rng.uniform(0.3, 0.7))  # lands anywhere in beat's cycle
                task = PeriodicTask.objects.get(pk=pk)
                task.kwargs = {"edit": round_}
                with transaction.atomic():  # the task and its change row
                    # Registered first, so it runs first once COMMIT has returned,
                    # before djag's own on-commit work (the wake-up key).
                    transaction.on_commit(functools.partial(note_commit, round_))
                    task.save()
        finally:
            connections.close_all()
            done.set()

    engine = beat.engine
    apply_changes = engine.apply_changes

    def noted(batch: Any, now: float) -> None:
        """The engine's own apply_changes, then the instant each edit is in beat's state
        (tick() may wait for the next news after applying: its return is too late)."""
        apply_changes(batch, now)
        at = time.time()
        for round_, pk in enumerate(ids):
            live = engine.tasks.get(pk)
            if round_ not in seen and live is not None and live.row.kwargs.get("edit") == round_:
                seen[round_] = at

    engine.apply_changes = noted
    thread = threading.Thread(target=editor)
    thread.start()
    deadline = time.monotonic() + edits * 0.7 + 30
    while (not done.is_set() or len(seen) < len(committed)) and time.monotonic() < deadline:
        interval = beat.tick()
        if interval and interval > 0:
            time.sleep(interval)
    thread.join()
    latencies = [seen[r] - committed[r] for r in seen if r in committed]
    return {
        "edits": len(ids),
        "seen": len(latencies),
        "median_ms": 1000 * statistics.median(latencies) if latencies else None,
        "worst_ms": 1000 * max(latencies) if latencies else None,
    }


def measure(mode: str, n: int, window: float, edits: int) -> dict[str, Any]:
    from django.conf import settings

    from bench.celery_app import app

    if mode == "celery-beat":
        from bench.celery_beat_side import CountingScheduler

        _prepare_peer(n)
        peer = CountingScheduler(app=app)
        peer.tick()
        return {"idle": _idle(peer.tick, window)}
    from djag.scheduler import DjagScheduler

    settings.DJAG_NOTIFY = mode == "notify"
    _prepare_djag(n)
    beat = DjagScheduler(app=app, lazy=True)
    beat.engine.publish = lambda dispatches: []
    try:
        beat.tick()  # leads and loads
        assert beat.loaded
        assert len(beat.engine.tasks) == n
        listening = getattr(beat.engine.watch, "listener", None) is not None
        assert listening == (mode == "notify"), "notify mode without a listener"
        idle = _idle(beat.tick, window)
        return {"idle": idle, "edit_seen": _edits(beat, edits)}
    finally:
        beat.close()


def _run_child(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.idle", "--one", mode, "--n", str(args.n)]
    command += ["--window", str(args.window), "--edits", str(args.edits)]
    done = subprocess.run(
        command, cwd=BASE_DIR, capture_output=True, text=True, timeout=3600, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[2:])} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _summary(values: list[float]) -> str:
    return f"{statistics.median(values):.3g} ({max(values):.3g})"


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run idle", description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=90.0, help="idle seconds measured")
    parser.add_argument("--edits", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(BASE_DIR / "var" / "bench"))
    args = parser.parse_args(argv)
    if args.one:
        fresh_django("postgres", f"idle-{args.one}")
        print(json.dumps(measure(args.one, args.n, args.window, args.edits)))
        return
    modes = args.modes.split(",")
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
    loads = []
    for _ in range(args.repeat):
        for mode in modes:
            loads.append(os.getloadavg()[0])
            runs[mode].append(_run_child(mode, args))
            print(mode, json.dumps(runs[mode][-1]), file=sys.stderr)
    lines = [
        f"N = {args.n:,} tasks on PostgreSQL, idle window {args.window:g} s, {args.edits} edits, "
        f"{args.repeat} repetitions: median (worst); load average 1 min "
        f"{min(loads):.1f}-{max(loads):.1f}",
        "",
        "| mode | queries/s | CPU ms/s | ticks/s | edit seen median ms | edit seen worst ms |",
        "|---|---|---|---|---|---|",
    ]
    for mode, results in runs.items():
        idle = [r["idle"] for r in results]
        edits = [r["edit_seen"] for r in results if "edit_seen" in r]
        cells = [
            _summary([i["queries_per_s"] for i in idle]),
            _summary([i["cpu_ms_per_s"] for i in idle]),
            _summary([i["ticks_per_s"] for i in idle]),
        ]
        if edits:
            cells.append(_summary([e["median_ms"] for e in edits]))
            cells.append(f"{max(e['worst_ms'] for e in edits):.3g}")
        else:
            cells += ["-", "-"]
        lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    command = "python -m bench.run idle " + " ".join(argv)
    write(Path(args.out), "idle", command, "\n".join(lines), {"runs": runs, "loads": loads})


if __name__ == "__main__":
    main(sys.argv[1:])
