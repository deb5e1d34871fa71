"""Mid-burst, the runs in flight are read again once the backlog is worked off, not every poll.

A poll (every ``DJAG_POLL_SECONDS``, or on news) that finds the ledger changed
reads every run in flight (``Store.active_runs``) to learn which finished, and
rebuilds the run book from them. During a burst the ledger changed because
beat itself claims: 100,000 runs due at once are worked off
``MAX_CLAIMS_PER_TICK`` at a time, and each poll on the way read back up to
100,000 rows beat had just written (docs/performance.md: a real beat took
157-173 s to send such a burst, against 25-43 s for the engine ticked at one
instant).

While a burst is worked off (the last tick claimed its most and left tasks
due), a poll applies the schedule changes but leaves the runs in flight unread, for at most
``MAX_DEFERRAL_SECONDS`` in a row. What that read would bring can wait: a
run that finished frees a slot or lets a depender start a little later, while
the run book only overstates what is in flight, so nothing starts that should
not. A backlog that never ends (a beat that cannot keep up) still has its
runs read every ``MAX_DEFERRAL_SECONDS``.
"""

from __future__ import annotations

from djag.beat.due import DueQueue

#: The longest the runs in flight go unread while a backlog is worked off.
MAX_DEFERRAL_SECONDS = 60.0


class RunsRefresh:
    """Decides, at each poll that found the ledger changed, whether to read the runs in flight."""

    def __init__(self, max_deferral: float = MAX_DEFERRAL_SECONDS) -> None:
        self.max_deferral = max_deferral
        self.behind = False  # the last tick claimed its most and left tasks due
        self.deferred_since: float | None = None  # the first poll that left them unread
        self.deferred = 0  # polls that left them unread, in all (a figure for tests)

    def ticked(self, now: float, due: DueQueue) -> None:
        """After a tick's claims: whether it left tasks due at ``now`` (a burst goes on)."""
        next_due = due.next_due()
        self.behind = next_due is not None and next_due <= now

    def defer(self, now: float) -> bool:
        """Whether this poll leaves the runs in flight unread: a burst is being worked off."""
        if not self.behind:
            self.deferred_since = None
            return False
        if self.deferred_since is None:
            self.deferred_since = now
        elif now - self.deferred_since >= self.max_deferral:
            self.deferred_since = now  # read them now; the next ones may wait again
            return False
        self.deferred += 1
        return True
