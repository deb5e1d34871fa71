"""A million tasks on PostgreSQL: ``python -m bench.run million [--n 1000000] [--repeat 3]``.

The workload (``--n`` tasks, ``--burst`` of them in one burst) is written once
per size into its own PostgreSQL database (BENCH_PG_URL's name with ``_N``
added) by COPY; ``--reuse`` keeps a database that already holds it. Setup time
is not a figure of the product. Then, each in a fresh process:

- **measure** (``--repeat`` times): beat's engine, built as DjagScheduler builds
  it and publishing through DjagScheduler's own ``publish`` to Redis
  (BENCH_REDIS_BROKER_URL), on a clock that starts at the workload's hour H:

  - the real ``Engine.load`` through the store at H + 1 s, its wall time and
    queries, and the process's peak RSS (``ru_maxrss``) before and after;
  - idle ticks on beat's own cadence (each tick at the moment the last one
    asked for, simulated; nothing is due): median and worst, by kind (a tick
    with nothing to read, one that reads the wake-up key, one that polls the
    database), and a tight loop of ticks with nothing to read;
  - edits seen: ``--edits`` commits through the ORM, alternately a task's
    arguments and a crontab's second (toggled back and forth), on the real
    clock shifted to the workload's hour; the time from the commit to the end
    of the tick that applied it;
  - the burst: the ``--burst`` tasks due at H + 300 s claimed, published to
    Redis and marked sent, with the time of each phase; the process's peak
    RSS at the end;

- **floor** (once per repetition, beside the burst): one transaction inserting
  ``--burst`` ledger rows and one marking them sent, plus ``--burst``
  messages of djag's size pushed to Redis in one pipeline (``bench/floor.py``);
- **memory** (once): the same load under ``tracemalloc``: the bytes held per
  task, by the source line that allocated them and by what holds them (the
  catalog's rows and specs, the due queue, the run book ...).

The workload, on the clock of an hour boundary H: ``workload.steady`` for all
but the burst tasks (70% hourly or daily crontabs, 30% every few seconds, each
task with its own kwargs), the crontab tasks starting at H + 10 min and the
every-few-seconds ones a day later, so that nothing is due in the first ten
minutes but the burst: ``--burst`` tasks on one crontab, hourly at minute 5.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import workload
from bench.dbsuite import PG_URL, use_django, write
from bench.run import BASE_DIR, REDIS_BROKER_URL, Databases

#: The workload's clock: its hour H (any hour boundary; the engine runs on this clock).
HOUR = dt.datetime(2030, 1, 7, 9, 0, tzinfo=dt.UTC)
CRON_START = 600  # the steady crontab tasks start ten minutes after H
EVERY_START = 86_400  # the every-few-seconds tasks a day after H
BURST_AT = 300  # the burst tasks fire at H + 5 min (hourly at minute 5)
LOAD_AT = 1.0  # beat loads at H + 1 s


# -- the workload ------------------------------------------------------------------------


def _crontab_key(spec: workload.Spec, index: int) -> tuple[str, str, str]:
    if spec.kind == "every":
        return (f"{index % spec.seconds}/{spec.seconds}", "*", "*")  # spread over the period
    return ("0", spec.minute, spec.hour)


def prepare(n: int, burst: int) -> dict[str, Any]:
    """Write ``n`` tasks (``burst`` of them the burst's) by COPY, and their crontabs."""
    from django.core.management import call_command
    from django.db import connection

    from djag.models import Crontab, PeriodicTask

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    started = time.perf_counter()
    specs = workload.steady(n - burst)
    keys = [_crontab_key(spec, i) for i, spec in enumerate(specs)]
    burst_key = ("0", "5", "*")
    crontabs = Crontab.objects.bulk_create(
        [Crontab(second=a, minute=b, hour=c) for a, b, c in dict.fromkeys([*keys, burst_key])]
    )
    crontab_ids = {(c.second, c.minute, c.hour): c.pk for c in crontabs}
    template = PeriodicTask(name="template", task=workload.TASK, crontab_id=crontabs[0].pk)
    fields = [f for f in PeriodicTask._meta.concrete_fields if not f.primary_key]
    varying = {"name", "crontab_id", "kwargs", "start_at"}
    fixed = {
        f.attname: f.get_db_prep_save(getattr(template, f.attname), connection)
        for f in fields
        if f.attname not in varying
    }
    columns = [f.column for f in fields]
    hour = HOUR

    def rows() -> Any:
        cron_start = hour + dt.timedelta(seconds=CRON_START)
        every_start = hour + dt.timedelta(seconds=EVERY_START)
        for spec, key in zip(specs, keys, strict=True):
            start = every_start if spec.kind == "every" else cron_start
            yield spec.name, crontab_ids[key], json.dumps(spec.kwargs), start
        for i in range(burst):
            yield f"burst-{i:07d}", crontab_ids[burst_key], json.dumps({"n": i}), hour

    quote = connection.ops.quote_name
    table = quote(PeriodicTask._meta.db_table)
    copy = f"COPY {table} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    with connection.cursor() as cursor:
        raw: Any = cursor.cursor  # psycopg's own cursor: COPY
        with raw.copy(copy) as writer:
            for name, crontab_id, kwargs, start in rows():
                values = {"name": name, "crontab_id": crontab_id, "kwargs": kwargs}
                values["start_at"] = start
                row = [values.get(f.attname, fixed.get(f.attname)) for f in fields]
                writer.write_row(row)
        cursor.execute(f"ANALYZE {table}")
    written = PeriodicTask.objects.count()
    assert written == n, f"{written} tasks written, not {n}"
    return {"tasks": written, "crontabs": len(crontabs), "setup_s": time.perf_counter() - started}


# -- the measurements in beat's engine -----------------------------------------------------


def current_rss_mb() -> float:
    """The process's resident memory now (``ru_maxrss`` is the peak so far)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def spread(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "median": None, "worst": None}
    return {"count": len(values), "median": statistics.median(values), "worst": max(values)}


def idle_ticks(engine: Any, sent: Any, start: float, seconds: float) -> tuple[dict, float]:
    """Ticks on beat's own cadence (simulated): each at the moment the last one asked for.

    Returns their times in ms by kind, and the clock at the end. A tick that
    polled the database moved ``next_db_poll``; one that read the wake-up key
    moved ``next_check``; the others had nothing to read.
    """
    from bench.metrics import measured

    kinds: dict[str, list[float]] = {"all": [], "nothing to read": [], "check": [], "poll": []}
    queries: dict[str, int] = dict.fromkeys(kinds, 0)
    now = start
    while now < start + seconds:
        before, next_check, next_poll = sent(), engine.next_check, engine.next_db_poll
        with measured() as sample:
            interval = engine.tick(now)
        assert sent() == before, "an idle tick published: the workload has something due"
        if engine.next_db_poll != next_poll:
            kind = "poll"
        elif engine.next_check != next_check:
            kind = "check"
        else:
            kind = "nothing to read"
        for name in ("all", kind):
            kinds[name].append(1000 * sample.seconds)
            queries[name] += sample.queries
        now += max(interval, 0.001)
    figures = {name: {**spread(ms), "queries": queries[name]} for name, ms in kinds.items()}
    return figures, now


def tight_ticks(engine: Any, now: float, count: int) -> dict[str, Any]:
    """``count`` ticks at one instant before the next check: the tick's own cost, in ms."""
    import time as clock

    assert now < engine.next_check
    times = []
    for _ in range(count):
        started = clock.perf_counter()
        engine.tick(now)
        times.append(1000 * (clock.perf_counter() - started))
    return spread(times)


def edit_rounds(engine: Any, start: float, rounds: int) -> dict[str, Any]:
    """Edits committed through the ORM on the real clock (shifted to ``start``): the time
    from each commit to the end of the tick that applied it (``bench.metrics.live_pickup``).

    Rounds alternate: a task's kwargs; a daily crontab's second; a task's kwargs; an
    hourly crontab's second (the second toggles between 0 and 1: no event moves into
    the quiet ten minutes).
    """
    import time as clock

    from bench.metrics import live_pickup
    from djag.models import Crontab, PeriodicTask

    shift = start - clock.monotonic()
    tasks = dict(
        PeriodicTask.objects.filter(
            name__in=[workload.edited_name(r) for r in range(rounds)]
        ).values_list("name", "pk")
    )
    # A daily and an hourly crontab, and one task of each (to see its spec recompiled).
    crontabs = {}
    for kind, hourly in (("daily", False), ("hourly", True)):
        steady = Crontab.objects.exclude(minute__in=("*", "5")).filter(periodic_tasks__isnull=False)
        chosen = steady.filter(hour="*") if hourly else steady.exclude(hour="*")
        crontab = chosen.order_by("pk").first()
        assert crontab is not None
        task = PeriodicTask.objects.filter(crontab=crontab).values_list("pk", flat=True).first()
        crontabs[kind] = (crontab.pk, task)
    kinds = ["task", "daily crontab", "task", "hourly crontab"]
    wanted: dict[int, Any] = {}

    def tick() -> float:
        return engine.tick(clock.monotonic() + shift)

    def edit(round_: int) -> None:
        kind = kinds[round_ % len(kinds)]
        if kind == "task":
            task = PeriodicTask.objects.get(name=workload.edited_name(round_))
            task.kwargs = {**task.kwargs, "edit": round_}
            task.save()
            wanted[round_] = ("task", tasks[task.name], round_)
            return
        crontab_id, task_id = crontabs[kind.split()[0]]
        crontab = Crontab.objects.get(pk=crontab_id)
        crontab.second = "1" if crontab.second == "0" else "0"
        crontab.save()
        wanted[round_] = ("crontab", (crontab_id, task_id), int(crontab.second))

    def applied(round_: int) -> bool:
        kind, key, value = wanted[round_]
        if kind == "task":
            live = engine.tasks.get(key)
            return live is not None and live.row.kwargs.get("edit") == value
        crontab_id, task_id = key
        schedule = engine.catalog.schedules.get(crontab_id)
        live = engine.tasks.get(task_id)
        return (
            schedule is not None
            and schedule.fields.seconds == (value,)
            and live is not None
            and live.spec is not None
            and live.spec.schedule is schedule
        )

    offsets = [0.05 + 0.9 * r / max(1, rounds - 1) for r in range(rounds)]
    results = live_pickup(tick, edit, applied, rounds, offsets)
    by_kind: dict[str, list[float]] = {}
    for round_, result in enumerate(results):
        by_kind.setdefault(kinds[round_ % len(kinds)], []).append(result["latency_s"])
    return {
        "all": spread([r["latency_s"] for r in results]),
        "applying tick ms": spread([r["ms"] for r in results]),
        **{kind: spread(latencies) for kind, latencies in by_kind.items()},
        "end": clock.monotonic() + shift,
    }


def burst_at(engine: Any, publisher: Any, event: float, expected: int) -> dict[str, Any]:
    """Every run due at ``event`` claimed, published and marked sent (as ``bench.djag_side``)."""
    from bench.anatomy import Collections, Phases
    from bench.metrics import measured
    from djag.models import RunState, TaskRun

    engine.tick(event - 1)
    phases = Phases()
    phases.attach(engine)
    ticks = 0
    max_ticks = expected // engine.max_claims_per_tick + 10
    with Collections() as collections, measured() as sample:
        while publisher.sent < expected and ticks < max_ticks:
            engine.tick(event)
            ticks += 1
    assert publisher.sent == expected, f"{publisher.sent} of {expected} sent in {ticks} ticks"
    ledger_sent = TaskRun.objects.filter(state=RunState.SENT).count()
    assert ledger_sent == expected, f"{ledger_sent} of {expected} marked sent"
    return {
        "burst_s": sample.seconds,
        "burst_queries": sample.queries,
        "sent": publisher.sent,
        "ticks": ticks,
        **phases.figures(sample.seconds),
        **collections.figures(),
    }


def clean_slate() -> None:
    """No run in the ledger and nothing in the broker's database: each measure starts alike."""
    import redis
    from django.db import connection

    from djag.models import TaskRun

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {connection.ops.quote_name(TaskRun._meta.db_table)} CASCADE")
    redis.Redis.from_url(REDIS_BROKER_URL).flushdb()


def measure(n: int, burst: int, edits: int) -> dict[str, Any]:
    from bench.djag_side import connected_scheduler
    from bench.metrics import measured, peak_rss_mb

    clean_slate()
    hour = HOUR.timestamp()
    scheduler, publisher = connected_scheduler()
    engine = scheduler.engine
    result: dict[str, Any] = {"peak_before_load_mb": peak_rss_mb(), "rss_before_load_mb": 0.0}
    result["rss_before_load_mb"] = current_rss_mb()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    with measured() as load:
        engine.load(hour + LOAD_AT)
    after = resource.getrusage(resource.RUSAGE_SELF)
    result["load_cpu_s"] = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    assert len(engine.tasks) == n, f"{len(engine.tasks)} of {n} tasks loaded"
    result.update(
        load_s=load.seconds,
        load_queries=load.queries,
        peak_after_load_mb=peak_rss_mb(),
        rss_after_load_mb=current_rss_mb(),
    )

    def sent() -> int:
        return publisher.sent

    result["idle"], now = idle_ticks(engine, sent, hour + LOAD_AT, 120.0)
    result["tight"] = tight_ticks(engine, now - 0.001, 10_000)
    result["edits"] = edit_rounds(engine, now, edits)
    assert result["edits"]["end"] < hour + BURST_AT - 5, "the edits ran into the burst"
    result["burst"] = burst_at(engine, publisher, hour + BURST_AT, burst)
    result.update(peak_end_mb=peak_rss_mb(), rss_end_mb=current_rss_mb())
    scheduler.producer.release()
    clean_slate()
    return result


def measure_floor(burst: int) -> dict[str, Any]:
    """The burst's floor (``bench/floor.py``) for the burst's tasks."""
    from bench import floor
    from djag.models import PeriodicTask

    clean_slate()
    tasks = list(
        PeriodicTask.objects.filter(name__startswith="burst-")
        .order_by("pk")
        .values_list("pk", "name", "task")
    )
    assert len(tasks) == burst, f"{len(tasks)} burst tasks, not {burst}"
    figures = floor.measure_floor(burst, tasks)
    clean_slate()
    return figures


# -- where the memory goes -----------------------------------------------------------------


def _holders(engine: Any) -> list[tuple[str, Any]]:
    """What the engine holds, as (category, object), the shared parts first.

    Each object is counted once, under the first category that reaches it: the
    compiled crontab schedules, then per task its catalog entry, its row (and
    in it what its message is made of), its spec, then the due queue and the rest.
    """
    catalog = engine.catalog
    holders: list[tuple[str, Any]] = [("compiled crontab schedules", catalog.schedules)]
    holders.append(("catalog: the dict of tasks", _shallow(catalog.tasks)))
    for task in catalog.tasks.values():
        row = getattr(task, "row", None)
        holders.append(("catalog: LiveTask objects", _shallow(task)))
        if row is not None:
            message = _several(row.args_json, row.kwargs_json, row.headers_json, row.routing)
            holders.append(("row: its message (JSON texts, routing)", message))
            holders.append(("row: name and Celery task name", _several(row.name, row.task)))
            holders.append(("row: TaskRow and its other fields", row))
        holders.append(("spec: TaskSpec (schedule shared)", getattr(task, "spec", None)))
    holders.append(
        ("due queue: its heap and its index", _several(engine.due._heap, engine.due._keys))
    )
    rest = _several(engine.runs, engine.waiting, engine.checkpoints, engine.outbox)
    holders.append(("run book, waiting, checkpoints, outbox", rest))
    return holders


class _shallow:
    """Count only the object itself (its contents are counted by what follows)."""

    __slots__ = ("of",)

    def __init__(self, of: Any) -> None:
        self.of = of


class _several:
    """Count these objects and what they hold (not the tuple that names them)."""

    __slots__ = ("of",)

    def __init__(self, *of: Any) -> None:
        self.of = of


def held_bytes(engine: Any) -> dict[str, int]:
    """Bytes reachable from the engine's state by category (``sys.getsizeof``, shared once)."""
    import gc
    import types

    skip = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType)
    seen: set[int] = set()
    sizes: dict[str, int] = {}
    for category, root in _holders(engine):
        if isinstance(root, _shallow):
            if id(root.of) not in seen:
                seen.add(id(root.of))
                sizes[category] = sizes.get(category, 0) + sys.getsizeof(root.of)
            continue
        stack = list(root.of) if isinstance(root, _several) else [root]
        total = 0
        while stack:
            obj = stack.pop()
            if obj is None or id(obj) in seen or isinstance(obj, skip):
                continue
            seen.add(id(obj))
            total += sys.getsizeof(obj)
            stack.extend(gc.get_referents(obj))
        sizes[category] = sizes.get(category, 0) + total
    return sizes


