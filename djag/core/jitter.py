"""Jitter: a deterministic delay per task and slot, to spread runs due at the same moment.

``Jitter(seconds=J, key=...)`` gives each event (slot) of a task a delay from 0 to J seconds,
taken from a BLAKE2b hash of the task's key and the slot. It depends on nothing else: every
beat process, every restart and every run of Python gives the same slot the same delay, so a
run is released once, at ``slot + delay``, whichever beat leads. The run keeps the slot as its
``scheduled_for`` (its identity in the ledger); the delay is reported beside it
(``djag.core.misfire.Run.delay``) for the ledger to record.

Events closer together than J: the delay is drawn below the gap to the next event
(``0 <= delay < next_slot - slot``), so a run is always released before the next slot. Runs
therefore go out in slot order, one per slot, and never bunch up: a per-minute task with a
five-minute jitter gets delays under a minute, a per-second task none.

The key should name the task stably (its name, or its primary key): a new key draws new
delays.
"""

from __future__ import annotations

from dataclasses import dataclass
from hashlib import blake2b

#: One day: a larger delay is a different schedule, not jitter.
MAX_JITTER = 86400


class JitterError(ValueError):
    def __init__(self, detail: str) -> None:
        self.field = "jitter_seconds"
        self.message = f"{self.field}: {detail}"
        super().__init__(self.message)


@dataclass(frozen=True, slots=True)
class Jitter:
    seconds: int
    key: str

    def __post_init__(self) -> None:
        if (
            not isinstance(self.seconds, int)
            or isinstance(self.seconds, bool)
            or not 0 <= self.seconds <= MAX_JITTER
        ):
            raise JitterError(f"{self.seconds!r} is not a whole number from 0 to {MAX_JITTER}")

    def delay(self, slot: int, next_slot: int | None) -> int:
        """The delay of ``slot``, below the gap to ``next_slot`` (the event after it, if any)."""
        most = self.seconds if next_slot is None else min(self.seconds, next_slot - slot - 1)
        if most <= 0:
            return 0
        text = f"{self.key}\x00{slot}".encode("utf-8", "surrogatepass")
        digest = blake2b(text, digest_size=8).digest()
        return int.from_bytes(digest, "big") % (most + 1)
