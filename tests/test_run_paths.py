"""One publish path: a run asked for from the admin, from code and from the command reaches
kombu as the same message, published by beat, with the run's context in its headers; and
``djag.current_run()`` inside the task reads back what the ledger holds.

Messages are compared through Celery's ``before_task_publish`` signal, which carries
everything handed to kombu (body, headers, properties, exchange, routing key).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from celery.signals import before_task_publish
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

import djag
from djag.core.message import RunContext, context_of
from djag.core.vocab import Trigger
from djag.models import Crontab, PeriodicTask, TaskRun
from djag.scheduler import DjagScheduler

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)


@pytest.fixture
def app() -> Iterator[Celery]:
    app = Celery(f"paths-{uuid.uuid4().hex[:8]}", broker="memory://", set_as_current=False)

    @app.task(shared=False, name="t.context")
    def context() -> dict[str, Any] | None:
        found = djag.current_run()
        return None if found is None else dataclasses.asdict(found)

    app.finalize()
    yield app
    app.close()


def published_by_beat(app: Celery, now: float) -> list[dict[str, Any]]:
    """What one beat tick at ``now`` hands to kombu, message by message."""
    seen: list[dict[str, Any]] = []

    def record(sender: str, **kwargs: Any) -> None:
        kwargs.pop("signal")
        seen.append({"sender": sender, **kwargs})

    before_task_publish.connect(record, weak=False)
    beat = DjagScheduler(app=app, lazy=True)
    beat.clock = lambda: now  # type: ignore[method-assign]
    try:
        beat.tick()
    finally:
        beat.close()
        before_task_publish.disconnect(record)
    return seen


def without_run(message: dict[str, Any]) -> dict[str, Any]:
    """The message less what differs from run to run: ids, and the expiry's microseconds."""
    headers = dict(message["headers"])
    for name in ("id", "root_id", "djag_run_id"):
        headers.pop(name)
    headers["expires"] = dt.datetime.fromisoformat(headers["expires"]).replace(microsecond=0)
    properties = dict(message["properties"])
    properties.pop("correlation_id")
    properties["expiration"] = round(properties["expiration"])
    return {**message, "headers": headers, "properties": properties}


def test_run_now_from_the_admin_the_api_and_the_command_publish_the_same_message(
    app: Celery, admin_client: Client
) -> None:
    crontab, _ = Crontab.objects.get_or_create(minute="0", hour="3")
    task = PeriodicTask.objects.create(
        name="report",
        task="t.context",
        crontab=crontab,
        enabled=False,
        args=[1, "x"],
        kwargs={"k": {"deep": [2]}},
        queue="reports",
        exchange="ex",
        routing_key="rk.reports",
        priority=7,
        headers={"tenant": "acme"},
        expires_seconds=30,
    )
    changelist = reverse("admin:djag_periodictask_changelist")
    admin_client.post(changelist, {"action": "run_now", "_selected_action": [task.pk]})
    djag.run_now(task, by="api")
    call_command("djag_run", "report", stdout=io.StringIO())
    runs = list(TaskRun.objects.order_by("id"))
    assert [run.requested_by for run in runs][:2] == ["admin", "api"]
    assert runs[2].requested_by.startswith("djag_run")

    messages = published_by_beat(app, time.time() + 1)
    assert [m["headers"]["djag_run_id"] for m in messages] == [run.pk for run in runs]
    assert [m["headers"]["id"] for m in messages] == [run.celery_task_id for run in runs]
    first = without_run(messages[0])
    assert without_run(messages[1]) == first
    assert without_run(messages[2]) == first
    assert first["body"][:2] == ([1, "x"], {"k": {"deep": [2]}})
    assert (first["exchange"], first["routing_key"]) == ("ex", "rk.reports")
    assert first["properties"]["priority"] == 7
    assert first["headers"]["tenant"] == "acme"
    assert first["headers"]["djag_trigger"] == "manual"
    assert "djag_scheduled_for" not in first["headers"]
    assert {run.state for run in TaskRun.objects.all()} == {"sent"}


@pytest.mark.django_db(transaction=True)  # the worker's signal handlers commit as a worker does
def test_current_run_in_the_task_is_what_the_ledger_holds_for_its_run(app: Celery) -> None:
    crontab, _ = Crontab.objects.get_or_create(minute="0", hour="*")
    task = PeriodicTask.objects.create(name="hourly", task="t.context", crontab=crontab)
    now = dt.datetime.now(dt.UTC)
    good = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=3)
    TaskRun.objects.create(
        periodic_task=task,
        task_name="hourly",
        trigger="schedule",
        state="success",
        scheduled_for=good,
    )
    TaskRun.objects.create(
        periodic_task=task,
        task_name="hourly",
        trigger="schedule",
        state="failure",
        scheduled_for=good + dt.timedelta(hours=1),
    )
    [backfilled] = djag.backfill(task, good + dt.timedelta(hours=2), good + dt.timedelta(hours=2))
    one_off = djag.enqueue("t.context", at=now - dt.timedelta(seconds=1))

    messages = published_by_beat(app, time.time() + 1)
    by_run = {m["headers"]["djag_run_id"]: m for m in messages}
    for run, expected in (
        (backfilled, RunContext(backfilled.pk, Trigger.BACKFILL, good + 2 * HOUR, good)),
        (one_off, RunContext(one_off.pk, Trigger.ONEOFF, one_off.scheduled_for)),
    ):
        run.refresh_from_db()
        headers = by_run[run.pk]["headers"]
        assert context_of(headers) == expected
        assert (expected.scheduled_for, expected.trigger, expected.coalesced_count) == (
            run.scheduled_for,
            run.trigger,
            run.coalesced_count,
        )
        seen = app.tasks["t.context"].apply(headers=headers).get()
        assert RunContext(**seen) == expected
    assert app.tasks["t.context"].apply().get() is None  # not sent by djag
