"""djag_check --workers asks real workers which task names they know (inspect registered).

Remote control needs a broker with broadcast (Redis, RabbitMQ): a worker on the filesystem
transport never answers, which is the "could not check" case.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from djag.models import PeriodicTask
from tests.e2e.conftest import REPO, Worker
from tests.e2e.support import every, wait_for

#: A worker says "ready" a moment before its remote control listens (on Redis, a broadcast
#: sent before it subscribes is lost): the check is run again until it answers.
ANSWER_SECONDS = 30

pytestmark = pytest.mark.e2e


def djag_check(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """manage.py djag_check on the test's database and broker, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "manage.py", "djag_check", *args],
        cwd=REPO,
        env={**env, "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_a_task_name_no_worker_registered_is_flagged(
    celery_env: dict[str, str], worker: Worker
) -> None:
    crontab = every("0")
    PeriodicTask.objects.create(name="known", task="tests.append_line", crontab=crontab)
    PeriodicTask.objects.create(name="typo", task="tests.apend_line", crontab=crontab)
    PeriodicTask.objects.create(name="retired", task="tests.gone", crontab=crontab, enabled=False)

    def answered() -> subprocess.CompletedProcess[str] | None:
        result = djag_check(celery_env, "--workers", "2")
        return None if "no worker answered" in result.stderr else result

    result = wait_for(answered, ANSWER_SECONDS, "a worker to answer inspect registered")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Task names no worker has registered:" in result.stdout
    assert "'typo' runs 'tests.apend_line', which none of" in result.stdout
    assert "'known'" not in result.stdout
    assert "'retired'" not in result.stdout  # disabled: nothing will fail
    assert "1 problem found" in result.stderr
    assert "task names asked of" in result.stderr
    assert "Warning" not in result.stderr


def test_no_worker_answering_is_a_warning_not_a_problem(celery_env: dict[str, str]) -> None:
    PeriodicTask.objects.create(name="typo", task="tests.apend_line", crontab=every("0"))

    result = djag_check(celery_env, "--workers", "0.5")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning: Could not check the task names: no worker answered within 0.5 s" in (
        result.stderr
    )
    assert "No problems: 1 task, 0 dependencies and 1 crontab checked." in result.stdout


def test_an_unreachable_broker_is_a_warning(celery_env: dict[str, str]) -> None:
    env = {**celery_env, "CELERY_BROKER_URL": "redis://127.0.0.1:1/0"}

    result = djag_check(env, "--workers", "1")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning: Could not ask the workers which tasks they know: OperationalError" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
