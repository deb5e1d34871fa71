"""Garbage through validation: every cron field and every JSON field either validates or
fails with a ValidationError on that very field, never with another exception; what
validation accepts, the database stores; the admin answers garbage with a form error; and
every door that compiles a crontab refuses what beat could not compile."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from djag.admin.task_form import crontab_from_line
from djag.core.cron import FIELD_NAMES
from djag.core.vocab import MAX_CATCHUP
from djag.models import Crontab, PeriodicTask, UserAction
from djag.store.compile import Problem, compile_crontab, crontab_row
from djag.sync.apply import sync
from djag.sync.celery_beat import import_one
from djag.sync.declared import SyncError, parse
from tests.core.test_cron_fuzz import items as cron_items

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


def task_form(**fields: Any) -> dict[str, Any]:
    """The task add form as the admin posts it, with ``fields`` in it."""
    return {
        "name": "fuzz",
        "task": "tests.append_line",
        "start_at_0": "2030-01-01",
        "start_at_1": "00:00:00",
        "args": "[]",
        "kwargs": "{}",
        "headers": "{}",
        "misfire_policy": "coalesce",
        "keep_history": "all",
        "grace_seconds": "60",
        "max_catchup": "100",
        "max_running": "1",
        "run_timeout_seconds": "3600",
        "dependencies-TOTAL_FORMS": "0",
        "dependencies-INITIAL_FORMS": "0",
        **fields,
    }


@ADMIN_FUZZ
@given(text=st.text(max_size=40) | st.sampled_from(["[NaN]", '["\\u0000"]', '["\\ud800"]']))
def test_admin_answers_garbage_json_with_a_form_error(
    admin_client: Client, crontab: Crontab, text: str
) -> None:
    data = task_form(crontab=crontab.pk, args=text)
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


# -- every door that compiles a crontab: model, form, cron line, sync file, import ------------
#
# Cron text with characters that only look like digits, NULs and huge numbers (the parser's
# own fuzzing in tests/core/test_cron_fuzz.py), and huge numbers in the task's counts. Each
# door answers with its own kind of error or accepts; what it accepts, beat compiles.

door_cron = cron_items | st.lists(cron_items, min_size=1, max_size=4).map(",".join)
door_zones = st.sampled_from(["UTC", "Europe/Paris", "America", "Mars/Base", "UTC\x00", ""])
huge_counts = st.integers(-(10**20), 10**20) | st.sampled_from(
    [0, 1, MAX_CATCHUP, MAX_CATCHUP + 1, 2**31 - 1, 2**31, 2_000_000_000]
)
DOOR_FUZZ = settings(FUZZ, max_examples=40)


def compiles(crontab: Crontab) -> None:
    """What validation accepted, beat's compiler turns into a schedule, not a problem."""
    compiled = compile_crontab(crontab_row(crontab))
    assert not isinstance(compiled, Problem), compiled


@DOOR_FUZZ
@given(fields=st.lists(door_cron, min_size=6, max_size=6), zone=door_zones)
def test_door_model(fields: list[str], zone: str) -> None:
    crontab = Crontab(**dict(zip(FIELD_NAMES, fields, strict=True)), timezone=zone)
    if not field_errors(crontab):
        compiles(crontab)


@DOOR_FUZZ
@given(line=st.lists(door_cron, min_size=5, max_size=6).map(" ".join), zone=door_zones)
def test_door_cron_line(line: str, zone: str) -> None:
    try:
        crontab = crontab_from_line(line, zone)
    except ValidationError:
        return
    compiles(crontab)


@settings(ADMIN_FUZZ, max_examples=15)
@given(field=st.sampled_from(FIELD_NAMES), text=door_cron)
def test_door_crontab_form(admin_client: Client, field: str, text: str) -> None:
    fields = dict.fromkeys(FIELD_NAMES, "*") | {field: text}
    data = {"cron": " ".join(fields.values()), "timezone": "UTC"}
    response = post_rolled_back(admin_client, "/admin/djag/crontab/add/", data)
    assert response.status_code in (200, 302)


@settings(ADMIN_FUZZ, max_examples=15)
@given(line=st.lists(door_cron, min_size=5, max_size=6).map(" ".join))
def test_door_task_form_cron_line(admin_client: Client, crontab: Crontab, line: str) -> None:
    data = task_form(cron=line, cron_timezone="UTC")
    response = post_rolled_back(admin_client, "/admin/djag/periodictask/add/", data)
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert set(response.context["adminform"].form.errors) <= {"cron"}


@DOOR_FUZZ
@given(
    line=st.lists(door_cron, min_size=5, max_size=6).map(" ".join),
    zone=door_zones,
    counts=st.fixed_dictionaries(
        {},
        optional={
            "max_catchup": huge_counts,
            "grace_seconds": huge_counts,
            "expires_seconds": huge_counts,
            "priority": huge_counts,
        },
    ),
    name=st.sampled_from(["fuzz", "fu\x00zz", "f" * 201]),
)
def test_door_sync_file(line: str, zone: str, counts: dict[str, int], name: str) -> None:
    data = {"tasks": [{"name": name, "task": "tests.append_line", "cron": line, **counts}]}
    with transaction.atomic():
        try:
            sync(parse("fuzz.json", data | {"timezone": zone}))
        except SyncError:
            return
        finally:
            transaction.set_rollback(True)
        compiles(PeriodicTask.objects.get().crontab)


@DOOR_FUZZ
@given(
    fields=st.lists(door_cron, min_size=5, max_size=5),
    zone=door_zones,
    priority=st.none() | huge_counts,
    expire_seconds=st.none() | huge_counts,
)
def test_door_celery_beat_import(
    fields: list[str], zone: str, priority: int | None, expire_seconds: int | None
) -> None:
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    beat_crontab = SimpleNamespace(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
        timezone=zone,
    )
    beat_task = SimpleNamespace(
        name="fuzz",
        task="tests.append_line",
        args="[]",
        kwargs="{}",
        headers="{}",
        queue="",
        exchange="",
        routing_key="",
        priority=priority,
        expire_seconds=expire_seconds,
        enabled=True,
        description="",
        expires=None,
        start_time=None,
        one_off=False,
        solar_id=None,
        clocked_id=None,
        interval_id=None,
        crontab_id=1,
        crontab=beat_crontab,
    )
    with transaction.atomic():
        outcome = import_one(beat_task, set(), timezone.now())
        if outcome.status == "imported":
            compiles(PeriodicTask.objects.get().crontab)
        transaction.set_rollback(True)
    assert outcome.status in ("imported", "refused")
