"""The Django admin for djag's models: one module per area, registered on import.

Every write made through these pages is attributed to the logged-in user in
ScheduleChange. Scheduler-owned fields are read-only; validation errors from
the models land on the field they concern; a broken row renders its error,
never a 500.
"""

from djag.admin import crontabs, dependencies, logs, runs, tasks, user_action

__all__ = ["crontabs", "dependencies", "logs", "runs", "tasks", "user_action"]
