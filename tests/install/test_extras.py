"""The install path of a new user: the built artifacts, and each extra in a fresh virtualenv.

The wheel is built once (``python -m build``: an sdist, then the wheel from it,
as a release is made); each extra is installed with it into an empty
virtualenv, with its dependencies resolved by pip as a user's install resolves
them (pip's cache keeps this fast), and its probe (probes.py) then uses it
against the real server it is a client of. Run on the default test database
only: nothing here depends on it.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import AMQP_URL, REDIS_URL
from tests.settings import TEST_DATABASE_URLS
from tests.test_cache_outage import Memcached

REPO = Path(__file__).resolve().parents[2]
PROBES = Path(__file__).with_name("probes.py")

#: Bounds of one pip run and of one probe (a first run fills pip's cache; mysqlclient compiles).
PIP_SECONDS = 420
PROBE_SECONDS = 60

#: Extras for working on djag itself, not for its users.
DEVELOPMENT_EXTRAS = {"dev", "bench"}

pytestmark = [
    pytest.mark.install,
    pytest.mark.skipif(
        os.environ.get("DJAG_TEST_DB", "sqlite") != "sqlite",
        reason="installing does not depend on the test database: run with DJAG_TEST_DB=sqlite",
    ),
]


@dataclass(frozen=True)
class Built:
    sdist: Path
    wheel: Path
    output: str


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """djag's sdist and wheel, built from this tree as a release is."""
    out = tmp_path_factory.mktemp("dist")
    result = run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO)], PIP_SECONDS)
    (sdist,) = out.glob("djag-*.tar.gz")
    (wheel,) = out.glob("djag-*.whl")
    return Built(sdist, wheel, result.stdout)


def run(argv: list[str], seconds: float, **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=seconds,
        check=False,
        **kwargs,  # type: ignore[call-overload]
    )
    assert result.returncode == 0, f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}"
    return result


def fresh_virtualenv(folder: Path, requirement: str) -> Path:
    """An empty virtualenv with ``requirement`` installed by pip; its python."""
    run([sys.executable, "-m", "venv", "--without-pip", str(folder)], PROBE_SECONDS)
    python = folder / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check"]
    run([*pip, "install", "--quiet", requirement], PIP_SECONDS)
    return python


def data_files() -> set[str]:
    """The template and static files of the source tree, as paths inside the package."""
    return {
        path.relative_to(REPO).as_posix()
        for folder in ("djag/templates", "djag/static")
        for path in (REPO / folder).rglob("*")
        if path.is_file()
    }


def test_build_gives_no_setuptools_warning(built: Built) -> None:
    # setuptools prints each warning as a box between two "!!" lines (pip shows it as a
    # BuildBackendWarning): the package layout must leave it nothing to warn about.
    boxes = [line for line in built.output.splitlines() if line.strip() == "!!"]
    assert not boxes, built.output


def test_wheel_and_sdist_carry_the_templates_and_static_files(built: Built) -> None:
    expected = data_files()
    assert "djag/templates/admin/djag/dag.html" in expected
    with zipfile.ZipFile(built.wheel) as wheel:
        assert expected <= set(wheel.namelist())
    with tarfile.open(built.sdist) as sdist:
        root = built.sdist.name.removesuffix(".tar.gz")
        assert {f"{root}/{name}" for name in expected} <= set(sdist.getnames())


def test_every_extra_for_users_has_a_probe() -> None:
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    declared = set(config["options.extras_require"]) - DEVELOPMENT_EXTRAS
    assert declared == set(PROBE_ARGUMENTS) - {""}


@pytest.fixture
def memcached_location() -> Iterator[str]:
    if shutil.which("memcached") is None:
        pytest.skip("needs memcached installed (.ci/run installs it)")
    server = Memcached()
    server.start()
    yield f"127.0.0.1:{server.port}"
    server.stop()


#: The probe's arguments per extra ("" is the plain install), from the test's fixtures.
PROBE_ARGUMENTS: dict[str, Callable[[pytest.FixtureRequest], list[str]]] = {
    "": lambda request: [AMQP_URL],
    "redis": lambda request: [REDIS_URL],
    "memcached": lambda request: [request.getfixturevalue("memcached_location")],
    "postgres": lambda request: [TEST_DATABASE_URLS["postgres"]],
    "mysql": lambda request: [TEST_DATABASE_URLS["mysql"]],
    "yaml": lambda request: [],
    "metrics": lambda request: [],
    "demo": lambda request: [],
}


@pytest.mark.timeout(2 * PIP_SECONDS)
@pytest.mark.parametrize("extra", list(PROBE_ARGUMENTS))
def test_extra_works_in_a_fresh_virtualenv(
    extra: str, built: Built, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    requirement = f"{built.wheel}[{extra}]" if extra else str(built.wheel)
    python = fresh_virtualenv(tmp_path / "venv", requirement)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")}
    probe = extra or "base"
    run(
        [str(python), str(PROBES), probe, *PROBE_ARGUMENTS[extra](request)],
        PROBE_SECONDS,
        cwd=tmp_path,
        env=env,
    )
