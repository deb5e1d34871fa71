"""A PostgreSQL server of the test's own, which the test may stop and start again.

Never the shared server: ``initdb`` makes a cluster in a temporary folder and ``postgres``
serves it on a free port of 127.0.0.1 (no Unix socket). The server binaries are Debian's
(``/usr/lib/postgresql/<version>/bin``); PostgreSQL refuses to run as root, so under
root they run as the ``postgres`` user. The server process dies with the test process,
whatever happens to it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg

from tests.e2e.conftest import START_SECONDS, STOP_SECONDS, free_port
from tests.e2e.support import wait_for

DATABASE = "djag"


def server_binaries() -> Path | None:
    """The newest installed PostgreSQL's bin folder, or None when there is none."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0,
    )
    return found[-1].parent if found else None


def _die_with_parent() -> None:
    """Runs in the child, after its user changed (which clears the setting), before exec."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)


class PrivatePostgres:
    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="djag-postgres-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.owner = "postgres" if os.geteuid() == 0 else None
        if self.owner is not None:
            record = pwd.getpwnam(self.owner)
            os.chown(self.root, record.pw_uid, record.pw_gid)
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def _as_owner(self) -> dict[str, object]:
        if self.owner is None:
            return {}
        return {"user": self.owner, "group": self.owner, "extra_groups": []}

    def init(self) -> None:
        subprocess.run(
            [
                str(self.binaries / "initdb"),
                "--pgdata",
                str(self.data),
                "--username",
                "postgres",
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            timeout=120,
            **self._as_owner(),  # type: ignore[arg-type]
        )
        self.start()
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {DATABASE}")

    def _dsn(self, database: str = DATABASE) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                [
                    str(self.binaries / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "unix_socket_directories=",
                    "-c",
                    "fsync=off",
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                **self._as_owner(),  # type: ignore[arg-type]
            )
        wait_for(self.answers, START_SECONDS, "the private PostgreSQL server to answer")

    def answers(self) -> bool:
        assert self.popen is not None
        if self.popen.poll() is not None:
            raise AssertionError(
                f"postgres exited with {self.popen.returncode}:\n{self.log.read_text()}"
            )
        try:
            with psycopg.connect(self._dsn("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def stop(self) -> None:
        """A fast shutdown (SIGINT), as ``pg_ctl stop -m fast`` does: sessions are ended."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGINT)
        try:
            self.popen.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()

    def query(self, sql: str, *params: object) -> list[tuple]:
        with psycopg.connect(self._dsn()) as connection:
            return connection.execute(sql, params).fetchall()

    def remove(self) -> None:
        self.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.root)
