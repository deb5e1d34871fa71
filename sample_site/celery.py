"""The sample site's Celery app: configured from Django settings (CELERY_* names)."""

import os

from celery import Celery

from sample_site import filesystem_broker  # noqa: F401  (kombu's filesystem transport, fixed)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sample_site.settings")

app = Celery("sample_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
