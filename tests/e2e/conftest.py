"""Fixtures of the end-to-end tests: real Celery worker and beat processes on the test database.

Each test gets its own processes, its own Celery queue and (for the filesystem
transport) its own broker folders, so nothing leaks from one test to the next.
The processes run ``tests.settings`` against the database pytest-django
created (``DJAG_TEST_DB`` picks the server, ``DJAG_TEST_DB_NAME`` the test
database); tests use ``transactional_db`` so that what they write is committed
and visible to them. A broker is chosen per test with
``@pytest.mark.parametrize("broker", [...], indirect=True)``; the default is
the filesystem transport. Every process runs in a process group of its own and
is stopped when the test ends; a failed test shows their logs in its report.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu import Connection

from djag import conf
from djag.models import SchedulerLease
from tests.e2e.support import wait_for

REPO = Path(__file__).resolve().parents[2]

#: A Redis database of the e2e tests' own; each test deletes the keys of its queue when it ends
#: (never the whole database: two runs of the suite, on two test databases, may share it).
REDIS_URL = "redis://127.0.0.1:6379/13"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"

#: Short, so that a standby beat takes over within seconds when the leader dies.
LEASE_SECONDS = 3

#: How long a process has to start, and to stop after SIGTERM before SIGKILL.
START_SECONDS = 30
STOP_SECONDS = 10

BROKERS = ("filesystem", "redis", "rabbitmq")

#: Figures measured by the tests (pickup delays...), printed at the end of the run.
MEASUREMENTS: list[tuple[str, str]] = []


@dataclass(frozen=True)
class Broker:
    name: str
    url: str
    queue: str  # private to the test: no message of another test or run reaches its worker


@pytest.fixture
def broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    name = getattr(request, "param", "filesystem")
    assert name in BROKERS, f"unknown broker {name!r}"
    queue = f"djag-e2e-{uuid.uuid4().hex[:12]}"
    if name == "filesystem":
        # Its folders live under the test's DJAG_VAR_DIR (see ``celery_env``).
        yield Broker(name, "filesystem://", queue)
    elif name == "redis":
        yield Broker(name, REDIS_URL, queue)
        with contextlib.closing(redis.Redis.from_url(REDIS_URL)) as client:
            for key in client.scan_iter(match=f"*{queue}*"):
                client.delete(key)
    else:
        yield Broker(name, AMQP_URL, queue)
        with Connection(AMQP_URL) as amqp:
            amqp.default_channel.queue_delete(queue)


@pytest.fixture
def sqlite_immediate_transactions(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """On SQLite, the test's transactions take the write lock when they begin.

    A schedule model's ``save()`` reads the old row, then writes, in one
    transaction. Begun DEFERRED (Django's default), it holds a read lock when it
    comes to write; if beat or the worker holds the write lock at that moment,
    SQLite answers "database is locked" at once instead of waiting its busy
    timeout (waiting could deadlock). ``BEGIN IMMEDIATE`` waits its turn: what
    ``OPTIONS={"transaction_mode": "IMMEDIATE"}`` does on Django 5.1+, done
    here in a way Django 4.2 has too.
    """
    if connection.vendor == "sqlite":
        monkeypatch.setattr(
            connection,
            "_start_transaction_under_autocommit",
            lambda: connection.cursor().execute("BEGIN IMMEDIATE"),
        )


@pytest.fixture
def celery_env(
    transactional_db: None, sqlite_immediate_transactions: None, broker: Broker, tmp_path: Path
) -> dict[str, str]:
    """The environment of worker and beat processes: the test database, the broker, the queue."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DJAG_TEST_DB": settings.DJAG_TEST_DB,
        "DJAG_TEST_DB_NAME": str(connection.settings_dict["NAME"]),
        "DJAG_VAR_DIR": str(tmp_path / "var"),
        "CELERY_BROKER_URL": broker.url,
        "CELERY_TASK_DEFAULT_QUEUE": broker.queue,
        "DJAG_LEASE_SECONDS": str(LEASE_SECONDS),
        # The in-process tests write at once (tests/settings.py); workers batch by default.
        "DJAG_WORKER_FLUSH_SECONDS": str(conf.DEFAULTS["DJAG_WORKER_FLUSH_SECONDS"]),
        "PYTHONUNBUFFERED": "1",
    }


def _die_with_parent() -> None:
    """Runs in the child before exec: if pytest is killed outright, the child is killed too."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)


class CeleryProcess:
    """``celery -A sample_site <args>`` in a process group of its own, logging to a file."""

    def __init__(
        self, label: str, args: list[str], env: dict[str, str], log: Path, *, graceful: bool = True
    ) -> None:
        self.label = label
        self.log = log
        self.graceful = graceful  # at the end of the test: warm shutdown, or SIGKILL at once
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "sample_site", *args, "-l", "info"],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            raise AssertionError(f"{self.label} exited with {self.popen.returncode}")

    def terminate(self) -> None:
        """Ask for a warm shutdown (Celery's SIGTERM); ``wait`` finishes the job."""
        if self.popen.poll() is None:
            self.popen.terminate()

    def end(self) -> None:
        """Start ending the process when its test is over: see ``graceful``."""
        if not self.graceful:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
        self.terminate()

    def wait(self, timeout: float = STOP_SECONDS) -> None:
        """Wait for the process to exit, then SIGKILL whatever is left of its group."""
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            warnings.warn(f"{self.label} did not stop within {timeout:g} s: killed", stacklevel=2)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)  # the group id is the leader's pid
        self.popen.wait()

    def kill(self) -> None:
        """Die at once, as a crashed or powered-off host would: no shutdown, no lease release."""
        os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()

    def stop(self) -> None:
        self.terminate()
        self.wait()