def measure_memory(n: int) -> dict[str, Any]:
    """The load under tracemalloc: bytes held per task, by allocating line and by holder."""
    import gc
    import tracemalloc

    from djag.beat.engine import Engine
    from djag.store.door import Store

    engine = Engine(Store(), lambda sent: [], poll_seconds=5.0, read_wake_token=lambda: None)
    gc.collect()
    tracemalloc.start(1)
    before = tracemalloc.take_snapshot()
    engine.load(HOUR.timestamp() + LOAD_AT)
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    lines = []
    for stat in after.compare_to(before, "lineno")[:15]:
        frame = stat.traceback[0]
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        lines.append({"line": where, "bytes": stat.size_diff, "blocks": stat.count_diff})
    held = held_bytes(engine)
    return {
        "tasks": len(engine.tasks),
        "traced_bytes": current,
        "traced_peak_bytes": peak,
        "lines": lines,
        "held": dict(sorted(held.items(), key=lambda kv: -kv[1])),
    }


# -- the orchestrator --------------------------------------------------------------------


def database_url(n: int) -> str:
    base, _, named = PG_URL.rpartition("/")
    return f"{base}/{named if named not in ('', 'postgres') else 'djag_million'}_{n}"


def holds_workload(url: str, n: int) -> bool:
    import psycopg

    try:
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT count(*) FROM djag_periodictask").fetchone()
    except psycopg.Error:
        return False
    return row is not None and row[0] == n


