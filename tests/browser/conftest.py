"""The browser and a logged-in admin page for the browser tests (Playwright driving
Debian's Chromium against pytest-django's live_server)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from .support import CHROMIUM, CHROMIUM_ARGS, PASSWORD, WIDTH


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    # Playwright's sync API runs an event loop in this thread; the ORM calls of the tests
    # are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def console() -> list[str]:
    """The page's console warnings and errors, and its uncaught exceptions."""
    return []


@pytest.fixture
def page(browser: Any, live_server: Any, console: list[str]) -> Iterator[Any]:
    """A logged-in admin page, 1280 px wide, of a fresh browser context."""
    from django.contrib.auth.models import User
    from playwright.sync_api import expect

    User.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": WIDTH, "height": 900}
    )
    # The admin's navigation sidebar closed: more room for what each test shows.
    context.add_init_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
    page = context.new_page()

    def note(message: Any) -> None:
        # Chromium asks every site for /favicon.ico, which the admin does not serve.
        favicon = message.location.get("url", "").endswith("/favicon.ico")
        if message.type in ("warning", "error") and not favicon:
            console.append(f"{message.type}: {message.text} ({message.location.get('url')})")

    page.on("console", note)
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    page.set_default_timeout(15_000)
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_contain_text("admin")
    yield page
    context.close()
