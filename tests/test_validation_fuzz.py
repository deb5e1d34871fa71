"""Garbage through validation: every cron field and every JSON field either validates or
fails with a ValidationError on that very field, never with another exception; what
validation accepts, the database stores; the admin answers garbage with a form error."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from djag.core.cron import FIELD_NAMES
from djag.models import Crontab, PeriodicTask, UserAction

pytestmark = pytest.mark.django_db

# Each example writes in a savepoint that is rolled back: function-scoped fixtures are safe.
FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ADMIN_FUZZ = settings(FUZZ, max_examples=25)  # a page render each

lone_surrogates = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1)
texts = st.text(max_size=30) | lone_surrogates
cron_like = st.text(alphabet="0123456789*/-,#?LlWwHh jansunmofrtewdc", max_size=16)
not_text = st.none() | st.integers() | st.floats() | st.booleans() | st.lists(st.integers())
cron_garbage = cron_like | texts | not_text

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | texts
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
not_json = st.sets(st.integers(), max_size=2) | st.binary(max_size=4) | st.builds(object)
json_garbage = json_values | not_json


def field_errors(obj: models.Model) -> set[str]:
    try:
        obj.full_clean()
    except ValidationError as exc:
        return set(exc.message_dict)
    return set()


def validate_then_store(obj: models.Model, field: str) -> None:
    """full_clean() passes, or names only ``field``; a valid object is saved (then rolled back)."""
    errors = field_errors(obj)
    if errors:
        assert errors == {field}
        return
    with transaction.atomic():
        obj.save()
        transaction.set_rollback(True)


def post_rolled_back(client: Client, url: str, data: dict[str, Any]) -> Any:
    with transaction.atomic():
        response = client.post(url, data)
        transaction.set_rollback(True)
    return response


@pytest.mark.parametrize("field", FIELD_NAMES)
@FUZZ
@given(value=cron_garbage)
def test_cron_field_garbage(field: str, value: Any) -> None:
    validate_then_store(Crontab(**{field: value}), field)


@FUZZ
@given(value=texts | not_text)
def test_timezone_garbage(value: Any) -> None:
    validate_then_store(Crontab(timezone=value), "timezone")


@pytest.mark.parametrize("field", ["args", "kwargs", "headers"])
@FUZZ
@given(value=json_garbage)
def test_task_json_field_garbage(crontab: Crontab, field: str, value: Any) -> None:
    task = PeriodicTask(name="fuzz", task="tests.append_line", crontab=crontab, **{field: value})
    validate_then_store(task, field)


@FUZZ
@given(value=json_garbage | st.datetimes(timezones=st.none()))
def test_user_action_payload_garbage(value: Any) -> None:
    validate_then_store(UserAction(action="fuzz", payload=value), "payload")


@ADMIN_FUZZ
@given(text=st.text(max_size=40) | st.sampled_from(["[NaN]", '["\\u0000"]', '["\\ud800"]']))
def test_admin_answers_garbage_json_with_a_form_error(
    admin_client: Client, crontab: Crontab, text: str
) -> None:
    data = {
        "name": "fuzz",
        "task": "tests.append_line",
        "crontab": crontab.pk,
        "start_at_0": "2030-01-01",
        "start_at_1": "00:00:00",
        "args": text,
        "kwargs": "{}",
        "headers": "{}",
        "misfire_policy": "coalesce",
        "grace_seconds": "60",
        "max_catchup": "100",
        "max_running": "1",
        "run_timeout_seconds": "3600",
        "dependencies-TOTAL_FORMS": "0",
        "dependencies-INITIAL_FORMS": "0",
    }
    response = post_rolled_back(admin_client, "/admin/djag/periodictask/add/", data)
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert list(response.context["adminform"].form.errors) == ["args"]


@ADMIN_FUZZ
@given(field=st.sampled_from(FIELD_NAMES), text=cron_like | st.text(max_size=20))
def test_admin_answers_garbage_cron_with_a_form_error(
    admin_client: Client, field: str, text: str
) -> None:
    # The crontab form takes one line: the garbage goes in one of its six fields.
    fields = dict.fromkeys(FIELD_NAMES, "*") | {field: text}
    data = {"cron": " ".join(fields.values()), "timezone": "UTC"}
    response = post_rolled_back(admin_client, "/admin/djag/crontab/add/", data)
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert list(response.context["adminform"].form.errors) == ["cron"]