def step(name: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.million", "--step", name, "--url", url]
    command += ["--n", str(args.n), "--burst", str(args.burst), "--edits", str(args.edits)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        command, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=7200, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[2:])} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_step(name: str, args: argparse.Namespace) -> dict[str, Any]:
    broker = REDIS_BROKER_URL if name in ("measure", "floor") else "memory://"
    use_django(args.url, broker)
    if name == "prepare":
        return prepare(args.n, args.burst)
    if name == "memory":
        return measure_memory(args.n)
    if name == "measure":
        return measure(args.n, args.burst, args.edits)
    if name == "floor":
        return measure_floor(args.burst)
    raise ValueError(name)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run million", description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--burst", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--reuse", action="store_true", help="keep a database holding N tasks")
    parser.add_argument("--prepare-only", action="store_true")
    parser.add_argument("--no-memory", dest="memory", action="store_false", help="no tracemalloc")
    parser.add_argument("--out", type=Path, default=BASE_DIR / "var" / "bench")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        print(json.dumps(run_step(args.step, args)))
        return
    url = database_url(args.n)
    if not (args.reuse and holds_workload(url, args.n)):
        Databases("postgres", args.out, url).fresh("million")
        print(f"prepared: {step('prepare', url, args)}", flush=True)
    if args.prepare_only:
        return
    runs: list[dict[str, Any]] = []
    floors: list[dict[str, Any]] = []
    loads: list[str] = []
    started = time.monotonic()
    for rep in range(args.repeat):
        loads.append(Path("/proc/loadavg").read_text().split(" ")[0])
        runs.append(step("measure", url, args))
        floors.append(step("floor", url, args))
        loads.append(Path("/proc/loadavg").read_text().split(" ")[0])
        last = runs[-1]
        print(
            f"[{rep + 1}/{args.repeat}] load {last['load_s']:.1f} s, "
            f"peak {last['peak_end_mb']:.0f} MB, burst {last['burst']['burst_s']:.2f} s "
            f"(floor {floors[-1]['floor_s']:.2f} s)",
            flush=True,
        )
    memory = step("memory", url, args) if args.memory else None
    text = table(args, runs, floors, memory, loads)
    command = "python -m bench.run million " + " ".join(argv)
    figures: dict[str, Any] = {"runs": runs, "floors": floors, "memory": memory}
    figures["loadavg"] = loads
    figures["wall_s"] = time.monotonic() - started
    write(args.out, f"million-{args.n}", command, text, figures)


