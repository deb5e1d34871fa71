"""The fakes most engine tests start from; a test module may override them."""

from __future__ import annotations

import pytest

from tests.beat.fakes import Broker, FakeStore


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def broker() -> Broker:
    return Broker()
