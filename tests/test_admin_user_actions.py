"""UserAction in the admin: pick a registered action, then fill in its payload form."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django import forms
from django.test import Client
from django.urls import reverse

from djag import user_actions
from djag.models import UserAction

pytestmark = pytest.mark.django_db

ADD = reverse("admin:djag_useraction_add")


class PauseMailForm(forms.Form):
    until = forms.DateTimeField()
    reason = forms.CharField(max_length=100)
    batch = forms.IntegerField(min_value=1, required=False)


@pytest.fixture(autouse=True)
def registry() -> Iterator[None]:
    """Each test starts with no registered action (the sample site registers one)."""
    saved = {kind.code: kind for kind in user_actions.kinds()}
    for code in saved:
        user_actions.unregister(code)
    yield
    for code in [kind.code for kind in user_actions.kinds()]:
        user_actions.unregister(code)
    for kind in saved.values():
        user_actions.register(kind.code, kind.label, kind.form)


@pytest.fixture
def pause_mail() -> None:
    user_actions.register("pause_mail", "Pause the mailings", PauseMailForm)


@pytest.mark.usefixtures("pause_mail")
def test_adding_starts_by_picking_the_action(admin_client: Client) -> None:
    page = admin_client.get(ADD).content.decode()
    assert "Step 1 of 2" in page
    assert '<option value="pause_mail">Pause the mailings (pause_mail)</option>' in page
    assert "Another code, with a free JSON payload" in page


@pytest.mark.usefixtures("pause_mail")
def test_the_second_step_shows_the_payload_form(admin_client: Client) -> None:
    page = admin_client.get(ADD + "?action=pause_mail").content.decode()
    for name in ("until", "reason", "batch"):
        assert f'name="{name}"' in page
    assert 'name="payload"' not in page


@pytest.mark.usefixtures("pause_mail")
def test_the_payload_is_saved_as_json(admin_client: Client, admin_user) -> None:
    response = admin_client.post(
        ADD + "?action=pause_mail",
        {"until": "2026-12-24 18:00:00", "reason": "holidays", "batch": "5"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    action = UserAction.objects.get()
    assert action.action == "pause_mail"
    assert action.created_by == admin_user.username
    assert action.payload["reason"] == "holidays"
    assert action.payload["batch"] == 5
    assert action.payload["until"].startswith("2026-12-24T18:00:00")


@pytest.mark.usefixtures("pause_mail")
def test_a_bad_payload_is_reported_on_its_field(admin_client: Client) -> None:
    response = admin_client.post(
        ADD + "?action=pause_mail", {"until": "next tuesday", "reason": "", "batch": "0"}
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"until", "reason", "batch"}
    assert UserAction.objects.count() == 0


@pytest.mark.usefixtures("pause_mail")
def test_the_change_page_edits_the_stored_payload(admin_client: Client) -> None:
    action = UserAction.objects.create(
        action="pause_mail", payload={"until": "2026-12-24T18:00:00Z", "reason": "holidays"}
    )
    url = reverse("admin:djag_useraction_change", args=[action.pk])
    page = admin_client.get(url).content.decode()
    assert 'value="holidays"' in page
    admin_client.post(url, {"until": "2026-12-31 12:00:00", "reason": "new year", "batch": ""})
    action.refresh_from_db()
    assert action.payload["reason"] == "new year"
    assert action.payload["batch"] is None


def test_without_registered_actions_the_payload_is_free_json(admin_client: Client) -> None:
    page = admin_client.get(ADD).content.decode()
    assert "Step 1 of 2" not in page
    assert 'name="payload"' in page
    response = admin_client.post(ADD, {"action": "custom", "payload": '{"x": 1}'})
    assert response.status_code == 302
    assert UserAction.objects.get().payload == {"x": 1}


@pytest.mark.usefixtures("pause_mail")
def test_an_unregistered_code_keeps_the_free_json_form(admin_client: Client) -> None:
    page = admin_client.get(ADD + "?action=").content.decode()
    assert 'name="payload"' in page


def test_registering_a_code_twice_with_another_form_is_refused(pause_mail: None) -> None:
    with pytest.raises(ValueError, match="already registered"):
        user_actions.register("pause_mail", "Other", forms.Form)
    user_actions.register("pause_mail", "Pause the mailings", PauseMailForm)  # same: fine
