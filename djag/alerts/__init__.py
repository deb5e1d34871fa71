"""Alerts on tasks, the shell around ``djag.core.alerts``: the signals and the notifier.

When beat finds that a task's alert tripped or recovered (the rule is
``djag.core.alerts.evaluate``), it calls :func:`announce` with an
:class:`Alert`. That sends the Django signal :data:`alert_tripped` or
:data:`alert_recovered`, then hands the alert to the notifier (mail to ADMINS
and, with ``DJAG_ALERT_WEBHOOK`` set, a JSON POST), which delivers it on a
thread of its own. Neither a receiver nor a notifier that fails can stop beat:
both failures are logged.

Receivers take ``sender`` (the ``Alert`` class) and ``alert``::

    from djag.alerts import alert_tripped

    @receiver(alert_tripped)
    def page_someone(sender, alert, **kwargs):
        pager.open(f"{alert.task_name}: {alert.reason}")

They run in beat's thread, between two ticks: keep them quick.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.dispatch import Signal

from djag.core.alerts import AlertKind, Transition

logger = logging.getLogger("djag.alerts")

#: Sent with ``alert`` (an :class:`Alert`) when a task's alert trips.
alert_tripped = Signal()
#: Sent with ``alert`` (an :class:`Alert`) when a tripped alert recovers.
alert_recovered = Signal()

_HEADLINES = {
    (AlertKind.OVERDUE, True): "is overdue",
    (AlertKind.OVERDUE, False): "is no longer overdue",
    (AlertKind.FAILING, True): "is failing",
    (AlertKind.FAILING, False): "is no longer failing",
}


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert of one task that tripped or recovered."""

    task_id: int
    task_name: str
    kind: AlertKind
    tripped: bool  # True: tripped; False: recovered
    reason: str
    at: dt.datetime  # when beat noticed (aware)

    @classmethod
    def of(cls, task_id: int, task_name: str, transition: Transition, at: dt.datetime) -> Alert:
        return cls(task_id, task_name, transition.kind, transition.tripped, transition.reason, at)

    @property
    def headline(self) -> str:
        """``djag: 'import sales' is overdue``."""
        return f"djag: {self.task_name!r} {_HEADLINES[self.kind, self.tripped]}"

    def text(self) -> str:
        return (
            f"{self.headline}.\n\n"
            f"Reason: {self.reason}.\n"
            f"Noticed at: {self.at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC.\n"
            f"Task: {self.task_name} (id {self.task_id}).\n"
        )

    def as_json(self) -> dict[str, Any]:
        """The webhook's body; ``text`` makes it a Slack or Mattermost incoming-webhook message."""
        return {
            "text": f"{self.headline}: {self.reason}",
            "task": self.task_name,
            "task_id": self.task_id,
            "alert": self.kind.value,
            "state": "tripped" if self.tripped else "recovered",
            "reason": self.reason,
            "at": self.at.astimezone(dt.UTC).isoformat(),
        }


def announce(alert: Alert) -> None:
    """Send the alert's signal and hand it to the notifier; never raises."""
    signal = alert_tripped if alert.tripped else alert_recovered
    for receiver, result in signal.send_robust(sender=Alert, alert=alert):
        if isinstance(result, Exception):
            logger.error(
                "djag alerts: the receiver %r of %s failed: %r", receiver, alert.headline, result
            )
    from djag.alerts.notify import notifier

    notifier().notify(alert)
