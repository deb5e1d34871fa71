"""What the database suites share: one child process per database, and a timing helper.

Django is set up once per process, so ``python -m bench.run claims --dbs
sqlite,postgres`` runs ``python -m bench.claims --one sqlite`` and then
``--one postgres``, each on a fresh database, and gathers the JSON they print.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.run import BASE_DIR, Databases

PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def in_children(module: str, dbs: list[str], argv: list[str]) -> dict[str, Any]:
    """Run ``python -m module --one DB argv...`` per database; their JSON figures by database."""
    figures = {}
    for db in dbs:
        command = [sys.executable, "-m", module, "--one", db, *argv]
        done = subprocess.run(
            command, cwd=BASE_DIR, capture_output=True, text=True, timeout=3600, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command[2:])} failed:\n{done.stderr[-3000:]}")
        figures[db] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def fresh_django(db: str, name: str, broker: str = "memory://") -> None:
    """Point the benchmark settings at a fresh database, set Django up, migrate."""
    use_django(Databases(db, BASE_DIR / "var" / "bench", PG_URL).fresh(name), broker)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)


def use_django(url: str, broker: str = "memory://") -> None:
    """Point the benchmark settings at the database ``url`` as it is, and set Django up."""
    os.environ["BENCH_DATABASE_URL"] = url
    os.environ["BENCH_BROKER_URL"] = broker
    from bench import celery_app  # noqa: F401  (sets Django up)


Variant = tuple[Callable[[], Any], Callable[[], Any]]  # (prepare, measured)


def interleaved(variants: dict[str, Variant], repeat: int) -> dict[str, dict[str, Any]]:
    """Median and worst wall time of each variant's measured call, the variants taking turns."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeat):
        for name, (prepare, measured) in variants.items():
            prepare()
            started = time.perf_counter()
            measured()
            times[name].append(time.perf_counter() - started)
    return {
        name: {"median_s": statistics.median(runs), "worst_s": max(runs), "runs_s": runs}
        for name, runs in times.items()
    }


def write(out: Path, name: str, command: str, text: str, figures: Any) -> None:
    out.mkdir(parents=True, exist_ok=True)
    record = {"command": command, "figures": figures, "table": text}
    (out / f"{name}.json").write_text(json.dumps(record, indent=1))
    (out / f"{name}.md").write_text(f"`{command}`\n\n{text}\n")
    print(f"`{command}`\n\n{text}\n\nwritten to {out}/{name}.*")
