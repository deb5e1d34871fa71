"""The run list and run page: the columns read at a glance, instants with seconds, states
as coloured badges that keep their text, long text cut with a tooltip (issue 16); who asked
for a run, and cancelling runs that wait to be sent (issue 14)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

import djag
from djag.admin.cells import CATEGORY_COLOURS, cut_text, run_category
from djag.core.vocab import RunState
from djag.models import PeriodicTask, ScheduleChange, TaskRun

pytestmark = pytest.mark.django_db

MakeTask = Callable[..., PeriodicTask]
LIST = reverse("admin:djag_taskrun_changelist")
T0 = dt.datetime(2026, 3, 2, 12, 0, 5, tzinfo=dt.UTC)


def make_run(task: PeriodicTask, **fields: Any) -> TaskRun:
    fields.setdefault("trigger", "schedule")
    fields.setdefault("state", "success")
    return TaskRun.objects.create(periodic_task=task, task_name=task.name, **fields)


def test_the_list_has_the_columns_read_at_a_glance(
    admin_client: Client, make_task: MakeTask
) -> None:
    changelist = admin_client.get(LIST).context["cl"]
    assert list(changelist.list_display)[1:] == [
        "task_column",
        "state_column",
        "trigger_column",
        "scheduled_for_text",
        "duration_column",
        "worker_column",
        "short_error",
    ]


def test_a_row_shows_seconds_a_badge_and_cut_text(
    admin_client: Client, make_task: MakeTask
) -> None:
    task = make_task(name="every-five-seconds")
    make_run(
        task,
        state="failure",
        scheduled_for=T0,
        claimed_at=T0,
        started_at=T0 + dt.timedelta(seconds=1),
        finished_at=T0 + dt.timedelta(seconds=3, milliseconds=500),
        worker="celery@a-rather-long-worker-host-name.example.com",
        error="ValueError: " + "x" * 200 + "\nTraceback...",
        trigger="coalesced",
        coalesced_count=4,
    )

    html = admin_client.get(LIST).content.decode()

    row = re.search(r"<tr>(.*?every-five-seconds.*?)</tr>", html, re.S).group(1)
    assert (
        '<td class="field-scheduled_for_text"><span class="djag-day">2026-03-02</span> '
        '<span class="djag-time">12:00:05</span></td>'
    ) in row
    assert "2.5 s" in row
    assert "coalesced \u00d74" in row
    badge = 'class="djag-badge djag-state-failure"'
    assert badge in row
    assert f"background: {CATEGORY_COLOURS['failure']}" in row
    assert ">failure</span>" in row  # the text stays: colour is not the only signal
    assert 'title="celery@a-rather-long-worker-host-name.example.com"' in row
    assert ">celery@a-rather-long-wo\u2026<" in row
    # Cut in the cell (50 characters), whole in the tooltip.
    assert '">ValueError: ' + "x" * 37 + "\u2026</span>" in row
    assert 'title="ValueError: ' + "x" * 200 + "\nTraceback..." in row
    assert "djag/admin.css" in html


def test_the_run_page_shows_every_instant_with_seconds(
    admin_client: Client, make_task: MakeTask
) -> None:
    run = make_run(
        make_task(name="a"),
        scheduled_for=T0,
        claimed_at=T0 + dt.timedelta(seconds=1),
        sent_at=T0 + dt.timedelta(seconds=2),
        started_at=T0 + dt.timedelta(seconds=3),
        finished_at=T0 + dt.timedelta(seconds=9),
    )

    page = admin_client.get(reverse("admin:djag_taskrun_change", args=[run.pk])).content.decode()
    html = re.sub(r"<[^>]+>", "", page)

    for second in ("05", "06", "07", "08", "14"):
        assert f"2026-03-02 12:00:{second}" in html
    assert "p.m." not in html  # not Django's default format
    assert "noon" not in html


def test_instant_columns_sort_by_their_field(admin_client: Client, make_task: MakeTask) -> None:
    task = make_task(name="a")
    late = make_run(task, scheduled_for=T0 + dt.timedelta(seconds=5))
    early = make_run(task, scheduled_for=T0)
    column = 1 + list(admin_client.get(LIST).context["cl"].list_display).index("scheduled_for_text")
    listed = admin_client.get(LIST, {"o": str(column)}).context["cl"].result_list
    assert list(listed) == [early, late]


@pytest.mark.parametrize(
    ("state", "category"),
    [
        ("claimed", "running"),
        ("sent", "running"),
        ("started", "running"),
        ("retry", "running"),
        ("success", "success"),
        ("failure", "failure"),
        ("revoked", "failure"),
        ("lost", "lost"),
        ("skipped", "skipped"),
        ("cancelled", "skipped"),
        ("waiting", "waiting"),
        (None, "none"),
    ],
)
def test_every_state_has_a_colour(state: str | None, category: str) -> None:
    assert run_category(state) == category
    assert {run_category(s) for s in RunState} | {"none"} == set(CATEGORY_COLOURS)


def contrast(colour: str) -> float:
    """WCAG contrast of white text on ``colour``."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    luminance = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    return 1.05 / (luminance + 0.05)


