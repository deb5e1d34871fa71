"""The engine's parts on their own: the due queue, the run book and the outbox."""

from __future__ import annotations

from collections.abc import Sequence

from djag.beat.due import DueQueue
from djag.beat.outbox import Dispatch, Outbox
from djag.beat.runbook import RunBook
from djag.core.vocab import RunState
from djag.store.rows import ActiveRun, ClaimedRun, FinishedRun


def test_due_queue_pops_due_tasks_in_order_and_skips_replaced_entries() -> None:
    due = DueQueue()
    due.push(1, 30)
    due.push(2, 10)
    due.push(1, 20)  # replaces 1's entry at 30
    due.push(3, 40)
    due.forget(3)
    assert due.next_due() == 10
    assert due.pop_due(25) == [2, 1]
    assert due.pop_due(100) == []
    assert len(due) == 0


def test_due_queue_compacts_stale_entries() -> None:
    due = DueQueue()
    for due_at in range(1000):
        due.push(7, due_at)  # 999 stale entries behind the live one
    assert len(due._heap) <= 2 * len(due) + 64 + 1
    assert due.pop_due(10_000) == [7]


def claimed(run_id: int, task_id: int, at: float) -> ClaimedRun:
    return ClaimedRun(run_id, task_id, f"c{run_id}", at)


def test_run_book_counts_active_runs_per_task_as_they_come_and_go() -> None:
    book = RunBook()
    book.track_claims([claimed(1, 10, 0.0), claimed(2, 10, 0.0), claimed(3, 11, 0.0)], lambda t: 60)
    assert (book.active_count(10), book.active_count(11)) == (2, 1)
    current = [ActiveRun(2, 10, RunState.STARTED, "c2", 0.0, 1.0)]
    gone = book.missing_from(current)
    assert sorted(gone) == [1, 3]
    changed = book.refresh(
        current, [FinishedRun(1, 10, RunState.SUCCESS, 5.0), FinishedRun(3, 11, "lost", 6.0)], 7.0
    )
    assert changed == {10, 11}
    assert (book.active_count(10), book.active_count(11)) == (1, 0)
    assert book.marks_of(10).last_success == 5.0
    assert book.marks_of(11).last_finish == 6.0
    assert book.marks_of(11).last_success is None


def test_run_book_expires_runs_past_their_timeout_and_scans_only_when_one_may_be() -> None:
    book = RunBook()
    book.track_claims([claimed(1, 10, 0.0), claimed(2, 11, 50.0)], lambda t: 100)
    assert book.expire(100.0, lambda t: 100) == []  # not past the deadline yet
    assert book.next_expiry == 100.0
    [lost] = book.expire(100.5, lambda t: 100)
    assert lost.id == 1
    assert book.active_count(10) == 0
    assert book.marks_of(10).last_finish == 100.5
    assert book.expire(120.0, lambda t: 100) == []  # next deadline: 150


def dispatch(run_id: int) -> Dispatch:
    return Dispatch(run_id, f"c{run_id}", 1, "t", [], {}, {})


def test_outbox_keeps_what_the_broker_refused_and_retries_later() -> None:
    refusing = {2}

    def publish(batch: Sequence[Dispatch]) -> list[tuple[Dispatch, Exception]]:
        return [(d, ConnectionError("down")) for d in batch if d.run_id in refusing]

    outbox = Outbox(publish)
    assert outbox.send([dispatch(1), dispatch(2)], now=10.0) == [1]
    assert 2 in outbox
    assert not outbox.retry_due(10.0 + Outbox.RETRY_SECONDS - 1)
    refusing.clear()
    assert outbox.retry_due(10.0 + Outbox.RETRY_SECONDS)
    assert outbox.resend(10.0 + Outbox.RETRY_SECONDS) == [2]
    assert 2 not in outbox
