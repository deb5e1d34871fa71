"""Claiming N runs, three ways: ``python -m bench.run claims --n 10000 --dbs postgres,sqlite``.

- **djag**: ``Store.claim``, one ``INSERT ... VALUES (...), (...), ...`` per
  1,000 rows (PostgreSQL: one ``INSERT ... SELECT * FROM UNNEST(arrays)`` per
  2,000), ``ON CONFLICT DO NOTHING`` and, where the database has it
  (PostgreSQL, SQLite), ``RETURNING``: no SELECT after;
- **one row a statement**: djag's claim before, one ``executemany`` of the
  claim's INSERT per 2,000 rows (with psycopg 3, a pipelined batch; with
  psycopg2, one round trip per row), then a SELECT of the ids won by their
  Celery task ids;
- **bulk_create**: ``TaskRun.objects.bulk_create(ignore_conflicts=True)`` of
  model instances, then the same SELECT as djag.

Every variant writes the same rows (one per task, N tasks) on a fresh
database, the variants taking turns; the table is never emptied between
turns by the measured code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from bench.dbsuite import fresh_django, in_children, interleaved, write
from bench.run import BASE_DIR


def measure(n: int, repeat: int) -> dict[str, Any]:
    from django.db import connection, transaction
    from django.db.models.constants import OnConflict

    from djag.models import Crontab, PeriodicTask, TaskRun
    from djag.store.db import from_epoch
    from djag.store.door import Store
    from djag.store.ledger import CLAIM_FIELDS, new_celery_task_id
    from djag.store.rows import NewRun

    crontab = Crontab.objects.create(minute="*")
    PeriodicTask.objects.bulk_create(
        [PeriodicTask(name=f"t{i}", task="bench.noop", crontab=crontab) for i in range(n)],
        batch_size=2000,
    )
    tasks = list(PeriodicTask.objects.values_list("pk", "name", "task"))
    store = Store()
    slot = [1_800_000_000]  # a new scheduled_for per turn: every row is a new slot

    def new_runs() -> list[NewRun]:
        slot[0] += 60
        return [NewRun(pk, name, task, slot[0], "schedule") for pk, name, task in tasks]

    pending: list[Sequence[NewRun]] = []

    def prepare() -> None:
        TaskRun.objects.all().delete()
        pending[:] = [new_runs()]

    ops = connection.ops
    fields = {field.name: field for field in TaskRun._meta.concrete_fields}
    columns = [fields[name] for name in CLAIM_FIELDS]
    returning = connection.features.can_return_rows_from_bulk_insert

    def one_row_a_statement() -> None:
        """djag's claim before multi-row statements: an executemany of the INSERT, then a
        SELECT of the rows won by their Celery task ids."""
        at = ops.adapt_datetimefield_value(from_epoch(1_800_000_000))
        rows = [
            (
                *(run.task_id, run.task_name, run.task),
                ops.adapt_datetimefield_value(from_epoch(run.scheduled_for or 0)),
                *(run.trigger, "claimed", new_celery_task_id(), at, None, 1, "", "", "", 0, ""),
            )
            for run in pending[0]
        ]
        sql = " ".join(
            part
            for part in (
                ops.insert_statement(on_conflict=OnConflict.IGNORE),
                ops.quote_name(TaskRun._meta.db_table),
                f"({', '.join(ops.quote_name(field.column) for field in columns)})",
                f"VALUES ({', '.join(['%s'] * len(columns))})",
                ops.on_conflict_suffix_sql(columns, OnConflict.IGNORE, None, None),
            )
            if part
        )
        with transaction.atomic(), connection.cursor() as cursor:
            for start in range(0, len(rows), 2000):
                cursor.executemany(sql, rows[start : start + 2000])
        _select_won([row[6] for row in rows])

    def bulk_create() -> None:
        now = from_epoch(1_800_000_000)
        objects = [
            TaskRun(
                periodic_task_id=run.task_id,
                task_name=run.task_name,
                task=run.task,
                scheduled_for=from_epoch(run.scheduled_for or 0),
                trigger=run.trigger,
                state="claimed",
                celery_task_id=new_celery_task_id(),
                claimed_at=now,
            )
            for run in pending[0]
        ]
        TaskRun.objects.bulk_create(objects, batch_size=2000, ignore_conflicts=True)
        _select_won([o.celery_task_id for o in objects])

    def _select_won(ids: list[str]) -> None:
        for start in range(0, len(ids), 2000):
            list(
                TaskRun.objects.filter(celery_task_id__in=ids[start : start + 2000]).values_list(
                    "id", "periodic_task_id", "celery_task_id"
                )
            )

    statement = "UNNEST" if connection.vendor == "postgresql" else "multi-row VALUES"
    statement += " + RETURNING" if returning else " + SELECT"
    variants: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
        f"djag (Store.claim: {statement})": (
            prepare,
            lambda: store.claim(pending[0], 1_800_000_000.0),
        ),
        "one row a statement (executemany) + SELECT": (prepare, one_row_a_statement),
        "bulk_create + SELECT": (prepare, bulk_create),
    }
    figures = interleaved(variants, repeat)
    return {"vendor": connection.vendor, "driver": _driver(connection), "figures": figures}


def _driver(connection: Any) -> str:
    if connection.vendor == "postgresql":
        import psycopg

        return f"psycopg {psycopg.__version__}"
    if connection.vendor == "sqlite":
        import sqlite3

        return f"sqlite3 {sqlite3.sqlite_version}"
    return connection.vendor


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run claims", description=__doc__)
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dbs", default="postgres,sqlite")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(BASE_DIR / "var" / "bench"))
    args = parser.parse_args(argv)
    if args.one:
        fresh_django(args.one, "claims")
        import json

        print(json.dumps(measure(args.n, args.repeat)))
        return
    inner = ["--n", str(args.n), "--repeat", str(args.repeat)]
    results = in_children("bench.claims", args.dbs.split(","), inner)
    lines = ["| database | variant | median s | worst s |", "|---|---|---|---|"]
    for db, result in results.items():
        for name, figure in result["figures"].items():
            lines.append(
                f"| {db} ({result['driver']}) | {name} | {figure['median_s']:.3f} | "
                f"{figure['worst_s']:.3f} |"
            )
    command = "python -m bench.run claims " + " ".join(argv)
    from pathlib import Path

    write(Path(args.out), f"claims-{args.n}", command, "\n".join(lines), results)


if __name__ == "__main__":
    main(sys.argv[1:])
