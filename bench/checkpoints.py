"""Saving N checkpoints (``sync()``), four ways: ``python -m bench.run checkpoints``.

- **djag**: ``Store.save_checkpoints`` (``djag.store.checkpoints``), one
  transaction, into the narrow ``TaskCheckpoint`` rows (PostgreSQL: one
  ``UPDATE``/``INSERT`` from ``unnest(ids, epochs)``; SQLite: an ``executemany``
  of one upsert per task; MariaDB: ``INSERT ... SELECT ... ON DUPLICATE KEY
  UPDATE`` per 2,000 tasks);
- **the wide task row, as before 0008**: the statement djag used until the
  checkpoints had their own table (PostgreSQL ``UPDATE ... FROM unnest(ids,
  epochs)`` with ``to_timestamp``, SQLite an ``executemany`` of one ``UPDATE``
  per task, MariaDB ``CASE id WHEN ...``), writing the task row's
  ``problem_at`` (a datetime that no index holds, as ``last_event_at`` was):
  the same row versions and index entries as the old checkpoint write;
- **one UPDATE per task, one transaction** and **bulk UPDATE, one
  transaction** (one ``WITH v AS (VALUES ...) UPDATE ... FROM v`` per 1,000
  tasks, or ``CASE id WHEN ...`` on MariaDB), on the same wide-row column.

Each turn saves a new checkpoint for all N tasks of a fresh database, the
variants taking turns (djag's first turn inserts the N rows, later turns
update them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench.dbsuite import fresh_django, in_children, interleaved, write
from bench.run import BASE_DIR

ROWS_PER_STATEMENT = 1000


def measure(n: int, repeat: int) -> dict[str, Any]:
    from django.db import connection, transaction

    from djag.models import Crontab, PeriodicTask, TaskCheckpoint
    from djag.store.db import db_datetime, from_epoch
    from djag.store.door import Store

    crontab = Crontab.objects.create(minute="*")
    PeriodicTask.objects.bulk_create(
        [PeriodicTask(name=f"t{i}", task="bench.noop", crontab=crontab) for i in range(n)],
        batch_size=2000,
    )
    ids = list(PeriodicTask.objects.values_list("pk", flat=True))
    store = Store()
    event = [1_800_000_000]
    checkpoints: dict[int, int] = {}

    def prepare() -> None:
        event[0] += 60
        checkpoints.clear()
        checkpoints.update(dict.fromkeys(ids, event[0]))

    quote = connection.ops.quote_name
    table = quote(PeriodicTask._meta.db_table)
    column = quote("problem_at")
    adapt = connection.ops.adapt_datetimefield_value
    djag_event = [0]

    def djag() -> None:
        djag_event[0] = event[0]
        store.save_checkpoints(checkpoints, event[0])

    def wide_row_before() -> None:
        events = sorted(checkpoints.items())
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"UPDATE {table} SET {column} = to_timestamp(v.at)"
                    " FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, at)"
                    f" WHERE {table}.id = v.id",
                    [[i for i, _ in events], [at for _, at in events]],
                )
                return
            rows = [(i, db_datetime("default", from_epoch(at))) for i, at in events]
            if connection.vendor != "mysql":
                cursor.executemany(
                    f"UPDATE {table} SET {column} = %s WHERE id = %s", [(at, i) for i, at in rows]
                )
                return
            for start in range(0, len(rows), 2000):
                chunk = rows[start : start + 2000]
                cases = " ".join(["WHEN %s THEN %s"] * len(chunk))
                ids_in = ", ".join(["%s"] * len(chunk))
                cursor.execute(
                    f"UPDATE {table} SET {column} = CASE id {cases} END WHERE id IN ({ids_in})",
                    [v for row in chunk for v in row] + [i for i, _ in chunk],
                )

    def one_transaction() -> None:
        rows = [(adapt(from_epoch(at)), task_id) for task_id, at in checkpoints.items()]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(f"UPDATE {table} SET {column} = %s WHERE id = %s", rows)

    def bulk_update() -> None:
        rows = [(task_id, adapt(from_epoch(at))) for task_id, at in checkpoints.items()]
        with transaction.atomic(), connection.cursor() as cursor:
            for start in range(0, len(rows), ROWS_PER_STATEMENT):
                chunk = rows[start : start + ROWS_PER_STATEMENT]
                params = [value for row in chunk for value in row]
                if connection.vendor == "mysql":
                    cases = " ".join(["WHEN %s THEN %s"] * len(chunk))
                    ids_in = ", ".join(["%s"] * len(chunk))
                    cursor.execute(
                        f"UPDATE {table} SET {column} = CASE id {cases} END WHERE id IN ({ids_in})",
                        params + [task_id for task_id, _ in chunk],
                    )
                    continue
                cast = "::timestamptz" if connection.vendor == "postgresql" else ""
                values = ", ".join([f"(%s, %s{cast})"] * len(chunk))
                cursor.execute(
                    f"WITH v(id, at) AS (VALUES {values}) "
                    f"UPDATE {table} SET {column} = v.at FROM v WHERE {table}.id = v.id",
                    params,
                )

    variants = {
        "djag (Store.save_checkpoints)": (prepare, djag),
        "the wide task row, as before 0008": (prepare, wide_row_before),
        "one UPDATE per task, one transaction": (prepare, one_transaction),
        "bulk UPDATE, one transaction": (prepare, bulk_update),
    }
    figures = interleaved(variants, repeat)
    saved = TaskCheckpoint.objects.filter(handled_through=djag_event[0]).count()
    assert saved == n, f"{saved} of {n} checkpoints saved by djag's last turn"
    return {"vendor": connection.vendor, "figures": figures}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run checkpoints", description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dbs", default="sqlite,postgres")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(BASE_DIR / "var" / "bench"))
    args = parser.parse_args(argv)
    if args.one:
        fresh_django(args.one, f"checkpoints-{args.n}")
        print(json.dumps(measure(args.n, args.repeat)))
        return
    lines = ["| N | database | variant | median s | worst s |", "|---|---|---|---|---|"]
    results = {}
    for n in [int(s) for s in args.sizes.split(",")]:
        inner = ["--n", str(n), "--repeat", str(args.repeat)]
        results[n] = in_children("bench.checkpoints", args.dbs.split(","), inner)
        for db, result in results[n].items():
            for name, figure in result["figures"].items():
                lines.append(
                    f"| {n:,} | {db} | {name} | {figure['median_s']:.3f} | "
                    f"{figure['worst_s']:.3f} |"
                )
    command = "python -m bench.run checkpoints " + " ".join(argv)
    write(Path(args.out), "checkpoints", command, "\n".join(lines), results)


if __name__ == "__main__":
    main(sys.argv[1:])
