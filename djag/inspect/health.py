"""Beat's health from the rows: who leads, since when, how late (``manage.py djag_status``)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from djag import conf
from djag.models import PeriodicTask, RunState, SchedulerLease, TaskRun
from djag.store.alerts import TrippedAlerts, tripped_alerts
from djag.store.db import default_database
from djag.store.lease import LEASE_NAME
from djag.text import duration_text, utc_text

#: A run still "claimed" (not yet published) this long after its claim is worth showing;
#: beat publishes such runs again after ``djag.beat.engine.STALE_CLAIM_SECONDS``.
UNSENT_AFTER_SECONDS = 10.0

#: The exit code of ``--max-lag`` when beat is not alive. Not 2: argparse exits with 2
#: on a usage error (a mistyped option), which must not read as "beat is down". 1 is
#: any other error (bad option value, database unreachable).
NOT_ALIVE = 3

#: At most this many rows of each list are shown (all are counted).
SHOWN = 20


@dataclass(frozen=True)
class Leader:
    holder: str
    generation: int
    acquired_at: dt.datetime | None
    renewed_at: dt.datetime | None
    expires_at: dt.datetime | None
    ticked_at: dt.datetime | None  # the last successful tick, as of the last renewal


@dataclass(frozen=True)
class Status:
    now: dt.datetime
    lease_seconds: float
    leader: Leader | None  # the current leader, if its lease has not expired
    last_leader: Leader | None  # the lease row, whoever held it last
    unsent: list[tuple[str, dt.datetime]]  # (task name, claimed at), oldest first
    unsent_count: int
    lost: Counter[str]  # task name -> runs lost in the last hour
    problems: list[tuple[str, str, dt.datetime | None]]  # (task, problem, since)
    alerts: list[TrippedAlerts]  # the tasks whose alerts beat recorded as tripped

    @property
    def renew_every(self) -> float:
        return self.lease_seconds / 3

    @property
    def lease_age(self) -> float | None:
        """Seconds since the leader last renewed its lease."""
        if self.leader is None or self.leader.renewed_at is None:
            return None
        return (self.now - self.leader.renewed_at).total_seconds()

    @property
    def tick_age(self) -> float | None:
        """Seconds since the leader last ticked successfully (recorded at each renewal), or,
        when it has not ticked yet, since it took the lease."""
        if self.leader is None:
            return None
        since = self.leader.ticked_at or self.leader.acquired_at
        return None if since is None else (self.now - since).total_seconds()


def read_status(now: dt.datetime) -> Status:
    lease = SchedulerLease.objects.filter(name=LEASE_NAME).first()
    last_leader = None
    if lease is not None:
        last_leader = Leader(
            lease.holder,
            lease.generation,
            lease.acquired_at,
            lease.renewed_at,
            lease.expires_at,
            lease.ticked_at,
        )
    leading = (
        last_leader is not None
        and last_leader.holder != ""
        and last_leader.expires_at is not None
        and last_leader.expires_at > now
    )
    unsent_rows = TaskRun.objects.filter(
        state=RunState.CLAIMED, claimed_at__lt=now - dt.timedelta(seconds=UNSENT_AFTER_SECONDS)
    ).order_by("claimed_at", "id")
    lost = Counter(
        TaskRun.objects.filter(
            state=RunState.LOST,
            finished_at__gte=now - dt.timedelta(hours=1),
            finished_at__lte=now,
        ).values_list("task_name", flat=True)
    )
    problems = list(
        PeriodicTask._base_manager.exclude(problem="")
        .order_by("name")
        .values_list("name", "problem", "problem_at")
    )
    return Status(
        now=now,
        lease_seconds=conf.get().lease_seconds,
        leader=last_leader if leading else None,
        last_leader=last_leader,
        unsent=list(unsent_rows.values_list("task_name", "claimed_at")[:SHOWN]),
        unsent_count=unsent_rows.count(),
        lost=lost,
        problems=problems,
        alerts=tripped_alerts(default_database()),
    )


def liveness_failure(status: Status, max_lag: float) -> str | None:
    """Why beat fails the ``--max-lag`` probe, or None when it passes."""
    if status.leader is None:
        return f"no beat leads: {_vacancy(status)}"
    age = status.lease_age
    if age is None or age > max_lag:
        ago = "never" if age is None else f"{duration_text(age)} ago"
        return (
            f"the leader {status.leader.holder} last renewed its lease {ago}, "
            f"more than --max-lag {max_lag:g} s: it is stuck or cannot reach the database"
        )
    tick_age = status.tick_age
    if tick_age is None or tick_age > max_lag:
        return (
            f"the leader {status.leader.holder} renews its lease but {_last_tick(status)}, "
            f"more than --max-lag {max_lag:g} s ago: it cannot load its schedule or tick "
            "(its log says why)"
        )
    return None


def _last_tick(status: Status) -> str:
    leader = status.leader
    assert leader is not None
    if leader.ticked_at is None:
        return f"has not ticked since it took the lease at {utc_text(leader.acquired_at)}"
    return f"last ticked at {utc_text(leader.ticked_at)}"


def _vacancy(status: Status) -> str:
    last = status.last_leader
    if last is None or last.generation == 0:
        return "no beat has ever led (is `celery beat -S djag.scheduler:DjagScheduler` running?)"
    if last.holder == "":
        return f"the last leader released the lease at {utc_text(last.expires_at)} (shut down)"
    return f"the lease of {last.holder} expired at {utc_text(last.expires_at)}"


def as_text(status: Status) -> str:
    lines = []
    leader = status.leader
    if leader is None:
        vacancy = _vacancy(status)
        # Not str.capitalize(): it would lowercase the rest (the holder, "UTC", class names).
        lines.append(f"Leader: none. {vacancy[:1].upper()}{vacancy[1:]}.")
    else:
        leading_for = (status.now - (leader.acquired_at or status.now)).total_seconds()
        lines.append(
            f"Leader: {leader.holder} (generation {leader.generation}), leading since "
            f"{utc_text(leader.acquired_at)} ({duration_text(leading_for)})."
        )
        tick = (
            f"{duration_text(status.tick_age or 0)} ago (at {utc_text(leader.ticked_at)})"
            if leader.ticked_at is not None
            else "none since it took the lease"
        )
        age = status.lease_age
        lines.append(
            f"Last tick: {tick}; lease renewed "
            f"{'never' if age is None else duration_text(age) + ' ago'} "
            f"(at {utc_text(leader.renewed_at)}), it expires at {utc_text(leader.expires_at)}."
        )
        lines.append(
            f"  The leader renews every {status.renew_every:.1f} s (a third of "
            f"DJAG_LEASE_SECONDS = {status.lease_seconds:g} s) and records its last tick then, so "
            f"a healthy leader's renewal and tick are up to {status.renew_every:.1f} s old, "
            "plus one tick."
        )
    lines.append(
        f"Runs claimed but not sent for over {UNSENT_AFTER_SECONDS:g} s: {status.unsent_count}"
    )
    lines += [
        f"  {name} (claimed {duration_text((status.now - claimed).total_seconds())} ago)"
        for name, claimed in status.unsent
    ]
    if status.unsent_count > len(status.unsent):
        lines.append(f"  ... and {status.unsent_count - len(status.unsent)} more")
    lines.append(f"Runs lost in the last hour: {sum(status.lost.values())}")
    lines += [f"  {name}: {count}" for name, count in sorted(status.lost.items())]
    lines.append(f"Tasks with a problem: {len(status.problems)}")
    lines += [
        f"  {name} (since {utc_text(since)}): {problem}" for name, problem, since in status.problems
    ]
    lines.append(f"Tasks with a tripped alert: {len(status.alerts)}")
    lines += [f"  {alert_text(alert, alert.task)}" for alert in status.alerts]
    return "\n".join(lines)


def alert_text(alert: TrippedAlerts, task: str) -> str:
    """One task's tripped alerts on one line (the note's lines joined), after ``task``."""
    note = "; ".join(line for line in alert.note.splitlines() if line)
    return f"{task}: {', '.join(alert.kinds)} (since {utc_text(alert.since)}): {note}"


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def as_json(status: Status) -> dict[str, Any]:
    def leader_json(leader: Leader | None) -> dict[str, Any] | None:
        if leader is None:
            return None
        return {
            "holder": leader.holder,
            "generation": leader.generation,
            "acquired_at": _iso(leader.acquired_at),
            "renewed_at": _iso(leader.renewed_at),
            "expires_at": _iso(leader.expires_at),
            "ticked_at": _iso(leader.ticked_at),
        }

    return {
        "now": status.now.isoformat(),
        "leader": leader_json(status.leader),
        "last_leader": leader_json(status.last_leader),
        "lease_age_seconds": status.lease_age,
        "tick_age_seconds": status.tick_age,
        "lease_seconds": status.lease_seconds,
        "renew_every_seconds": status.renew_every,
        "unsent_claims": {
            "count": status.unsent_count,
            "oldest": [{"task": n, "claimed_at": _iso(c)} for n, c in status.unsent],
        },
        "lost_last_hour": dict(sorted(status.lost.items())),
        "problems": [
            {"task": name, "problem": problem, "since": _iso(since)}
            for name, problem, since in status.problems
        ],
        "alerts": [
            {"task": a.task, "alerts": list(a.kinds), "note": a.note, "since": _iso(a.since)}
            for a in status.alerts
        ],
    }
