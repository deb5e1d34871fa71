"""Celery tasks used by the end-to-end tests (imported by workers through CELERY_IMPORTS)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from celery import shared_task


@shared_task(name="tests.append_line")
def append_line(path: str, label: str, sleep: float = 0.0, fail_if_exists: str = "") -> None:
    """Append ``label`` to ``path``; fail instead if the file ``fail_if_exists`` exists."""
    if sleep:
        time.sleep(sleep)
    if fail_if_exists and os.path.exists(fail_if_exists):
        raise RuntimeError(f"{label}: failing because {fail_if_exists} exists")
    with Path(path).open("a") as out:
        out.write(f"{label} {time.time():.3f}\n")
