"""Fenced claims and liveness, with DjagScheduler in-process on the real database.

Two schedulers share the test database, each with its own injected clock. The defects:
a leader whose lease was taken over while it was frozen (or whose clock runs behind)
still claimed, so two leaders could both insert a coalesced run for the same events;
and ``djag_status --max-lag`` said "Alive" while the leader renewed its lease but could
not load or tick.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
import time
from collections.abc import Sequence

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections

from djag.beat.outbox import Dispatch
from djag.models import Crontab, PeriodicTask, SchedulerLease, TaskRun
from djag.scheduler import DjagScheduler
from djag.store import lease as lease_rows
from djag.store import ledger
from djag.store.db import default_database
from djag.store.lease import Deposed, fenced
from djag.store.rows import Fence, NewRun
from sample_site.celery import app

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC).timestamp()
LEASE = 10.0  # DJAG_LEASE_SECONDS' default


class Beat:
    """A DjagScheduler with a clock of its own and a recording publisher."""

    def __init__(self) -> None:
        self.now = T0
        self.sent: list[Dispatch] = []
        self.scheduler = DjagScheduler(app=app, lazy=True)
        self.scheduler.clock = lambda: self.now  # type: ignore[method-assign]
        self.scheduler.engine.publish = self.publish

    def publish(self, dispatches: Sequence[Dispatch]) -> list[tuple[Dispatch, Exception]]:
        self.sent.extend(dispatches)
        return []

    def tick_at(self, seconds: float) -> float:
        self.now = T0 + seconds
        return self.scheduler.tick()


@pytest.fixture
def every_second() -> PeriodicTask:
    crontab, _ = Crontab.objects.get_or_create(second="*", minute="*", hour="*")
    return PeriodicTask.objects.create(
        name="tick",
        task="tests.append_line",
        crontab=crontab,
        start_at=dt.datetime.fromtimestamp(T0, dt.UTC),
        max_running=0,
    )


def test_a_leader_whose_clock_lags_claims_nothing_once_deposed(every_second) -> None:
    a, b = Beat(), Beat()
    a.tick_at(1.5)  # a leads and claims 12:00:01
    assert a.scheduler.lease.leading
    assert len(a.sent) == 1

    b.tick_at(LEASE + 3)  # a's lease ran out on b's clock: b takes over, coalesces 2..13
    assert b.scheduler.lease.leading
    assert SchedulerLease.objects.get().generation == 2

    # a's clock says 12:00:03: not yet time to renew, so a believes it still leads.
    a.tick_at(3.5)
    assert not a.scheduler.lease.leading  # its fenced claim found b's generation: it stood by
    assert len(a.sent) == 1

    runs = list(TaskRun.objects.order_by("scheduled_for"))
    assert {run.celery_task_id for run in runs} == {d.celery_task_id for d in a.sent + b.sent}
    # Each of the 13 events is in the ledger once, as a run or inside a coalesced one.
    assert sum(run.coalesced_count for run in runs) == 13


def test_the_claim_checks_the_lease_in_its_own_transaction(every_second) -> None:
    using = default_database()
    SchedulerLease.objects.create(name="default", holder="beat-b", generation=2)
    run = NewRun(every_second.pk, "tick", "tests.append_line", int(T0) + 1, "schedule")
    with pytest.raises(Deposed, match="beat-a no longer holds the lease"):
        ledger.claim(using, [run], T0 + 1, Fence("default", "beat-a", 1))
    assert not TaskRun.objects.exists()
    won = ledger.claim(using, [run], T0 + 1, Fence("default", "beat-b", 2))
    assert [claimed.task_id for claimed in won] == [every_second.pk]


def probe(at: float) -> tuple[int, str]:
    """``djag_status --max-lag 30`` at T0 + ``at``: (exit code, what it said)."""
    out = io.StringIO()
    moment = dt.datetime.fromtimestamp(T0 + at, dt.UTC).isoformat()
    try:
        call_command("djag_status", "--max-lag", "30", "--now", moment, stdout=out)
    except CommandError as exc:
        return exc.returncode, str(exc)
    return 0, out.getvalue().splitlines()[-1]


@pytest.mark.django_db(transaction=True)  # beat closes its connection after a failed tick
def test_the_probe_fails_when_the_leader_renews_but_cannot_tick(
    every_second, monkeypatch: pytest.MonkeyPatch
) -> None:
    beat = Beat()
    for second in range(1, 21):
        beat.tick_at(second + 0.5)
    assert probe(20.5) == (0, "Alive: the leader renewed and ticked within 30 s.")

    def broken(now: float) -> float:
        raise RuntimeError("the schedule cannot be loaded")

    monkeypatch.setattr(beat.scheduler.engine, "tick", broken)
    for second in range(21, 61):
        beat.tick_at(second + 0.5)
    lease = SchedulerLease.objects.get()
    assert lease.renewed_at is not None
    assert lease.renewed_at.timestamp() >= T0 + 50  # it kept renewing ...
    code, said = probe(60.5)
    assert code == 3  # ... but the probe sees it has not ticked since 12:00:20
    assert said.startswith(
        f"djag beat is not alive: the leader {beat.scheduler.lease.holder} renews its lease "
        "but last ticked at 2026-03-02 12:00:20 UTC"
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="SQLite has one lock for the whole file: any writer frozen mid-transaction stops all",
)
def test_a_leader_frozen_inside_its_claim_does_not_keep_the_standby_out(every_second) -> None:
    """The fence locks the lease row for the claim's transaction; a leader frozen there (or
    cut off) must not hold it for longer than its lease: the server ends the transaction."""
    using = default_database()
    now = time.time()
    SchedulerLease.objects.create(
        name="default",
        holder="beat-a",
        generation=1,
        expires_at=dt.datetime.fromtimestamp(now - 1, dt.UTC),  # its lease has run out
    )
    inside, wake = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def frozen_leader() -> None:
        try:
            with fenced(using, Fence("default", "beat-a", 1, lease_seconds=1)):
                inside.set()
                wake.wait(10)  # frozen with its claim transaction open
                TaskRun.objects.create(
                    periodic_task=every_second, task_name="tick", trigger="schedule"
                )
        except Exception as exc:
            outcome["error"] = exc
        finally:
            connections.close_all()

    leader = threading.Thread(target=frozen_leader)
    leader.start()
    assert inside.wait(10)
    # The standby's takeover waits for the row, until the server ends the frozen transaction.
    generation = lease_rows.acquire(using, "default", "beat-b", time.time(), LEASE)
    wake.set()
    leader.join(15)
    assert generation == 2
    assert isinstance(outcome.get("error"), DatabaseError), outcome
    assert not TaskRun.objects.exists()