# -- the table ---------------------------------------------------------------------------

GIB = 2**30
#: The goals of issue 15 (seconds, MiB, ms).
PEAK_GOAL_MB = 1.5e9 / 2**20  # 1.5 GB


def _pick(runs: list[dict[str, Any]], *path: str) -> list[float]:
    values = []
    for run in runs:
        value: Any = run
        for key in path:
            value = value[key]
        values.append(float(value))
    return values


def table(
    args: argparse.Namespace,
    runs: list[dict[str, Any]],
    floors: list[dict[str, Any]],
    memory: dict[str, Any] | None,
    loads: list[str],
) -> str:
    """Medians and worst cases of the runs, each figure beside its goal."""
    n, burst = args.n, args.burst
    lines = [
        f"N = {n:,} tasks on PostgreSQL, {len(runs)} fresh process(es); load average "
        f"{min(loads)}-{max(loads)}",
        "",
        "| figure | goal | median | worst | goal met (median) |",
        "|---|---|---|---|---|",
    ]

    def row(label: str, values: list[float], unit: str, goal: float | None, digits: int = 3):
        median, worst = statistics.median(values), max(values)
        met = "-" if goal is None else ("met" if median < goal else "**not met**")
        goal_text = "-" if goal is None else f"< {goal:g} {unit}"
        lines.append(
            f"| {label} | {goal_text} | {median:,.{digits}f} {unit} | {worst:,.{digits}f} {unit} "
            f"| {met} |"
        )

    row("Engine.load", _pick(runs, "load_s"), "s", 30.0, 1)
    row(
        "Engine.load, CPU time of the process (user + system)",
        _pick(runs, "load_cpu_s"),
        "s",
        None,
        1,
    )
    row("peak RSS after the load", _pick(runs, "peak_after_load_mb"), "MiB", None, 0)
    row("RSS held after the load", _pick(runs, "rss_after_load_mb"), "MiB", None, 0)
    row(
        "peak RSS, the whole run (load, idle, edits, burst)",
        _pick(runs, "peak_end_mb"),
        "MiB",
        PEAK_GOAL_MB,
        0,
    )
    held = [(r["rss_after_load_mb"] - r["rss_before_load_mb"]) * 2**20 / n for r in runs]
    row("RSS growth of the load per task", held, "B", None, 0)
    for kind in ("all", "nothing to read", "check", "poll"):
        label = "idle tick, beat's cadence" + ("" if kind == "all" else f": {kind}")
        if all(r["idle"][kind]["count"] for r in runs):
            row(label, _pick(runs, "idle", kind, "median"), "ms", 1.0 if kind == "all" else None)
            row(label + ", worst of a run", _pick(runs, "idle", kind, "worst"), "ms", None)
    row(
        "idle tick, 10,000 in a row, nothing to read", _pick(runs, "tight", "median"), "ms", None, 4
    )
    row("edit seen", _pick(runs, "edits", "all", "median"), "s", 1.0)
    row("edit seen, worst of a run", _pick(runs, "edits", "all", "worst"), "s", None)
    for kind in ("task", "daily crontab", "hourly crontab"):
        if all(kind in r["edits"] for r in runs):
            row(f"edit seen: {kind}", _pick(runs, "edits", kind, "median"), "s", None)
    row(f"burst of {burst:,} to Redis", _pick(runs, "burst", "burst_s"), "s", 15.0, 2)
    row("  of which claim", _pick(runs, "burst", "claim_s"), "s", None, 2)
    row("  of which publish", _pick(runs, "burst", "publish_s"), "s", None, 2)
    row("  of which mark sent", _pick(runs, "burst", "mark_sent_s"), "s", None, 2)
    row("  of which decide and the rest", _pick(runs, "burst", "decide_and_rest_s"), "s", None, 2)
    row(f"floor of {burst:,} (ledger + Redis pipeline)", _pick(floors, "floor_s"), "s", None, 2)
    ratios = [r["burst"]["burst_s"] / f["floor_s"] for r, f in zip(runs, floors, strict=True)]
    row("burst / floor (same repetition)", ratios, "x", None, 1)
    if memory is not None:
        tasks = memory["tasks"]
        lines += [
            "",
            f"Memory held after the load, under tracemalloc: "
            f"{memory['traced_bytes'] / tasks:,.0f} bytes per task "
            f"(peak while loading {memory['traced_peak_bytes'] / tasks:,.0f}).",
            "",
            "| held by | bytes per task |",
            "|---|---|",
        ]
        for holder, size in memory["held"].items():
            lines.append(f"| {holder} | {size / tasks:,.0f} |")
        lines += ["", "| allocated at | bytes per task | blocks per task |", "|---|---|---|"]
        for line in memory["lines"]:
            lines.append(
                f"| {line['line']} | {line['bytes'] / tasks:,.0f} | {line['blocks'] / tasks:.2f} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1:])
