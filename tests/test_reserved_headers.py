"""A task's stored headers may not use Celery's message header names, nor djag's.

The defect: ``headers={"task": "djag.call_command", "argsrepr": "['harmless']"}`` on a
task shown as ``tests.append_line`` replaced Celery's own headers, and the worker ran
another task. Validation refuses every reserved name; a row written past validation is
a recorded problem and beat sends no message for it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from djag.core.message import CELERY_HEADERS, RUN_ID_HEADER, message_options
from djag.models import Crontab, PeriodicTask, TaskRun

from .test_admin import admin_url, form_errors, task_form
from .test_admin_actions import staff
from .test_engine import E0, Recorder, every, make_engine, make_task, run

pytestmark = pytest.mark.django_db

SUBSTITUTION = {"task": "djag.call_command", "argsrepr": "['harmless']", "eta": None}


def headers_error(crontab: Crontab, headers: dict[str, Any]) -> list[str]:
    task = PeriodicTask(name="t", task="tests.append_line", crontab=crontab, headers=headers)
    with pytest.raises(ValidationError) as caught:
        task.full_clean()
    return caught.value.message_dict["headers"]


@pytest.mark.parametrize("name", sorted(CELERY_HEADERS))
def test_every_celery_header_name_is_refused(crontab: Crontab, name: str) -> None:
    assert headers_error(crontab, {name: "x", "x-trace": "1"}) == [
        f"Headers may not use {name!r}: Celery's message headers and djag's own (djag_...) "
        "are reserved, as a stored value would replace theirs."
    ]


@pytest.mark.parametrize("name", [RUN_ID_HEADER, "djag_trigger", "DJAG_RUN_ID", "Task", "ETA"])
def test_djag_headers_and_other_cases_are_refused(crontab: Crontab, name: str) -> None:
    [error] = headers_error(crontab, {name: 1})
    assert error.startswith(f"Headers may not use {name!r}")


def test_the_issue_substitution_names_every_reserved_header(crontab: Crontab) -> None:
    [error] = headers_error(crontab, SUBSTITUTION)
    assert error.startswith("Headers may not use 'argsrepr', 'eta', 'task':")


def test_other_headers_are_kept(crontab: Crontab) -> None:
    headers = {"x-trace-id": "abc", "tenant": 7, "taskname": "fine"}
    PeriodicTask(name="t", task="tests.append_line", crontab=crontab, headers=headers).full_clean()


def test_a_staff_user_cannot_substitute_headers_in_the_admin(
    crontab: Crontab, make_task: Any
) -> None:
    report = make_task(name="report")
    client = staff("view_periodictask", "change_periodictask", "view_crontab")
    response = client.post(
        admin_url(PeriodicTask, "change", report.pk),
        task_form(crontab, name="report", headers=json.dumps(SUBSTITUTION)),
    )
    [error] = form_errors(response)["headers"]
    assert error.startswith("Headers may not use 'argsrepr', 'eta', 'task':")
    report.refresh_from_db()
    assert report.headers == {}


def write_headers(task: PeriodicTask, headers: dict[str, Any]) -> None:
    """Behind the ORM's back, as a raw SQL fix or a bad migration would."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(PeriodicTask._meta.db_table)} SET {quote('headers')} = %s "
            "WHERE id = %s",
            [json.dumps(headers), task.pk],
        )


def test_a_raw_row_is_a_problem_and_gets_no_message() -> None:
    publisher = Recorder()
    engine = make_engine(publisher, lambda: "0")
    make_task("good", max_running=0)
    bad = make_task("bad", every(second="30"), max_running=0)
    write_headers(bad, SUBSTITUTION)
    engine.load(E0)
    for second in (1, 30.5, 60.5, 90.5):
        run(engine, second)
    assert publisher.names() == ["good"]
    assert not TaskRun.objects.filter(task_name="bad").exists()
    bad.refresh_from_db()
    assert bad.problem.startswith("headers may not use 'argsrepr', 'eta', 'task':")


def test_a_claimed_run_of_a_task_whose_headers_went_bad_is_not_published() -> None:
    publisher = Recorder()
    engine = make_engine(publisher, lambda: "0")
    task = make_task("later-bad")
    engine.load(E0)
    publisher.failing = True  # claimed, not sent
    run(engine, 60.5)
    assert TaskRun.objects.get().state == "claimed"
    write_headers(task, SUBSTITUTION)
    publisher.failing = False
    fresh = make_engine(publisher, lambda: "0")
    fresh.load(E0 + 61)  # republishes claimed runs: not this one
    assert publisher.sent == []


def test_the_run_id_header_is_always_djags() -> None:
    options = message_options({"headers": {RUN_ID_HEADER: 999}}, run_id=5)
    assert options["headers"][RUN_ID_HEADER] == 5
