"""The compact task rows beat holds (``djag.store.rows.TaskRow``): a row's message is kept
as its JSON texts and decoded at each use, equal values are shared by the rows of a load,
and rows are read in chunks. Whatever the representation, a row says what the task holds."""

from __future__ import annotations

import datetime as dt
from collections import namedtuple
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from djag.models import PeriodicTask
from djag.store import schedule
from djag.store.compile import TASK_COLUMNS, Shared, task_row
from djag.store.rows import NO_ALERTS, NO_EXCLUSIONS, TaskRow, message_fields


def options_of(task: PeriodicTask) -> dict[str, Any]:
    """The options as rows held them before they were compact: the reference."""
    options: dict[str, Any] = {"headers": task.headers}
    for name in ("queue", "exchange", "routing_key"):
        if getattr(task, name):
            options[name] = getattr(task, name)
    if task.priority is not None:
        options["priority"] = task.priority
    if task.expires_seconds:
        options["expires"] = task.expires_seconds
    return options


MESSAGES = [
    {},
    {"args": [1, "two", {"three": [4.5, None, True]}], "kwargs": {"n": 1, "é": "ü"}},
    {"headers": {"tenant": "acme"}, "queue": "reports", "priority": 0},
    {"exchange": "x", "routing_key": "r.k", "expires_seconds": 30, "priority": 9},
    {"args": [], "kwargs": {"nested": {"deep": [[], {}]}}, "headers": {"a": {"b": 1}}},
]


@pytest.mark.django_db
def test_a_loaded_row_gives_the_message_the_task_holds(
    make_task: Callable[..., PeriodicTask],
) -> None:
    tasks = [make_task(**fields) for fields in MESSAGES]
    rows = {row.id: row for row in schedule.load_tasks("default")}
    for task in tasks:
        row = rows[task.pk]
        assert (row.args, row.kwargs) == (task.args, task.kwargs)
        assert row.options == options_of(task)
        assert list(row.options) == list(options_of(task))  # in the same order
        assert not row.problem


@pytest.mark.django_db
def test_each_use_of_a_row_message_gets_lists_and_dicts_of_its_own(
    make_task: Callable[..., PeriodicTask],
) -> None:
    make_task(args=[1], kwargs={"k": "v"}, headers={"h": "1"}, queue="q")
    make_task(queue="q")
    first, second = sorted(schedule.load_tasks("default"), key=lambda row: row.id)
    first.args.append(2)
    first.kwargs["k"] = "changed"
    first.options["headers"]["h"] = "changed"
    second.options["headers"]["h"] = "new"
    assert (first.args, first.kwargs, first.options["headers"]) == ([1], {"k": "v"}, {"h": "1"})
    assert second.options == {"headers": {}, "queue": "q"}


@pytest.mark.django_db
def test_the_rows_of_one_load_share_their_equal_values(
    make_task: Callable[..., PeriodicTask],
) -> None:
    start = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
    for _ in range(2):
        make_task(queue="q", priority=3, run_timeout_seconds=7200, start_at=start)
    first, second = schedule.load_tasks("default")
    for name in ("task", "crontab_id", "run_timeout_seconds", "start_at", "routing"):
        assert getattr(first, name) is getattr(second, name), name
    assert first.exclusions is NO_EXCLUSIONS
    assert second.alerts_tripped is NO_ALERTS


@pytest.mark.django_db
def test_rows_read_in_chunks_are_the_rows_read_at_once(
    make_task: Callable[..., PeriodicTask], monkeypatch: pytest.MonkeyPatch
) -> None:
    for index in range(7):
        make_task(kwargs={"n": index}, exclude_weekdays="sat" if index % 2 else "")
    at_once = sorted(schedule.load_tasks("default"), key=lambda row: row.id)
    monkeypatch.setattr(schedule, "LOAD_CHUNK", 2)
    in_chunks = sorted(schedule.load_tasks("default"), key=lambda row: row.id)
    assert in_chunks == at_once
    assert len(at_once) == 7


Columns = namedtuple("Columns", TASK_COLUMNS)  # type: ignore[misc]

STORED: dict[str, Any] = {
    **dict.fromkeys(TASK_COLUMNS),
    "id": 5,
    "name": "five",
    "task": "tests.append_line",
    "enabled": True,
    "crontab_id": 1,
    "args_text": "[]",
    "kwargs_text": "{}",
    "headers_text": "{}",
    "queue": "",
    "exchange": "",
    "routing_key": "",
    "misfire_policy": "coalesce",
    "grace_seconds": 60,
    "max_catchup": 100,
    "max_running": 1,
    "run_timeout_seconds": 3600,
    "start_at_instant": dt.datetime(2031, 1, 1, tzinfo=dt.UTC),
    "problem": "",
    "exclude_dates": "",
    "exclude_weekdays": "",
    "holiday_calendar": "",
    "jitter_seconds": 0,
    "alerts_tripped": "",
}


@pytest.mark.parametrize(
    ("column", "text", "problem", "headers"),
    [
        ("args_text", "[1,", "args is not valid JSON", {}),
        ("args_text", '{"a": 1}', "args must be a JSON list, not dict", {}),
        ("kwargs_text", "[1]", "kwargs must be a JSON object, not list", {}),
        ("headers_text", "nope", "headers is not valid JSON", {}),
        ("headers_text", '{"id": "x"}', "reserved", {"id": "x"}),  # kept, never published
    ],
)
def test_a_message_that_cannot_be_used_is_the_row_problem(
    column: str, text: str, problem: str, headers: dict
) -> None:
    row = task_row(Columns(**{**STORED, column: text}), Shared())
    assert problem in row.problem
    assert (row.args, row.kwargs, row.options) == ([], {}, {"headers": headers})


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=8,
)
ROUTING = st.fixed_dictionaries(
    {},
    optional={
        "queue": st.text(min_size=1, max_size=5),
        "priority": st.integers(0, 255),
        "expires": st.integers(1, 10**6),
    },
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(JSON, max_size=3),
    st.dictionaries(st.text(max_size=5), JSON, max_size=3),
    st.dictionaries(st.text(max_size=5), JSON, max_size=3),
    ROUTING,
)
def test_a_row_made_from_decoded_values_gives_them_back(
    args: list, kwargs: dict, headers: dict, routing: dict
) -> None:
    options = {"headers": headers, **routing}
    fields = message_fields(args, kwargs, options)
    row = TaskRow(
        5, "five", "t", True, 1, "coalesce", 60, 100, 1, None, 3600, 0, None, None, None, "",
        **fields,
    )  # fmt: skip
    assert (row.args, row.kwargs, row.options) == (args, kwargs, options)


@pytest.mark.django_db
def test_instants_read_as_epoch_seconds_are_those_of_the_datetimes(
    make_task: Callable[..., PeriodicTask],
) -> None:
    start = dt.datetime(1969, 12, 31, 23, 59, 58, 700_000, tzinfo=dt.UTC)  # -1.3 s
    end = dt.datetime(2031, 5, 6, 7, 8, 9, 999_999, tzinfo=dt.UTC)
    task = make_task(start_at=start, end_at=end)
    PeriodicTask.objects.filter(pk=task.pk).update(resume_at=start)
    (row,) = schedule.load_tasks("default")
    assert (row.start_at, row.resume_at) == (int(start.timestamp()), int(start.timestamp()))
    assert row.end_at == int(end.timestamp())
    assert row.start_at == -1
