"""Claims in bulk (``Store.claim``) against the real test database: many rows a statement."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from djag.core.vocab import RunState, Trigger
from djag.models import PeriodicTask, TaskRun
from djag.store.door import Store
from djag.store.rows import NewRun

pytestmark = pytest.mark.django_db

E0 = 1_800_000_000
RUNS = 2500  # more than one statement's rows


def burst(task: PeriodicTask, first: int, count: int, skip_every: int = 0) -> list[NewRun]:
    return [
        NewRun(
            task.id,
            task.name,
            task.task,
            E0 + 60 * (first + i),
            Trigger.CATCHUP,
            skipped=bool(skip_every) and i % skip_every == 0,
        )
        for i in range(count)
    ]


def test_a_burst_is_claimed_in_a_few_statements_and_returned_in_id_order(make_task) -> None:
    task = make_task(name="burst")
    with CaptureQueriesContext(connection) as queries:
        won = Store().claim(burst(task, 0, RUNS, skip_every=7), E0 + 1.0)
    inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) <= 3
    rows = list(TaskRun.objects.order_by("id").values_list("id", "celery_task_id", "state"))
    assert len(rows) == RUNS
    assert [(run.id, run.celery_task_id) for run in won] == [
        (run_id, celery_id) for run_id, celery_id, state in rows if state == RunState.CLAIMED
    ]
    assert {run.task_id for run in won} == {task.id}
    assert sum(state == RunState.SKIPPED for _, _, state in rows) == len(range(0, RUNS, 7))


def test_slots_another_claimer_took_are_left_out_of_what_is_won(make_task) -> None:
    task = make_task(name="contested")
    first = Store().claim(burst(task, 0, 1200), E0 + 1.0)
    # An overlapping burst: its first 1,200 slots are taken, the 300 after are new.
    second = Store().claim(burst(task, 0, 1500), E0 + 2.0)
    assert len(first) == 1200
    assert len(second) == 300
    assert not {run.id for run in first} & {run.id for run in second}
    slots = TaskRun.objects.filter(id__in=[run.id for run in second]).values_list(
        "scheduled_for", flat=True
    )
    assert min(int(slot.timestamp()) for slot in slots) == E0 + 60 * 1200


def test_celery_task_ids_are_time_ordered_so_the_ledgers_index_grows_at_its_end(
    make_task,
) -> None:
    task = make_task(name="ordered")
    first = Store().claim(burst(task, 0, RUNS), E0 + 1.0)
    second = Store().claim(burst(task, RUNS, 10), E0 + 2.0)
    ids = [run.celery_task_id for run in first + second]
    assert len(set(ids)) == len(ids)
    assert {uuid.UUID(celery_id).version for celery_id in ids} == {7}
    # Claim order (id order) is the ids' order: each new row lands at the index's end.
    assert ids == sorted(ids)
