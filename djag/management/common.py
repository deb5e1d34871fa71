"""What djag's management commands share: argument types, the ``--now`` option, who acts."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
from collections.abc import Callable
from typing import Any

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


def positive(text: str) -> float:
    """An argparse type: a finite number above zero."""
    value = non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text} must be a number above 0")
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


def json_of(kind: type) -> Callable[[str], Any]:
    """An argparse type: a JSON document of ``kind`` (list or dict)."""
    what = "list" if kind is list else "object"

    def parse(text: str) -> Any:
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} is not JSON ({exc})") from None
        if not isinstance(value, kind):
            raise argparse.ArgumentTypeError(f"{text!r} is not a JSON {what}")
        return value

    return parse


def command_actor(command: str) -> str:
    """Who a command acts as, for the ledger and the audit log: the command and the OS user."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in the environment, no passwd entry
        return command
    return f"{command} ({user})"
