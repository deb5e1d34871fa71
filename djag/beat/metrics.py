"""Prometheus metrics of a beat process, served on ``DJAG_METRICS_PORT``.

The engine reports what it sees through the calls of :class:`Metrics`;
:func:`from_settings` gives a :class:`PrometheusMetrics` that serves them at
``http://ADDRESS:PORT/metrics`` when the port is set and ``prometheus_client``
is installed (``pip install 'djag[metrics]'``), and otherwise a
:class:`Metrics` that does nothing, so the engine calls the same methods
either way. The families live on a registry of djag's own: a project's own
metrics (on prometheus_client's global registry) are neither served here nor
disturbed.

The families and their meaning are listed in docs/metrics.md (and in each one's help).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from djag import conf

try:
    import prometheus_client
except ImportError:  # the "metrics" extra is not installed
    prometheus_client = None  # type: ignore[assignment]

logger = logging.getLogger("djag.beat")

#: Buckets of djag_run_duration_seconds: scheduled jobs take from a second to hours.
DURATION_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600)


class Metrics:
    """What the engine reports. This base class records nothing: it stands in when
    metrics are off, so the engine never checks whether they are on."""

    def tick(self, lag: float, backlog: int, leading: bool) -> None:
        """After each tick: its lag in seconds (how long after it was due it ran), the
        events due but not dispatched, and whether this beat leads."""

    def run_finished(
        self, task: str, state: str, duration: float | None, finished_at: float | None
    ) -> None:
        """A run of ``task`` (its name) ended in ``state`` (a RunState value: success,
        failure, lost, revoked, skipped...), after ``duration`` seconds of work (None when
        it never started) at ``finished_at`` (epoch seconds)."""

    def problems(self, count: int) -> None:
        """How many tasks beat cannot schedule now."""

    def forget_task(self, task: str) -> None:
        """Drop the series of a task that was deleted or renamed."""

    def close(self) -> None:
        """Stop serving (beat's shutdown)."""


class PrometheusMetrics(Metrics):
    """The families on a registry of their own; :meth:`serve` starts the HTTP server."""

    def __init__(self) -> None:
        if prometheus_client is None:
            raise RuntimeError("prometheus_client is not installed: pip install 'djag[metrics]'")
        client = prometheus_client
        self.registry = client.CollectorRegistry(auto_describe=True)
        options: dict[str, Any] = {"registry": self.registry}
        self.leader = client.Gauge(
            "djag_beat_leader", "1 while this beat process leads, 0 while it stands by.", **options
        )
        self.tick_lag = client.Gauge(
            "djag_tick_lag_seconds", "How late beat's last tick ran, in seconds.", **options
        )
        self.backlog = client.Gauge(
            "djag_due_backlog", "Events due but not dispatched after beat's last tick.", **options
        )
        self.runs = client.Counter(
            "djag_runs", "Runs that ended, by final state.", ["state"], **options
        )
        self.duration = client.Histogram(
            "djag_run_duration_seconds",
            "How long runs worked, by task.",
            ["task"],
            buckets=DURATION_BUCKETS,
            **options,
        )
        self.with_problem = client.Gauge(
            "djag_tasks_with_problem", "Tasks beat cannot schedule.", **options
        )
        self.last_success = client.Gauge(
            "djag_last_success_timestamp_seconds",
            "When each task's newest successful run finished (Unix time).",
            ["task"],
            **options,
        )
        self._server: Any = None
        self._thread: Any = None

    def tick(self, lag: float, backlog: int, leading: bool) -> None:
        self.tick_lag.set(lag)
        self.backlog.set(backlog)
        self.leader.set(1 if leading else 0)

    def run_finished(
        self, task: str, state: str, duration: float | None, finished_at: float | None
    ) -> None:
        self.runs.labels(state=state).inc()
        if duration is not None:
            self.duration.labels(task=task).observe(duration)
        if state == "success" and finished_at is not None:
            self.last_success.labels(task=task).set(finished_at)

    def problems(self, count: int) -> None:
        self.with_problem.set(count)

    def forget_task(self, task: str) -> None:
        for family in (self.duration, self.last_success):
            with contextlib.suppress(KeyError):  # no series for it yet
                family.remove(task)

    def serve(self, port: int, address: str) -> int:
        """Serve ``/metrics`` on ``address:port`` (port 0: any free one); the port bound."""
        self._server, self._thread = prometheus_client.start_http_server(
            port, addr=address, registry=self.registry
        )
        return int(self._server.server_address[1])

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = self._thread = None


def from_settings() -> Metrics:
    """Metrics served on ``DJAG_METRICS_PORT``, or the ones that record nothing (logged)."""
    settings = conf.get()
    if settings.metrics_port is None:
        logger.info(
            "djag beat: no metrics served (DJAG_METRICS_PORT is not set, or not a port: "
            "manage.py check says)."
        )
        return Metrics()
    if prometheus_client is None:
        logger.error(
            "djag beat: DJAG_METRICS_PORT is set but prometheus_client is not installed "
            "(pip install 'djag[metrics]'); no metrics served."
        )
        return Metrics()
    metrics = PrometheusMetrics()
    try:
        port = metrics.serve(settings.metrics_port, settings.metrics_address)
    except OSError as exc:
        logger.error(
            "djag beat: cannot serve metrics on %s:%s (%s); beat goes on without them. "
            "Each beat process on a machine needs a port of its own.",
            settings.metrics_address,
            settings.metrics_port,
            exc,
        )
        return Metrics()
    logger.info("djag beat: metrics at http://%s:%s/metrics", settings.metrics_address, port)
    return metrics
