"""The admin's periodic-task actions (run now, enable, disable, pause, resume, clear lost runs),
the runs and history on the task page, and the run list (filters, durations, chart)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from celery import current_app
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.db import DatabaseError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from djag.admin import chart
from djag.core.message import RUN_ID_HEADER
from djag.models import PeriodicTask, ScheduleChange, TaskRun
from djag.scheduler import DjagScheduler
from djag.store import ledger, schedule
from djag.store.rows import TaskRow
from sample_site.celery import app

pytestmark = pytest.mark.django_db

MakeTask = Callable[..., PeriodicTask]
TASKS = reverse("admin:djag_periodictask_changelist")
RUNS = reverse("admin:djag_taskrun_changelist")


def act(client: Client, action: str, *tasks: PeriodicTask, **data: Any) -> Any:
    """Post an action of the task list for ``tasks``."""
    return client.post(
        TASKS, {"action": action, "_selected_action": [t.pk for t in tasks], **data}, follow=True
    )


def texts(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def changes_of(task: PeriodicTask) -> list[ScheduleChange]:
    return list(
        ScheduleChange.objects.filter(model="periodictask", object_id=task.pk, action="update")
    )


def make_run(task: PeriodicTask, **fields: Any) -> TaskRun:
    fields.setdefault("task_name", task.name)
    fields.setdefault("task", task.task)
    fields.setdefault("trigger", "schedule")
    fields.setdefault("state", "success")
    return TaskRun.objects.create(periodic_task=task, **fields)


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The messages the admin publishes, recorded instead of sent (the broker boundary)."""
    calls: list[dict[str, Any]] = []

    def send_task(name: str, **options: Any) -> None:
        calls.append({"name": name, **options})

    monkeypatch.setattr(current_app._get_current_object(), "send_task", send_task)
    return calls


def staff(*codenames: str) -> Client:
    user = User.objects.create_user("staff-" + "-".join(codenames), password="x", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="djag", codename__in=codenames)
    )
    client = Client()
    client.force_login(user)
    return client


# --- run now --------------------------------------------------------------------------------


def test_run_now_queues_a_manual_run_for_beat_with_who_asked(
    admin_client: Client, make_task: MakeTask, published: list[dict[str, Any]]
) -> None:
    task = make_task(name="report", enabled=False)
    before = timezone.now()
    response = act(admin_client, "run_now", task)
    run = TaskRun.objects.get()
    assert texts(response) == [
        f"Queued a manual run of report (run {run.pk}); beat sends it within a second."
    ]
    assert published == []  # the admin publishes nothing itself: beat does
    assert (run.periodic_task, run.task_name, run.task) == (task, "report", "tests.append_line")
    assert (run.trigger, run.state, run.scheduled_for) == ("manual", "waiting", None)
    assert run.requested_by == "admin"
    assert run.not_before is not None
    assert before <= run.not_before <= timezone.now()
    celery_id = uuid.UUID(run.celery_task_id)  # a canonical UUID, time-ordered (version 7)
    assert (str(celery_id), celery_id.version) == (run.celery_task_id, 7)
    [audit] = ScheduleChange.objects.filter(model="taskrun", object_id=run.pk)
    assert (audit.actor, audit.action, audit.object_repr) == (
        "admin",
        "create",
        f"report run {run.pk}",
    )
    assert audit.changes["trigger"] == [None, "manual"]


def test_run_now_of_several_tasks_queues_one_run_each(
    admin_client: Client, make_task: MakeTask
) -> None:
    a, b = make_task(name="a"), make_task(name="b")
    act(admin_client, "run_now", a, b)
    act(admin_client, "run_now", a)
    assert TaskRun.objects.filter(periodic_task=a, trigger="manual", state="waiting").count() == 2
    assert TaskRun.objects.filter(periodic_task=b, trigger="manual", state="waiting").count() == 1


