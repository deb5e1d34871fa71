from .actions import UserAction, UserActionAudit
from .changes import ScheduleChange, TrackedModel, acting_as
from .checkpoint import TaskCheckpoint
from .crontab import Crontab
from .lease import SchedulerLease
from .run import ACTIVE_STATES, TERMINAL_STATES, RunState, TaskRun, Trigger
from .task import KeepHistory, MisfirePolicy, PeriodicTask, TaskDependency

__all__ = [
    "ACTIVE_STATES",
    "TERMINAL_STATES",
    "Crontab",
    "KeepHistory",
    "MisfirePolicy",
    "PeriodicTask",
    "RunState",
    "ScheduleChange",
    "SchedulerLease",
    "TaskCheckpoint",
    "TaskDependency",
    "TaskRun",
    "TrackedModel",
    "Trigger",
    "UserAction",
    "UserActionAudit",
    "acting_as",
]
