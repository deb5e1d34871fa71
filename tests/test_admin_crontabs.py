"""The crontab pages (issue 16): the one-line cron form with the task form's live preview,
the filter by the zones in use, and the search that finds a crontab by its zone."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from djag.models import Crontab, ScheduleChange

from .test_admin import form_errors

pytestmark = pytest.mark.django_db

ADD = reverse("admin:djag_crontab_add")
LIST = reverse("admin:djag_crontab_changelist")
PREVIEW = reverse("admin:djag_periodictask_cron_preview")
AUTOCOMPLETE = reverse("admin:autocomplete")


def form(line: str = "0 5 5 * * 1-5", zone: str = "Europe/Paris") -> dict[str, str]:
    return {"cron": line, "timezone": zone}


# --- the form: one line, its preview --------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("0 5 5 * * 1-5", ("0", "5", "5", "*", "*", "1-5")),
        ("30 5 * * mon", ("0", "30", "5", "*", "*", "mon")),  # five fields: second 0
        ("*/5   * *  * * *", ("*/5", "*", "*", "*", "*", "*")),
    ],
)
def test_a_crontab_is_added_from_one_line(
    admin_client: Client, line: str, expected: tuple[str, ...]
) -> None:
    response = admin_client.post(ADD, form(line))
    assert response.status_code == 302, form_errors(response)
    crontab = Crontab.objects.get()
    assert (*crontab.raw_fields(), crontab.zone_name) == (*expected, "Europe/Paris")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("75 * * * * *", "75 is out of range 0-59"),
        ("0 */x * * * *", "minute: "),
        ("", "This field is required."),
        ("0 0 0 W15 * *", "W follows a single day"),
        ("0 0 0 * smarch *", "is not a month name"),
        ("0 0 0 * * mon#9", "the number after # must be 1-5"),
        ("0 0 * *", "fields"),
        ("0 0 0 31 4,6 *", "never fires"),
    ],
)
def test_a_bad_line_is_reported_on_it(admin_client: Client, line: str, message: str) -> None:
    errors = form_errors(admin_client.post(ADD, form(line)))
    assert list(errors) == ["cron"]
    assert message in " ".join(errors["cron"])
    assert not Crontab.objects.exists()


def test_the_line_carries_the_day_matching(admin_client: Client) -> None:
    """An "&" before the day of week is Celery's "both day fields": the first Monday."""
    response = admin_client.post(ADD, form("0 0 9 1-7 * &mon"))
    assert response.status_code == 302, form_errors(response)
    crontab = Crontab.objects.get()
    assert (crontab.day_of_week, crontab.day_match) == ("mon", "both")
    url = reverse("admin:djag_crontab_change", args=[crontab.pk])
    assert 'value="0 0 9 1-7 * &amp;mon"' in admin_client.get(url).content.decode()
    assert admin_client.get(LIST, {"day_match__exact": "both"}).context["cl"].result_count == 1
    assert admin_client.get(LIST, {"day_match__exact": "either"}).context["cl"].result_count == 0

    admin_client.post(url, form("0 0 9 1-7 * mon"))
    crontab.refresh_from_db()
    assert crontab.day_match == "either"


def test_a_bad_zone_is_reported_on_its_field(admin_client: Client) -> None:
    errors = form_errors(admin_client.post(ADD, form(zone="Mars/Olympus_Mons")))
    assert list(errors) == ["timezone"]
    assert "Select a valid choice" in errors["timezone"][0]


def test_a_duplicate_is_reported_on_the_line(admin_client: Client, crontab: Crontab) -> None:
    errors = form_errors(admin_client.post(ADD, form()))
    assert errors == {"cron": ["An identical crontab already exists; use it."]}
    assert Crontab.objects.count() == 1
    # The same line in another zone is another crontab.
    assert admin_client.post(ADD, form(zone="Europe/Berlin")).status_code == 302


def test_the_change_page_edits_the_line_and_logs_it(admin_client: Client, crontab: Crontab) -> None:
    url = reverse("admin:djag_crontab_change", args=[crontab.pk])
    page = admin_client.get(url).content.decode()
    assert 'value="0 5 5 * * 1-5"' in page
    assert f'data-preview-url="{PREVIEW}"' in page
    assert 'data-timezone-input="id_timezone"' in page
    assert 'id="id_cron_preview"' in page
    assert "djag/cron_preview.js" in page

    response = admin_client.post(url, form("0 10 5 * * 1-5"))

    assert response.status_code == 302, form_errors(response)
    crontab.refresh_from_db()
    assert crontab.line() == "0 10 5 * * 1-5"
    change = ScheduleChange.objects.filter(model="crontab", action="update").get()
    assert change.changes == {"minute": ["5", "10"]}
    assert change.actor == "admin"


def test_the_preview_answers_a_user_who_may_only_view_crontabs(client: Client) -> None:
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_crontab"))
    client.force_login(user)
    answer = client.get(PREVIEW, {"line": "0 30 5 * * *", "timezone": "Europe/Berlin"})
    assert answer.status_code == 200
    assert answer.json()["text"] == "At 05:30, Europe/Berlin"
    user.user_permissions.clear()
    user = User.objects.get(pk=user.pk)  # no cached permissions
    client.force_login(user)
    assert client.get(PREVIEW, {"line": "0 30 5 * * *"}).status_code == 403


# --- the list: zones in use, search by zone -------------------------------------------------


def make_crontabs(*zones: str) -> list[Crontab]:
    return [Crontab.objects.create(hour=str(n), timezone=zone) for n, zone in enumerate(zones)]


def test_the_zone_filter_lists_only_the_zones_in_use(admin_client: Client) -> None:
    make_crontabs("Europe/Berlin", "Asia/Tokyo", "Europe/Berlin")

    response = admin_client.get(LIST)

    filters = {spec.title: spec for spec in response.context["cl"].filter_specs}
    choices = [choice["display"] for choice in filters["time zone"].choices(response.context["cl"])]
    assert choices == ["All", "Asia/Tokyo", "Europe/Berlin"]
    assert "America/New_York" not in response.content.decode()

    berlin = admin_client.get(LIST, {"zone": "Europe/Berlin"})
    assert berlin.context["cl"].result_count == 2
    nowhere = admin_client.get(LIST, {"zone": "Nowhere/At_All"})
    assert nowhere.status_code == 200
    assert nowhere.context["cl"].result_count == 0


@pytest.mark.parametrize("term", ["Berlin", "berlin", "Europe/Berlin"])
def test_search_finds_a_crontab_by_its_zone(admin_client: Client, term: str) -> None:
    berlin, _ = make_crontabs("Europe/Berlin", "Asia/Tokyo")

    response = admin_client.get(LIST, {"q": term})

    assert [row.pk for row in response.context["cl"].result_list] == [berlin.pk]


def test_the_task_forms_crontab_autocomplete_finds_berlin(admin_client: Client) -> None:
    berlin, _ = make_crontabs("Europe/Berlin", "Asia/Tokyo")
    query: dict[str, Any] = {
        "term": "Berlin",
        "app_label": "djag",
        "model_name": "periodictask",
        "field_name": "crontab",
    }

    answer = admin_client.get(AUTOCOMPLETE, query)

    assert answer.status_code == 200, answer.content
    assert [item["id"] for item in answer.json()["results"]] == [str(berlin.pk)]
    assert "Europe/Berlin" in answer.json()["results"][0]["text"]


def test_the_add_page_has_only_the_live_preview(admin_client: Client) -> None:
    page = admin_client.get(ADD).content.decode()
    assert 'id="id_cron_preview"' in page
    assert "Next fire times" not in page
