"""The run's headers: what beat writes is what ``current_run()`` reads back."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from djag.core.message import (
    RUN_HEADERS,
    RUN_ID_HEADER,
    RunContext,
    context_headers,
    context_of,
    message_options,
    reserved_header_names,
)
from djag.core.vocab import Trigger

moments = st.none() | st.datetimes(
    min_value=dt.datetime(1970, 1, 2),
    max_value=dt.datetime(2200, 1, 1),
    timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-7, minutes=-30))]),
)


@given(
    st.integers(1, 2**62),
    st.sampled_from(list(Trigger)),
    moments,
    moments,
    st.integers(1, 10**6),
)
def test_the_context_survives_its_headers(
    run_id: int,
    trigger: Trigger,
    slot: dt.datetime | None,
    previous: dt.datetime | None,
    count: int,
) -> None:
    context = RunContext(run_id, trigger, slot, previous, count)
    headers = context_headers(context)
    assert set(headers) <= set(RUN_HEADERS)
    assert context_of(headers) == context
    read = context_of(headers)
    assert read is not None
    for moment in (read.scheduled_for, read.previous_scheduled_for):
        assert moment is None or moment.utcoffset() == dt.timedelta(0)  # aware UTC


def test_headers_carry_instants_as_iso_utc_and_leave_out_what_is_none() -> None:
    slot = dt.datetime(2026, 3, 2, 13, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert context_headers(RunContext(5, Trigger.BACKFILL, slot)) == {
        "djag_run_id": 5,
        "djag_trigger": "backfill",
        "djag_coalesced_count": 1,
        "djag_scheduled_for": "2026-03-02T12:00:00+00:00",
    }


def test_a_message_djag_did_not_send_has_no_context() -> None:
    assert context_of({}) is None
    assert context_of({"djag_run_id": "not a number"}) is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({RUN_ID_HEADER: 3}, RunContext(3, Trigger.SCHEDULE)),  # sent before contexts existed
        (
            {RUN_ID_HEADER: "3", "djag_trigger": "x", "djag_scheduled_for": "soon"},
            RunContext(3, Trigger.SCHEDULE),
        ),
        (
            {RUN_ID_HEADER: 3, "djag_scheduled_for": "2026-03-02T12:00:00"},
            RunContext(3, "schedule"),
        ),
        ({RUN_ID_HEADER: 3, "djag_coalesced_count": None}, RunContext(3, Trigger.SCHEDULE)),
    ],
)
def test_unreadable_context_headers_count_as_absent(headers: dict, expected: RunContext) -> None:
    assert context_of(headers) == expected


def test_message_options_keep_the_task_headers_and_add_the_run_ones() -> None:
    options = {"queue": "q", "headers": {"tenant": "acme"}}
    context = RunContext(9, Trigger.MANUAL)
    assert message_options(options, 9, context) == {
        "queue": "q",
        "headers": {
            "tenant": "acme",
            "djag_run_id": 9,
            "djag_trigger": "manual",
            "djag_coalesced_count": 1,
        },
    }
    assert message_options(options, 9) == {
        "queue": "q",
        "headers": {"tenant": "acme", "djag_run_id": 9},
    }
    assert options == {"queue": "q", "headers": {"tenant": "acme"}}  # not changed


def test_reserved_header_names_are_celerys_and_djags_whatever_their_case() -> None:
    names = ["tenant", "Task", "id", "djag_trigger", "DJAG_x", "retries", "x-id"]
    assert reserved_header_names(names) == ["DJAG_x", "Task", "djag_trigger", "id", "retries"]
