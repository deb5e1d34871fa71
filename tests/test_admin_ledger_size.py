"""The ledger's size in the admin: in all on the run list (estimated on a big PostgreSQL or
MariaDB table), and per task on the task page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from djag.models import PeriodicTask, TaskRun
from djag.store import volume

pytestmark = pytest.mark.django_db

MakeTask = Callable[..., PeriodicTask]


def runs(task: PeriodicTask, count: int) -> None:
    for _ in range(count):
        TaskRun.objects.create(
            periodic_task=task, task_name=task.name, trigger="manual", state="success"
        )


def test_the_run_list_says_how_many_runs_the_ledger_holds(
    admin_client: Client, make_task: MakeTask
) -> None:
    runs(make_task(name="a"), 2)
    runs(make_task(name="b"), 1)

    page = admin_client.get(reverse("admin:djag_taskrun_changelist")).content.decode()

    assert "The ledger holds 3 runs in all." in page


def test_the_task_page_counts_the_tasks_runs(admin_client: Client, make_task: MakeTask) -> None:
    task = make_task(name="a")
    runs(task, 2)
    runs(make_task(name="b"), 5)

    page = admin_client.get(reverse("admin:djag_periodictask_change", args=[task.pk]))

    html = page.content.decode()
    assert "Runs in the ledger" in html
    assert ">2 runs<" in html
    assert "Keep history" in html


def test_a_small_ledger_is_counted_exactly_on_every_database(make_task: MakeTask) -> None:
    runs(make_task(name="a"), 1)
    size = volume.ledger_size()
    assert (size.rows, size.estimated, size.text()) == (1, False, "1 run")


@pytest.mark.skipif(
    connection.vendor == "sqlite", reason="SQLite keeps no row estimate: it always counts"
)
def test_a_big_ledger_is_estimated_from_the_servers_statistics(
    make_task: MakeTask, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs(make_task(name="a"), 1)
    # Every estimate counts as big: the server's own figure is taken, whatever it is.
    monkeypatch.setattr(volume, "EXACT_BELOW", -1)
    size = volume.ledger_size()
    assert size.estimated
    assert size.text() == f"about {size.rows:,} runs (the database's estimate)"