def test_run_now_of_a_task_beat_cannot_read_or_record_says_why(
    admin_client: Client, make_task: MakeTask, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken, gone = make_task(name="broken"), make_task(name="gone")
    real_load = schedule.load_tasks

    def load_tasks(using: str, ids: Any = None, *args: Any) -> list[TaskRow]:
        rows = real_load(using, ids, *args)
        return [
            replace(r, problem="args is not valid JSON") if r.name == "broken" else r for r in rows
        ]

    def request(*args: Any) -> Any:
        raise DatabaseError("insert or update violates foreign key constraint")

    monkeypatch.setattr(schedule, "load_tasks", load_tasks)
    monkeypatch.setattr(ledger, "request", request)
    response = act(admin_client, "run_now", broken, gone)
    assert response.status_code == 200
    assert texts(response) == [
        "broken cannot be run: args is not valid JSON.",
        "gone was not run: it could not be recorded "
        "(insert or update violates foreign key constraint).",
    ]
    assert not TaskRun.objects.exists()


def test_run_now_reaches_the_real_broker_through_beat_with_the_run_headers(
    admin_client: Client, make_task: MakeTask
) -> None:
    """No mock: beat publishes the queued run to the test settings' filesystem broker."""
    broker_dir = getattr(settings, "BROKER_DIR", None)
    if broker_dir is None:
        pytest.skip("the test settings do not use the filesystem broker")
    before = set(broker_dir.glob("*.msg"))
    task = make_task(name="real", queue=f"djag-admin-test-{uuid.uuid4().hex}", headers={"h": 1})
    act(admin_client, "run_now", task)
    beat = DjagScheduler(app=app, lazy=True)
    try:
        beat.tick()
    finally:
        beat.close()
    run = TaskRun.objects.get()
    assert run.state == "sent"
    new = [path for path in broker_dir.glob("*.msg") if path not in before]
    try:
        messages = [json.loads(path.read_text()) for path in new]
        [message] = [m for m in messages if m["headers"].get("id") == run.celery_task_id]
        assert message["headers"][RUN_ID_HEADER] == run.pk
        assert message["headers"]["djag_trigger"] == "manual"
        assert message["headers"]["h"] == 1
        assert message["headers"]["task"] == "tests.append_line"
    finally:
        for path in new:
            path.unlink(missing_ok=True)


# --- enable, disable, pause, resume ----------------------------------------------------------


def test_enable_sets_resume_at_and_is_logged_as_the_admin(
    admin_client: Client, admin_user: User, make_task: MakeTask
) -> None:
    off, on = make_task(name="off", enabled=False), make_task(name="on")
    before = timezone.now()
    response = act(admin_client, "enable_tasks", off, on)
    assert texts(response) == [
        "Enabled 1 task; they start afresh from now (no backlog). 1 task already enabled."
    ]
    off.refresh_from_db()
    assert off.enabled
    assert off.resume_at is not None
    assert off.resume_at >= before
    [change] = changes_of(off)
    assert change.actor == admin_user.username
    assert set(change.changes) == {"enabled", "resume_at"}
    assert changes_of(on) == []


def test_disable_is_logged_as_the_admin(
    admin_client: Client, admin_user: User, make_task: MakeTask
) -> None:
    task = make_task(name="t")
    response = act(admin_client, "disable_tasks", task)
    assert texts(response) == ["Disabled 1 task; runs in flight go on."]
    task.refresh_from_db()
    assert not task.enabled
    [change] = changes_of(task)
    assert (change.actor, change.changes) == (admin_user.username, {"enabled": [True, False]})


def test_pause_asks_for_a_moment_then_sets_resume_at(
    admin_client: Client, admin_user: User, make_task: MakeTask
) -> None:
    a, b = make_task(name="a"), make_task(name="b")
    page = act(admin_client, "pause_until", a, b)
    assert page.status_code == 200
    assert page.templates[0].name == "admin/djag/periodictask/action_form.html"
    assert 'name="until"' in page.content.decode()
    assert not changes_of(a)

    until = (timezone.localtime() + dt.timedelta(days=2)).replace(second=0, microsecond=0)
    response = act(
        admin_client, "pause_until", a, b, apply="1", until=until.strftime("%Y-%m-%dT%H:%M")
    )
    assert texts(response)[0].startswith("Paused 2 tasks until ")
    for task in (a, b):
        task.refresh_from_db()
        assert task.resume_at == until
        [change] = changes_of(task)
        assert change.actor == admin_user.username
        assert list(change.changes) == ["resume_at"]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("not a date", "Enter a valid date/time."),
        ("2031-02-30T10:00", "Enter a valid date/time."),
        ("", "This field is required."),
        ("2001-01-01T10:00", "Choose a moment in the future."),
    ],
)
def test_pause_with_a_bad_moment_shows_the_form_again(
    admin_client: Client, make_task: MakeTask, value: str, error: str
) -> None:
    task = make_task(name="a")
    response = act(admin_client, "pause_until", task, apply="1", until=value)
    assert response.status_code == 200
    assert response.context["form"].errors == {"until": [error]}
    task.refresh_from_db()
    assert task.resume_at is None
    assert not changes_of(task)


def test_resume_from_now_drops_pending_events_and_lifts_a_pause(
    admin_client: Client, admin_user: User, make_task: MakeTask
) -> None:
    paused = make_task(name="a")
    PeriodicTask.objects.filter(pk=paused.pk).update(
        resume_at=timezone.now() + dt.timedelta(days=3)
    )
    before = timezone.now()
    response = act(admin_client, "resume_from_now", paused)
    assert "1 task resume from" in texts(response)[0]
    paused.refresh_from_db()
    assert paused.resume_at is not None
    assert before <= paused.resume_at <= timezone.now()
    assert changes_of(paused)[0].actor == admin_user.username


