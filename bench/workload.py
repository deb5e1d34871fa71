"""The workload every scheduler gets: the same N tasks, described as plain data.

Steady workload: 70% crontabs spread over minutes and hours (half of them
hourly at minute m, half daily at h:m) and 30% every-few-seconds schedules
(every 5, 10, 15, 20 or 30 s). Burst workload: N tasks all due at the same
instant. Each side turns a :class:`Spec` into its own schedule objects.

Optionally 100 dependency edges (djag only): 10 chains of five tasks (40
edges) and 15 diamonds (60 edges), among the crontab tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

CRON_SHARE = 0.7
PERIODS = (5, 10, 15, 20, 30)
TASK = "bench.noop"  # not registered anywhere: publishing it costs no task lookup

CHAINS, CHAIN_LENGTH = 10, 5
DIAMONDS = 15
EDGE_TASKS = CHAINS * CHAIN_LENGTH + DIAMONDS * 4  # tasks that take part in edges


@dataclass(frozen=True, slots=True)
class Spec:
    """One task. ``kind``: "cron" (minute, hour), "every" (seconds) or "burst" (every minute)."""

    name: str
    kind: str
    minute: str = "*"
    hour: str = "*"
    seconds: int = 0

    @property
    def kwargs(self) -> dict[str, int]:
        return {"n": int(self.name.rsplit("-", 1)[1])}


def steady(n: int) -> list[Spec]:
    crons = round(n * CRON_SHARE)
    specs = []
    for i in range(n):
        name = f"task-{i:06d}"
        if i < crons:
            if i % 2 == 0:  # hourly, at one of 60 minutes
                specs.append(Spec(name, "cron", minute=str((i * 7) % 60)))
            else:  # daily, at one of 1,440 times
                specs.append(Spec(name, "cron", minute=str(i % 60), hour=str((i // 60) % 24)))
        else:
            specs.append(Spec(name, "every", seconds=PERIODS[i % len(PERIODS)]))
    return specs


def burst(n: int) -> list[Spec]:
    return [Spec(f"task-{i:06d}", "burst") for i in range(n)]


def edges(n: int) -> list[tuple[int, int]]:
    """(depender index, dependee index): 100 edges in chains and diamonds."""
    if n < EDGE_TASKS:
        raise ValueError(f"dependency edges need at least {EDGE_TASKS} tasks, not {n}")
    pairs = []
    for c in range(CHAINS):
        first = c * CHAIN_LENGTH
        pairs += [(first + k + 1, first + k) for k in range(CHAIN_LENGTH - 1)]
    for d in range(DIAMONDS):
        top = CHAINS * CHAIN_LENGTH + d * 4
        left, right, bottom = top + 1, top + 2, top + 3
        pairs += [(left, top), (right, top), (bottom, left), (bottom, right)]
    return pairs


def dependers(n: int) -> set[int]:
    """Indexes of the tasks that wait for another (never dispatched in a burst)."""
    return {depender for depender, _ in edges(n)}


def edited_name(round_: int) -> str:
    """The task edited in change-pickup round ``round_``: hourly, outside the edges.

    Hourly, because django-celery-beat leaves out of its schedule the daily
    crontabs whose hour is more than two hours away.
    """
    return f"task-{EDGE_TASKS + 2 * round_:06d}"


def edit_offsets(rounds: int) -> list[float]:
    """When each edit happens, in seconds into its round.

    Spread evenly over five seconds, django-celery-beat's longest sleep, so
    that the edits fall at every phase of every scheduler's tick cycle.
    """
    return [0.1 + 4.8 * r / max(1, rounds - 1) for r in range(rounds)]
