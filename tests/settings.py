"""Test settings: the sample site, on the database named by DJAG_TEST_DB.

DJAG_TEST_DB=sqlite (default) | postgres | mysql. The server URLs default to the
local services and can be overridden with DJAG_TEST_POSTGRES_URL / DJAG_TEST_MYSQL_URL.

Worker and beat processes started by end-to-end tests use these settings too,
with DJAG_TEST_DB_NAME naming the test database pytest-django created.
"""

import importlib.util
import os

from sample_site.settings import *  # noqa: F403
from sample_site.settings import INSTALLED_APPS, VAR_DIR, database_from_url

TEST_DATABASE_URLS = {
    "sqlite": f"sqlite:///{VAR_DIR / 'djag.sqlite3'}",
    "postgres": os.environ.get("DJAG_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"),
    "mysql": os.environ.get("DJAG_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
}
DJAG_TEST_DB = os.environ.get("DJAG_TEST_DB", "sqlite")
if DJAG_TEST_DB not in TEST_DATABASE_URLS:
    raise SystemExit(
        f"DJAG_TEST_DB must be one of {sorted(TEST_DATABASE_URLS)}, not {DJAG_TEST_DB!r}"
    )

DATABASES = {"default": database_from_url(TEST_DATABASE_URLS[DJAG_TEST_DB])}
if DJAG_TEST_DB == "sqlite":
    # A file, not :memory:, so worker and beat processes of end-to-end tests share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_djag.sqlite3")}
if os.environ.get("DJAG_TEST_DB_NAME"):
    DATABASES["default"]["NAME"] = os.environ["DJAG_TEST_DB_NAME"]

# djag_import_celery_beat reads django-celery-beat's tables (a test-only dependency).
if importlib.util.find_spec("django_celery_beat") is not None:
    INSTALLED_APPS = [*INSTALLED_APPS, "django_celery_beat"]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_IMPORTS = ["tests.tasks"]

# End-to-end tests start beats with a short lease (a standby takes over within
# seconds), may shorten beat's fallback poll, may allow scheduled management commands,
# and give each test a Celery queue of its own.
if os.environ.get("DJAG_LEASE_SECONDS"):
    DJAG_LEASE_SECONDS = float(os.environ["DJAG_LEASE_SECONDS"])
if os.environ.get("DJAG_POLL_SECONDS"):
    DJAG_POLL_SECONDS = float(os.environ["DJAG_POLL_SECONDS"])
if os.environ.get("DJAG_ALLOWED_COMMANDS"):
    DJAG_ALLOWED_COMMANDS = os.environ["DJAG_ALLOWED_COMMANDS"].split(",")
# In-process tests write each run's start and end at once, inside the test's transaction
# (a batching thread's connection of its own would outlive the test database); tests of
# batching say so, and the end-to-end workers batch as djag does by default (celery_env).
DJAG_WORKER_FLUSH_SECONDS = float(os.environ.get("DJAG_WORKER_FLUSH_SECONDS") or 0)
if os.environ.get("CELERY_TASK_DEFAULT_QUEUE"):
    CELERY_TASK_DEFAULT_QUEUE = os.environ["CELERY_TASK_DEFAULT_QUEUE"]
# End-to-end tests of alerts and metrics point beat at a local webhook and a free port.
if os.environ.get("DJAG_ALERT_WEBHOOK"):
    DJAG_ALERT_WEBHOOK = os.environ["DJAG_ALERT_WEBHOOK"]
if os.environ.get("DJAG_METRICS_PORT"):
    DJAG_METRICS_PORT = int(os.environ["DJAG_METRICS_PORT"])
    DJAG_METRICS_ADDRESS = "127.0.0.1"
