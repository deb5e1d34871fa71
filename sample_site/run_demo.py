"""Run the sample site: admin web server, a Celery worker and beat, stopped together on Ctrl-C.

Usage: ``python -m sample_site.run_demo`` (what ``make demo`` runs). Environment:
``DEMO_PORT`` (default 8000) and the variables described in sample_site/settings.py.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from types import FrameType

import django

PORT = os.environ.get("DEMO_PORT", "8000")


def prepare() -> str:
    """Migrate, load the demo schedules and (re)set the admin password; return the password."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sample_site.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("createcachetable", verbosity=0)
    call_command("load_demo")
    password = secrets.token_urlsafe(9)
    user, _ = get_user_model().objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True}
    )
    user.set_password(password)
    user.save()
    return password


def commands() -> dict[str, list[str]]:
    python = sys.executable
    celery = [python, "-m", "celery", "-A", "sample_site"]
    broker_flags = ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    return {
        "web": [python, "manage.py", "runserver", f"127.0.0.1:{PORT}", "--noreload"],
        "worker": [*celery, "worker", "-l", "info", "--concurrency", "2", *broker_flags],
        "beat": [*celery, "beat", "-l", "info", "-S", "djag.scheduler:DjagScheduler"],
    }


def main() -> int:
    password = prepare()
    processes = {
        name: subprocess.Popen(argv, start_new_session=True) for name, argv in commands().items()
    }
    print(
        f"\n  djag demo: http://127.0.0.1:{PORT}/admin/  user: admin  password: {password}\n"
        "  Ctrl-C stops the web server, the worker and beat.\n",
        flush=True,
    )

    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, process in processes.items():
            if process.poll() is not None:
                print(f"djag demo: {name} exited with {process.returncode}; stopping.", flush=True)
                exit_code = process.returncode or 1
                stopping = True
        time.sleep(0.5)

    for process in processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
