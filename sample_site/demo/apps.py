from typing import Any

from django.apps import AppConfig
from django.db.backends.signals import connection_created


def use_wal(sender: Any, connection: Any, **_: Any) -> None:
    # The demo runs a web server, beat and a worker on one SQLite file; WAL lets
    # readers proceed while one of them writes.
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")


class DemoConfig(AppConfig):
    name = "sample_site.demo"
    label = "demo"

    def ready(self) -> None:
        from djag import user_actions
        from sample_site.demo.forms import PauseMailForm

        connection_created.connect(use_wal, dispatch_uid="demo-sqlite-wal")
        user_actions.register("pause_mail", "Pause the queued mailings", PauseMailForm)