# --- clear lost runs --------------------------------------------------------------------------


def test_clear_lost_runs_confirms_then_marks_runs_in_flight_lost(
    admin_client: Client, make_task: MakeTask
) -> None:
    task, other = make_task(name="a"), make_task(name="b")
    in_flight = [make_run(task, state=state) for state in ("claimed", "sent", "started", "retry")]
    done = make_run(task, state="success")
    others = make_run(other, state="started")

    page = act(admin_client, "clear_lost_runs", task)
    assert page.status_code == 200
    assert "4 runs of these tasks" in page.content.decode()
    assert TaskRun.objects.filter(state="lost").count() == 0

    response = act(admin_client, "clear_lost_runs", task, apply="1")
    assert texts(response) == ["Marked 4 runs in flight lost; their slots are free."]
    for run in in_flight:
        run.refresh_from_db()
        assert run.state == "lost"
        assert run.finished_at is not None
        assert "by hand" in run.error
    done.refresh_from_db()
    others.refresh_from_db()
    assert (done.state, others.state) == ("success", "started")
    assert TaskRun.objects.count() == 6  # nothing deleted


# --- permissions ------------------------------------------------------------------------------

ACTIONS = [
    "run_now",
    "enable_tasks",
    "disable_tasks",
    "pause_until",
    "resume_from_now",
    "clear_lost_runs",
]


def test_view_only_staff_sees_no_action_and_cannot_run_one(
    make_task: MakeTask, published: list[dict[str, Any]]
) -> None:
    client = staff("view_periodictask", "view_taskrun")
    task = make_task(name="a", enabled=False)
    run = make_run(task, state="started")
    page = client.get(TASKS)
    assert page.status_code == 200
    assert page.context["action_form"] is None or not any(
        name in ACTIONS for name, _ in page.context["action_form"].fields["action"].choices
    )
    for action in ACTIONS:
        response = act(client, action, task, apply="1", until="2099-01-01T00:00")
        assert response.status_code == 200
    assert published == []
    assert not TaskRun.objects.exclude(pk=run.pk).exists()
    task.refresh_from_db()
    run.refresh_from_db()
    assert (task.enabled, task.resume_at, run.state) == (False, None, "started")
    assert not changes_of(task)


def test_staff_with_change_permission_sees_and_runs_the_actions(
    make_task: MakeTask, published: list[dict[str, Any]]
) -> None:
    client = staff("view_periodictask", "change_periodictask")
    task = make_task(name="a")
    choices = [
        name for name, _ in client.get(TASKS).context["action_form"].fields["action"].choices
    ]
    assert set(ACTIONS) <= set(choices)
    act(client, "disable_tasks", task)
    act(client, "run_now", task)
    task.refresh_from_db()
    assert not task.enabled
    assert changes_of(task)[0].actor == "staff-view_periodictask-change_periodictask"
    [run] = TaskRun.objects.filter(trigger="manual")
    assert run.requested_by == "staff-view_periodictask-change_periodictask"


# --- the task page: recent runs and history ----------------------------------------------------


