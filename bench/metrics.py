"""Measuring helpers shared by the three sides: wall time, queries, memory, tick loops.

Queries are counted with a ``connection.execute_wrapper`` rather than
``CaptureQueriesContext``: the latter reads Django's query log, which keeps
only the last 9,000 queries, and a peer's burst makes many more.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

#: The peers' idle loop runs at least this many ticks, for at most this long.
MIN_TICKS = 20
MAX_IDLE_SECONDS = 60.0
#: A burst that has run this long is projected; beyond its limit it stops.
PROBE_SECONDS = 15.0


def peak_rss_mb() -> float:
    """The process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Sample:
    started: float = 0.0
    seconds: float = 0.0
    queries: int = 0


@contextmanager
def measured() -> Iterator[Sample]:
    """Wall time and database queries (default connection) of the block."""
    sample = Sample()

    def count(execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
        sample.queries += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        sample.started = time.perf_counter()
        try:
            yield sample
        finally:
            sample.seconds = time.perf_counter() - sample.started


@dataclass
class TickStats:
    """Ticks of one kind: how many, their mean time and mean queries."""

    samples: list[Sample] = field(default_factory=list)

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)

    def summary(self) -> dict[str, Any]:
        count = len(self.samples)
        if not count:
            return {"ticks": 0, "ms": None, "queries": None, "max_queries": None}
        return {
            "ticks": count,
            "ms": 1000 * sum(s.seconds for s in self.samples) / count,
            "queries": sum(s.queries for s in self.samples) / count,
            "max_queries": max(s.queries for s in self.samples),
        }


def live_pickup(
    tick: Callable[[], float],
    edit: Callable[[int], None],
    applied: Callable[[int], bool],
    rounds: int,
    offsets: list[float],
    max_sleep: float = 300.0,
) -> list[dict[str, Any]]:
    """Change pickup on the real clock, the scheduler sleeping as it asks between ticks.

    Round ``r`` edits one task ``offsets[r]`` seconds into the round, then
    ticks until the scheduler has applied the edit. Returns, per round, the
    latency from the edit's commit to the end of the applying tick, and that
    tick's time and queries.
    """
    results = []
    interval = tick()
    for round_ in range(rounds):
        edit_at = time.monotonic() + offsets[round_]
        edited_at: float | None = None
        while True:
            wake_at = time.monotonic() + min(interval, max_sleep)
            if edited_at is None and edit_at <= wake_at:
                time.sleep(max(0.0, edit_at - time.monotonic()))
                edit(round_)
                edited_at = time.monotonic()
            time.sleep(max(0.0, wake_at - time.monotonic()))
            with measured() as sample:
                interval = tick()
            if edited_at is not None and applied(round_):
                results.append(
                    {
                        "latency_s": time.monotonic() - edited_at,
                        "ms": 1000 * sample.seconds,
                        "queries": sample.queries,
                    }
                )
                break
    return results


def tight_idle(tick: Callable[[], object], sent: Callable[[], int], seconds: float) -> dict:
    """The peers' idle ticks: tick() in a loop on the real clock, as the peer figures were taken.

    A tick that sent nothing is idle. The loop runs for ``seconds`` and at
    least ``MIN_TICKS`` idle ticks (at most ``MAX_IDLE_SECONDS``).
    """
    idle = TickStats()
    busy = 0
    start = time.monotonic()
    while True:
        elapsed = time.monotonic() - start
        if elapsed >= MAX_IDLE_SECONDS or (elapsed >= seconds and len(idle.samples) >= MIN_TICKS):
            break
        before = sent()
        with measured() as sample:
            tick()
        if sent() != before:
            busy += 1
        else:
            idle.add(sample)
    return {**idle.summary(), "busy_ticks": busy}


def drain(
    tick: Callable[[], object], sent: Callable[[], int], expected: int, limit_s: float
) -> dict[str, Any]:
    """Tick until ``expected`` messages are sent; give up early when it would exceed ``limit_s``.

    After ``PROBE_SECONDS`` the rate so far projects the total; beyond the limit
    the burst stops and the projection is reported instead of a measurement.
    """
    ticks = 0
    result: dict[str, Any] = {"expected": expected}
    with measured() as sample:
        while sent() < expected:
            tick()
            ticks += 1
            elapsed = time.perf_counter() - sample.started
            if elapsed > PROBE_SECONDS and sent():
                projected = elapsed * expected / sent()
                if projected > limit_s:
                    result["projected_s"] = projected
                    result["skipped"] = (
                        f"would take about {projected / 60:.1f} min "
                        f"(projected from {sent()} runs in {elapsed:.0f} s)"
                    )
                    break
    if "skipped" not in result:
        result["burst_s"] = sample.seconds
    result.update(burst_queries=sample.queries, sent=sent(), ticks=ticks)
    return result
