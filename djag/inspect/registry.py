"""The Celery task names this process knows, as a worker of the same configuration would."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from django.apps import apps


def registered_task_names() -> list[str]:
    """The Celery task names registered in this process, without Celery's own ``celery.*``.

    The task modules a worker imports (``imports``/``include``, and the ``tasks`` module
    of each installed Django app, as ``autodiscover_tasks()`` finds them) are imported
    first, once, so the admin suggests what a worker of the same configuration would run.
    (Not through ``import_default_modules()``: its signal makes Celery's Django fixup run
    ``django.setup()`` and the system checks again.)
    """
    from celery import current_app

    app: Any = current_app
    if not getattr(app, "_djag_modules_imported", False):
        app._djag_modules_imported = True
        loader = app.loader
        # A broken task module must not break the admin page.
        for module in loader.default_modules:
            with suppress(Exception):
                loader.import_task_module(module)
        for config in apps.get_app_configs():
            with suppress(Exception):
                loader.autodiscover_tasks([config.name], related_name="tasks")
    return sorted(name for name in list(app.tasks) if not name.startswith("celery."))
