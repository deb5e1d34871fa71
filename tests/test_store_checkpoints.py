"""Beat's checkpoints (``Store.save_checkpoints``, ``TaskCheckpoint``) on the real test
database: they round-trip, never move backwards, are written all or none, and are what a
load reads."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from djag.core.batches import CHUNK
from djag.models import Crontab, PeriodicTask, SchedulerLease, TaskCheckpoint
from djag.store import checkpoints
from djag.store.db import from_epoch
from djag.store.door import Store
from djag.store.lease import LEASE_NAME

pytestmark = pytest.mark.django_db

T0 = 1_800_000_000


@pytest.fixture
def task_ids(crontab: Crontab) -> list[int]:
    PeriodicTask.objects.bulk_create(
        [PeriodicTask(name=f"t{i}", task="tests.noop", crontab=crontab) for i in range(CHUNK + 5)]
    )
    SchedulerLease.objects.create(name=LEASE_NAME)
    return sorted(PeriodicTask.objects.values_list("pk", flat=True))


def saved(ids: list[int]) -> dict[int, int | None]:
    rows = dict(
        TaskCheckpoint.objects.filter(task_id__in=ids).values_list("task_id", "handled_through")
    )
    return {pk: rows.get(pk) for pk in ids}


def test_only_the_given_checkpoints_are_written_with_the_sync_time(task_ids: list[int]) -> None:
    moved = {task_id: T0 + i for i, task_id in enumerate(task_ids) if i % 3}
    Store().save_checkpoints(moved, T0 + 7)
    assert saved(task_ids) == {task_id: moved.get(task_id) for task_id in task_ids}
    assert SchedulerLease.objects.get().synced_at == from_epoch(T0 + 7)


def test_saved_checkpoints_round_trip_through_a_load(task_ids: list[int]) -> None:
    first, second = task_ids[0], task_ids[1]
    Store().save_checkpoints({first: T0, second: T0 + 60}, T0)
    Store().save_checkpoints({second: T0 + 120}, T0 + 120)  # updated, the other kept
    loaded = {row.id: row.last_event_at for row in Store().load_tasks(task_ids[:3])}
    assert loaded == {first: T0, second: T0 + 120, task_ids[2]: None}
    task = PeriodicTask.objects.get(pk=second)
    assert task.last_event_at == from_epoch(T0 + 120)  # what the admin shows
    assert PeriodicTask.objects.get(pk=task_ids[2]).last_event_at is None


def test_a_saved_checkpoint_never_moves_backwards(task_ids: list[int]) -> None:
    Store().save_checkpoints(dict.fromkeys(task_ids, T0 + 60), T0)
    older = {task_id: T0 + (120 if i % 2 else 0) for i, task_id in enumerate(task_ids)}
    Store().save_checkpoints(older, T0 + 60)
    assert saved(task_ids) == {
        task_id: T0 + (120 if i % 2 else 60) for i, task_id in enumerate(task_ids)
    }


def test_a_deleted_task_gets_no_checkpoint_and_fails_no_save(task_ids: list[int]) -> None:
    gone = task_ids[-1]
    PeriodicTask.objects.filter(pk=gone).delete()
    Store().save_checkpoints(dict.fromkeys(task_ids, T0), T0)
    assert not TaskCheckpoint.objects.filter(task_id=gone).exists()
    assert TaskCheckpoint.objects.count() == len(task_ids) - 1


def test_deleting_a_task_deletes_its_checkpoint(task_ids: list[int]) -> None:
    Store().save_checkpoints(dict.fromkeys(task_ids[:2], T0), T0)
    PeriodicTask.objects.get(pk=task_ids[0]).delete()
    assert list(TaskCheckpoint.objects.values_list("task_id", flat=True)) == [task_ids[1]]


def test_many_checkpoints_take_a_few_statements(task_ids: list[int]) -> None:
    with CaptureQueriesContext(connection) as queries:
        Store().save_checkpoints(dict.fromkeys(task_ids, T0), T0)
    table = TaskCheckpoint._meta.db_table
    # One statement (an executemany on SQLite, logged as "N times: INSERT ..."), or one per
    # chunk of rows on MariaDB; the wide task rows are not written.
    writes = [q for q in queries.captured_queries if "INSERT" in q["sql"] and table in q["sql"]]
    assert len(writes) == (2 if connection.vendor == "mysql" else 1)
    task_table = PeriodicTask._meta.db_table
    assert not [q for q in queries.captured_queries if f'UPDATE "{task_table}"' in q["sql"]]
    assert set(saved(task_ids).values()) == {T0}
    with CaptureQueriesContext(connection):
        Store().save_checkpoints(dict.fromkeys(task_ids, T0 + 60), T0 + 60)  # all updates
    assert set(saved(task_ids).values()) == {T0 + 60}


def test_checkpoints_are_written_all_or_none(task_ids: list[int]) -> None:
    Store().save_checkpoints(dict.fromkeys(task_ids[:10], T0), T0)
    lease_rows = mock.Mock()
    lease_rows.objects.using.return_value.filter.return_value.update.side_effect = RuntimeError(
        "connection lost"
    )
    with mock.patch.object(checkpoints, "SchedulerLease", lease_rows), pytest.raises(RuntimeError):
        Store().save_checkpoints(dict.fromkeys(task_ids, T0 + 60), T0 + 60)
    assert saved(task_ids) == {
        task_id: T0 if i < 10 else None for i, task_id in enumerate(task_ids)
    }
