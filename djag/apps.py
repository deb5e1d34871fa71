from __future__ import annotations

from django.apps import AppConfig


class DjagConfig(AppConfig):
    name = "djag"
    verbose_name = "djag scheduler"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from djag import checks, signals, worker

        checks.register()
        signals.connect()
        worker.connect()
