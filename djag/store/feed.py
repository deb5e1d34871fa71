"""The change feed: which ScheduleChange rows beat has not applied yet."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db.models import Max, Q

from djag.models import ScheduleChange
from djag.store.rows import ChangeBatch

#: (id, model, object id) of the changes above an id or inside id ranges.
ReadChanges = Callable[[int, list[tuple[int, int]]], list[tuple[int, str, int | None]]]


def change_cursor(using: str) -> int:
    """The id of the newest ScheduleChange: loading starts from here."""
    newest = ScheduleChange.objects.using(using).aggregate(newest=Max("id"))["newest"]
    return newest or 0


def change_rows(
    using: str, after: int, gaps: Iterable[tuple[int, int]]
) -> list[tuple[int, str, int | None]]:
    """(id, model, object id) of changes with an id above ``after`` or in a gap range."""
    condition = Q(id__gt=after)
    for first, last in gaps:
        condition |= Q(id__range=(first, last))
    return list(
        ScheduleChange.objects.using(using)
        .filter(condition)
        .order_by("id")
        .values_list("id", "model", "object_id")
    )


class ChangeFeed:
    """Reads each ScheduleChange row once, in spite of ids that commit out of order.

    On PostgreSQL and MariaDB a transaction can take id 10, another id 11 and
    commit first: reading "id > 11" afterwards would miss 10 for ever. So the
    ids skipped over are remembered as ranges and asked for again until
    ``GAP_SECONDS`` pass (a rolled-back transaction leaves its ids unused).
    """

    GAP_SECONDS = 300.0

    def __init__(self, read_changes: ReadChanges, newest_read: int) -> None:
        self.read_changes = read_changes
        self.newest_read = newest_read
        self.gaps: list[tuple[int, int, float]] = []  # (first id, last id, noticed at)
        self.read_in_gaps: set[int] = set()

    def read(self, now: float) -> ChangeBatch:
        self.gaps = [gap for gap in self.gaps if now - gap[2] <= self.GAP_SECONDS]
        self.read_in_gaps = {
            i for i in self.read_in_gaps if any(lo <= i <= hi for lo, hi, _ in self.gaps)
        }
        rows = [
            row
            for row in self.read_changes(self.newest_read, [(lo, hi) for lo, hi, _ in self.gaps])
            if row[0] not in self.read_in_gaps
        ]
        expected = self.newest_read + 1
        for change_id, _, _ in rows:
            if change_id <= self.newest_read:
                self.read_in_gaps.add(change_id)
                continue
            if change_id > expected:
                self.gaps.append((expected, change_id - 1, now))
            expected = change_id + 1
        self.newest_read = expected - 1
        return ChangeBatch(
            crontabs=frozenset(o for _, m, o in rows if m == ScheduleChange.Kind.CRONTAB and o),
            tasks=frozenset(o for _, m, o in rows if m == ScheduleChange.Kind.TASK and o),
            edges_changed=any(m == ScheduleChange.Kind.DEPENDENCY for _, m, _ in rows),
            reload_all=any(o is None for _, _, o in rows),
        )
