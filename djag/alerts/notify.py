"""Delivering alerts: a mail to ADMINS and a JSON POST to a webhook, on a thread of their own.

Beat hands alerts over without waiting: a slow mail server or webhook can
delay an alert, never a tick. A channel that fails is logged with the alert
it could not deliver; so is an alert that finds the queue full. The settings
(read once, when the process sends its first alert): ``DJAG_ALERT_MAIL``
(default True: Django's ``mail_admins``) and ``DJAG_ALERT_WEBHOOK`` (an
http(s) URL, default none).
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence

from django.conf import settings
from django.core.mail import mail_admins

from djag import __version__, conf
from djag.alerts import Alert

logger = logging.getLogger("djag.alerts")

#: A channel delivers one alert, or raises.
Channel = Callable[[Alert], None]

#: How long a webhook may take to answer.
WEBHOOK_TIMEOUT_SECONDS = 10.0
#: Alerts waiting for delivery at most; more are logged and dropped.
QUEUE_SIZE = 1000


def mail_to_admins(alert: Alert) -> None:
    """Mail the alert to ADMINS through Django's mail settings."""
    if not settings.ADMINS:
        logger.warning("djag alerts: %s, not mailed: ADMINS is empty.", alert.headline)
        return
    mail_admins(alert.headline, alert.text(), fail_silently=False)


class Webhook:
    """POST the alert as JSON (``Alert.as_json``) to ``url``; an HTTP error status raises."""

    def __init__(self, url: str, timeout: float = WEBHOOK_TIMEOUT_SECONDS) -> None:
        self.url = url
        self.timeout = timeout

    def __call__(self, alert: Alert) -> None:
        request = urllib.request.Request(
            self.url,
            data=json.dumps(alert.as_json()).encode(),
            headers={"Content-Type": "application/json", "User-Agent": f"djag/{__version__}"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            response.read()

    def __repr__(self) -> str:
        return f"webhook {self.url}"


_STOP = object()


class Notifier:
    """Delivers alerts through ``channels``, one after the other, on a daemon thread."""

    def __init__(self, channels: Sequence[Channel], queue_size: int = QUEUE_SIZE) -> None:
        self.channels = tuple(channels)
        self._queue: queue.Queue[object] = queue.Queue(queue_size)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def notify(self, alert: Alert) -> None:
        """Queue the alert for delivery; never blocks, never raises."""
        if not self.channels:
            return
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            logger.error(
                "djag alerts: %s (%s) not delivered: %d alerts already wait.",
                alert.headline,
                alert.reason,
                self._queue.qsize(),
            )
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._deliver_forever, name="djag-alerts", daemon=True
                )
                self._thread.start()

    def flush(self, timeout: float) -> bool:
        """Wait until every queued alert went through its channels; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._queue.all_tasks_done.wait(remaining)
        return True

    def close(self, timeout: float) -> None:
        """Deliver what waits, for up to ``timeout`` seconds, then stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        deadline = time.monotonic() + timeout
        with contextlib.suppress(queue.Full):  # still full at the deadline: reported below
            self._queue.put(_STOP, timeout=timeout)
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            logger.error(
                "djag alerts: %d alerts still undelivered after %.0f s; giving up on them.",
                self._queue.qsize(),
                timeout,
            )

    def _deliver_forever(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                assert isinstance(item, Alert)
                self._deliver(item)
            finally:
                self._queue.task_done()

    def _deliver(self, alert: Alert) -> None:
        for channel in self.channels:
            try:
                channel(alert)
            except Exception as exc:
                logger.error(
                    "djag alerts: %r could not deliver %s (%s): %s: %s",
                    channel,
                    alert.headline,
                    alert.reason,
                    type(exc).__name__,
                    exc,
                )


def from_settings() -> Notifier:
    """The notifier the settings ask for (an invalid webhook URL is logged and left out)."""
    settings_ = conf.get()
    channels: list[Channel] = []
    if settings_.alert_mail:
        channels.append(mail_to_admins)
    if settings_.alert_webhook:
        if conf.is_http_url(settings_.alert_webhook):
            channels.append(Webhook(settings_.alert_webhook))
        else:
            logger.error(
                "djag alerts: DJAG_ALERT_WEBHOOK %r is not an http(s) URL; no alert is posted "
                "(manage.py check reports djag.E007).",
                settings_.alert_webhook,
            )
    return Notifier(channels)


_notifier: Notifier | None = None
_notifier_lock = threading.Lock()


def notifier() -> Notifier:
    """The process's notifier, built from the settings on first use."""
    global _notifier
    with _notifier_lock:
        if _notifier is None:
            _notifier = from_settings()
        return _notifier


def shutdown(timeout: float = 5.0) -> None:
    """Deliver the alerts that wait (for up to ``timeout`` seconds) and stop the process's
    notifier; the next alert builds a new one from the settings. For beat's shutdown."""
    global _notifier
    with _notifier_lock:
        current, _notifier = _notifier, None
    if current is not None:
        current.close(timeout)
