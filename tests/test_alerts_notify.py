"""The alert shell: the signals, and the notifier's mail (Django's locmem backend) and
webhook (a local HTTP server); a failing receiver or channel is logged, never raised."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core import mail
from django.test import override_settings

from djag.alerts import Alert, alert_recovered, alert_tripped, announce, notify
from djag.core.alerts import AlertKind, Transition
from tests.e2e.conftest import free_port

AT = dt.datetime(2026, 3, 2, 12, 0, 30, tzinfo=dt.UTC)
OVERDUE = Alert.of(
    7,
    "import sales",
    Transition(AlertKind.OVERDUE, True, "no run for the slot at 2026-03-02 12:00:00 UTC"),
    AT,
)
RECOVERED = Alert.of(7, "import sales", Transition(AlertKind.FAILING, False, "a run succeeded"), AT)
ADMINS = [("Ops", "ops@example.com")]


@dataclass
class Hook:
    """A local HTTP server that records what is posted to it and answers ``status``."""

    url: str
    status: int = 204
    posts: list[tuple[dict[str, str], Any]] = field(default_factory=list)


@pytest.fixture
def hook() -> Iterator[Hook]:
    received = Hook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.posts.append((dict(self.headers), json.loads(body)))
            self.send_response(received.status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    received.url = f"http://127.0.0.1:{server.server_address[1]}/alerts"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield received
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def alert_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="djag.alerts")
    return caplog


def deliver(notifier: notify.Notifier, *alerts: Alert) -> None:
    for alert in alerts:
        notifier.notify(alert)
    assert notifier.flush(timeout=30)
    notifier.close(timeout=30)


# --- the alert's texts ----------------------------------------------------------------------


def test_alert_texts_name_the_task_the_kind_and_the_reason():
    assert OVERDUE.headline == "djag: 'import sales' is overdue"
    assert RECOVERED.headline == "djag: 'import sales' is no longer failing"
    assert OVERDUE.text() == (
        "djag: 'import sales' is overdue.\n\n"
        "Reason: no run for the slot at 2026-03-02 12:00:00 UTC.\n"
        "Noticed at: 2026-03-02 12:00:30 UTC.\n"
        "Task: import sales (id 7).\n"
    )
    assert RECOVERED.as_json() == {
        "text": "djag: 'import sales' is no longer failing: a run succeeded",
        "task": "import sales",
        "task_id": 7,
        "alert": "failing",
        "state": "recovered",
        "reason": "a run succeeded",
        "at": "2026-03-02T12:00:30+00:00",
    }


# --- mail ------------------------------------------------------------------------------------


@override_settings(ADMINS=ADMINS, EMAIL_SUBJECT_PREFIX="[site] ")
def test_mail_goes_to_admins():
    deliver(notify.Notifier([notify.mail_to_admins]), OVERDUE)
    (message,) = mail.outbox
    assert message.to == ["ops@example.com"]
    assert message.subject == "[site] djag: 'import sales' is overdue"
    assert message.body == OVERDUE.text()


@override_settings(ADMINS=[])
def test_no_admins_is_logged_not_silent(alert_log: pytest.LogCaptureFixture):
    deliver(notify.Notifier([notify.mail_to_admins]), OVERDUE)
    assert mail.outbox == []
    assert "djag: 'import sales' is overdue, not mailed: ADMINS is empty." in alert_log.text


@override_settings(
    ADMINS=ADMINS, EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_PORT=1
)
def test_a_mail_server_that_refuses_is_logged(alert_log: pytest.LogCaptureFixture):
    deliver(notify.Notifier([notify.mail_to_admins]), OVERDUE)
    assert "could not deliver djag: 'import sales' is overdue" in alert_log.text
    assert "ConnectionRefusedError" in alert_log.text


# --- webhook ---------------------------------------------------------------------------------


def test_webhook_receives_the_alert_as_json(hook: Hook):
    deliver(notify.Notifier([notify.Webhook(hook.url)]), OVERDUE, RECOVERED)
    assert [body for _, body in hook.posts] == [OVERDUE.as_json(), RECOVERED.as_json()]
    headers = hook.posts[0][0]
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("djag/")


@override_settings(ADMINS=ADMINS)
def test_a_failing_webhook_is_logged_and_the_next_channel_still_delivers(
    hook: Hook, alert_log: pytest.LogCaptureFixture
):
    hook.status = 500
    deliver(notify.Notifier([notify.Webhook(hook.url), notify.mail_to_admins]), OVERDUE)
    assert len(hook.posts) == 1
    assert len(mail.outbox) == 1
    (record,) = [r for r in alert_log.records if r.name == "djag.alerts"]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == (
        f"djag alerts: webhook {hook.url} could not deliver djag: 'import sales' is overdue "
        "(no run for the slot at 2026-03-02 12:00:00 UTC): HTTPError: "
        "HTTP Error 500: Internal Server Error"
    )


def test_an_unreachable_webhook_is_logged(alert_log: pytest.LogCaptureFixture):
    closed = f"http://127.0.0.1:{free_port()}/alerts"  # nothing listens there
    deliver(notify.Notifier([notify.Webhook(closed)]), OVERDUE)
    assert f"webhook {closed} could not deliver" in alert_log.text
    assert "URLError" in alert_log.text


# --- the notifier never holds beat up ---------------------------------------------------------


class Blocking:
    """A channel that waits until released: a mail server or webhook that hangs."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.delivered: list[Alert] = []

    def __call__(self, alert: Alert) -> None:
        self.entered.set()
        assert self.release.wait(timeout=30)
        self.delivered.append(alert)


