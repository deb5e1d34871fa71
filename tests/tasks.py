"""Celery tasks used by the end-to-end tests (imported by workers through CELERY_IMPORTS)."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

from celery import shared_task

import djag


@shared_task(name="tests.append_line")
def append_line(path: str, label: str, sleep: float = 0.0, fail_if_exists: str = "") -> None:
    """Append ``label`` to ``path``; fail instead if the file ``fail_if_exists`` exists."""
    if sleep:
        time.sleep(sleep)
    if fail_if_exists and os.path.exists(fail_if_exists):
        raise RuntimeError(f"{label}: failing because {fail_if_exists} exists")
    with Path(path).open("a") as out:
        out.write(f"{label} {time.time():.3f}\n")


@shared_task(name="tests.record_run")
def record_run(path: str, label: str = "", sleep: float = 0.0, fail_every: int = 0) -> None:
    """Append a JSON line to ``path``: the label, when the task ran, and ``djag.current_run()``
    as the task saw it. Then fail if the run's event is a multiple of ``fail_every`` seconds."""
    started = time.time()
    context = djag.current_run()
    if sleep:
        time.sleep(sleep)
    seen = None if context is None else dataclasses.asdict(context)
    if seen is not None:
        for name in ("scheduled_for", "previous_scheduled_for"):
            seen[name] = None if seen[name] is None else seen[name].isoformat()
    line = {"label": label, "start": started, "end": time.time(), "context": seen}
    with Path(path).open("a") as out:
        out.write(json.dumps(line) + "\n")
    slot = None if context is None else context.scheduled_for
    if fail_every and slot is not None and int(slot.timestamp()) % fail_every == 0:
        raise RuntimeError(f"{label}: failing on purpose at {slot.isoformat()}")
