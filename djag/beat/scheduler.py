"""DjagScheduler: Celery beat's scheduler class, a thin shell around the engine.

Use it with ``celery -A proj beat -S djag.scheduler:DjagScheduler``. It honours
Celery's Scheduler contract: ``tick()`` returns the seconds to sleep (never
more than ``max_interval``), ``sync()`` saves state, ``close()`` syncs and
releases the lease, and the app's own ``beat_schedule`` entries run alongside
(by the leader only, so several beats do not send them twice).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from celery.beat import Scheduler

from djag import alerts, completions, conf, wakeup
from djag.alerts import notify
from djag.beat import heap, metrics
from djag.beat.alerting import AlertWatch
from djag.beat.engine import Engine
from djag.beat.lease import Lease
from djag.beat.listen import watch_for
from djag.beat.outbox import Dispatch
from djag.beat.publish import RunPublisher
from djag.beat.report import MetricsReport
from djag.store.door import Store
from djag.store.lease import Deposed

logger = logging.getLogger("djag.beat")


class Outage:
    """Reports a failing dependency once, not once per tick, and paces the retries."""

    FIRST_RETRY = 1.0
    MAX_RETRY = 10.0

    def __init__(self) -> None:
        self.since: float | None = None
        self.failures = 0
        self.description = ""

    def failed(self, exc: BaseException, now: float) -> float:
        """Note a failure; return the seconds to wait before trying again."""
        description = f"{type(exc).__name__}: {exc}".strip()
        if self.since is None or description != self.description:
            logger.error(
                "djag beat: %s; retrying with backoff, every other task waits",
                description,
                exc_info=self.since is None,
            )
            self.since = self.since or now
            self.description = description
        self.failures += 1
        return min(self.MAX_RETRY, self.FIRST_RETRY * 2 ** (self.failures - 1))

    def recovered(self, now: float) -> None:
        if self.since is None:
            return
        logger.warning(
            "djag beat: recovered after %.1f s (%d failed attempts)",
            now - self.since,
            self.failures,
        )
        self.since = None
        self.failures = 0
        self.description = ""


class DjagScheduler(Scheduler):
    #: What tick() leaves Celery to sleep after waiting for news itself (``nap``).
    NAP_SECONDS = 0.001
    #: Where beat reads the time; tests put a simulated clock here.
    clock: Callable[[], float] = staticmethod(time.time)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        settings = conf.get()
        self.store = Store()
        self.engine = Engine(
            self.store,
            self.publish,
            poll_seconds=settings.poll_seconds,
            read_wake_token=wakeup.read,
            watch=watch_for(self.store.using, wakeup.read, settings.poll_seconds),
            after_load=heap.freeze_loaded,
        )
        self.alerts = AlertWatch(self.engine, alerts.announce)
        self.engine.runs.on_ended.append(self.alerts.runs_ended)
        # Served from the first tick, not here: celery beat also builds a scheduler only to
        # print its banner, which would hold the port and never close.
        self.report = MetricsReport(self.engine, metrics.Metrics())
        self.serving = False
        self.lease = Lease(settings.lease_seconds, using=self.store.using)
        self.outage = Outage()
        self.loaded = False
        self.retry_at = 0.0
        #: True while a tick runs: a close() then comes from a signal handler (SIGTERM).
        self.ticking = False
        super().__init__(*args, **kwargs)

    @property
    def longest_sleep(self) -> float:
        """Celery's max_interval (its default, 300 s, if unset)."""
        return float(self.max_interval or 300)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        self.ticking = True
        try:
            return self._tick(*args, **kwargs)
        finally:
            self.ticking = False

    def _tick(self, *args: Any, **kwargs: Any) -> float:
        now = self.clock()
        if not self.serving:
            self.serving = True
            self.report.metrics = metrics.from_settings()
        if now < self.retry_at:
            return min(self.retry_at - now, self.longest_sleep)
        try:
            interval = self._tick_djag(now)
        except Deposed as exc:  # another beat leads: stand by, nothing was claimed
            self.lease.deposed(str(exc))
            self.stand_by()
            self.report.ticked(0.0, now, leading=False)
            return min(self.lease.retry_in(now), self.longest_sleep)
        except Exception as exc:  # nothing may kill beat; the outage is logged once
            self.loaded = False
            self.store.close()
            interval = self.outage.failed(exc, now)
            self.retry_at = now + interval
            return min(interval, self.longest_sleep)
        self.outage.recovered(now)
        if self.lease.leading:
            interval = min(interval, super().tick(*args, **kwargs))
        return self.nap(min(interval, self.longest_sleep))

    def nap(self, interval: float) -> float:
        """Wait for news here, on the listener's socket, rather than in Celery's sleep.

        Celery's beat service sleeps what tick() returns and cannot be woken; so while a
        listener is up (``djag.beat.watch``), tick() itself blocks in a ``select()`` on
        its socket for all but ``NAP_SECONDS`` of the interval and returns that rest:
        beat wakes as soon as a notification comes, costs no CPU while nothing does,
        and Celery still sleeps (and syncs) between ticks. A simulated clock (tests)
        cannot be waited on: it gets the interval back, as without a listener.
        """
        watch = self.engine.watch
        if interval <= self.NAP_SECONDS or self.clock is not time.time or not watch.listening:
            return interval
        if watch.wait(interval - self.NAP_SECONDS):
            self.engine.next_check = 0.0  # the next tick reads the news
        return self.NAP_SECONDS

    def _tick_djag(self, now: float) -> float:
        if not self.lease.hold(now):
            self.stand_by()
            self.report.ticked(0.0, now, leading=False)
            return self.lease.retry_in(now)
        if not self.loaded:
            # Runs that ended while the database was unreachable, parked by their workers:
            # in the ledger before the engine reads it, so their slots are free again.
            completions.fold_parked(self.store.using)
            self.engine.load(now)
            self.alerts.reset()
            self.loaded = True
        self.engine.fence = self.lease.fence
        lag = self.report.lag(now)
        interval = self.engine.tick(now)
        self.alerts.tick(now)
        self.lease.ticked(now)
        self.report.ticked(lag, now, leading=True)
        if self.lease.renew_at > now:  # renewed on time however long the engine may sleep
            interval = min(interval, self.lease.renew_at - now)
        return interval

    def stand_by(self) -> None:
        """Not leading: load again when leading again, and listen for news only then."""
        self.loaded = False
        self.engine.watch.stop()

    def publish(self, dispatches: Sequence[Dispatch]) -> list[tuple[Dispatch, Exception]]:
        """Send the runs' messages in batches (``djag.beat.publish``); return those not sent."""
        publisher: RunPublisher | None = getattr(self, "run_publisher", None)
        if publisher is None or publisher.producer is not self.producer:
            publisher = self.run_publisher = RunPublisher(self.app, self.producer)
        return publisher.publish(dispatches)

    def sync(self) -> None:
        if not self.loaded or not self.lease.leading:
            return
        try:
            self.engine.sync(self.clock())
        except Exception as exc:
            logger.warning("djag beat: could not save checkpoints (%s); will retry", exc)

    def close(self) -> None:
        if self.ticking:
            # Celery's SIGTERM handler closes, then raises SystemExit, in the middle of the
            # tick it interrupted, maybe inside a database call: saving there would wait
            # forever on the driver's lock (psycopg), or land in the tick's transaction
            # that SystemExit then rolls back. Celery's beat closes again once the tick
            # has unwound (Service.start's finally): the checkpoints are saved then.
            logger.info("djag beat: closing after the interrupted tick")
            return
        try:
            super().close()
        finally:
            try:
                self.lease.release(self.clock())
            except Exception as exc:
                logger.warning("djag beat: could not release the lease (%s)", exc)
            finally:
                self.engine.watch.stop()
                self.report.metrics.close()
                notify.shutdown()
                heap.freeze_closed()

    @property
    def info(self) -> str:
        settings = conf.get()
        return (
            f"    . djag: lease {settings.lease_seconds:g}s, "
            f"fallback poll {settings.poll_seconds:g}s, wake-up cache {settings.cache!r}"
        )
