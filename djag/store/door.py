"""``Store``: beat's one door to the database, over the store's modules.

Beat holds a ``Store`` and calls nothing else that touches the database; the
methods are the store's functions bound to one database alias. Tests of the
beat side pass a fake with the same methods (``djag.beat.ports.StorePort``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from django.db import connections

from djag.core.alerts import AlertKind
from djag.core.dag import Edge, RunMarks
from djag.core.requested import Requested
from djag.store import alerts, checkpoints, feed, history, ledger, schedule
from djag.store.db import default_database
from djag.store.rows import (
    ActiveRun,
    Activity,
    AlertHistory,
    ClaimedRun,
    CrontabRow,
    Fence,
    FinishedRun,
    NewRun,
    RunDetail,
    TaskRow,
)


class Store:
    def __init__(self, using: str | None = None) -> None:
        self.using = using or default_database()

    def close(self) -> None:
        """Drop the connection; the next query opens a fresh one (used after errors)."""
        connections[self.using].close()

    # -- schedule ---------------------------------------------------------------

    def load_crontabs(self, ids: Iterable[int] | None = None) -> dict[int, CrontabRow]:
        return schedule.load_crontabs(self.using, ids)

    def load_tasks(
        self, ids: Iterable[int] | None = None, crontab_ids: Iterable[int] | None = None
    ) -> list[TaskRow]:
        return schedule.load_tasks(self.using, ids, crontab_ids)

    def load_edges(self, dependers: Sequence[int] | None = None) -> dict[int, list[Edge]]:
        return schedule.load_edges(self.using, dependers)

    def change_cursor(self) -> int:
        return feed.change_cursor(self.using)

    def change_rows(
        self, after: int, gaps: Iterable[tuple[int, int]]
    ) -> list[tuple[int, str, int | None]]:
        return feed.change_rows(self.using, after, gaps)

    def save_checkpoints(self, last_events: dict[int, int], now: float) -> None:
        checkpoints.save_checkpoints(self.using, last_events, now)

    def checkpoint_time(self) -> dt.datetime | None:
        return checkpoints.checkpoint_time(self.using)

    def set_problem(self, task_id: int, problem: str) -> None:
        schedule.set_problem(self.using, task_id, problem)

    def disable_exhausted(self, task_id: int) -> None:
        schedule.disable_exhausted(self.using, task_id)

    # -- alerts -------------------------------------------------------------------

    def alert_history(self, task_id: int, newest: int) -> AlertHistory:
        return alerts.alert_history(self.using, task_id, newest)

    def record_alerts(
        self,
        task_id: int,
        tripped: frozenset[AlertKind],
        note: str,
        now: float,
        pause: str | None = None,
    ) -> bool:
        return alerts.record_alerts(self.using, task_id, tripped, note, now, pause)

    # -- run history ------------------------------------------------------------

    def activity(self) -> Activity:
        return history.activity(self.using)

    def last_events(
        self, since: dt.datetime | None, task_ids: Sequence[int] | None = None
    ) -> dict[int, int]:
        return history.last_events(self.using, since, task_ids)

    def scheduled_run_counts(self, task_ids: Sequence[int]) -> dict[int, int]:
        return history.scheduled_run_counts(self.using, task_ids)

    def run_marks(self, task_ids: Sequence[int]) -> dict[int, RunMarks]:
        return history.run_marks(self.using, task_ids)

    def active_runs(self) -> list[ActiveRun]:
        return history.active_runs(self.using)

    def finished_runs(self, run_ids: Sequence[int]) -> list[FinishedRun]:
        return history.finished_runs(self.using, run_ids)

    def requested_runs(
        self, now: float, limit: int, per_task: int
    ) -> tuple[list[Requested], float | None]:
        return history.requested_runs(self.using, now, limit, per_task)

    def run_details(self, run_ids: Sequence[int]) -> dict[int, RunDetail]:
        return history.run_details(self.using, run_ids)

    # -- ledger writes ----------------------------------------------------------

    def claim(
        self, new_runs: Sequence[NewRun], now: float, fence: Fence | None = None
    ) -> list[ClaimedRun]:
        return ledger.claim(self.using, new_runs, now, fence)

    def mark_sent(self, run_ids: Sequence[int], now: float) -> int:
        return ledger.mark_sent(self.using, run_ids, now)

    def mark_lost(self, run_ids: Sequence[int], now: float) -> int:
        return ledger.mark_lost(self.using, run_ids, now)

    def claim_waiting(
        self, run_ids: Sequence[int], now: float, fence: Fence | None = None
    ) -> list[ClaimedRun]:
        return ledger.claim_waiting(self.using, run_ids, now, fence)

    def cancel(self, run_ids: Sequence[int], now: float, by: str, why: str) -> list[int]:
        return ledger.cancel(self.using, run_ids, now, by, why)
