"""Deleting an ordinary edge in the admin also deletes the future edge paired with it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from djag.models import ScheduleChange, TaskDependency

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(make_task: Any) -> tuple[TaskDependency, TaskDependency, TaskDependency]:
    """consumer runs after producer; producer's next run waits for consumer (future edge);
    consumer never overlaps itself (a self future edge, unrelated to the pair)."""
    producer, consumer = make_task(name="producer"), make_task(name="consumer")
    ordinary = TaskDependency.objects.create(depender=consumer, dependee=producer)
    future = TaskDependency.objects.create(
        depender=producer, dependee=consumer, future_depends=True
    )
    no_overlap = TaskDependency.objects.create(
        depender=consumer, dependee=consumer, future_depends=True
    )
    return ordinary, future, no_overlap


def delete_url(edge: TaskDependency) -> str:
    return reverse("admin:djag_taskdependency_delete", args=[edge.pk])


def test_confirmation_lists_the_paired_future_edge(admin_client: Client, pair: Any) -> None:
    ordinary, future, no_overlap = pair
    page = admin_client.get(delete_url(ordinary)).content.decode()
    assert str(future) in page
    assert str(no_overlap) not in page


def test_confirming_deletes_both_and_logs_both(admin_client: Client, pair: Any) -> None:
    ordinary, future, no_overlap = pair
    response = admin_client.post(delete_url(ordinary), {"post": "yes"})
    assert response.status_code == 302
    assert list(TaskDependency.objects.all()) == [no_overlap]
    deleted = ScheduleChange.objects.filter(model="taskdependency", action="delete")
    assert sorted(c.object_id for c in deleted) == sorted([ordinary.pk, future.pk])


def test_deleting_the_future_edge_keeps_the_ordinary_one(admin_client: Client, pair: Any) -> None:
    ordinary, future, no_overlap = pair
    admin_client.post(delete_url(future), {"post": "yes"})
    assert set(TaskDependency.objects.all()) == {ordinary, no_overlap}


def test_bulk_delete_action_takes_the_paired_future_edge(admin_client: Client, pair: Any) -> None:
    ordinary, future, no_overlap = pair
    url = reverse("admin:djag_taskdependency_changelist")
    form = {"action": "delete_selected", "_selected_action": [ordinary.pk]}
    confirmation = admin_client.post(url, form).content.decode()
    assert str(future) in confirmation
    admin_client.post(url, {**form, "post": "yes"})
    assert list(TaskDependency.objects.all()) == [no_overlap]
