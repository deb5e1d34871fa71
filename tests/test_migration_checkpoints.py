"""Migration 0008: the checkpoints saved on the task rows move to ``TaskCheckpoint``."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from djag.models import PeriodicTask, TaskCheckpoint

BEFORE = [("djag", "0007_alerts")]
AFTER = [("djag", "0008_checkpoints")]
T0 = 1_800_000_000


def migrate(targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


@pytest.mark.django_db(transaction=True)
def test_saved_checkpoints_move_to_their_own_rows_and_back() -> None:
    old = migrate(BEFORE).loader.project_state(BEFORE).apps
    crontab = old.get_model("djag", "Crontab")._base_manager.create(minute="*")
    tasks = old.get_model("djag", "PeriodicTask")._base_manager
    saved = tasks.create(
        name="saved",
        task="tests.noop",
        crontab=crontab,
        last_event_at=dt.datetime.fromtimestamp(T0, dt.UTC),
    )
    never = tasks.create(name="never", task="tests.noop", crontab=crontab)
    try:
        migrate(AFTER)
        assert list(TaskCheckpoint.objects.values_list("task_id", "handled_through")) == [
            (saved.pk, T0)
        ]
        assert PeriodicTask.objects.get(pk=never.pk).last_event_at is None

        back = migrate(BEFORE).loader.project_state(BEFORE).apps
        rows = back.get_model("djag", "PeriodicTask")._base_manager.order_by("pk")
        assert [row.last_event_at for row in rows] == [
            dt.datetime.fromtimestamp(T0, dt.UTC),
            None,
        ]
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
