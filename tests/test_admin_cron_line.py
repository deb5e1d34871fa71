"""The periodic task form's one-line cron field (with its zone), its live preview view,
and the Celery task name suggestions and warning (issue 7)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from djag.models import Crontab, PeriodicTask

from .test_admin import form_errors, raw_update, task_form

pytestmark = pytest.mark.django_db

MakeTask = Callable[..., PeriodicTask]
ADD = reverse("admin:djag_periodictask_add")
PREVIEW = reverse("admin:djag_periodictask_cron_preview")


def line_form(line: str, zone: str = "UTC", **fields: Any) -> dict[str, Any]:
    """A valid task form that gives its schedule as a cron line, with no crontab chosen."""
    data = task_form(Crontab(pk=0), cron=line, cron_timezone=zone, **fields)
    data["crontab"] = ""
    return data


def change_url(task: PeriodicTask) -> str:
    return reverse("admin:djag_periodictask_change", args=[task.pk])


def texts(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def fields_of(crontab: Crontab) -> tuple[str, ...]:
    return (*crontab.raw_fields(), crontab.zone_name)


# --- saving a line -------------------------------------------------------------------------


def test_six_field_line_creates_its_crontab(admin_client: Client) -> None:
    response = admin_client.post(ADD, line_form("*/5 * * * * *", "Europe/Paris"))
    assert response.status_code == 302, form_errors(response)
    task = PeriodicTask.objects.get()
    assert fields_of(task.crontab) == ("*/5", "*", "*", "*", "*", "*", "Europe/Paris")


def test_five_field_line_fires_at_second_zero(admin_client: Client) -> None:
    response = admin_client.post(ADD, line_form("30 5 * * 1-5", "America/New_York"))
    assert response.status_code == 302, form_errors(response)
    crontab = PeriodicTask.objects.get().crontab
    assert fields_of(crontab) == ("0", "30", "5", "*", "*", "1-5", "America/New_York")


def test_line_reuses_the_identical_crontab(admin_client: Client, crontab: Crontab) -> None:
    # The fixture: second 0, 05:05 on weekdays, Paris time.
    response = admin_client.post(ADD, line_form("5 5 * * 1-5", "Europe/Paris"))
    assert response.status_code == 302, form_errors(response)
    assert PeriodicTask.objects.get().crontab == crontab
    assert Crontab.objects.count() == 1


def test_same_line_in_another_zone_is_another_crontab(
    admin_client: Client, crontab: Crontab
) -> None:
    response = admin_client.post(ADD, line_form("5 5 * * 1-5", "UTC"))
    assert response.status_code == 302, form_errors(response)
    assert PeriodicTask.objects.get().crontab != crontab
    assert Crontab.objects.count() == 2


def test_line_wins_over_the_chosen_crontab(admin_client: Client, crontab: Crontab) -> None:
    data = {**line_form("0 0 12 * * *"), "crontab": crontab.pk}
    response = admin_client.post(ADD, data)
    assert response.status_code == 302, form_errors(response)
    assert PeriodicTask.objects.get().crontab.line() == "0 0 12 * * *"


def test_chosen_crontab_alone_still_works(admin_client: Client, crontab: Crontab) -> None:
    response = admin_client.post(ADD, task_form(crontab))
    assert response.status_code == 302, form_errors(response)
    assert PeriodicTask.objects.get().crontab == crontab


def test_neither_line_nor_crontab_is_reported_on_the_line(admin_client: Client) -> None:
    errors = form_errors(admin_client.post(ADD, line_form("")))
    assert list(errors) == ["cron"]
    assert "Give a cron line" in errors["cron"][0]
    assert not PeriodicTask.objects.exists()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("* * *", "got 3"),
        ("0 0 0 * * * 2030", "year field is not supported"),
        ("@reboot", "@reboot is not a time"),
        ("61 * * * * *", "second"),
        ("0 0 25 * * *", "hour"),
        ("0 0 0 * * funday", "day_of_week"),
        ("0 0 0 31 2 *", "never fires"),
        ("x" * 1000, "at most 726 characters"),
    ],
)
def test_bad_line_is_reported_on_the_field(admin_client: Client, line: str, message: str) -> None:
    errors = form_errors(admin_client.post(ADD, line_form(line)))
    assert list(errors) == ["cron"]
    assert message in " ".join(errors["cron"])
    assert not PeriodicTask.objects.exists()
    assert not Crontab.objects.exists()


def test_bad_field_of_the_line_is_reported_once_under_its_name(admin_client: Client) -> None:
    response = admin_client.post(ADD, line_form("0 0 61 * * *"))
    assert form_errors(response) == {"cron": ["hour: 61 is out of range 0-23"]}
    assert response.content.decode().count("61 is out of range") == 1
    preview = admin_client.get(PREVIEW, {"line": "0 0 61 * * *"}).json()
    assert preview["error"] == "hour: 61 is out of range 0-23"


def test_bad_zone_is_reported_on_its_field(admin_client: Client) -> None:
    errors = form_errors(admin_client.post(ADD, line_form("* * * * *", "Mars/Base")))
    assert list(errors) == ["cron_timezone"]
    assert not PeriodicTask.objects.exists()


def test_change_page_prefills_the_line_from_the_crontab(
    admin_client: Client, make_task: MakeTask
) -> None:
    task = make_task(name="nightly")
    page = admin_client.get(change_url(task))
    form = page.context["adminform"].form
    assert form["cron"].value() == "0 5 5 * * 1-5"
    assert str(form["cron_timezone"].value()) == "Europe/Paris"
    html = page.content.decode()
    assert 'value="0 5 5 * * 1-5"' in html
    assert 'id="id_cron_preview"' in html
    assert "djag/cron_preview.js" in html
    assert f'data-preview-url="{PREVIEW}"' in html


def test_editing_the_line_on_the_change_page_moves_the_task(
    admin_client: Client, make_task: MakeTask, crontab: Crontab
) -> None:
    task = make_task(name="nightly")
    data = {**task_form(crontab, name="nightly"), "cron": "0 */10 * * * *"}
    data["cron_timezone"] = "Europe/Paris"
    response = admin_client.post(change_url(task), data)
    assert response.status_code == 302, form_errors(response)
    task.refresh_from_db()
    assert fields_of(task.crontab) == ("0", "*/10", "*", "*", "*", "*", "Europe/Paris")
    assert Crontab.objects.filter(pk=crontab.pk).exists()  # the old one is kept


def test_unedited_line_lets_the_chosen_crontab_win(
    admin_client: Client, make_task: MakeTask, crontab: Crontab
) -> None:
    task = make_task(name="nightly")
    other = Crontab.objects.create(minute="0", hour="12")
    data = {**task_form(other, name="nightly"), "cron": crontab.line()}
    data["cron_timezone"] = "Europe/Paris"
    response = admin_client.post(change_url(task), data)
    assert response.status_code == 302, form_errors(response)
    task.refresh_from_db()
    assert task.crontab == other


def test_crontab_with_an_unknown_zone_is_not_prefilled_nor_replaced(
    admin_client: Client, make_task: MakeTask, crontab: Crontab
) -> None:
    task = make_task(name="nightly")
    raw_update(Crontab, crontab.pk, "timezone", "Mars/Olympus_Mons")
    page = admin_client.get(change_url(task))
    assert page.status_code == 200
    assert page.context["adminform"].form["cron"].value() in (None, "")
    data = {**task_form(crontab, name="nightly"), "cron": "", "cron_timezone": "UTC"}
    response = admin_client.post(change_url(task), data)
    assert response.status_code == 302, form_errors(response)
    task.refresh_from_db()
    assert task.crontab_id == crontab.pk
    assert Crontab.objects.count() == 1


# --- the preview view -------------------------------------------------------------------------


def test_preview_describes_the_line_and_its_next_fire_times(admin_client: Client) -> None:
    response = admin_client.get(PREVIEW, {"line": "0 5 * * 1-5", "timezone": "Europe/Paris"})
    assert response.status_code == 200
    data = response.json()
    assert data["error"] is None
    assert "05:00" in data["text"]
    assert "Monday through Friday" in data["text"]
    assert data["text"].endswith("Europe/Paris")
    assert len(data["next"]) == 5
    assert all(when.endswith(("CET", "CEST")) and " 05:00:00 " in when for when in data["next"])


def test_preview_of_a_six_field_line(admin_client: Client) -> None:
    data = admin_client.get(PREVIEW, {"line": "*/5 * * * * *"}).json()
    assert data["error"] is None
    assert "5 seconds" in data["text"]
    assert data["text"].endswith("UTC")
    seconds = [int(when.split()[1].split(":")[2]) for when in data["next"]]
    assert len(seconds) == 5
    assert all(second % 5 == 0 for second in seconds)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"line": "* * *"}, "got 3"),
        ({"line": "0 0 25 * * *"}, "hour"),
        ({"line": "0 0 0 31 2 *"}, "never fires"),
        ({"line": "* * * * *", "timezone": "Mars/Base"}, "Mars/Base"),
        ({"line": "* * * * *", "timezone": "../etc/passwd"}, "timezone"),
    ],
)
def test_preview_reports_errors(admin_client: Client, params: dict, message: str) -> None:
    response = admin_client.get(PREVIEW, params)
    assert response.status_code == 200
    data = response.json()
    assert message in data["error"]
    assert (data["text"], data["next"]) == ("", [])


def test_preview_of_an_empty_line_is_empty(admin_client: Client) -> None:
    assert admin_client.get(PREVIEW).json() == {"text": "", "next": [], "error": None}


def test_preview_needs_the_view_permission(client: Client) -> None:
    assert admin_client_redirects_anonymous(client)
    user = User.objects.create_user("clerk", password="x", is_staff=True)
    client.force_login(user)
    assert client.get(PREVIEW, {"line": "* * * * *"}).status_code == 403
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="djag", codename="view_periodictask")
    )
    response = client.get(PREVIEW, {"line": "* * * * *"})
    assert response.status_code == 200
    assert response.json()["error"] is None


def admin_client_redirects_anonymous(client: Client) -> bool:
    response = client.get(PREVIEW, {"line": "* * * * *"})
    return response.status_code == 302 and "/login/" in response["Location"]


# --- the Celery task name -----------------------------------------------------------------------


def test_task_field_suggests_registered_tasks(admin_client: Client) -> None:
    html = admin_client.get(ADD).content.decode()
    assert 'list="id_task_names"' in html
    assert '<datalist id="id_task_names">' in html
    assert '<option value="tests.append_line"></option>' in html
    assert '<option value="demo.build_report"></option>' in html
    assert 'value="celery.' not in html


def test_unregistered_task_is_saved_with_a_warning(admin_client: Client) -> None:
    response = admin_client.post(
        ADD, line_form("* * * * *", task="nowhere.to_be_found"), follow=True
    )
    assert response.status_code == 200
    assert PeriodicTask.objects.get().task == "nowhere.to_be_found"
    warnings = [m for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]
    assert [str(m) for m in warnings] == [
        "The Celery task 'nowhere.to_be_found' is not registered in this process; "
        "check the worker has it."
    ]


def test_registered_task_saves_without_warning(admin_client: Client) -> None:
    response = admin_client.post(ADD, line_form("* * * * *"), follow=True)
    assert PeriodicTask.objects.get().task == "tests.append_line"
    assert not any("not registered" in text for text in texts(response))
