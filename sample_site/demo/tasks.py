"""Demo tasks forming a small DAG: import sales -> build report -> email report.

They only log and sleep a little: the point is to watch djag order them.
"""

from __future__ import annotations

import logging
import random
import time

from celery import shared_task
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from djag.models import UserAction

logger = logging.getLogger(__name__)


@shared_task(name="demo.import_sales")
def import_sales(source: str = "shop") -> int:
    time.sleep(random.uniform(0.5, 2.0))
    rows = random.randint(100, 1000)
    logger.info("imported %d sales rows from %s", rows, source)
    return rows


@shared_task(name="demo.build_report")
def build_report(kind: str = "daily") -> str:
    time.sleep(random.uniform(0.5, 1.5))
    logger.info("built the %s report", kind)
    return kind


@shared_task(name="demo.email_report")
def email_report(to: str = "team@example.com") -> None:
    time.sleep(0.2)
    logger.info("emailed the report to %s", to)


@shared_task(name="demo.send_queued_mail")
def send_queued_mail(batch: int = 50) -> int:
    # An operator can pause the mailings from the admin (a "pause_mail" user action).
    pause = UserAction.objects.filter(action="pause_mail").first()
    payload = pause.payload if pause is not None and isinstance(pause.payload, dict) else {}
    until = parse_datetime(str(payload.get("until", "")))
    if until is not None and until > timezone.now():
        logger.info("mailings paused until %s: %s", until, payload.get("reason", ""))
        return 0
    sent = random.randint(0, batch)
    logger.info("sent %d queued mails", sent)
    return sent
