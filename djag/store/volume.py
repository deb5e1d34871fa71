"""How big the run ledger is: the admin shows it, so that a growing ledger is seen before it
hurts (see ``keep_history`` and ``djag_prune``).

``COUNT(*)`` reads the whole table on PostgreSQL and InnoDB, which takes seconds on tens of
millions of rows; their statistics already hold an estimate. So the total is the server's
estimate when it says the table is big, and an exact count otherwise (and on SQLite).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connections

from djag.models import TaskRun

#: Below this many rows (by the estimate), the exact count is cheap enough to give instead.
EXACT_BELOW = 100_000

_ESTIMATES = {
    # reltuples is -1 (PostgreSQL 14+) or 0 for a table never vacuumed or analyzed.
    "postgresql": "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
    "mysql": "SELECT table_rows FROM information_schema.tables "
    "WHERE table_schema = DATABASE() AND table_name = %s",
}


@dataclass(frozen=True)
class LedgerSize:
    rows: int
    estimated: bool  # True: the server's statistics, not a count

    def text(self) -> str:
        if self.estimated:
            return f"about {self.rows:,} runs (the database's estimate)"
        return f"{self.rows:,} run{'' if self.rows == 1 else 's'}"


def ledger_size(using: str = "default") -> LedgerSize:
    """The number of TaskRun rows: estimated when the table is big, else counted."""
    connection = connections[using]
    query = _ESTIMATES.get(connection.vendor)
    if query is not None:
        with connection.cursor() as cursor:
            cursor.execute(query, [TaskRun._meta.db_table])
            row = cursor.fetchone()
        estimate = int(row[0]) if row and row[0] is not None else 0
        if estimate >= EXACT_BELOW:
            return LedgerSize(estimate, estimated=True)
    return LedgerSize(TaskRun.objects.using(using).count(), estimated=False)


def task_run_count(task_id: int, using: str = "default") -> int:
    """The rows of one task (an index range: cheap even on a big ledger)."""
    return TaskRun.objects.using(using).filter(periodic_task_id=task_id).count()
