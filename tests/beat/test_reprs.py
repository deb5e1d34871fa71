"""``task_repr`` is Celery's ``saferepr``, string for string, on any JSON-like value."""

from __future__ import annotations

from typing import Any

import pytest
from celery.utils.saferepr import saferepr
from hypothesis import given, settings
from hypothesis import strategies as st

from djag.beat import reprs
from djag.beat.reprs import task_repr

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(["plain", "it's", 'say "hi"', "back\\slash", "new\nline", "tab\t", "é"])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(
    value=values,
    maxlen=st.sampled_from([None, 8, 30, 1024]),
    maxlevels=st.sampled_from([0, 1, 2, 3]),
)
def test_the_same_string_as_saferepr(value: Any, maxlen: int | None, maxlevels: int) -> None:
    assert task_repr(value, maxlen, maxlevels) == saferepr(value, maxlen, maxlevels=maxlevels)


@pytest.mark.parametrize(
    "value",
    [
        [1, "two", {"three": 3.0, "four": None, "five": True}],
        {"n": 12, "tags": ["a", "b"], "deep": {"x": [1, 2]}},
        [],
        {},
    ],
)
def test_plain_arguments_skip_saferepr(value: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("saferepr called for plain arguments")

    monkeypatch.setattr(reprs, "saferepr", refuse)
    assert task_repr(value, 1024, 3) == repr(value)


@pytest.mark.parametrize(
    ("value", "maxlen", "maxlevels"),
    [
        (["it's"], 1024, 3),  # saferepr quotes it its own way
        ([[[[1]]]], 1024, 3),  # deeper than maxlevels: [[[[...]]]]
        (list(range(400)), 1024, 3),  # longer than the limit: truncated
        ((1, 2), 1024, 3),  # a tuple
    ],
)
def test_anything_else_is_saferepr_s(value: Any, maxlen: int, maxlevels: int) -> None:
    assert task_repr(value, maxlen, maxlevels) == saferepr(value, maxlen, maxlevels=maxlevels)
