"""Beat's checkpoints (``Store.save_checkpoints``) against the real test database."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from djag.core.batches import CHUNK
from djag.models import Crontab, PeriodicTask, SchedulerLease
from djag.store import schedule
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
    rows = PeriodicTask.objects.filter(pk__in=ids).values_list("pk", "last_event_at")
    return {pk: None if at is None else int(at.timestamp()) for pk, at in rows}


def test_only_the_given_checkpoints_are_written_with_the_sync_time(task_ids: list[int]) -> None:
    moved = {task_id: T0 + i for i, task_id in enumerate(task_ids) if i % 3}
    Store().save_checkpoints(moved, T0 + 7)
    assert saved(task_ids) == {task_id: moved.get(task_id) for task_id in task_ids}
    assert SchedulerLease.objects.get().synced_at == from_epoch(T0 + 7)


def test_many_checkpoints_take_a_few_statements(task_ids: list[int]) -> None:
    with CaptureQueriesContext(connection) as queries:
        Store().save_checkpoints(dict.fromkeys(task_ids, T0), T0)
    table = PeriodicTask._meta.db_table
    # One statement (an executemany on SQLite, logged as "N times: UPDATE ..."), or one per
    # chunk of rows on MariaDB.
    writes = [q for q in queries.captured_queries if "UPDATE" in q["sql"] and table in q["sql"]]
    assert len(writes) == (2 if connection.vendor == "mysql" else 1)
    assert set(saved(task_ids).values()) == {T0}


def test_checkpoints_are_written_all_or_none(task_ids: list[int]) -> None:
    Store().save_checkpoints(dict.fromkeys(task_ids, T0), T0)
    lease_rows = mock.Mock()
    lease_rows.objects.using.return_value.filter.return_value.update.side_effect = RuntimeError(
        "connection lost"
    )
    with mock.patch.object(schedule, "SchedulerLease", lease_rows), pytest.raises(RuntimeError):
        Store().save_checkpoints(dict.fromkeys(task_ids, T0 + 60), T0 + 60)
    assert set(saved(task_ids).values()) == {T0}
