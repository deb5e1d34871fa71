"""The leader lease, driven with an injected clock against the real test database."""

from __future__ import annotations

import pytest

from djag.beat.lease import Lease
from djag.models import SchedulerLease

pytestmark = pytest.mark.django_db

T0 = 1_800_000_000.0
LEASE = 10.0


def test_first_process_leads_and_a_second_stands_by() -> None:
    leader, standby = Lease(LEASE), Lease(LEASE)
    assert leader.hold(T0)
    assert not standby.hold(T0 + 1)
    row = SchedulerLease.objects.get()
    assert (row.holder, row.generation) == (leader.holder, 1)


def test_standby_takes_over_after_expiry_with_a_higher_generation() -> None:
    leader, standby = Lease(LEASE), Lease(LEASE)
    assert leader.hold(T0)
    # The leader dies (never ticks again): the standby waits for the lease to run out.
    assert not standby.hold(T0 + LEASE - 0.5)
    assert standby.hold(T0 + LEASE + 0.5)
    assert SchedulerLease.objects.get().generation == 2
    # The old leader comes back: its fenced renewal fails and it stops dispatching.
    assert not leader.hold(T0 + LEASE + 1)
    assert not leader.leading


def test_renewing_leader_keeps_the_lease() -> None:
    leader, standby = Lease(LEASE), Lease(LEASE)
    for second in range(0, 60, 2):
        assert leader.hold(T0 + second)
        assert not standby.hold(T0 + second + 1)
    assert SchedulerLease.objects.get().generation == 1


def test_release_hands_over_at_once() -> None:
    leader, standby = Lease(LEASE), Lease(LEASE)
    assert leader.hold(T0)
    leader.release(T0 + 1)
    assert not leader.leading
    assert standby.hold(T0 + 2)


def test_leader_stops_before_its_lease_ends_when_the_database_is_unreachable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    leader = Lease(LEASE)
    assert leader.hold(T0)

    def unreachable(now: float) -> bool:
        raise ConnectionError("database down")

    monkeypatch.setattr(leader, "_renew", unreachable)
    # A short outage: it keeps dispatching on its own clock...
    assert leader.hold(T0 + LEASE / 2)
    # ...but stops before the lease ends, so no standby can overlap with it.
    with pytest.raises(ConnectionError):
        leader.hold(T0 + LEASE * (1 - Lease.SAFETY_FRACTION))
    assert not leader.leading
