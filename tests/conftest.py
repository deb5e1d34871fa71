"""Fixtures shared by the database tests: a crontab and a factory of periodic tasks."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from djag.models import Crontab, PeriodicTask


@pytest.fixture
def crontab(db: None) -> Crontab:
    """05:05 on weekdays, Paris time."""
    return Crontab.objects.create(minute="5", hour="5", day_of_week="1-5", timezone="Europe/Paris")


@pytest.fixture
def make_task(db: None, crontab: Crontab) -> Callable[..., PeriodicTask]:
    """``make_task(name="a", **fields)``: a saved PeriodicTask on the ``crontab`` fixture."""
    numbers = itertools.count(1)

    def make(**fields: Any) -> PeriodicTask:
        fields.setdefault("name", f"task-{next(numbers)}")
        fields.setdefault("task", "tests.append_line")
        fields.setdefault("crontab", crontab)
        return PeriodicTask.objects.create(**fields)

    return make
