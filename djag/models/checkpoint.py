"""TaskCheckpoint: the newest event beat handled for a task, saved at each ``sync()``."""

from __future__ import annotations

import datetime as dt

from django.db import models

from .task import PeriodicTask


class TaskCheckpoint(models.Model):
    """Beat's own narrow row per task, apart from the wide ``PeriodicTask`` row.

    ``sync()`` writes up to every task's checkpoint at once (100,000 after a
    burst, and at SIGTERM). Rewriting the wide task row for that puts each new
    row version into all of its indexes; this row has one index and, on
    PostgreSQL, room on its page (fillfactor 50, migration 0008) for the new
    version, so an update there is HOT. Epoch seconds, not a datetime: the
    engine's own unit, written without converting 100,000 values.

    No foreign key constraint in the database: beat inserts a checkpoint only
    for a task that exists (``djag.store.checkpoints``), and a constraint
    would have the server lock each task row at every insert; deleting a task
    through Django still deletes its checkpoint (``on_delete``).
    """

    task = models.OneToOneField(
        PeriodicTask,
        on_delete=models.CASCADE,
        primary_key=True,
        db_constraint=False,
        related_name="checkpoint",
    )
    handled_through = models.BigIntegerField(
        help_text="The newest event (run, skipped or coalesced) beat handled, in UTC epoch "
        "seconds; it never moves backwards."
    )

    class Meta:
        ordering = ("task",)

    def __str__(self) -> str:
        return f"task {self.task_id}: handled through {self.moment.isoformat()}"

    @property
    def moment(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.handled_through, dt.UTC)
