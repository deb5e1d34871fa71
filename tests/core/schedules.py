"""A trivially correct schedule for testing the policies: every ``period`` seconds from 0."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Every:
    period: int

    def next_after(self, t: int) -> int:
        return (t // self.period + 1) * self.period

    def prev_at_or_before(self, t: int) -> int | None:
        return (t // self.period) * self.period if t >= 0 else None

    def events(self, after: int, until: int) -> Iterator[int]:
        event = self.next_after(after)
        while event <= until:
            yield event
            event += self.period

    def count(self, after: int, until: int) -> int:
        return max(0, until // self.period - after // self.period)
