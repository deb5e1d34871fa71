"""The burst against its physical floor: ``python -m bench.run burst --sizes 10000,100000``.

For each size N and repetition, in one run and interleaved (so that a busy
moment of the machine hits every variant alike), each in fresh processes on a
fresh database:

- the **floor** (``bench/floor.py``): one transaction inserting N ledger rows
  and one marking them sent, plus N messages of djag's size written to the
  broker as fast as its client can (Redis: one pipeline; RabbitMQ: publish all,
  then read the confirms);
- djag's **burst**: N runs due at once, claimed, published and marked sent by
  the engine through ``DjagScheduler.publish``, to Redis, to RabbitMQ and to
  kombu's in-memory transport (and only counted), with beat's use of the cyclic
  garbage collector (``djag.beat.heap``: the loaded schedule frozen, the burst
  unpaused).

It prints and writes (``burst-*.json``, ``burst-*.md`` in ``--out``) the
median and worst time of each, the burst's ratio to the floor measured in the
same run, the time of each phase and of the collector, and, with two sizes,
how the burst grows from one to the next.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.run import BASE_DIR, REDIS_BROKER_URL, Case, Databases, child

BROKERS = {
    "redis": REDIS_BROKER_URL,
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
    "memory": "memory://",
}


@dataclass(frozen=True)
class Variant:
    """A floor or a burst, on one broker."""

    kind: str  # "floor" or "burst"
    broker: str  # a key of BROKERS, or "count" (the burst publishes nowhere)

    @property
    def label(self) -> str:
        if self.kind == "floor":
            return f"floor, {self.broker}"
        where = "counted only" if self.broker == "count" else f"to {self.broker}"
        return f"burst {where}"


def variants(brokers: list[str]) -> list[Variant]:
    chosen: list[Variant] = []
    for broker in brokers:
        if broker != "memory":
            chosen.append(Variant("floor", broker))
        chosen.append(Variant("burst", broker))
    chosen.append(Variant("burst", "count"))
    return chosen


def run_once(variant: Variant, n: int, databases: Databases, out: Path) -> dict[str, Any]:
    url = databases.fresh(f"burst-{variant.kind}-{variant.broker}-{n}")
    broker = BROKERS.get(variant.broker, "memory://")
    env = {**os.environ, "BENCH_DATABASE_URL": url, "BENCH_BROKER_URL": broker}
    env["PYTHONHASHSEED"] = "0"
    publish = {"count": "count", "memory": "memory"}.get(variant.broker, "broker")
    case = Case("djag", variant.kind, n, publish=publish)
    try:
        child("prepare", case, env, [], timeout=3600)
        return child("measure", case, env, [], timeout=3600)
    finally:
        databases.drop(url)


# -- the report -----------------------------------------------------------------------------


def stat(runs: list[dict], key: str) -> tuple[float, float] | None:
    values = [run[key] for run in runs if run.get(key) is not None]
    if not values:
        return None
    return statistics.median(values), max(values)


def table(results: dict[str, dict[str, list[dict]]], sizes: list[int], chosen: list[Variant]):
    lines = [
        "| N | variant | median s | worst s | / floor | claim s | publish s | mark sent s "
        "| decide + rest s | gc s (collections gen 0/1/2) | publish again s |",
        "|" + "---|" * 11,
    ]
    for n in sizes:
        for variant in chosen:
            runs = results[str(n)].get(variant.label, [])
            main = stat(runs, "floor_s" if variant.kind == "floor" else "burst_s")
            if main is None:
                continue
            ratio = "-"
            floor = stat(results[str(n)].get(f"floor, {variant.broker}", []), "floor_s")
            if variant.kind == "burst" and floor:
                ratio = f"{main[0] / floor[0]:.1f}"
            if variant.kind == "floor":
                parts = [stat(runs, "ledger_s"), stat(runs, "broker_s")]
                detail = ["ledger " + _s(parts[0]), "broker " + _s(parts[1]), "", "", "", ""]
            else:
                gc_counts = runs[len(runs) // 2].get("gc_collections", [])
                detail = [_s(stat(runs, key)) for key in ("claim_s", "publish_s", "mark_sent_s")]
                detail += [_s(stat(runs, "decide_and_rest_s"))]
                detail += [f"{_s(stat(runs, 'gc_s'))} ({'/'.join(map(str, gc_counts))})"]
                detail += [_s(stat(runs, "publish_again_s"))]
            row = [f"{n:,}", variant.label, f"{main[0]:.3f}", f"{main[1]:.3f}", ratio, *detail]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _s(value: tuple[float, float] | None) -> str:
    return "-" if value is None else f"{value[0]:.3f}"


def growth(results: dict[str, dict[str, list[dict]]], sizes: list[int], chosen: list[Variant]):
    if len(sizes) < 2:
        return ""
    small, large = sizes[0], sizes[-1]
    lines = [f"Growth from N={small:,} to N={large:,} (x{large // small}, medians):"]
    for variant in chosen:
        a = stat(results[str(small)].get(variant.label, []), "burst_s")
        b = stat(results[str(large)].get(variant.label, []), "burst_s")
        if variant.kind == "burst" and a and b:
            lines.append(f"- {variant.label}: x{b[0] / a[0]:.1f}")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run burst", description=__doc__)
    parser.add_argument("--sizes", default="10000")
    parser.add_argument("--brokers", default="redis,rabbitmq,memory")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--pg-url", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1/postgres")
    )
    parser.add_argument("--out", type=Path, default=BASE_DIR / "var" / "bench")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]
    brokers = [b for b in args.brokers.split(",") if b]
    chosen = variants(brokers)
    args.out.mkdir(parents=True, exist_ok=True)
    databases = Databases(args.db, args.out, args.pg_url)
    results: dict[str, dict[str, list[dict]]] = {str(n): {} for n in sizes}
    started = time.monotonic()
    for rep in range(args.repeat):
        for n in sizes:
            for variant in chosen:
                result = run_once(variant, n, databases, args.out)
                results[str(n)].setdefault(variant.label, []).append(result)
                figure = result.get("burst_s", result.get("floor_s"))
                where = f"[{rep + 1}/{args.repeat}] N={n:,} {variant.label}"
                print(f"{where}: {figure:.3f} s", flush=True)
    text = table(results, sizes, chosen) + "\n\n" + growth(results, sizes, chosen)
    command = "python -m bench.run burst " + " ".join(argv)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"burst-{args.db}-{'_'.join(map(str, sizes))}-{stamp}"
    record = {"command": command, "results": results, "table": text}
    record["wall_s"] = time.monotonic() - started
    (args.out / f"{name}.json").write_text(json.dumps(record, indent=1))
    (args.out / f"{name}.md").write_text(f"`{command}`\n\n{text}\n")
    print(f"\n`{command}`\n\n{text}\n\nwritten to {args.out}/{name}.*")


if __name__ == "__main__":
    main(sys.argv[1:])
