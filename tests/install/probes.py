"""What each extra is for, checked inside a fresh virtualenv: ``python probes.py NAME [ARG]``.

test_extras.py installs djag's wheel with one extra into an empty virtualenv
and runs the probe of that extra there, against a real server where the extra
is a client of one. A probe exits with a traceback when anything it needs is
missing. It is plain Python: the virtualenv has djag and its extra, not the
test suite.
"""

from __future__ import annotations

import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_json_widget",
    "djag",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
CONTEXT_PROCESSORS = [
    "django.template.context_processors.request",
    "django.contrib.auth.context_processors.auth",
    "django.contrib.messages.context_processors.messages",
]

IN_MEMORY_DB = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}


def configure(**settings: Any) -> None:
    import django
    from django.conf import settings as django_settings

    import djag

    assert Path(djag.__file__).is_relative_to(sys.prefix), f"djag from {djag.__file__}"
    settings.setdefault("DATABASES", IN_MEMORY_DB)
    django_settings.configure(
        INSTALLED_APPS=APPS,
        MIDDLEWARE=MIDDLEWARE,
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {"context_processors": CONTEXT_PROCESSORS},
            }
        ],
        SECRET_KEY="install-probe",
        USE_TZ=True,
        STATIC_URL="static/",
        **settings,
    )
    django.setup()


def broker_round_trip(url: str) -> None:
    """A message through a queue of its own, which is deleted afterwards."""
    from kombu import Connection

    with Connection(url, connect_timeout=5) as connection:
        queue = connection.SimpleQueue(f"djag-install-{uuid.uuid4().hex}")
        try:
            queue.put({"probe": "djag"})
            message = queue.get(timeout=10)
            message.ack()
            assert message.payload == {"probe": "djag"}, message.payload
        finally:
            queue.consumer.cancel()
            queue.queue.delete()
            queue.close()


def cache_round_trip() -> None:
    from django.core.cache import cache

    key = f"djag-install-{uuid.uuid4().hex}"
    cache.set(key, "probe", timeout=60)
    try:
        assert cache.get(key) == "probe"
    finally:
        cache.delete(key)


def database_settings(engine: str, url: str, name: str) -> dict[str, Any]:
    parts = urlsplit(url)
    return {
        "default": {
            "ENGINE": engine,
            "NAME": name,
            "USER": parts.username or "",
            "PASSWORD": parts.password or "",
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
        }
    }


def select_one() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone()[0] == 1


def base(amqp_url: str) -> None:
    """No extra: the app with its migrations, templates, static files and system checks,
    the scheduler class, and RabbitMQ through kombu's amqp transport (Celery brings it)."""
    configure(
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.db.DatabaseCache",
                "LOCATION": "djag_cache",
            }
        }
    )
    from django.contrib.staticfiles import finders
    from django.core.management import call_command
    from django.template.loader import get_template

    import djag.scheduler

    assert djag.scheduler.DjagScheduler
    get_template("admin/djag/dag.html")
    assert finders.find("djag/dag.js"), "djag's static files are not installed"
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    call_command("check", fail_level="WARNING")
    broker_round_trip(amqp_url)


def redis(url: str) -> None:
    """kombu's Redis transport (the broker) and Django's RedisCache (the wake-up cache)."""
    import kombu.transport.redis  # noqa: F401  (fails when what it imports is missing)

    broker_round_trip(url)
    configure(
        CACHES={
            "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
        }
    )
    cache_round_trip()


def memcached(location: str) -> None:
    """Django's PyMemcacheCache (the wake-up cache)."""
    configure(
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                "LOCATION": location,
            }
        }
    )
    cache_round_trip()


def postgres(url: str) -> None:
    """Django's PostgreSQL backend finds its driver and reaches the server."""
    configure(DATABASES=database_settings("django.db.backends.postgresql", url, "postgres"))
    select_one()


def mysql(url: str) -> None:
    """Django's MySQL backend (MariaDB) finds its driver and reaches the server."""
    configure(DATABASES=database_settings("django.db.backends.mysql", url, ""))
    select_one()


def yaml() -> None:
    """djag_sync reads a YAML schedule file."""
    configure()
    from django.core.management import call_command

    from djag.models import PeriodicTask

    call_command("migrate", verbosity=0)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "schedules.yaml")
        path.write_text("tasks:\n  - name: probe\n    task: probe.task\n    cron: '*/5 * * * *'\n")
        call_command("djag_sync", str(path), verbosity=0)
    assert PeriodicTask.objects.get().name == "probe"


def metrics() -> None:
    """beat's metrics are served, and Prometheus' parser reads them."""
    configure()
    from urllib.request import urlopen

    from prometheus_client.parser import text_string_to_metric_families

    from djag.beat.metrics import PrometheusMetrics

    served = PrometheusMetrics()
    port = served.serve(0, "127.0.0.1")
    try:
        served.tick(lag=0.5, backlog=0, leading=True)
        with urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            families = {f.name: f for f in text_string_to_metric_families(response.read().decode())}
    finally:
        served.close()
    assert families["djag_beat_leader"].samples[0].value == 1.0


def demo() -> None:
    """The sample site's settings read DATABASE_URL with dj-database-url."""
    import dj_database_url

    assert dj_database_url.parse("sqlite:///demo.sqlite3")["ENGINE"].endswith("sqlite3")


if __name__ == "__main__":
    globals()[sys.argv[1]](*sys.argv[2:])
