"""Garbage into the cron parser: it accepts the text or raises CronError, never anything else.

Every door that compiles a crontab (model, form, cron line, sync file, import) goes through
``parse_line`` and ``parse_cron``, so this is where a character that only looks like a digit,
a NUL, a huge number or a very long field must be stopped with an error naming its field.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from djag.core.cron import FIELD_NAMES, CronError, CronSchedule, parse_cron, parse_line

FUZZ = settings(
    max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

# Characters str.isdigit() or int() accept that are not ASCII digits: superscripts, Arabic-Indic,
# Devanagari, fullwidth, mathematical bold, and a Kharosthi number.
LOOKALIKE_DIGITS = "\u00b2\u00b3\u00b9\u0660\u0661\u0969\u06f5\uff11\uff19\U0001d7d9\U00010a40"
CRON_ALPHABET = "0123456789*/-,#?LlWwHh&@ jansunmofrtewdc" + LOOKALIKE_DIGITS + "\x00\t\u3000"

cron_text = st.text(alphabet=CRON_ALPHABET, max_size=24)
huge_numbers = st.integers(10**6, 10**40).map(str)
items = st.one_of(
    cron_text,
    huge_numbers,
    huge_numbers.map(lambda n: f"*/{n}"),
    huge_numbers.map(lambda n: f"1-{n}"),
    huge_numbers.map(lambda n: f"mon#{n}"),
    huge_numbers.map(lambda n: f"{n}W"),
    huge_numbers.map(lambda n: f"L{n}"),
    st.sampled_from(["*/\u00b2", "mon#\u00b3", "\uff11", "1\x00", "&mon", "LW", "5L", "15W"]),
)
fields = st.one_of(
    items,
    st.lists(items, min_size=1, max_size=6).map(",".join),
    st.text(max_size=40),
    st.integers(1, 20_000).map(lambda n: ",".join(["1"] * n)),
    st.integers(1, 20_000).map(lambda n: "9" * n),
)
not_text = st.one_of(st.none(), st.integers(), st.floats(), st.lists(st.integers(), max_size=2))


def raised_by(call: Any, *args: Any, **kwargs: Any) -> CronError | None:
    """The CronError ``call`` raises, or None; any other exception fails the test."""
    try:
        call(*args, **kwargs)
    except CronError as error:
        return error
    return None


def parses_or_cron_error(call: Any, *args: Any, **kwargs: Any) -> None:
    error = raised_by(call, *args, **kwargs)
    if error is not None:
        assert error.field in (*FIELD_NAMES, "line", "day_match")
        assert error.message.startswith(f"{error.field}: ")


@FUZZ
@given(st.lists(fields, min_size=6, max_size=6), st.sampled_from(["either", "both", "neither"]))
def test_parse_cron_raises_only_cron_error(texts: list[str], day_match: str) -> None:
    parses_or_cron_error(parse_cron, *texts, day_match=day_match)


@FUZZ
@given(st.lists(fields, min_size=0, max_size=8).map(" ".join) | st.text(max_size=60))
def test_parse_line_then_parse_cron_raise_only_cron_error(line: str) -> None:
    error = raised_by(parse_line, line)
    if error is not None:
        assert error.field == "line"
        return
    parses_or_cron_error(parse_cron, *parse_line(line))


@settings(FUZZ, max_examples=100)
@given(st.integers(0, 5), not_text)
def test_a_field_that_is_not_text_is_a_cron_error(index: int, value: Any) -> None:
    texts: list[Any] = ["*"] * 6
    texts[index] = value
    with pytest.raises(CronError) as raised:
        parse_cron(*texts)
    assert raised.value.field == FIELD_NAMES[index]


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("minute", "*/\u00b2"),
        ("day_of_week", "mon#\u00b3"),
        ("hour", "\uff11"),
        ("second", "1\x00"),
        ("minute", "*/99999999999999999999"),
        ("day_of_month", "9" * 5000),
        ("month_of_year", ",".join(["1"] * 50_000) + ",13"),
    ],
)
def test_the_issue_examples_name_their_field(field: str, text: str) -> None:
    with pytest.raises(CronError) as raised:
        parse_cron(**{**dict.fromkeys(FIELD_NAMES, "*"), field: text})
    assert raised.value.field == field


def test_a_line_that_is_not_text_is_a_cron_error() -> None:
    with pytest.raises(CronError) as raised:
        parse_line(None)  # type: ignore[arg-type]
    assert raised.value.field == "line"


@settings(FUZZ, max_examples=150)
@given(st.lists(fields, min_size=6, max_size=6))
def test_what_parses_also_schedules(texts: list[str]) -> None:
    """Text the parser accepts compiles to a schedule that answers without raising."""
    try:
        parsed = parse_cron(*texts)
    except CronError:
        return
    schedule = CronSchedule(parsed, ZoneInfo("Europe/Berlin"))
    schedule.next_after(1_790_000_000)
    schedule.prev_at_or_before(1_790_000_000)