def test_notify_returns_while_a_channel_hangs():
    channel = Blocking()
    notifier = notify.Notifier([channel])
    notifier.notify(OVERDUE)  # returns although the channel cannot finish yet
    assert channel.entered.wait(timeout=30)
    assert channel.delivered == []
    channel.release.set()
    deliver(notifier)
    assert channel.delivered == [OVERDUE]


def test_alerts_beyond_a_full_queue_are_logged(alert_log: pytest.LogCaptureFixture):
    channel = Blocking()
    notifier = notify.Notifier([channel], queue_size=1)
    notifier.notify(OVERDUE)
    assert channel.entered.wait(timeout=30)  # the thread holds the first one
    notifier.notify(RECOVERED)  # waits in the queue
    notifier.notify(OVERDUE)  # finds it full
    assert (
        "djag: 'import sales' is overdue (no run for the slot at 2026-03-02 12:00:00 UTC) "
        "not delivered: 1 alerts already wait." in alert_log.text
    )
    channel.release.set()
    deliver(notifier)
    assert channel.delivered == [OVERDUE, RECOVERED]


def test_close_delivers_what_waits():
    channel = Blocking()
    channel.release.set()
    notifier = notify.Notifier([channel])
    for _ in range(5):
        notifier.notify(OVERDUE)
    notifier.close(timeout=30)
    assert channel.delivered == [OVERDUE] * 5


# --- from the settings -----------------------------------------------------------------------


def test_default_settings_mail_admins():
    assert notify.from_settings().channels == (notify.mail_to_admins,)


@override_settings(DJAG_ALERT_MAIL=False, DJAG_ALERT_WEBHOOK="https://hooks.example.com/x")
def test_webhook_only():
    (channel,) = notify.from_settings().channels
    assert isinstance(channel, notify.Webhook)
    assert channel.url == "https://hooks.example.com/x"


@override_settings(DJAG_ALERT_WEBHOOK="hooks.example.com/x")
def test_a_malformed_webhook_is_left_out_and_logged(alert_log: pytest.LogCaptureFixture):
    assert notify.from_settings().channels == (notify.mail_to_admins,)
    assert "DJAG_ALERT_WEBHOOK 'hooks.example.com/x' is not an http(s) URL" in alert_log.text


# --- announce: the signals, then the notifier -------------------------------------------------


@pytest.fixture
def fresh_notifier() -> Iterator[None]:
    """The process's notifier rebuilt from the test's settings, and stopped after it."""
    notify.shutdown()
    yield
    notify.shutdown()


@override_settings(ADMINS=ADMINS)
def test_announce_sends_the_signal_and_notifies(fresh_notifier: None, hook: Hook):
    tripped: list[Alert] = []
    recovered: list[Alert] = []

    def on_tripped(sender: type, alert: Alert, **kwargs: Any) -> None:
        tripped.append(alert)

    def on_recovered(sender: type, alert: Alert, **kwargs: Any) -> None:
        recovered.append(alert)

    alert_tripped.connect(on_tripped)
    alert_recovered.connect(on_recovered)
    try:
        with override_settings(DJAG_ALERT_WEBHOOK=hook.url):
            announce(OVERDUE)
            announce(RECOVERED)
            notify.shutdown(timeout=30)
    finally:
        alert_tripped.disconnect(on_tripped)
        alert_recovered.disconnect(on_recovered)
    assert (tripped, recovered) == ([OVERDUE], [RECOVERED])
    assert [message.subject for message in mail.outbox] == [
        "[Django] djag: 'import sales' is overdue",
        "[Django] djag: 'import sales' is no longer failing",
    ]
    assert [body["state"] for _, body in hook.posts] == ["tripped", "recovered"]


@override_settings(ADMINS=ADMINS)
def test_a_failing_receiver_is_logged_and_the_alert_still_goes_out(
    fresh_notifier: None, alert_log: pytest.LogCaptureFixture
):
    def broken(sender: type, alert: Alert, **kwargs: Any) -> None:
        raise RuntimeError("pager down")

    alert_tripped.connect(broken)
    try:
        announce(OVERDUE)
        notify.shutdown(timeout=30)
    finally:
        alert_tripped.disconnect(broken)
    assert "the receiver" in alert_log.text
    assert "RuntimeError('pager down')" in alert_log.text
    # (Django mails ADMINS about the receiver's error too.)
    assert [m.subject for m in mail.outbox].count("[Django] djag: 'import sales' is overdue") == 1