@pytest.mark.parametrize("category", sorted(CATEGORY_COLOURS))
def test_badge_text_is_readable_on_its_colour(category: str) -> None:
    assert contrast(CATEGORY_COLOURS[category]) >= 4.5


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("", 10, ""),
        ("short", 10, "short"),
        ("  spaced   out  ", 20, "spaced out"),
        ("exactly10!", 10, "exactly10!"),
        ("eleven char", 10, '<span title="eleven char">eleven ch\u2026</span>'),
        ("one\ntwo", 10, '<span title="one\ntwo">one\u2026</span>'),
        ("<b>", 10, "<b>"),  # plain text: escaped by the admin when shown
        ("<b> and more", 5, '<span title="&lt;b&gt; and more">&lt;b&gt;\u2026</span>'),
    ],
)
def test_cut_text(text: str, limit: int, expected: str) -> None:
    assert str(cut_text(text, limit)) == expected


RUNS = reverse("admin:djag_taskrun_changelist")


def cancel(client: Client, *runs: TaskRun) -> list[str]:
    response = client.post(
        RUNS,
        {"action": "cancel_waiting", "_selected_action": [run.pk for run in runs]},
        follow=True,
    )
    assert response.status_code == 200
    return [str(message) for message in get_messages(response.wsgi_request)]


def client_with(*codenames: str) -> Client:
    user = User.objects.create_user("staff", password="x", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="djag", codename__in=codenames)
    )
    client = Client()
    client.force_login(user)
    return client


def test_the_run_list_shows_who_asked_and_the_trigger(admin_client: Client) -> None:
    djag.enqueue("reports.build", by="nightly etl")
    html = admin_client.get(RUNS).content.decode()
    row = re.search(r'<td class="field-trigger_column">(.*?)</td>', html, re.S)
    assert row is not None
    assert row.group(1) == "one-off<br><small>by nightly etl</small>"
    assert "djag-state-waiting" in html
    assert admin_client.get(RUNS, {"trigger": "oneoff"}).context["cl"].result_count == 1
    assert admin_client.get(RUNS, {"q": "nightly"}).context["cl"].result_count == 1


def test_cancel_calls_off_waiting_runs_only_and_records_who(admin_client: Client) -> None:
    waiting = djag.enqueue("t", delay=600)
    sent = djag.enqueue("t")
    TaskRun.objects.filter(pk=sent.pk).update(state="sent")
    assert cancel(admin_client, waiting, sent) == [
        f"Cancelled 1 run ({waiting.pk}): recorded, never sent.",
        "1 run not cancelled: only a run still waiting to be sent can be; the others were "
        "sent already or are finished.",
    ]
    waiting.refresh_from_db()
    assert (waiting.state, waiting.error) == ("cancelled", "Cancelled by admin before it was sent.")
    assert TaskRun.objects.get(pk=sent.pk).state == "sent"
    audit = ScheduleChange.objects.filter(model="taskrun", object_id=waiting.pk).first()  # newest
    assert audit is not None
    assert (audit.actor, audit.changes) == ("admin", {"state": ["waiting", "cancelled"]})


def choices(client: Client) -> list[Any]:
    form = client.get(RUNS).context["action_form"]
    return [] if form is None else [name for name, _ in form.fields["action"].choices]


def test_cancelling_needs_the_change_permission_on_runs() -> None:
    run = djag.enqueue("t", delay=600)
    viewer = client_with("view_taskrun")
    assert "cancel_waiting" not in choices(viewer)
    cancel(viewer, run)
    assert TaskRun.objects.get(pk=run.pk).state == "waiting"

    User.objects.all().delete()
    editor = client_with("view_taskrun", "change_taskrun")
    assert "cancel_waiting" in choices(editor)
    cancel(editor, run)
    assert TaskRun.objects.get(pk=run.pk).state == "cancelled"
