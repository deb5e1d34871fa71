"""The store: the only door to djag's tables for beat, the worker and inspection.

- ``compile``: the one place a crontab row becomes a schedule and a task row a task spec;
- ``rows``: the plain dataclasses beat works with (no Django);
- ``schedule``: reads of crontabs, tasks and edges, and the task state beat owns;
- ``feed``: the ScheduleChange rows beat has not applied yet;
- ``ledger``: every TaskRun state transition; ``history``: reads of the ledger;
- ``retention``: which old rows may be deleted; ``lease``: the leader lease row;
- ``door``: ``Store``, beat's door over all of them; ``db``: instants, deadlock retries.
"""
