"""Where a burst's time goes: its phases, and Python's cyclic garbage collector.

``Phases`` wraps the engine's store and publisher (the objects, not their
classes) and adds up the wall time of each call: deciding is what remains.
``Collections`` records every collection of the cyclic collector through
``gc.callbacks``: how many per generation, how long, how much they freed.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any


class Phases:
    """Wall time of the engine's claim, publish and mark-sent calls."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

        return timed

    def attach(self, engine: Any) -> None:
        engine.store.claim = self.wrap("claim", engine.store.claim)
        engine.store.mark_sent = self.wrap("mark_sent", engine.store.mark_sent)
        engine.publish = self.wrap("publish", engine.publish)

    def figures(self, total: float) -> dict[str, float]:
        figures = {f"{name}_s": seconds for name, seconds in self.seconds.items()}
        figures["decide_and_rest_s"] = total - sum(self.seconds.values())
        return figures


class Collections:
    """The cyclic collector's work while the block runs."""

    def __init__(self) -> None:
        self.counts = [0, 0, 0]
        self.seconds = 0.0
        self.collected = 0
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.seconds += time.perf_counter() - self._started
        self.counts[info["generation"]] += 1
        self.collected += info["collected"]

    def __enter__(self) -> Collections:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def figures(self) -> dict[str, Any]:
        return {
            "gc_collections": self.counts,
            "gc_s": self.seconds,
            "gc_collected": self.collected,
            "gc_frozen": gc.get_freeze_count(),
        }
