"""djag_status: the leader, its last tick, and the --max-lag liveness probe."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command

from djag.core.alerts import AlertKind
from djag.models import PeriodicTask, RunState, SchedulerLease, TaskRun, Trigger
from djag.store.alerts import record_alerts

from .conftest import T0, run, task

pytestmark = pytest.mark.django_db

NOW = "2026-03-02T12:00:00Z"  # T0
HOLDER = "beat-1:4242:0a1b2c3d"


def lease(
    renewed: float = -2.0,
    expires: float = 8.0,
    holder: str = HOLDER,
    generation: int = 3,
    acquired: float = -3600.0,
    ticked: float | None = -2.0,
) -> SchedulerLease:
    """The lease row, with its instants given in seconds from T0 (``ticked``: the leader's
    last successful tick as its last renewal recorded it; None: none since it took the lease)."""

    def at(seconds: float) -> dt.datetime:
        return T0 + dt.timedelta(seconds=seconds)

    return SchedulerLease.objects.create(
        name="default",
        holder=holder,
        generation=generation,
        acquired_at=at(acquired),
        renewed_at=at(renewed),
        expires_at=at(expires),
        ticked_at=None if ticked is None else at(ticked),
    )


def failure(*args: str) -> CommandError:
    with pytest.raises(CommandError) as caught:
        run("djag_status", "--now", NOW, *args)
    return caught.value


def test_a_healthy_leader_is_shown_with_its_last_tick():
    lease()
    lines = run("djag_status", "--now", NOW).splitlines()
    assert lines[0] == (
        f"Leader: {HOLDER} (generation 3), leading since 2026-03-02 11:00:00 UTC (1 h 0 min)."
    )
    assert lines[1] == (
        "Last tick: 2 s ago (at 2026-03-02 11:59:58 UTC); lease renewed 2 s ago "
        "(at 2026-03-02 11:59:58 UTC), it expires at 2026-03-02 12:00:08 UTC."
    )
    assert "renews every 3.3 s (a third of DJAG_LEASE_SECONDS = 10 s)" in lines[2]
    assert lines[3:] == [
        "Runs claimed but not sent for over 10 s: 0",
        "Runs lost in the last hour: 0",
        "Tasks with a problem: 0",
        "Tasks with a tripped alert: 0",
    ]


def test_no_lease_row_means_no_beat_ever_led():
    text = run("djag_status", "--now", NOW)
    assert text.splitlines()[0] == (
        "Leader: none. No beat has ever led "
        "(is `celery beat -S djag.scheduler:DjagScheduler` running?)."
    )


def test_an_expired_lease_names_the_last_holder():
    lease(renewed=-60, expires=-50)
    assert run("djag_status", "--now", NOW).splitlines()[0] == (
        f"Leader: none. The lease of {HOLDER} expired at 2026-03-02 11:59:10 UTC."
    )


def test_a_released_lease_says_the_leader_shut_down():
    lease(holder="", expires=-5)
    assert run("djag_status", "--now", NOW).splitlines()[0] == (
        "Leader: none. The last leader released the lease at 2026-03-02 11:59:55 UTC (shut down)."
    )


def test_max_lag_passes_when_the_leader_renewed_recently():
    lease(renewed=-5, ticked=-5.5)
    text = run("djag_status", "--now", NOW, "--max-lag", "30")
    assert text.splitlines()[-1] == "Alive: the leader renewed and ticked within 30 s."


def test_max_lag_fails_with_code_3_when_the_leader_has_not_renewed(settings):
    # A 30 s lease, renewed every 10 s: the leader still holds it but is 20 s behind.
    settings.DJAG_LEASE_SECONDS = 30
    lease(renewed=-20, expires=10, ticked=-20)
    assert "lease renewed 20 s ago" in run("djag_status", "--now", NOW)
    error = failure("--max-lag", "12")
    assert error.returncode == 3
    assert str(error) == (
        f"djag beat is not alive: the leader {HOLDER} last renewed its lease 20 s ago, "
        "more than --max-lag 12 s: it is stuck or cannot reach the database."
    )


def test_max_lag_fails_with_code_3_when_the_leader_renews_but_does_not_tick():
    # Renewed 2 s ago, but its last successful tick was 40 s ago: its engine cannot load.
    lease(renewed=-2, ticked=-40)
    assert "Last tick: 40 s ago (at 2026-03-02 11:59:20 UTC)" in run("djag_status", "--now", NOW)
    error = failure("--max-lag", "30")
    assert error.returncode == 3
    assert str(error) == (
        f"djag beat is not alive: the leader {HOLDER} renews its lease but last ticked at "
        "2026-03-02 11:59:20 UTC, more than --max-lag 30 s ago: it cannot load its schedule "
        "or tick (its log says why)."
    )


def test_max_lag_gives_a_new_leader_until_its_first_tick_is_recorded():
    lease(renewed=-2, acquired=-10, ticked=None)
    assert "Last tick: none since it took the lease;" in run("djag_status", "--now", NOW)
    run("djag_status", "--now", NOW, "--max-lag", "30")
    lease_row = SchedulerLease.objects.get()
    lease_row.acquired_at = T0 - dt.timedelta(seconds=40)
    lease_row.save()
    error = failure("--max-lag", "30")
    assert error.returncode == 3
    assert "has not ticked since it took the lease at 2026-03-02 11:59:20 UTC" in str(error)


def test_max_lag_fails_with_code_3_when_the_lease_expired():
    lease(renewed=-60, expires=-50)
    error = failure("--max-lag", "30")
    assert error.returncode == 3
    assert str(error) == (
        f"djag beat is not alive: no beat leads: the lease of {HOLDER} expired at "
        "2026-03-02 11:59:10 UTC."
    )


def test_max_lag_fails_with_code_3_when_no_beat_ever_led():
    error = failure("--max-lag", "30")
    assert error.returncode == 3
    assert "no beat has ever led" in str(error)


def test_max_lag_shorter_than_the_renewal_interval_is_refused():
    lease()
    error = failure("--max-lag", "3")
    assert error.returncode == 1
    assert "shorter than the lease renewal interval (3.3 s" in str(error)
    assert "e.g. 30" in str(error)


def test_max_lag_must_be_a_number():
    with pytest.raises(CommandError, match="'soon' is not a number"):
        run("djag_status", "--max-lag", "soon")


def test_unsent_claims_lost_runs_and_problems_are_listed():
    stuck = task("stuck")
    for name, state, claimed, finished in [
        ("stuck", RunState.CLAIMED, -300, None),  # unsent for 5 minutes
        ("stuck", RunState.CLAIMED, -5, None),  # just claimed: not worth showing
        ("flaky", RunState.LOST, -7200, -1800),
        ("flaky", RunState.LOST, -7200, -600),
        ("flaky", RunState.LOST, -9000, -5400),  # lost more than an hour ago
        ("flaky", RunState.SUCCESS, -600, -500),
    ]:
        TaskRun.objects.create(
            periodic_task=stuck if name == "stuck" else None,
            task_name=name,
            trigger=Trigger.MANUAL,
            state=state,
            claimed_at=T0 + dt.timedelta(seconds=claimed),
            finished_at=None if finished is None else T0 + dt.timedelta(seconds=finished),
        )
    PeriodicTask.objects.filter(pk=stuck.pk).update(
        problem="kwargs is not a JSON object", problem_at=T0 - dt.timedelta(minutes=3)
    )
    overdue = task("overdue")
    note = "overdue: no run for the slot at 11:00 succeeded\nlast success: never"
    record_alerts("default", overdue.pk, frozenset({AlertKind.OVERDUE}), note, T0.timestamp() - 90)
    lines = run("djag_status", "--now", NOW).splitlines()
    assert lines[-8:] == [
        "Runs claimed but not sent for over 10 s: 1",
        "  stuck (claimed 5 min 0 s ago)",
        "Runs lost in the last hour: 2",
        "  flaky: 2",
        "Tasks with a problem: 1",
        "  stuck (since 2026-03-02 11:57:00 UTC): kwargs is not a JSON object",
        "Tasks with a tripped alert: 1",
        "  overdue: overdue (since 2026-03-02 11:58:30 UTC): overdue: no run for the slot at "
        "11:00 succeeded; last success: never",
    ]
    document = json.loads(run("djag_status", "--now", NOW, "--format", "json"))
    assert document["alerts"] == [
        {
            "task": "overdue",
            "alerts": ["overdue"],
            "note": note,
            "since": "2026-03-02T11:58:30+00:00",
        }
    ]


def test_json_has_the_leader_its_age_and_the_probe_result():
    lease(renewed=-4)
    document = json.loads(run("djag_status", "--now", NOW, "--format", "json", "--max-lag", "30"))
    assert document["now"] == "2026-03-02T12:00:00+00:00"
    assert document["leader"] == {
        "holder": HOLDER,
        "generation": 3,
        "acquired_at": "2026-03-02T11:00:00+00:00",
        "renewed_at": "2026-03-02T11:59:56+00:00",
        "expires_at": "2026-03-02T12:00:08+00:00",
        "ticked_at": "2026-03-02T11:59:58+00:00",
    }
    assert document["lease_age_seconds"] == 4.0
    assert document["tick_age_seconds"] == 2.0
    assert document["alive"] is True
    assert document["unsent_claims"] == {"count": 0, "oldest": []}


def test_json_probe_failure_is_in_the_document_and_the_exit_code():
    lease(renewed=-60, expires=-50)
    out = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("djag_status", "--now", NOW, "--format", "json", "--max-lag", "30", stdout=out)
    assert caught.value.returncode == 3
    document = json.loads(out.getvalue())
    assert document["alive"] is False
    assert document["leader"] is None
    assert document["last_leader"]["holder"] == HOLDER
    assert document["lease_age_seconds"] is None


def test_manage_py_exit_codes_of_the_probe(manage):
    # Committed data, seen by a separate process.
    lease(renewed=-2, expires=8)
    alive = manage("djag_status", "--now", NOW, "--max-lag", "30")
    assert alive.returncode == 0, alive.stderr
    assert "Alive: the leader renewed and ticked within 30 s." in alive.stdout

    dead = manage("djag_status", "--now", "2026-03-02T12:05:00Z", "--max-lag", "30")
    assert dead.returncode == 3
    assert dead.stderr.strip() == (
        f"CommandError: djag beat is not alive: no beat leads: the lease of {HOLDER} "
        "expired at 2026-03-02 12:00:08 UTC."
    )

    refused = manage("djag_status", "--max-lag", "1")
    assert refused.returncode == 1
    assert "shorter than the lease renewal interval" in refused.stderr

    # A mistyped option is a usage error (argparse's 2), not "beat is down" (3).
    mistyped = manage("djag_status", "--max-lagg", "30")
    assert mistyped.returncode == 2
    assert "unrecognized arguments: --max-lagg 30" in mistyped.stderr
