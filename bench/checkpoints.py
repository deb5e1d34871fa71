"""Saving N checkpoints (``sync()``), three ways: ``python -m bench.run checkpoints``.

- **djag**: ``Store.save_checkpoints``, one transaction (PostgreSQL: one
  ``UPDATE ... FROM unnest(ids, instants)``; SQLite: an ``executemany`` of one
  ``UPDATE`` per task; MariaDB: ``CASE id WHEN ...`` per 2,000 tasks);
- **one UPDATE per task, one transaction**: an ``executemany`` of
  ``UPDATE ... WHERE id = %s`` inside ``transaction.atomic()``;
- **bulk UPDATE, one transaction**: one ``WITH v AS (VALUES ...) UPDATE ... FROM v`` per
  1,000 tasks (PostgreSQL, and SQLite 3.33 or later), or ``CASE id WHEN ...``
  where ``UPDATE ... FROM`` is missing (MariaDB).

Each turn saves a new checkpoint for all N tasks of a fresh database, the
variants taking turns.
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

    from djag.models import Crontab, PeriodicTask
    from djag.store.db import from_epoch
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
    column = quote("last_event_at")
    adapt = connection.ops.adapt_datetimefield_value

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
        "djag (Store.save_checkpoints)": (
            prepare,
            lambda: store.save_checkpoints(checkpoints, event[0]),
        ),
        "one UPDATE per task, one transaction": (prepare, one_transaction),
        "bulk UPDATE, one transaction": (prepare, bulk_update),
    }
    figures = interleaved(variants, repeat)
    saved = PeriodicTask.objects.filter(last_event_at=from_epoch(event[0])).count()
    assert saved == n, f"{saved} of {n} checkpoints saved by the last variant"
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
