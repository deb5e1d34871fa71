"""What the browser tests share: Chromium's options, screenshots, task factories.

Screenshots go to var/screenshots/, or to the folder named by DJAG_SCREENSHOT_DIR
(``make screenshots`` sets docs/img, where docs/admin.md takes them from).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from djag.models import Crontab, PeriodicTask

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "browser-pass"
#: A queue no worker reads: messages published by "Run now" stay in the broker folder.
QUEUE = "djag-browser-tests"
ROOT = Path(__file__).resolve().parents[2]
#: The width of the screens the admin must read well on.
WIDTH = 1280


def screenshot_dir() -> Path:
    return ROOT / os.environ.get("DJAG_SCREENSHOT_DIR", "var/screenshots")


def shot(target: Any, name: str, **options: Any) -> Path:
    folder = screenshot_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    target.screenshot(path=str(path), **options)
    return path


def make_task(name: str, crontab: Crontab, **fields: Any) -> PeriodicTask:
    fields.setdefault("task", "tests.append_line")
    fields.setdefault("queue", QUEUE)
    return PeriodicTask.objects.create(name=name, crontab=crontab, **fields)


def choose(page: Any, select_id: str, text: str) -> None:
    """Pick ``text`` in the select2 autocomplete widget of ``select_id``."""
    page.click(f"#{select_id} + .select2 .select2-selection")
    page.fill(".select2-container--open .select2-search__field", text)
    page.locator(".select2-results__option", has_text=text).first.click()
