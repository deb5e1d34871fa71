"""System checks djag.E001-E007 and W001-W002: each fires on its misconfiguration, says how
to fix it, and stays silent on the sample site's settings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from celery import current_app
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from djag import checks as djag_checks

LOCMEM = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
DUMMY = {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
# Words a hint starts with when it tells the reader what to do.
FIX_VERBS = re.compile(r"^(Set|Add|Point|Remove|For example)\b")


def djag_messages() -> list[checks.CheckMessage]:
    return checks.run_checks(tags=["djag"])


def only_message(check_id: str) -> checks.CheckMessage:
    messages = djag_messages()
    assert [m.id for m in messages] == [check_id], messages
    return messages[0]


def assert_says_how_to_fix(message: checks.CheckMessage) -> None:
    assert message.level == checks.ERROR
    assert message.hint
    assert FIX_VERBS.match(message.hint), message.hint


def test_sample_settings_pass_every_check() -> None:
    assert djag_messages() == []
    call_command("check")


@override_settings(DJAG_CACHE="wakeups")
def test_e001_cache_alias_missing_from_caches() -> None:
    message = only_message("djag.E001")
    assert "'wakeups'" in message.msg
    assert "Add 'wakeups' to CACHES or set DJAG_CACHE to one of ['default']" in message.hint
    assert_says_how_to_fix(message)


@pytest.mark.parametrize(("cache", "name"), [(LOCMEM, "LocMemCache"), (DUMMY, "DummyCache")])
def test_e002_per_process_cache(cache: dict[str, str], name: str) -> None:
    with override_settings(CACHES={"default": cache}):
        message = only_message("djag.E002")
    assert name in message.msg
    assert "every process shares" in message.hint
    assert_says_how_to_fix(message)


@override_settings(
    CACHES={"default": LOCMEM, "wake": {"BACKEND": "django.core.cache.backends.db.DatabaseCache"}},
    DJAG_CACHE="wake",
)
def test_shared_djag_cache_passes_whatever_the_default_cache() -> None:
    assert djag_messages() == []


@override_settings(USE_TZ=False)
def test_e003_use_tz_false() -> None:
    message = only_message("djag.E003")
    assert message.hint == "Set USE_TZ = True in your settings."


def test_e004_task_serializer_not_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(current_app.conf, "task_serializer", "pickle")
    message = only_message("djag.E004")
    assert "'pickle'" in message.msg
    assert 'CELERY_TASK_SERIALIZER = "json"' in message.hint
    assert_says_how_to_fix(message)


@pytest.mark.parametrize(
    "accepted", [["json", "pickle"], ["application/json", "application/x-python-serialize"]]
)
def test_e005_accepts_content_besides_json(
    monkeypatch: pytest.MonkeyPatch, accepted: list[str]
) -> None:
    monkeypatch.setitem(current_app.conf, "accept_content", accepted)
    message = only_message("djag.E005")
    assert accepted[1] in message.msg
    assert message.hint == 'Set CELERY_ACCEPT_CONTENT = ["json"].'


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DJAG_POLL_SECONDS", 0),
        ("DJAG_POLL_SECONDS", "5"),
        ("DJAG_POLL_SECONDS", float("nan")),
        ("DJAG_LEASE_SECONDS", -1),
        ("DJAG_LEASE_SECONDS", True),
        ("DJAG_LEASE_SECONDS", float("inf")),
        ("DJAG_RUN_RETENTION_DAYS", None),
    ],
)
def test_e006_number_setting_out_of_range(name: str, value: Any) -> None:
    with override_settings(**{name: value}):
        message = only_message("djag.E006")
    assert message.msg.startswith(f"{name} is {value!r}")
    assert message.hint.startswith(f"Remove {name} to use the default")
    assert_says_how_to_fix(message)


@pytest.mark.parametrize(
    ("name", "value"),
    [("DJAG_POLL_SECONDS", 0.5), ("DJAG_LEASE_SECONDS", 30), ("DJAG_RUN_RETENTION_DAYS", 7)],
)
def test_valid_djag_settings_pass(name: str, value: Any) -> None:
    with override_settings(**{name: value}):
        assert djag_messages() == []


@override_settings(CACHES={"default": LOCMEM}, USE_TZ=False)
def test_manage_py_check_reports_the_ids_and_hints() -> None:
    with pytest.raises(SystemCheckError) as exc_info:
        call_command("check")
    report = str(exc_info.value)
    assert "djag.E002" in report
    assert "djag.E003" in report
    assert "HINT: Set USE_TZ = True in your settings." in report


def test_every_check_id_is_tested() -> None:
    source = Path(djag_checks.__file__).read_text()
    ids = set(re.findall(r'id="(djag\.[EW]\d{3})"', source))
    tested = set(re.findall(r"djag\.[EW]\d{3}", Path(__file__).read_text()))
    assert ids
    assert ids <= tested


@pytest.mark.parametrize("value", ["schedules.yaml", None, [1], ["ok.yaml", ""], {"a": 1}])
def test_e006_djag_schedules_not_a_list_of_names(value: Any) -> None:
    with override_settings(DJAG_SCHEDULES=value):
        message = only_message("djag.E006")
    assert message.msg == (
        f"DJAG_SCHEDULES is {value!r}; it must be a list of file paths or module names."
    )
    assert_says_how_to_fix(message)


@pytest.mark.parametrize("value", [[], ["schedules.yaml", "proj.schedules"], ("a.json",)])
def test_valid_djag_schedules_pass(value: Any) -> None:
    with override_settings(DJAG_SCHEDULES=value):
        assert djag_messages() == []


@pytest.mark.parametrize("name", ["shell", "dbshell", "loaddata", "runserver", "testserver"])
def test_w001_an_allowed_command_that_runs_any_input(name: str) -> None:
    with override_settings(DJAG_ALLOWED_COMMANDS=["clearsessions", name]):
        message = only_message("djag.W001")
    assert message.level == checks.WARNING
    assert message.msg.startswith(f"DJAG_ALLOWED_COMMANDS allows {name!r}, which ")
    assert "anyone who may edit periodic tasks could make a worker do that" in message.msg
    assert message.hint.startswith(f"Remove {name!r} from DJAG_ALLOWED_COMMANDS")


def test_w002_an_allowed_command_that_does_not_exist() -> None:
    with override_settings(DJAG_ALLOWED_COMMANDS=["clearsessions", "clearsesions"]):
        message = only_message("djag.W002")
    assert message.level == checks.WARNING
    assert message.msg == (
        "DJAG_ALLOWED_COMMANDS names 'clearsesions', which is no installed management command."
    )


@pytest.mark.parametrize("value", ["clearsessions", None, [1], ["clearsessions", ""]])
def test_e006_djag_allowed_commands_not_a_list_of_names(value: Any) -> None:
    with override_settings(DJAG_ALLOWED_COMMANDS=value):
        message = only_message("djag.E006")
    assert message.msg == (
        f"DJAG_ALLOWED_COMMANDS is {value!r}; it must be a list of management command names."
    )
    assert_says_how_to_fix(message)


@pytest.mark.parametrize("value", [[], ["clearsessions", "djag_prune"], ("check",)])
def test_safe_allowed_commands_pass(value: Any) -> None:
    with override_settings(DJAG_ALLOWED_COMMANDS=value):
        assert djag_messages() == []


@pytest.mark.parametrize(
    "value", ["hooks.example.com/djag", "ftp://example.com/hook", "https://", "http:// x", 42]
)
def test_e007_alert_webhook_not_an_http_url(value: Any) -> None:
    with override_settings(DJAG_ALERT_WEBHOOK=value):
        message = only_message("djag.E007")
    assert message.msg.startswith(f"DJAG_ALERT_WEBHOOK is {value!r}, which is not an http")
    assert_says_how_to_fix(message)


@pytest.mark.parametrize(
    "value", ["", "https://hooks.example.com/services/T0/B0/x", "http://127.0.0.1:8080/hook"]
)
def test_valid_alert_webhook_passes(value: str) -> None:
    with override_settings(DJAG_ALERT_WEBHOOK=value):
        assert djag_messages() == []


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("DJAG_ALERT_MAIL", "yes", "True or False"),
        ("DJAG_ALERT_MAIL", None, "True or False"),
        ("DJAG_NOTIFY", "no", "True or False"),
        ("DJAG_NOTIFY", 0, "True or False"),
        ("DJAG_METRICS_PORT", 0, "a port number (1-65535) or None"),
        ("DJAG_METRICS_PORT", 65536, "a port number (1-65535) or None"),
        ("DJAG_METRICS_PORT", "9808", "a port number (1-65535) or None"),
        ("DJAG_METRICS_PORT", True, "a port number (1-65535) or None"),
        ("DJAG_METRICS_PORT", 9808.0, "a port number (1-65535) or None"),
        ("DJAG_METRICS_ADDRESS", None, "a host name or IP address"),
    ],
)
def test_e006_alert_and_metrics_settings_of_the_wrong_type(
    name: str, value: Any, says: str
) -> None:
    with override_settings(**{name: value}):
        message = only_message("djag.E006")
    assert message.msg.startswith(f"{name} is {value!r}; it must be {says}")
    assert_says_how_to_fix(message)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DJAG_ALERT_MAIL", False),
        ("DJAG_NOTIFY", False),
        ("DJAG_METRICS_PORT", 9808),
        ("DJAG_METRICS_PORT", None),
        ("DJAG_METRICS_ADDRESS", "127.0.0.1"),
    ],
)
def test_valid_alert_and_metrics_settings_pass(name: str, value: Any) -> None:
    with override_settings(**{name: value}):
        assert djag_messages() == []