@pytest.fixture
def start_celery(
    request: pytest.FixtureRequest, celery_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., CeleryProcess]]:
    """``start_celery(label, *args)``: a Celery process, stopped when the test ends."""
    started: list[CeleryProcess] = []
    request.node.djag_processes = started  # for the logs of a failed test, see below
    numbers: Counter[str] = Counter()

    def start(label: str, *args: str, graceful: bool = True) -> CeleryProcess:
        numbers[label] += 1
        label = f"{label}-{numbers[label]}"
        log = tmp_path / f"{label}.log"
        process = CeleryProcess(label, list(args), celery_env, log, graceful=graceful)
        started.append(process)
        return process

    yield start
    for process in started:  # all at once: their shutdowns overlap
        process.end()
    for process in started:
        process.wait()


@dataclass(frozen=True)
class Worker:
    process: CeleryProcess
    node: str  # the node name TaskRun.worker records


def worker_arguments(node: str) -> list[str]:
    """``celery worker`` with two prefork processes, named ``node``, without the chatter
    between workers (gossip, mingle, heartbeat) that no test needs."""
    return [
        "worker",
        "--hostname",
        node,
        "--pool",
        "prefork",
        "--concurrency",
        "2",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]


@pytest.fixture
def start_worker(start_celery: Callable[..., CeleryProcess]) -> Callable[[], Worker]:
    """``start_worker()``: a prefork worker with two processes on the test's broker and
    queue, returned once it is ready (tests may start more than one)."""

    def start() -> Worker:
        node = f"e2e-{uuid.uuid4().hex[:8]}@djag"
        process = start_celery(
            "worker",
            *worker_arguments(node),
            # Killed when the test is over: everything it checks is in the ledger by then,
            # and a warm shutdown of the worker takes 2-5 s that prove nothing.
            graceful=False,
        )

        def ready() -> bool:
            process.check_alive()
            return f"{node} ready." in process.log_text()

        wait_for(ready, START_SECONDS, "the worker to be ready")
        return Worker(process, node)

    return start


@pytest.fixture
def worker(start_worker: Callable[[], Worker]) -> Worker:
    """A running worker, on the test's broker and queue."""
    return start_worker()


@pytest.fixture
def start_beat(start_celery: Callable[..., CeleryProcess]) -> Callable[[], CeleryProcess]:
    """``start_beat()``: one more beat with djag's scheduler (it may lead or stand by)."""

    def start() -> CeleryProcess:
        return start_celery("beat", "beat", "--scheduler", "djag.scheduler:DjagScheduler")

    return start


def leader(beats: list[CeleryProcess]) -> CeleryProcess | None:
    """The beat that holds the lease now, if one of ``beats`` does."""
    lease = SchedulerLease.objects.filter(expires_at__gt=timezone.now()).first()
    for beat in beats:
        beat.check_alive()
        if lease is not None and f":{beat.pid}:" in lease.holder:  # holder is host:pid:nonce
            return beat
    return None


def wait_for_leader(beats: list[CeleryProcess]) -> CeleryProcess:
    return wait_for(lambda: leader(beats), START_SECONDS, "a beat to take the lease")


@pytest.fixture
def start_beats(start_beat: Callable[[], CeleryProcess]) -> Callable[[int], list[CeleryProcess]]:
    """``start_beats(n)``: n beats on one database, returned once one of them leads."""

    def start(count: int) -> list[CeleryProcess]:
        beats = [start_beat() for _ in range(count)]
        wait_for_leader(beats)
        return beats

    return start


@pytest.fixture
def beat(start_beats: Callable[[int], list[CeleryProcess]]) -> CeleryProcess:
    """One running beat, leading."""
    return start_beats(1)[0]


@pytest.fixture
def measure() -> Callable[[str, str], None]:
    """``measure(what, figure)``: note a measured figure for the end-of-run summary."""

    def note(what: str, figure: str) -> None:
        MEASUREMENTS.append((what, figure))

    return note


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if MEASUREMENTS:
        terminalreporter.section("djag end-to-end measurements")
        for what, figure in MEASUREMENTS:
            terminalreporter.write_line(f"{what}: {figure}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator:
    """A failed test's report carries the logs of the worker and beat processes it started."""
    report = yield
    if report.failed:
        for process in getattr(item, "djag_processes", ()):
            report.sections.append((f"{process.label} log", process.log_text()))
    return report


# -- fault injection (tests/e2e/test_faults.py) -------------------------------------------


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: No snapshot, no append-only file: a killed redis-server comes back empty.
MEMORY_ONLY = ("--save", "", "--appendonly", "no", "--daemonize", "no")


class RedisServer:
    """A private, memory-only ``redis-server`` on a port of its own, which a test may kill."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = log
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", *MEMORY_ONLY],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )

        def answers() -> bool:
            assert self.popen is not None
            if self.popen.poll() is not None:
                raise AssertionError(f"redis-server exited with {self.popen.returncode}")
            with contextlib.closing(redis.Redis.from_url(self.url)) as client:
                try:
                    return bool(client.ping())
                except redis.ConnectionError:
                    return False

        wait_for(answers, START_SECONDS, "the private redis-server to answer")

    def kill(self) -> None:
        """Die at once (SIGKILL): the broker's messages and bindings are gone with it."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server, started; killed when the test ends (after its processes)."""
    server = RedisServer(tmp_path / "redis-server.log")
    server.start()
    yield server
    server.kill()
