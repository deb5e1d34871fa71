"""Writes chosen as deadlock victims (InnoDB under concurrent updates) are run again."""

from __future__ import annotations

import pytest
from django.db import OperationalError, transaction

from djag.store import db as store


class DriverError(Exception):
    """Stands for the driver's exception that Django wraps (its args / sqlstate)."""

    def __init__(self, *args: object, sqlstate: str | None = None) -> None:
        super().__init__(*args)
        self.sqlstate = sqlstate


def failing(*errors: DriverError):
    """A write that raises Django's wrapped error for each given driver error, then succeeds."""
    remaining = list(errors)
    calls = []

    def write() -> str:
        calls.append(1)
        if remaining:
            cause = remaining.pop(0)
            raise OperationalError(*cause.args) from cause
        return "written"

    return write, calls


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store.time, "sleep", lambda seconds: None)


MARIADB_DEADLOCK = DriverError(1213, "Deadlock found when trying to get lock")
POSTGRES_DEADLOCK = DriverError("deadlock detected", sqlstate="40P01")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("deadlock", [MARIADB_DEADLOCK, POSTGRES_DEADLOCK])
def test_a_deadlock_victim_is_run_again(deadlock: DriverError) -> None:
    write, calls = failing(deadlock, deadlock)
    assert store.retry_deadlocks(write, "default") == "written"
    assert len(calls) == 3


@pytest.mark.django_db(transaction=True)
def test_it_gives_up_after_a_few_attempts() -> None:
    write, calls = failing(*[MARIADB_DEADLOCK] * 10)
    with pytest.raises(OperationalError):
        store.retry_deadlocks(write, "default")
    assert len(calls) == store.DEADLOCK_ATTEMPTS


@pytest.mark.django_db(transaction=True)
def test_other_errors_are_raised_at_once() -> None:
    write, calls = failing(DriverError(2006, "MySQL server has gone away"))
    with pytest.raises(OperationalError):
        store.retry_deadlocks(write, "default")
    assert len(calls) == 1


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_the_error_goes_to_the_transaction() -> None:
    write, calls = failing(MARIADB_DEADLOCK)
    with pytest.raises(OperationalError), transaction.atomic():
        store.retry_deadlocks(write, "default")
    assert len(calls) == 1
