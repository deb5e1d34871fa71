"""``make demo``'s program end to end: it says the admin URL and password again once up,
takes the password from DJAG_DEMO_PASSWORD, and Ctrl-C stops everything without an error.

It runs the sample site on its own embedded defaults (SQLite and the filesystem broker
in a temporary folder), whatever the test database: the demo does not use it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, _die_with_parent, free_port
from tests.e2e.support import wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.environ.get("DJAG_TEST_DB", "sqlite") != "sqlite",
        reason="the demo runs on its own SQLite file: run with DJAG_TEST_DB=sqlite",
    ),
]

START_SECONDS = 120
STOP_SECONDS = 40
PASSWORD = "demo-pass-7"


def processes_of(var_dir: Path) -> list[int]:
    """The pids whose environment names ``var_dir``: the demo and everything it started."""
    marker = f"DJAG_VAR_DIR={var_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
    return found


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, str]]:
    """The demo program, started; whatever is left of it is killed at the end."""
    var_dir = tmp_path / "var"
    log = tmp_path / "demo.log"
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "DJAG_CACHE_URL")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="sample_site.settings",
        DJAG_VAR_DIR=str(var_dir),
        DEMO_PORT=str(port),
        DJAG_DEMO_PASSWORD=PASSWORD,
        PYTHONUNBUFFERED="1",
    )
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "sample_site.run_demo"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
    try:
        yield process, log, f"http://127.0.0.1:{port}/admin/"
    finally:
        for pid in processes_of(var_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait()


def test_the_demo_says_its_password_again_once_up_and_stops_cleanly_on_ctrl_c(
    demo: tuple[subprocess.Popen[bytes], Path, str], tmp_path: Path
) -> None:
    process, log, url = demo
    banner = f"{url}  user: admin  password: {PASSWORD}"

    wait_for(lambda: "djag demo is up" in log.read_text(), START_SECONDS, "the demo to be up")
    started = log.read_text()
    assert f"djag demo starting: {banner}" in started
    assert f"djag demo is up: {banner}" in started
    assert len(processes_of(tmp_path / "var")) >= 4  # the demo, web, worker, beat (and the pool)

    process.send_signal(signal.SIGINT)  # what Ctrl-C sends it
    assert process.wait(timeout=STOP_SECONDS) == 0
    output = log.read_text()
    assert "Warm shutdown" in output
    assert [line for line in output.splitlines() if "ERROR" in line] == []
    assert processes_of(tmp_path / "var") == []