def task_page(client: Client, task: PeriodicTask) -> str:
    response = client.get(reverse("admin:djag_periodictask_change", args=[task.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_task_page_shows_the_last_20_runs(admin_client: Client, make_task: MakeTask) -> None:
    task = make_task(name="a")
    start = timezone.now() - dt.timedelta(days=1)
    runs = [
        make_run(
            task,
            scheduled_for=start + dt.timedelta(minutes=i),
            claimed_at=start + dt.timedelta(minutes=i),
            started_at=start + dt.timedelta(minutes=i, seconds=1),
            finished_at=start + dt.timedelta(minutes=i, seconds=4),
            worker=f"worker-{i}",
        )
        for i in range(25)
    ]
    make_run(task, trigger="manual", state="failure", error="RuntimeError: <boom>", worker="w-x")
    page = task_page(admin_client, task)
    assert "Recent runs" in page
    assert "RuntimeError: &lt;boom&gt;" in page
    assert "manual" in page
    assert "3 s" in page
    for run in runs[-19:]:
        assert f"worker-{run.pk - runs[0].pk}<" in page
    for run in runs[:6]:
        assert f"worker-{run.pk - runs[0].pk}<" not in page
    assert f"?periodic_task__id__exact={task.pk}" in page


def test_task_page_shows_its_change_history_newest_first(
    admin_client: Client, admin_user: User, make_task: MakeTask
) -> None:
    task = make_task(name="a")
    act(admin_client, "disable_tasks", task)
    act(admin_client, "enable_tasks", task)
    page = task_page(admin_client, task)
    history = page[page.index("djag-change-history") :]
    assert admin_user.username in history
    assert "<code>enabled</code>: True &rarr; False" in history
    assert "<code>enabled</code>: False &rarr; True" in history
    assert history.index("False &rarr; True") < history.index("True &rarr; False")
    assert history.index("updated") < history.index("created")

    other = make_task(name="other")
    link = reverse("admin:djag_schedulechange_changelist")
    response = admin_client.get(link, {"model": "periodictask", "object_id": task.pk})
    assert f"{link}?model=periodictask&amp;object_id={task.pk}" in page
    assert response.status_code == 200
    listed_changes = list(response.context["cl"].result_list)
    assert len(listed_changes) == 3
    assert all(change.object_id == task.pk != other.pk for change in listed_changes)


def test_task_page_hides_runs_and_history_without_view_permission(make_task: MakeTask) -> None:
    task = make_task(name="a")
    make_run(task, worker="worker-secret")
    page = task_page(staff("view_periodictask"), task)
    assert "worker-secret" not in page
    assert "djag-change-history" not in page
    page = task_page(staff("view_periodictask", "view_taskrun", "view_schedulechange"), task)
    assert "worker-secret" in page
    assert "djag-change-history" in page


# --- the run list ------------------------------------------------------------------------------


def listed(client: Client, **query: Any) -> list[TaskRun]:
    response = client.get(RUNS, query)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_run_list_filters_by_state_trigger_task_and_date(
    admin_client: Client, make_task: MakeTask
) -> None:
    a, b = make_task(name="a"), make_task(name="b")
    old = timezone.now() - dt.timedelta(days=400)
    failed = make_run(a, state="failure", error="x")
    manual = make_run(a, trigger="manual")
    of_b = make_run(b, claimed_at=old)
    assert listed(admin_client, state="failure") == [failed]
    assert listed(admin_client, trigger="manual") == [manual]
    assert set(listed(admin_client, periodic_task__id__exact=a.pk)) == {failed, manual}
    assert listed(admin_client, claimed_at__year=old.year) == [of_b]
    page = admin_client.get(RUNS).content.decode()
    assert "By periodic task" in page or "periodic task" in page


def test_run_list_shows_and_orders_by_duration(admin_client: Client, make_task: MakeTask) -> None:
    task = make_task(name="a")
    now = timezone.now()
    slow = make_run(task, started_at=now - dt.timedelta(seconds=90), finished_at=now)
    fast = make_run(task, started_at=now - dt.timedelta(seconds=2), finished_at=now)
    running = make_run(task, state="started", started_at=now)
    page = admin_client.get(RUNS).content.decode()
    assert "1 min 30 s" in page
    assert "2 s" in page
    column = 1 + list(admin_client.get(RUNS).context["cl"].list_display).index("duration_column")
    ordered = listed(admin_client, o=str(column))
    assert [run for run in ordered if run != running] == [fast, slow]


def test_run_page_shows_the_error_preformatted(admin_client: Client, make_task: MakeTask) -> None:
    run = make_run(make_task(name="a"), state="failure", error="Traceback:\n  <line 1>\nBoom")
    response = admin_client.get(reverse("admin:djag_taskrun_change", args=[run.pk]))
    assert response.status_code == 200
    assert "<pre" in response.content.decode()
    assert "Traceback:\n  &lt;line 1&gt;\nBoom</pre>" in response.content.decode()


def test_run_list_of_one_task_has_a_duration_chart(
    admin_client: Client, make_task: MakeTask
) -> None:
    task, other = make_task(name="a"), make_task(name="b")
    start = timezone.now() - dt.timedelta(hours=5)
    for i in range(5):
        make_run(
            task,
            state="failure" if i == 2 else "success",
            started_at=start + dt.timedelta(hours=i),
            finished_at=start + dt.timedelta(hours=i, seconds=10 * (i + 1)),
        )
    make_run(task, state="started", started_at=start)  # no duration: not plotted
    page = admin_client.get(RUNS, {"periodic_task__id__exact": task.pk}).content.decode()
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="djag-duration-chart"') == 1
    assert page.count("<circle") == 5
    assert page.count('class="djag-dot-bad"') == 1
    assert "Run durations of a" in page
    assert "50.0 s" not in page
    assert "50 s" in page

    assert "djag-duration-chart" not in admin_client.get(RUNS).content.decode()
    empty = admin_client.get(RUNS, {"periodic_task__id__exact": other.pk}).content.decode()
    assert "No finished run with a start time yet." in empty
    assert admin_client.get(RUNS, {"periodic_task__id__exact": "x"}).status_code == 302  # ?e=1


def test_duration_chart_escapes_and_handles_one_point() -> None:
    moment = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    svg = chart.duration_chart_svg([(moment, 0.0, "<script>")])
    assert "<script>" not in svg
    assert svg.count("<circle") == 1
