"""Run the sample site: admin web server, a Celery worker and beat, stopped together on Ctrl-C.

Usage: ``python -m sample_site.run_demo`` (what ``make demo`` runs). Environment:
``DEMO_PORT`` (default 8000), ``DJAG_DEMO_PASSWORD`` (the admin's password; a new
one is made up on each start without it) and the variables described in
sample_site/settings.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from types import FrameType

import django

PORT = os.environ.get("DEMO_PORT", "8000")
ADMIN_URL = f"http://127.0.0.1:{PORT}/admin/"

#: How long the demo has to start (the admin answers, a run finished) before it says it is up
#: anyway.
START_SECONDS = 60
#: How long the processes have to stop after SIGTERM before they are killed.
STOP_SECONDS = 15


def admin_password() -> str:
    return os.environ.get("DJAG_DEMO_PASSWORD") or secrets.token_urlsafe(9)


def prepare(password: str) -> None:
    """Migrate, load the demo schedules and (re)set the admin password."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sample_site.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("createcachetable", verbosity=0)
    call_command("load_demo")
    user, _ = get_user_model().objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True}
    )
    user.set_password(password)
    user.save()


def commands() -> dict[str, list[str]]:
    python = sys.executable
    celery = [python, "-m", "celery", "-A", "sample_site"]
    broker_flags = ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    return {
        "web": [python, "manage.py", "runserver", f"127.0.0.1:{PORT}", "--noreload"],
        "worker": [*celery, "worker", "-l", "info", "--concurrency", "2", *broker_flags],
        "beat": [*celery, "beat", "-l", "info", "-S", "djag.scheduler:DjagScheduler"],
    }


def banner(password: str, headline: str) -> str:
    return (
        f"\n  djag demo {headline}: {ADMIN_URL}  user: admin  password: {password}\n"
        "  Ctrl-C stops the web server, the worker and beat.\n"
    )


def is_up(since: dt.datetime) -> bool:
    """Whether the admin answers and a run finished since ``since``: the web server,
    beat and the worker all work."""
    from djag.models import TaskRun

    return answers(f"{ADMIN_URL}login/") and (
        TaskRun.objects.filter(finished_at__gte=since).exists()
    )


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, if only with an error page
    except OSError:
        return False


def main() -> int:
    password = admin_password()
    prepare(password)
    processes = {
        name: subprocess.Popen(argv, start_new_session=True) for name, argv in commands().items()
    }
    print(banner(password, "starting"), flush=True)

    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    started, started_at = time.monotonic(), dt.datetime.now(dt.UTC)
    announced = False
    while not stopping:
        for name, process in processes.items():
            if process.poll() is not None:
                print(f"djag demo: {name} exited with {process.returncode}; stopping.", flush=True)
                exit_code = process.returncode or 1
                stopping = True
        # Said again once everything works: by then the worker's and beat's start-up
        # logs have scrolled the first banner away.
        if not (stopping or announced) and (
            is_up(started_at) or time.monotonic() - started > START_SECONDS
        ):
            print(banner(password, "is up"), flush=True)
            announced = True
        time.sleep(0.5)

    # SIGTERM to each main process only: the worker stops its own pool children (a
    # signal to its whole group would kill them under it, and it would log each as an
    # error). Whatever is left after STOP_SECONDS is killed with its group.
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
