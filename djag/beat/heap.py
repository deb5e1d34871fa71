"""Beat and Python's cyclic garbage collector: the loaded schedule frozen, bursts unpaused.

Beat holds its schedule for as long as it runs: per task a row, a compiled spec
and a queue entry, none of them ever cyclic garbage. Left as they are, every
collection of the oldest generation scans them all, and a burst allocates
enough (a few objects per run claimed and published) to start such
collections over and over: at 10,000 tasks a third of a second of a burst,
nothing collected (docs/performance.md).

- :func:`freeze_loaded`, after each full load: the garbage of the schedule the
  load replaced is collected, then everything alive is frozen (``gc.freeze()``:
  moved to a permanent generation no collection scans). A task reloaded later
  replaces frozen objects that reference counting still frees (they hold no
  cycles); the next full load unfreezes first, so frozen garbage does not pile up.
- :func:`collector_paused`, around a burst's decisions, claims and publishing:
  no collection starts; the next one after the pause looks at what it left.
- :func:`freeze_closed`, when beat closes (SIGTERM): the interpreter's exit runs
  full collections over everything not frozen, the runs in flight and the
  messages of the last burst among it (1 to 3 s at 100,000 tasks, measured in
  docs/performance.md); frozen, they are freed by reference counting alone.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


def freeze_loaded() -> None:
    """Collect what the last load replaced, then leave everything alive out of collections."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def freeze_closed() -> None:
    """Leave everything alive out of the collections that the interpreter's exit runs
    (a beat closed and then loaded again in the same process unfreezes at the load)."""
    gc.freeze()


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic collection while the block runs; the collector's state restored after it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
