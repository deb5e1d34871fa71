"""What djag's management commands share: the ``--now`` option and how instants are shown."""

from __future__ import annotations

import argparse
import datetime as dt

from django.utils import timezone
from django.utils.dateparse import parse_datetime


def moment(text: str) -> dt.datetime:
    """An argparse type: an ISO 8601 date and time; without an offset, in settings.TIME_ZONE."""
    parsed = parse_datetime(text.strip())
    if parsed is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date and time; write it as ISO 8601, e.g. 2026-03-02T12:00:00Z"
        )
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed.astimezone(dt.UTC)


def non_negative(text: str) -> float:
    """An argparse type: a number of at least zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number of at least 0")
    return value


def add_now_argument(parser: argparse.ArgumentParser, purpose: str) -> None:
    parser.add_argument(
        "--now",
        type=moment,
        default=None,
        metavar="WHEN",
        help=f"Pretend it is WHEN (ISO 8601; without an offset, in TIME_ZONE) {purpose}. "
        "Default: the current time.",
    )
